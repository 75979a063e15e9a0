package bench

import (
	"fmt"
	"testing"
	"time"

	"github.com/atomrt/atom/emulator"
)

const (
	// roundEvents is the backlog of one end-to-end or baseline round.
	roundEvents = 20000
	// catchUpEvents is the retained backlog of BenchmarkCatchUp.
	catchUpEvents = 100000
	// latencyRate and latencyEvents pace the latency phase: a steady
	// stream well below capacity, so that the figures are latency and not
	// queueing.
	latencyRate   = 1000 // events per second
	latencyEvents = 2000
)

// BenchmarkEndToEnd measures the whole path: emulator → CometD listener →
// jq mapping → HTTP POST to a local sink, with positions committed to a
// bbolt file (fsync on, default commit interval) and every run recorded in
// the execution history, at process concurrency 1 and 8.
//
// Throughput (events/s) is a catch-up of a pre-published backlog of 20,000
// events per round, timed from deployment until the sink has them all.
// Latency (p50-ms, p99-ms) is measured afterwards on the caught-up atom:
// 2,000 events published at a steady 1,000 per second, each stamped with
// its publish time, against the time the sink receives it. cpu-us/event
// is the CPU time the whole process (emulator and sink included) used per
// event during the catch-up.
func BenchmarkEndToEnd(b *testing.B) {
	for _, c := range []int{1, 8} {
		b.Run(fmt.Sprintf("concurrency=%d", c), func(b *testing.B) {
			benchmarkEndToEnd(b, c)
		})
	}
}

func benchmarkEndToEnd(b *testing.B, concurrency int) {
	b.ReportAllocs()
	b.StopTimer()
	var (
		elapsed, cpu time.Duration
		last         *runningAtom
	)
	for i := 0; i < b.N; i++ {
		org := startOrg(b)
		publishBacklog(b, org, roundEvents)
		s := newSink(b)
		s.expect(roundEvents)
		b.StartTimer()
		start, cpu0 := time.Now(), cpuTime()
		a := startAtom(b, b.TempDir(), streamYAML(org.URL(), s.URL(), concurrency))
		s.wait(b, "end-to-end catch-up")
		elapsed, cpu = elapsed+time.Since(start), cpu+cpuTime()-cpu0
		b.StopTimer()
		if i < b.N-1 {
			a.stop(b)
			continue
		}
		// Latency, on the last round's caught-up atom.
		s.expect(latencyEvents)
		publishSteadily(b, org, latencyEvents, latencyRate)
		s.wait(b, "end-to-end latency")
		p50, p99 := s.percentiles()
		b.ReportMetric(p50, "p50-ms")
		b.ReportMetric(p99, "p99-ms")
		last = a
	}
	last.stop(b)
	b.ReportMetric(float64(b.N*roundEvents)/elapsed.Seconds(), "events/s")
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N*roundEvents), "cpu-us/event")
}

// publishSteadily publishes n orders at rate per second, each stamped with
// the time it was published.
func publishSteadily(tb testing.TB, org *emulator.Emulator, n, rate int) {
	tb.Helper()
	interval := time.Second / time.Duration(rate)
	start := time.Now()
	for i := range n {
		if wait := time.Until(start.Add(time.Duration(i) * interval)); wait > 0 {
			time.Sleep(wait)
		}
		if _, err := org.Publish(orderEvent, order(i, time.Now().UnixMicro())); err != nil {
			tb.Fatal(err)
		}
	}
}

// BenchmarkCatchUp measures draining 100,000 retained events after a
// restart, at concurrency 8: the events are published first, then an atom
// starts with replay stored (nothing stored yet, so initial: all) and the
// timer runs until the sink has every one. Memory is sampled every 10 ms,
// for the whole process (the emulator holding the 100,000 events and the
// sink included): peak-heap-MB is the highest heap in use, garbage not yet
// collected included; peak-sys-MB the most memory taken from the OS;
// atom-live-MB the highest live heap (what a collection found reachable)
// above the live heap just before the atom started, which is what the
// catch-up itself needs.
func BenchmarkCatchUp(b *testing.B) {
	b.ReportAllocs()
	b.StopTimer()
	var (
		elapsed           time.Duration
		peakHeap, peakSys uint64
		atomLive          uint64
	)
	for i := 0; i < b.N; i++ {
		org := startOrg(b)
		publishBacklog(b, org, catchUpEvents)
		s := newSink(b)
		s.expect(catchUpEvents)
		heapInUse() // collect, so that the live heap is the base
		base := liveHeap()
		mem := sampleMemory(10 * time.Millisecond)
		b.StartTimer()
		start := time.Now()
		a := startAtom(b, b.TempDir(), streamYAML(org.URL(), s.URL(), 8))
		s.wait(b, "catch-up")
		elapsed += time.Since(start)
		b.StopTimer()
		heap, live, sys := mem.stop()
		a.stop(b)
		peakHeap, peakSys = max(peakHeap, heap), max(peakSys, sys)
		atomLive = max(atomLive, live-min(live, base))
	}
	b.ReportMetric(elapsed.Seconds()/float64(b.N), "s/catch-up")
	b.ReportMetric(float64(b.N*catchUpEvents)/elapsed.Seconds(), "events/s")
	b.ReportMetric(float64(peakHeap)/mb, "peak-heap-MB")
	b.ReportMetric(float64(atomLive)/mb, "atom-live-MB")
	b.ReportMetric(float64(peakSys)/mb, "peak-sys-MB")
}
