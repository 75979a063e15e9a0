package persistence

import (
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/atomrt/atom/operations"
)

// The benchmarks write to a real file with fsync on, and include the final
// Flush in the measured time, so a figure is the cost of making the write
// durable, not just of accepting it.

func BenchmarkCommitProperties(b *testing.B) {
	for _, listeners := range []int{1, 100} {
		b.Run(fmt.Sprintf("listeners=%d", listeners), func(b *testing.B) {
			s, _ := openStore(b, Options{})
			names := make([]string, listeners)
			for i := range names {
				names[i] = fmt.Sprintf("sf /event/Topic%d__e", i)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				if err := s.CommitProperties(names[i%listeners], map[string]string{"replayId": strconv.Itoa(i)}); err != nil {
					b.Fatal(err)
				}
			}
			if err := s.Flush(); err != nil {
				b.Fatal(err)
			}
		})
	}
}

// BenchmarkCommitPropertiesFlushEach is the unbatched baseline: one fsync'd
// transaction per position, what batching saves.
func BenchmarkCommitPropertiesFlushEach(b *testing.B) {
	s, _ := openStore(b, Options{})
	b.ReportAllocs()
	for i := range b.N {
		if err := s.CommitProperties("l", map[string]string{"replayId": strconv.Itoa(i)}); err != nil {
			b.Fatal(err)
		}
		if err := s.Flush(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRecordExecution(b *testing.B) {
	b.Run("serial", func(b *testing.B) {
		s, _ := openStore(b, Options{})
		b.ReportAllocs()
		for i := range b.N {
			if _, err := s.RecordExecution(benchExecution(i)); err != nil {
				b.Fatal(err)
			}
		}
		if err := s.Flush(); err != nil {
			b.Fatal(err)
		}
	})
	b.Run("parallel", func(b *testing.B) {
		s, _ := openStore(b, Options{})
		var n atomic.Int64
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := s.RecordExecution(benchExecution(int(n.Add(1)))); err != nil {
					b.Error(err)
					return
				}
			}
		})
		if err := s.Flush(); err != nil {
			b.Fatal(err)
		}
	})
}

func benchExecution(i int) Execution {
	replay := strconv.Itoa(i)
	return Execution{
		Process: "orders", Listener: "sf /event/Order__e", Status: StatusOK,
		Started: time.Now(), Duration: 3 * time.Millisecond,
		Tracked: map[string]string{"replayId": replay, "eventUuid": "6f1d2c1e-0b7a-4c1e-9f3a-" + replay},
	}
}

func BenchmarkPutDeadLetter(b *testing.B) {
	doc := operations.NewDocument(map[string]any{"Order_Number__c": "A-1001", "Amount__c": 1234.5, "Lines": []any{"a", "b"}},
		map[string]string{"replayId": "4711", "eventUuid": "6f1d2c1e-0b7a-4c1e-9f3a-4711"})
	d := DeadLetter{Process: "orders", Listener: "sf /event/Order__e", Doc: doc, Error: "send crm: 503", Step: "send"}
	b.Run("serial", func(b *testing.B) {
		s, _ := openStore(b, Options{})
		b.ReportAllocs()
		for range b.N {
			if _, err := s.PutDeadLetter(d); err != nil {
				b.Fatal(err)
			}
		}
	})
	// Many failing runs at once share transactions through db.Batch.
	b.Run("parallel", func(b *testing.B) {
		s, _ := openStore(b, Options{})
		b.ReportAllocs()
		b.SetParallelism(32)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := s.PutDeadLetter(d); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

func BenchmarkInboxPut(b *testing.B) {
	s, _ := openStore(b, Options{})
	doc := operations.NewDocument(map[string]any{"id": "A-1001", "amount": 12.5}, map[string]string{"requestId": "r-1"})
	b.ReportAllocs()
	b.SetParallelism(32)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.Put("http POST /hooks/orders", doc); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkExecutions queries a full default history (10,000 runs).
func BenchmarkExecutions(b *testing.B) {
	s, _ := openStore(b, Options{})
	for i := range DefaultHistoryLimit {
		e := benchExecution(i)
		if i%10 == 0 {
			e.Process, e.Status = "invoices", StatusFailed
		}
		if _, err := s.RecordExecution(e); err != nil {
			b.Fatal(err)
		}
	}
	if err := s.Flush(); err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name string
		q    ExecQuery
	}{
		{"latest100", ExecQuery{}},
		{"byReplayId", ExecQuery{PropKey: "replayId", PropValue: "4242"}},
		{"failed100", ExecQuery{Status: StatusFailed}},
		{"rareProcessFullScan", ExecQuery{Process: "nope"}},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for range b.N {
				if _, err := s.Executions(c.q); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
