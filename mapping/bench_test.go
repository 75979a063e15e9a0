package mapping

import (
	"context"
	"testing"
)

// The same transform of testdata/order_event.json (27 fields: ids,
// strings, numbers, dates, a nested object, a JSON string field), in each
// kind of mapping.

func benchMapping(b *testing.B, s Spec) {
	m := mustCompile(b, s)
	body := orderEvent(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.Run(ctx, body, orderProps); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkJQ(b *testing.B) { benchMapping(b, orderSpecs()[0]) }

func BenchmarkExpr(b *testing.B) { benchMapping(b, orderSpecs()[1]) }

func BenchmarkFieldMap(b *testing.B) { benchMapping(b, orderSpecs()[2]) }

// BenchmarkJQParallel shows throughput when many runs share one compiled
// mapping, as a listener's concurrent process runs do.
func BenchmarkJQParallel(b *testing.B) {
	m := mustCompile(b, orderSpecs()[0])
	body := orderEvent(b)
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := m.Run(ctx, body, orderProps); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkExprBool is a route condition, run once per event and case.
func BenchmarkExprBool(b *testing.B) {
	e, err := CompileExpr(`body.Total_Amount__c > 1000 && body.Status__c == "Placed"`, nil)
	if err != nil {
		b.Fatal(err)
	}
	body := orderEvent(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.Bool(body, orderProps); err != nil {
			b.Fatal(err)
		}
	}
}
