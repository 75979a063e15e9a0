package emulator

import (
	"net/http"
	"reflect"
	"testing"
)

func TestVersionsNeedNoSession(t *testing.T) {
	e := start(t, testConfig())
	for _, path := range []string{"/services/data", "/services/data/"} {
		status, body := call(t, e, "", http.MethodGet, path, nil)
		list, _ := body.([]any)
		if status != 200 || len(list) == 0 {
			t.Fatalf("%s: %d %v", path, status, body)
		}
		last := list[len(list)-1].(map[string]any)
		want := map[string]any{"label": "Winter '25", "url": "/services/data/v62.0", "version": "62.0"}
		if !reflect.DeepEqual(last, want) {
			t.Errorf("newest version = %v, want %v", last, want)
		}
		first := list[0].(map[string]any)
		if first["version"] != "31.0" || first["label"] != "Summer '14" {
			t.Errorf("oldest version = %v", first)
		}
	}
}

func TestRESTNeedsASession(t *testing.T) {
	e := start(t, testConfig())
	for _, token := range []string{"", "bogus"} {
		status, body := call(t, e, token, http.MethodPost, "/services/data/v62.0/sobjects/Order_Placed__e/", order(1))
		if status != 401 || errorCode(t, body) != "INVALID_SESSION_ID" {
			t.Fatalf("token %q: %d %v", token, status, body)
		}
	}
	if len(e.Events("Order_Placed__e")) != 0 {
		t.Fatal("published without a session")
	}
}

func TestUnknownResourcesAre404(t *testing.T) {
	e := start(t, testConfig())
	token := login(t, e)
	for _, path := range []string{
		"/services/data/v30.0/limits", "/services/data/v63.0/limits", "/services/data/latest/limits",
		"/services/data/v62.0/sobjects/Account/", "/services/data/v62.0/sobjects/Nope__e/describe",
		"/services/data/v62.0/query", "/nothing",
	} {
		status, body := call(t, e, token, http.MethodGet, path, nil)
		if status != 404 || errorCode(t, body) != "NOT_FOUND" {
			t.Errorf("%s: %d %v", path, status, body)
		}
	}
	status, body := call(t, e, token, http.MethodDelete, "/services/data/v62.0/sobjects/Order_Placed__e", nil)
	if status != 405 || errorCode(t, body) != "METHOD_NOT_ALLOWED" {
		t.Errorf("DELETE: %d %v", status, body)
	}
}

func TestPublishOneEvent(t *testing.T) {
	e := start(t, testConfig())
	token := login(t, e)
	for _, path := range []string{"/services/data/v62.0/sobjects/Order_Placed__e/", "/services/data/v62.0/sobjects/order_placed__e"} {
		status, body := call(t, e, token, http.MethodPost, path, map[string]any{
			"attributes": map[string]any{"type": "Order_Placed__e"}, "order_number__c": "A-1", "Amount__c": "12.5",
			"Item_Count__c": 3, "Placed_At__c": "2024-06-01T14:30:00+02:00", "Customer_Id__c": 42,
		})
		if status != 201 {
			t.Fatalf("%s: %d %v", path, status, body)
		}
		events := e.Events("Order_Placed__e")
		last := events[len(events)-1]
		want := map[string]any{"id": publishedID, "success": true, "errors": []any{
			map[string]any{"statusCode": "OPERATION_ENQUEUED", "message": last.EventUUID, "fields": []any{}}}}
		if !reflect.DeepEqual(body, want) {
			t.Errorf("response %v, want %v", body, want)
		}
		p := last.Payload
		if p["Order_Number__c"] != "A-1" || p["Amount__c"] != 12.5 || p["Item_Count__c"] != 3.0 ||
			p["Placed_At__c"] != "2024-06-01T12:30:00.000Z" || p["Customer_Id__c"] != "42" || p["Express__c"] != false {
			t.Errorf("payload %v", p)
		}
		if p["CreatedById"] != e.auth.users[demoUser].id {
			t.Errorf("CreatedById %v", p["CreatedById"])
		}
	}
	if got := e.Calls()["publish"]; got != 2 {
		t.Errorf("publish calls = %d", got)
	}
	// Before API 52.0 the result carries no EventUuid.
	status, body := call(t, e, token, http.MethodPost, "/services/data/v50.0/sobjects/Order_Placed__e", order(1))
	if status != 201 || !reflect.DeepEqual(body, map[string]any{"id": publishedID, "success": true, "errors": []any{}}) {
		t.Errorf("v50.0: %d %v", status, body)
	}
}

func TestPublishErrors(t *testing.T) {
	e := start(t, testConfig())
	token := login(t, e)
	tests := []struct {
		name    string
		body    any
		code    string
		message string
		fields  []any
	}{
		{"malformed JSON", `{"Order_Number__c": "A",`, "JSON_PARSER_ERROR", "Unexpected end-of-input at [line:1, column:25]", nil},
		{"bad character", `{"Order_Number__c" x}`, "JSON_PARSER_ERROR", "", nil},
		{"not an object", `[1]`, "JSON_PARSER_ERROR", "Cannot deserialize instance of Order_Placed__e from START_ARRAY value [ or request may be missing a required field at [line:1, column:1]", nil},
		{"unknown field", map[string]any{"Order_Number__c": "A", "Amount__c": 1, "Colour__c": "red"}, "INVALID_FIELD", "No such column 'Colour__c' on sobject of type Order_Placed__e", nil},
		{"text in a number", `{"Order_Number__c":"A","Amount__c":"abc"}`, "JSON_PARSER_ERROR",
			"Cannot deserialize instance of double from VALUE_STRING value abc or request may be missing a required field at [line:1, column:36]", nil},
		{"boolean in a number", `{"Order_Number__c":"A","Amount__c":true}`, "JSON_PARSER_ERROR",
			"Cannot deserialize instance of double from VALUE_TRUE value true or request may be missing a required field at [line:1, column:36]", nil},
		{"fraction in an int", `{"Order_Number__c":"A","Amount__c":1,"Item_Count__c":1.5}`, "JSON_PARSER_ERROR",
			"Cannot deserialize instance of int from VALUE_NUMBER_FLOAT value 1.5 or request may be missing a required field at [line:1, column:54]", nil},
		{"object in a string", `{"Order_Number__c":{"a":1},"Amount__c":1}`, "JSON_PARSER_ERROR",
			"Cannot deserialize instance of string from START_OBJECT value { or request may be missing a required field at [line:1, column:20]", nil},
		{"bad date", map[string]any{"Order_Number__c": "A", "Amount__c": 1, "Ship_By__c": "tomorrow"}, "JSON_PARSER_ERROR", "", nil},
		{"required fields missing", map[string]any{"Currency__c": "EUR"}, "REQUIRED_FIELD_MISSING",
			"Required fields are missing: [Order_Number__c, Amount__c]", []any{"Order_Number__c", "Amount__c"}},
		{"required field null", map[string]any{"Order_Number__c": nil, "Amount__c": 1}, "REQUIRED_FIELD_MISSING",
			"Required fields are missing: [Order_Number__c]", []any{"Order_Number__c"}},
		{"system field", map[string]any{"Order_Number__c": "A", "Amount__c": 1, "ReplayId": 5}, "INVALID_FIELD_FOR_INSERT_UPDATE", "", []any{"ReplayId"}},
		{"string too long", map[string]any{"Order_Number__c": "A", "Amount__c": 1, "Currency__c": "EURO"}, "STRING_TOO_LONG",
			"Currency: data value too large: EURO (max length=3)", []any{"Currency__c"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := call(t, e, token, http.MethodPost, "/services/data/v62.0/sobjects/Order_Placed__e/", tt.body)
			if status != 400 || errorCode(t, body) != tt.code {
				t.Fatalf("got %d %v, want 400 %s", status, body, tt.code)
			}
			first := body.([]any)[0].(map[string]any)
			if tt.message != "" && first["message"] != tt.message {
				t.Errorf("message %q\nwant    %q", first["message"], tt.message)
			}
			if tt.fields != nil && !reflect.DeepEqual(first["fields"], tt.fields) {
				t.Errorf("fields %v, want %v", first["fields"], tt.fields)
			}
		})
	}
	if n := len(e.Events("Order_Placed__e")); n != 0 {
		t.Fatalf("%d invalid events were published", n)
	}
}

func TestDescribe(t *testing.T) {
	e := start(t, testConfig())
	token := login(t, e)
	status, body := call(t, e, token, http.MethodGet, "/services/data/v62.0/sobjects/Order_Placed__e/describe/", nil)
	if status != 200 {
		t.Fatalf("%d %v", status, body)
	}
	d := body.(map[string]any)
	if d["name"] != "Order_Placed__e" || d["label"] != "Order Placed" || d["custom"] != true || d["createable"] != true {
		t.Errorf("describe %v", d)
	}
	fields := map[string]map[string]any{}
	for _, f := range d["fields"].([]any) {
		fields[f.(map[string]any)["name"].(string)] = f.(map[string]any)
	}
	checks := []struct {
		name, typ string
		nillable  bool
	}{
		{"ReplayId", "string", true}, {"CreatedDate", "datetime", true}, {"EventUuid", "string", true},
		{"Order_Number__c", "string", false}, {"Amount__c", "double", false}, {"Item_Count__c", "int", true},
		{"Express__c", "boolean", false}, {"Ship_By__c", "date", true}, {"Placed_At__c", "datetime", true},
	}
	for _, c := range checks {
		f := fields[c.name]
		if f == nil || f["type"] != c.typ || f["nillable"] != c.nillable {
			t.Errorf("field %s = %v, want type %s nillable %t", c.name, f, c.typ, c.nillable)
		}
	}
	if fields["Order_Number__c"]["length"] != 40.0 {
		t.Errorf("Order_Number__c length %v", fields["Order_Number__c"]["length"])
	}
	status, body = call(t, e, token, http.MethodGet, "/services/data/v62.0/sobjects/", nil)
	if status != 200 || len(body.(map[string]any)["sobjects"].([]any)) != 3 {
		t.Errorf("global describe: %d %v", status, body)
	}
	status, body = call(t, e, token, http.MethodGet, "/services/data/v62.0/sobjects/Order_Placed__e", nil)
	if status != 200 || body.(map[string]any)["objectDescribe"].(map[string]any)["name"] != "Order_Placed__e" {
		t.Errorf("sobject info: %d %v", status, body)
	}
	status, body = call(t, e, token, http.MethodGet, "/services/data/v62.0", nil)
	if status != 200 || body.(map[string]any)["sobjects"] != "/services/data/v62.0/sobjects" {
		t.Errorf("resources: %d %v", status, body)
	}
	calls := e.Calls()
	if calls["describe"] != 1 || calls["global_describe"] != 1 || calls["sobject"] != 1 || calls["resources"] != 1 {
		t.Errorf("calls %v", calls)
	}
}

func collection(allOrNone bool, records ...map[string]any) map[string]any {
	return map[string]any{"allOrNone": allOrNone, "records": records}
}

func typed(typ string, fields map[string]any) map[string]any {
	out := map[string]any{"attributes": map[string]any{"type": typ}}
	for k, v := range fields {
		out[k] = v
	}
	return out
}

func ink(serial string) map[string]any {
	return map[string]any{"Printer_Serial__c": serial, "Ink_Color__c": "black"}
}

func TestCompositePublish(t *testing.T) {
	e := start(t, testConfig())
	token := login(t, e)
	status, body := call(t, e, token, http.MethodPost, "/services/data/v62.0/composite/sobjects", collection(false,
		typed("Order_Placed__e", order(1)), typed("Printer_Low_Ink__e", ink("P-1")), typed("Order_Placed__e", order(2))))
	if status != 200 {
		t.Fatalf("%d %v", status, body)
	}
	results := body.([]any)
	orders, inks := e.Events("Order_Placed__e"), e.Events("Printer_Low_Ink__e")
	if len(results) != 3 || len(orders) != 2 || len(inks) != 1 {
		t.Fatalf("results %v, orders %d, inks %d", results, len(orders), len(inks))
	}
	uuids := []string{orders[0].EventUUID, inks[0].EventUUID, orders[1].EventUUID}
	for i, r := range results {
		m := r.(map[string]any)
		if m["success"] != true || m["errors"].([]any)[0].(map[string]any)["message"] != uuids[i] {
			t.Errorf("result %d = %v, want success with %s", i, m, uuids[i])
		}
	}
	if orders[0].Payload["Amount__c"] != 10.0 || orders[1].Payload["Amount__c"] != 20.0 {
		t.Error("records published out of order")
	}
	if e.Calls()["composite"] != 1 {
		t.Errorf("calls %v", e.Calls())
	}
}

func TestCompositePerRecordErrors(t *testing.T) {
	e := start(t, testConfig())
	token := login(t, e)
	body := collection(false,
		typed("Order_Placed__e", order(1)),
		typed("Order_Placed__e", map[string]any{"Amount__c": 1}),
		typed("Nope__e", order(3)),
		map[string]any{"Order_Number__c": "no attributes"},
		typed("Order_Placed__e", map[string]any{"Order_Number__c": "A", "Amount__c": 1, "Bogus__c": 1}),
		typed("Order_Placed__e", order(6)),
	)
	status, resp := call(t, e, token, http.MethodPost, "/services/data/v62.0/composite/sobjects", body)
	if status != 200 {
		t.Fatalf("%d %v", status, resp)
	}
	want := []struct {
		success bool
		code    string
	}{{true, "OPERATION_ENQUEUED"}, {false, "REQUIRED_FIELD_MISSING"}, {false, "INVALID_TYPE"}, {false, "INVALID_TYPE"}, {false, "INVALID_FIELD"}, {true, "OPERATION_ENQUEUED"}}
	results := resp.([]any)
	for i, w := range want {
		m := results[i].(map[string]any)
		if m["success"] != w.success || m["errors"].([]any)[0].(map[string]any)["statusCode"] != w.code {
			t.Errorf("result %d = %v, want success=%t %s", i, m, w.success, w.code)
		}
		if _, hasID := m["id"]; hasID != w.success {
			t.Errorf("result %d id presence = %t", i, hasID)
		}
	}
	if n := len(e.Events("Order_Placed__e")); n != 2 {
		t.Fatalf("%d events published, want the 2 valid ones", n)
	}
}

func TestCompositeAllOrNone(t *testing.T) {
	e := start(t, testConfig())
	token := login(t, e)
	status, resp := call(t, e, token, http.MethodPost, "/services/data/v62.0/composite/sobjects", collection(true,
		typed("Order_Placed__e", order(1)), typed("Order_Placed__e", map[string]any{"Amount__c": 1}), typed("Order_Placed__e", order(3))))
	if status != 200 {
		t.Fatalf("%d %v", status, resp)
	}
	codes := []string{}
	for _, r := range resp.([]any) {
		m := r.(map[string]any)
		if m["success"] != false {
			t.Errorf("result %v succeeded in a failed allOrNone request", m)
		}
		codes = append(codes, m["errors"].([]any)[0].(map[string]any)["statusCode"].(string))
	}
	if !reflect.DeepEqual(codes, []string{"ALL_OR_NONE_OPERATION_ROLLED_BACK", "REQUIRED_FIELD_MISSING", "ALL_OR_NONE_OPERATION_ROLLED_BACK"}) {
		t.Errorf("codes %v", codes)
	}
	if n := len(e.Events("Order_Placed__e")); n != 0 {
		t.Fatalf("%d events published by a rolled-back request", n)
	}
	if rem := e.limits.report(0)["HourlyPublishedPlatformEvents"]; rem.Remaining != rem.Max {
		t.Errorf("rolled-back records used the hourly allocation: %+v", rem)
	}
}

func TestCompositeRequestErrors(t *testing.T) {
	e := start(t, testConfig())
	token := login(t, e)
	many := make([]map[string]any, 201)
	for i := range many {
		many[i] = typed("Order_Placed__e", order(i))
	}
	tests := []struct {
		name string
		body any
		code string
	}{
		{"too many records", collection(false, many...), "EXCEEDED_ID_LIMIT"},
		{"malformed", `{"records": [`, "JSON_PARSER_ERROR"},
		{"no records", `{"allOrNone": false}`, "JSON_PARSER_ERROR"},
		{"wrong JSON type in a record", collection(false, typed("Order_Placed__e", order(1)),
			typed("Order_Placed__e", map[string]any{"Order_Number__c": "A", "Amount__c": []int{1}})), "JSON_PARSER_ERROR"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := call(t, e, token, http.MethodPost, "/services/data/v62.0/composite/sobjects", tt.body)
			if status != 400 || errorCode(t, body) != tt.code {
				t.Fatalf("got %d %v, want 400 %s", status, body, tt.code)
			}
		})
	}
	if n := len(e.Events("Order_Placed__e")); n != 0 {
		t.Fatalf("%d events published by refused requests", n)
	}
}

func TestLimitsCountDown(t *testing.T) {
	cfg := testConfig()
	cfg.Limits.DailyAPIRequests = 6
	cfg.Limits.HourlyPublishedEvents = 3
	e := start(t, cfg)
	token := login(t, e)
	limitsOf := func() map[string]any {
		status, body := call(t, e, token, http.MethodGet, "/services/data/v62.0/limits/", nil)
		if status != 200 {
			t.Fatalf("limits: %d %v", status, body)
		}
		return body.(map[string]any)
	}
	remaining := func(l map[string]any, key string) float64 { return l[key].(map[string]any)["Remaining"].(float64) }

	l := limitsOf() // call 1
	if remaining(l, "DailyApiRequests") != 5 || remaining(l, "HourlyPublishedPlatformEvents") != 3 {
		t.Fatalf("limits %v", l)
	}
	for _, key := range []string{"DailyDeliveredPlatformEvents", "DurableStreamingApiConcurrentClients"} {
		if _, ok := l[key]; !ok {
			t.Errorf("limits lack %s", key)
		}
	}
	call(t, e, token, http.MethodPost, "/services/data/v62.0/sobjects/Order_Placed__e", order(1)) // call 2
	status, body := call(t, e, token, http.MethodPost, "/services/data/v62.0/composite/sobjects", collection(false,
		typed("Order_Placed__e", order(2)), typed("Order_Placed__e", order(3)), typed("Order_Placed__e", order(4)))) // call 3
	results := body.([]any)
	if status != 200 || results[2].(map[string]any)["errors"].([]any)[0].(map[string]any)["statusCode"] != "LIMIT_EXCEEDED" {
		t.Fatalf("third record past the hourly allocation: %d %v", status, body)
	}
	status, body = call(t, e, token, http.MethodPost, "/services/data/v62.0/sobjects/Order_Placed__e", order(5)) // call 4
	if status != 400 || errorCode(t, body) != "LIMIT_EXCEEDED" {
		t.Fatalf("publish past the hourly allocation: %d %v", status, body)
	}
	l = limitsOf() // call 5
	if remaining(l, "DailyApiRequests") != 1 || remaining(l, "HourlyPublishedPlatformEvents") != 0 {
		t.Fatalf("limits %v", l)
	}
	limitsOf() // call 6
	status, body = call(t, e, token, http.MethodGet, "/services/data/v62.0/limits", nil)
	if status != 403 || errorCode(t, body) != "REQUEST_LIMIT_EXCEEDED" {
		t.Fatalf("7th call: %d %v", status, body)
	}
	if n := len(e.Events("Order_Placed__e")); n != 3 {
		t.Fatalf("%d events published, want 3", n)
	}
	if got := e.Calls()["limits"]; got != 4 {
		t.Errorf("limits calls = %d, want 4", got)
	}
}

func TestDeliveredEventsAreCounted(t *testing.T) {
	e := start(t, testConfig())
	b := newBayeux(t, e, login(t, e))
	b.handshake()
	for i := 0; i < 3; i++ {
		e.Publish("Order_Placed__e", order(i))
	}
	b.subscribe("/event/Order_Placed__e", -2)
	b.receive(3)
	l := e.State().Limits["DailyDeliveredPlatformEvents"]
	if l.Max-l.Remaining != 3 {
		t.Fatalf("delivered %+v, want 3 used", l)
	}
	if c := e.State().Limits["DurableStreamingApiConcurrentClients"]; c.Max-c.Remaining != 1 {
		t.Fatalf("clients %+v, want 1 used", c)
	}
}
