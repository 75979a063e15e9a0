package mapping

import (
	"encoding/json"
	"os"
	"testing"
)

// orderEvent reads testdata/order_event.json, a Salesforce platform event
// payload as the listener hands it over.
func orderEvent(tb testing.TB) map[string]any {
	tb.Helper()
	b, err := os.ReadFile("testdata/order_event.json")
	if err != nil {
		tb.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		tb.Fatal(err)
	}
	return m
}

var orderProps = map[string]string{
	"replayId":  "18754",
	"channel":   "/event/Order_Placed__e",
	"eventUuid": "5c3a2e1b-9f4d-4c6e-8a7b-1d2e3f4a5b6c",
}

var countries = map[string]map[string]any{
	"countries": {"FR": "France", "DE": "Germany", "GB": "United Kingdom"},
	"priority":  {"Normal": 2, "High": 1},
}

// The same transform of an order event, written three ways.

const orderJQ = `{
  orderId: .Order_Id__c,
  orderNumber: .Order_Number__c,
  status: (.Status__c | lower),
  placedAt: (.Order_Date__c | formatDate("RFC3339")),
  customer: {name: .Contact__c.Name, email: .Contact__c.Email, phone: .Contact__c.Phone},
  account: {id: .Account_Id__c, name: .Account_Name__c},
  total: (.Total_Amount__c | round(2)),
  tax: .Tax_Amount__c,
  currency: .Currency_Iso_Code__c,
  itemCount: .Item_Count__c,
  rush: .Is_Rush__c,
  priority: lookup("priority"; .Priority__c),
  shipping: {
    street: .Shipping_Street__c,
    city: .Shipping_City__c,
    postalCode: .Shipping_Postal_Code__c,
    country: lookup("countries"; .Shipping_Country__c)
  },
  items: (.Line_Items_JSON__c | fromjson),
  promo: (.Promo_Code__c | default("NONE")),
  replayId: $props.replayId,
  source: "salesforce"
}`

const orderExpr = `{
  "orderId": body.Order_Id__c,
  "orderNumber": body.Order_Number__c,
  "status": lower(body.Status__c),
  "placedAt": formatDate(body.Order_Date__c, "RFC3339"),
  "customer": {"name": body.Contact__c.Name, "email": body.Contact__c.Email, "phone": body.Contact__c.Phone},
  "account": {"id": body.Account_Id__c, "name": body.Account_Name__c},
  "total": round(body.Total_Amount__c, 2),
  "tax": body.Tax_Amount__c,
  "currency": body.Currency_Iso_Code__c,
  "itemCount": body.Item_Count__c,
  "rush": body.Is_Rush__c,
  "priority": lookup("priority", body.Priority__c),
  "shipping": {
    "street": body.Shipping_Street__c,
    "city": body.Shipping_City__c,
    "postalCode": body.Shipping_Postal_Code__c,
    "country": lookup("countries", body.Shipping_Country__c)
  },
  "items": fromJSON(body.Line_Items_JSON__c),
  "promo": default(body.Promo_Code__c, "NONE"),
  "replayId": props.replayId,
  "source": "salesforce"
}`

var orderFields = []Field{
	{Target: "orderId", Expr: "body.Order_Id__c", Where: "orders.yaml:10:5"},
	{Target: "orderNumber", Expr: "body.Order_Number__c", Where: "orders.yaml:11:5"},
	{Target: "status", Expr: "lower(body.Status__c)", Where: "orders.yaml:12:5"},
	{Target: "placedAt", Expr: `formatDate(body.Order_Date__c, "RFC3339")`, Where: "orders.yaml:13:5"},
	{Target: "customer.name", Expr: "body.Contact__c.Name", Where: "orders.yaml:14:5"},
	{Target: "customer.email", Expr: "body.Contact__c.Email", Where: "orders.yaml:15:5"},
	{Target: "customer.phone", Expr: "body.Contact__c.Phone", Where: "orders.yaml:16:5"},
	{Target: "account.id", Expr: "body.Account_Id__c", Where: "orders.yaml:17:5"},
	{Target: "account.name", Expr: "body.Account_Name__c", Where: "orders.yaml:18:5"},
	{Target: "total", Expr: "round(body.Total_Amount__c, 2)", Where: "orders.yaml:19:5"},
	{Target: "tax", Expr: "body.Tax_Amount__c", Where: "orders.yaml:20:5"},
	{Target: "currency", Expr: "body.Currency_Iso_Code__c", Where: "orders.yaml:21:5"},
	{Target: "itemCount", Expr: "body.Item_Count__c", Where: "orders.yaml:22:5"},
	{Target: "rush", Expr: "body.Is_Rush__c", Where: "orders.yaml:23:5"},
	{Target: "priority", Expr: `lookup("priority", body.Priority__c)`, Where: "orders.yaml:24:5"},
	{Target: "shipping.street", Expr: "body.Shipping_Street__c", Where: "orders.yaml:25:5"},
	{Target: "shipping.city", Expr: "body.Shipping_City__c", Where: "orders.yaml:26:5"},
	{Target: "shipping.postalCode", Expr: "body.Shipping_Postal_Code__c", Where: "orders.yaml:27:5"},
	{Target: "shipping.country", Expr: `lookup("countries", body.Shipping_Country__c)`, Where: "orders.yaml:28:5"},
	{Target: "items", Expr: "fromJSON(body.Line_Items_JSON__c)", Where: "orders.yaml:29:5"},
	{Target: "promo", Expr: `default(body.Promo_Code__c, "NONE")`, Where: "orders.yaml:30:5"},
	{Target: "replayId", Expr: "props.replayId", Where: "orders.yaml:31:5"},
	{Target: "source", Expr: `"salesforce"`, Where: "orders.yaml:32:5"},
}

// orderWant is what each of the three transforms gives for orderEvent.
const orderWant = `{
  "orderId": "8015g00000XyZabAAB",
  "orderNumber": "00012345",
  "status": "placed",
  "placedAt": "2024-05-01T09:29:58Z",
  "customer": {"name": "Ada Lovelace", "email": "ada@example.com", "phone": "+44 20 7946 0958"},
  "account": {"id": "0015g00000QwErTAAZ", "name": "Acme Corporation"},
  "total": 1249.5,
  "tax": 208.25,
  "currency": "EUR",
  "itemCount": 3,
  "rush": false,
  "priority": 2,
  "shipping": {"street": "12 Rue de Rivoli", "city": "Paris", "postalCode": "75001", "country": "France"},
  "items": [{"sku": "SKU-001", "qty": 2, "price": 399.5}, {"sku": "SKU-042", "qty": 1, "price": 450.5}],
  "promo": "NONE",
  "replayId": "18754",
  "source": "salesforce"
}`

func orderSpecs() []Spec {
	return []Spec{
		{Name: "order-jq", JQ: orderJQ, Lookups: countries, Where: "orders.yaml:3:3"},
		{Name: "order-expr", Expr: orderExpr, Lookups: countries, Where: "orders.yaml:5:3"},
		{Name: "order-fields", Fields: orderFields, Lookups: countries, Where: "orders.yaml:8:3"},
	}
}

func mustCompile(tb testing.TB, s Spec) *Mapping {
	tb.Helper()
	m, err := Compile(s)
	if err != nil {
		tb.Fatalf("compile %q: %v", s.Name, err)
	}
	return m
}

func decode(tb testing.TB, s string) any {
	tb.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		tb.Fatalf("bad JSON in test: %v\n%s", err, s)
	}
	return v
}

// checkJSONShape fails unless v holds only decoded-JSON types.
func checkJSONShape(tb testing.TB, v any) {
	tb.Helper()
	switch t := v.(type) {
	case nil, string, bool, float64:
	case map[string]any:
		for _, x := range t {
			checkJSONShape(tb, x)
		}
	case []any:
		for _, x := range t {
			checkJSONShape(tb, x)
		}
	default:
		tb.Fatalf("result holds a %T (%v), want only decoded-JSON types", v, v)
	}
}

func mustJSON(tb testing.TB, v any) string {
	tb.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}
