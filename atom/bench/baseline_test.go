package bench

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/atomrt/atom/atom/bench/baseline"
	"github.com/atomrt/atom/emulator"
)

func baselineConfig(org *emulator.Emulator, s *sink, dir string, concurrency, want int) baseline.Config {
	return baseline.Config{
		LoginURL: org.URL(), ClientID: "atom-emulator", ClientSecret: "atom-emulator-secret",
		APIVersion: "62.0", Channel: orderChannel,
		SinkURL: s.URL() + "/orders", DBPath: filepath.Join(dir, "baseline.db"),
		Concurrency: concurrency, Want: want,
	}
}

// BenchmarkBaseline runs package baseline, the same pipeline as
// BenchmarkEndToEnd written by hand with no framework, on the same backlog
// of 20,000 events per round against the same emulator and sink, so that
// Atom's events/s can be read as a share of it. Its POSTs run with the
// same concurrency as Atom's process runs. cpu-us/event is measured as in
// BenchmarkEndToEnd.
func BenchmarkBaseline(b *testing.B) {
	for _, c := range []int{1, 8} {
		b.Run(fmt.Sprintf("concurrency=%d", c), func(b *testing.B) {
			b.ReportAllocs()
			b.StopTimer()
			var elapsed, cpu time.Duration
			for i := 0; i < b.N; i++ {
				org := startOrg(b)
				publishBacklog(b, org, roundEvents)
				s := newSink(b)
				s.expect(roundEvents)
				ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
				b.StartTimer()
				start, cpu0 := time.Now(), cpuTime()
				res, err := baseline.Run(ctx, baselineConfig(org, s, b.TempDir(), c, roundEvents))
				s.wait(b, "baseline")
				elapsed, cpu = elapsed+time.Since(start), cpu+cpuTime()-cpu0
				b.StopTimer()
				cancel()
				if err != nil {
					b.Fatal(err)
				}
				if res.Events != roundEvents {
					b.Fatalf("baseline posted %d events, want %d", res.Events, roundEvents)
				}
			}
			b.ReportMetric(float64(b.N*roundEvents)/elapsed.Seconds(), "events/s")
			b.ReportMetric(float64(cpu.Microseconds())/float64(b.N*roundEvents), "cpu-us/event")
		})
	}
}

// TestBaseline checks that the baseline does the work it is compared on:
// every event reaches the sink, transformed, and the last replay ID is
// committed.
func TestBaseline(t *testing.T) {
	const n = 1200 // the emulator answers a connect with at most 500 events
	org := startOrg(t)
	publishBacklog(t, org, n)
	s := newSink(t)
	s.expect(n)
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := baseline.Run(ctx, baselineConfig(org, s, dir, 4, n))
	if err != nil {
		t.Fatal(err)
	}
	s.wait(t, "baseline")
	if d, total := s.counts(); d != n || total != n {
		t.Fatalf("sink got %d distinct of %d orders (%d posts), want each once", d, n, total)
	}
	events := org.Events(orderEvent)
	lastID := events[len(events)-1].ReplayID
	if res.Events != n || res.LastReplayID != lastID || res.Batches < 3 {
		t.Fatalf("baseline result %+v, want %d events in 3 or more batches, up to replay ID %d", res, n, lastID)
	}
	stored, err := baseline.StoredReplay(filepath.Join(dir, "baseline.db"), orderChannel)
	if err != nil {
		t.Fatal(err)
	}
	if stored != lastID {
		t.Fatalf("committed replay ID %d, want %d", stored, lastID)
	}

	// A second run resumes after the committed position: only new events.
	publishBacklog(t, org, 5) // numbered 0-4 again, so the sink's round fits
	s.expect(5)
	res, err = baseline.Run(ctx, baselineConfig(org, s, dir, 4, 5))
	if err != nil {
		t.Fatal(err)
	}
	s.wait(t, "baseline resume")
	if d, total := s.counts(); d != 5 || total != 5 || res.Events != 5 {
		t.Fatalf("after resume: sink got %d distinct (%d posts), baseline posted %d; want 5 each", d, total, res.Events)
	}
}
