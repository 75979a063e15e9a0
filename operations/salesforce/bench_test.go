package salesforce

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/atomrt/atom/operations"
)

// countStream is a runtime that takes every event at once: it counts,
// commits and signals when it has seen want events.
type countStream struct {
	n         atomic.Int64
	want      int64
	done      chan struct{}
	committed atomic.Pointer[string]
}

func (s *countStream) Start() string { return "" }
func (s *countStream) Committed() string {
	if p := s.committed.Load(); p != nil {
		return *p
	}
	return ""
}
func (s *countStream) Mark(pos string) {
	if s.n.Load() == 0 {
		s.committed.Store(&pos)
	}
}
func (s *countStream) Deliver(_ context.Context, ev operations.Event) error {
	pos := ev.Position
	s.committed.Store(&pos)
	if s.n.Add(1) == s.want {
		close(s.done)
	}
	return nil
}
func (s *countStream) SetState(operations.State, error) {}
func (s *countStream) Count(string)                     {}
func (s *countStream) Log() zerolog.Logger              { return zerolog.Nop() }

// BenchmarkListen measures events/s from the emulator's bus through the
// CometD client to a runtime that takes them at once (a catch-up of b.N
// retained events, 500 per connect answer).
func BenchmarkListen(b *testing.B) {
	e := startEmulator(b, nil)
	c := emuConn(b, e)
	publish(b, e, 1, b.N)
	l := newTestListener(b, c, operations.Settings{"initial": "all"})
	s := &countStream{want: int64(b.N), done: make(chan struct{})}
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = l.Run(ctx, s) }()
	select {
	case <-s.done:
	case <-time.After(5 * time.Minute):
		b.Fatalf("only %d of %d events in 5 minutes", s.n.Load(), b.N)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "events/s")
}

// BenchmarkPublishBatched measures events/s published through batches of
// up to 200 (composite/sobjects), with many concurrent callers and with
// the 8 of a process at concurrency 8, where linger sets the pace.
func BenchmarkPublishBatched(b *testing.B) {
	for _, bb := range []struct {
		name    string
		callers int // per GOMAXPROCS
		linger  time.Duration
	}{
		{"callers=256/linger=5ms", 128, 5 * time.Millisecond},
		{"callers=8/linger=20ms", 4, 20 * time.Millisecond},
		{"callers=8/linger=0", 4, 0},
	} {
		b.Run(bb.name, func(b *testing.B) {
			benchmarkPublish(b, operations.Settings{"batchSize": int64(200), "linger": bb.linger}, bb.callers, "composite")
		})
	}
}

// BenchmarkPublishSingle measures events/s published by 16 concurrent
// callers (8 per GOMAXPROCS), one sobjects request each.
func BenchmarkPublishSingle(b *testing.B) {
	benchmarkPublish(b, operations.Settings{"batchSize": int64(1)}, 8, "publish")
}

func benchmarkPublish(b *testing.B, settings operations.Settings, parallelism int, call string) {
	e := startEmulator(b, nil)
	c := emuConn(b, e)
	snd := newTestSender(b, c, settings)
	if _, err := snd.Send(context.Background(), order(0)); err != nil {
		b.Fatal(err)
	}
	e.ResetCalls()
	b.ReportAllocs()
	b.SetParallelism(parallelism)
	b.ResetTimer()
	start := time.Now()
	var seq atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := int(seq.Add(1))
			doc := operations.Document{Body: map[string]any{"Order_Number__c": "B-" + strconv.Itoa(i), "Amount__c": float64(i)}}
			if _, err := snd.Send(context.Background(), doc); err != nil {
				b.Error(err)
				return
			}
		}
	})
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "events/s")
	b.ReportMetric(float64(e.Calls()[call])*1000/float64(b.N), "calls/1000")
}
