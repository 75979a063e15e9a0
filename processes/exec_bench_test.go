package processes

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/rs/zerolog"

	"github.com/atomrt/atom/operations"
)

// countSender is the fastest sender there is: it counts. It stands in
// for a connector so that the benchmark measures the executor.
type countSender struct{ n atomic.Int64 }

func (s *countSender) Send(context.Context, operations.Document) (operations.Document, error) {
	s.n.Add(1)
	return operations.Document{}, nil
}

// platformEvent is a realistic Salesforce platform event: 25 fields, as
// the CometD listener hands it over, with the properties it sets.
func platformEvent() operations.Document {
	return operations.NewDocument(map[string]any{
		"CreatedDate":        "2024-05-01T09:30:00.000Z",
		"CreatedById":        "0055e000003AbCdAAK",
		"EventUuid":          "3f0c2a4e-8d1b-4c7e-9a55-1b2c3d4e5f60",
		"ReplayId":           "10042",
		"Order_Number__c":    "O-2024-0001001",
		"Order_Id__c":        "8015e000001XyZaAAK",
		"Account_Id__c":      "0015e00000AbCdEAA1",
		"Account_Name__c":    "Globex Corporation",
		"Contact_Email__c":   "buyer@globex.example",
		"Status__c":          "Activated",
		"Region__c":          "EU",
		"Country__c":         "DE",
		"Currency__c":        "EUR",
		"Amount__c":          1250.75,
		"Tax__c":             237.64,
		"Discount__c":        0.05,
		"Line_Count__c":      3.0,
		"Priority__c":        "High",
		"Channel__c":         "Web",
		"Warehouse__c":       "FRA-1",
		"Shipping_Method__c": "Express",
		"Requested_Date__c":  "2024-05-03",
		"Is_Test__c":         false,
		"Notes__c":           "Leave at the loading dock, gate 4.",
		"Sales_Rep__c":       "Jane Doe",
	}, map[string]string{
		"replayId":  "10042",
		"channel":   "/event/Order_Activated__e",
		"eventUuid": "3f0c2a4e-8d1b-4c7e-9a55-1b2c3d4e5f60",
	})
}

// benchFlow: jq map → set → route to one of two sub-processes → send.
func benchFlow() *Set {
	return setOf(
		map[string]*Mapping{"to-order": {Name: "to-order", JQ: `{
			orderNumber: .Order_Number__c,
			account: {id: .Account_Id__c, name: .Account_Name__c, email: .Contact_Email__c},
			region: .Region__c,
			country: .Country__c,
			total: (.Amount__c + .Tax__c),
			currency: .Currency__c,
			lines: .Line_Count__c,
			priority: .Priority__c,
			shipping: {method: .Shipping_Method__c, warehouse: .Warehouse__c, date: .Requested_Date__c},
			replayId: $props.replayId
		}`}},
		newProc("orders",
			mapStep("to-order"),
			setStep("orderNumber", "body.orderNumber", "region", "body.region"),
			routeStep(RouteFirst, seq(callStep("us-orders")),
				whenCase(`props.region == "EU"`, callStep("eu-orders")),
			),
		),
		newProc("eu-orders", sendStep("eu")),
		newProc("us-orders", sendStep("us")),
	)
}

func benchmarkRun(b *testing.B, opt RunOptions) {
	eu, us := &countSender{}, &countSender{}
	e, err := Compile(benchFlow(), Deps{Senders: map[string]operations.Sender{"eu": eu, "us": us}, Log: zerolog.Nop()})
	if err != nil {
		b.Fatal(err)
	}
	doc := platformEvent()
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if res := e.Run(ctx, "orders", doc, opt); res.Status != StatusOK {
			b.Fatalf("%s: %v", res.Status, res.Err)
		}
	}
	b.StopTimer()
	if eu.n.Load() == 0 || us.n.Load() != 0 {
		b.Fatalf("sends: eu %d, us %d", eu.n.Load(), us.n.Load())
	}
}

func BenchmarkProcessRun(b *testing.B) { benchmarkRun(b, RunOptions{}) }

func BenchmarkProcessRunTrace(b *testing.B) { benchmarkRun(b, RunOptions{Trace: true}) }

// BenchmarkProcessRunParallel runs the same flow from every core at once,
// as a listener with concurrency does.
func BenchmarkProcessRunParallel(b *testing.B) {
	e, err := Compile(benchFlow(), Deps{Senders: map[string]operations.Sender{"eu": &countSender{}, "us": &countSender{}}, Log: zerolog.Nop()})
	if err != nil {
		b.Fatal(err)
	}
	doc := platformEvent()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if res := e.Run(context.Background(), "orders", doc, RunOptions{}); res.Status != StatusOK {
				b.Errorf("%s: %v", res.Status, res.Err)
				return
			}
		}
	})
}
