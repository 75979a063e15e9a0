package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/atomrt/atom/atom"
	"github.com/atomrt/atom/emulator"
	"github.com/atomrt/atom/operations"
	"github.com/atomrt/atom/operations/standard"
	"github.com/atomrt/atom/persistence"
	"github.com/atomrt/atom/processes"
)

const (
	orderEvent   = "Order_Placed__e"
	orderChannel = "/event/" + orderEvent
	copyEvent    = "Order_Copy__e" // where BenchmarkPublish publishes
	idleEvents   = 10              // channels of BenchmarkIdleMemory

	// waitLimit bounds every wait for the sink; a benchmark that takes
	// longer has stalled.
	waitLimit = 3 * time.Minute
)

// orderFields are the benchmark's event fields: Seq__c numbers the events
// of a round from 0 and Sent_At__c is the publish time in Unix
// microseconds (exact in a float64), from which the sink measures latency.
var orderFields = []emulator.FieldDef{
	{Name: "Order_Number__c", Type: "string", Length: 40, Required: true},
	{Name: "Amount__c", Type: "double", Required: true},
	{Name: "Seq__c", Type: "int"},
	{Name: "Sent_At__c", Type: "double"},
}

// jqProgram is the deployment's transform; package baseline writes the same
// by hand.
const jqProgram = `{order: .Order_Number__c, seq: .Seq__c, amount: .Amount__c, sentAt: .Sent_At__c, replayId: ($props.replayId | tonumber)}`

// orgConfig is the emulated org: the order event, a copy of it to publish
// to, ten idle channels, and limits no benchmark reaches.
func orgConfig() emulator.Config {
	cfg := emulator.Config{
		Events: []emulator.EventDef{
			{Name: orderEvent, Fields: orderFields},
			{Name: copyEvent, Fields: orderFields},
		},
		Limits: emulator.LimitsConfig{DailyAPIRequests: 1 << 30, HourlyPublishedEvents: 1 << 30, DailyDeliveredEvents: 1 << 30},
	}
	for i := 1; i <= idleEvents; i++ {
		cfg.Events = append(cfg.Events, emulator.EventDef{Name: idleEvent(i), Fields: orderFields})
	}
	return cfg
}

func idleEvent(i int) string { return fmt.Sprintf("Idle_%02d__e", i) }

// startOrg starts an emulator on a free port.
func startOrg(tb testing.TB) *emulator.Emulator {
	tb.Helper()
	org, err := emulator.New(orgConfig())
	if err != nil {
		tb.Fatal(err)
	}
	if err := org.Listen("127.0.0.1:0"); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = org.Close() })
	return org
}

// publishBacklog publishes n orders numbered from 0, with no send time.
func publishBacklog(tb testing.TB, org *emulator.Emulator, n int) {
	tb.Helper()
	for i := range n {
		if _, err := org.Publish(orderEvent, order(i, 0)); err != nil {
			tb.Fatal(err)
		}
	}
}

func order(seq int, sentAt int64) map[string]any {
	return map[string]any{
		"Order_Number__c": fmt.Sprintf("ORD-%07d", seq),
		"Amount__c":       float64(seq%1000) + 0.5,
		"Seq__c":          seq,
		"Sent_At__c":      float64(sentAt),
	}
}

// sink is the HTTP server every pipeline delivers to. It counts distinct
// orders by their sequence number and, for orders carrying a send time,
// records the latency from publish to receipt.
type sink struct {
	srv *httptest.Server

	mu       sync.Mutex
	seen     []bool
	distinct int
	total    int
	latency  []time.Duration
	done     chan struct{}
}

type delivered struct {
	Seq    int     `json:"seq"`
	SentAt float64 `json:"sentAt"`
}

func newSink(tb testing.TB) *sink {
	s := &sink{}
	s.expect(0)
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	tb.Cleanup(s.srv.Close)
	return s
}

// URL is where the sink listens.
func (s *sink) URL() string { return s.srv.URL }

// expect resets the sink for a round of n orders numbered 0 to n-1. The
// memory is taken here, before any measurement.
func (s *sink) expect(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seen = make([]bool, n)
	s.distinct, s.total = 0, 0
	s.latency = make([]time.Duration, 0, n)
	s.done = make(chan struct{})
	if n == 0 {
		close(s.done)
	}
}

func (s *sink) serve(w http.ResponseWriter, r *http.Request) {
	now := time.Now()
	var d delivered
	if err := json.NewDecoder(r.Body).Decode(&d); err != nil {
		http.Error(w, "want {seq, sentAt}", http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if d.Seq < 0 || d.Seq >= len(s.seen) {
		// A late duplicate from an earlier round: harmless.
		return
	}
	s.total++
	if s.seen[d.Seq] {
		return
	}
	s.seen[d.Seq] = true
	s.distinct++
	if d.SentAt > 0 {
		s.latency = append(s.latency, now.Sub(time.UnixMicro(int64(d.SentAt))))
	}
	if s.distinct == len(s.seen) {
		close(s.done)
	}
}

// wait blocks until every expected order arrived.
func (s *sink) wait(tb testing.TB, what string) {
	tb.Helper()
	s.mu.Lock()
	done := s.done
	s.mu.Unlock()
	select {
	case <-done:
	case <-time.After(waitLimit):
		s.mu.Lock()
		defer s.mu.Unlock()
		tb.Fatalf("%s: only %d of %d orders reached the sink in %s", what, s.distinct, len(s.seen), waitLimit)
	}
}

// percentiles returns the p50 and p99 latency of the round, in ms.
func (s *sink) percentiles() (p50, p99 float64) {
	s.mu.Lock()
	lat := slices.Clone(s.latency)
	s.mu.Unlock()
	if len(lat) == 0 {
		return 0, 0
	}
	slices.Sort(lat)
	at := func(q float64) float64 {
		return float64(lat[int(q*float64(len(lat)-1))]) / float64(time.Millisecond)
	}
	return at(0.50), at(0.99)
}

// counts returns the distinct and total orders received this round.
func (s *sink) counts() (distinct, total int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.distinct, s.total
}

// streamYAML is the end-to-end deployment, as cmd/atom/testdata/e2e: the
// order channel from every retained event (or the stored position), the jq
// transform, an HTTP POST to the sink.
func streamYAML(orgURL, sinkURL string, concurrency int) string {
	return fmt.Sprintf(`kind: Connection
name: org
type: salesforce
settings:
  loginUrl: %s
  grant: client_credentials
  clientId: atom-emulator
  clientSecret: atom-emulator-secret
---
kind: Connection
name: sink
type: http
settings: {baseUrl: %q}
---
kind: Operation
name: orders
connection: org
action: listen
settings: {event: %s, replay: stored, initial: all}
---
kind: Operation
name: deliver
connection: sink
action: send
settings: {url: /orders}
---
kind: Process
name: stream
listen: orders
concurrency: %d
steps:
  - map:
      jq: '%s'
  - send: deliver
`, orgURL, sinkURL, orderEvent, concurrency, jqProgram)
}

// runningAtom is a runtime on a real bbolt file (fsync on, default commit
// interval) with a deployment.
type runningAtom struct {
	rt     *atom.Runtime
	store  *persistence.Store
	cancel context.CancelFunc
}

// startAtom opens the store in dir, starts a runtime with the standard
// connectors and deploys yaml.
func startAtom(tb testing.TB, dir, yaml string) *runningAtom {
	tb.Helper()
	reg, err := standard.Registry()
	if err != nil {
		tb.Fatal(err)
	}
	store, err := persistence.Open(filepath.Join(dir, "atom.db"), persistence.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	rt, err := atom.New(atom.Options{Registry: reg, Store: store, Log: zerolog.Nop()})
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	a := &runningAtom{rt: rt, store: store, cancel: cancel}
	if err := rt.Start(ctx); err != nil {
		a.stop(tb)
		tb.Fatal(err)
	}
	if _, err := rt.Deploy([]processes.File{{Name: "bench.yaml", Data: []byte(yaml)}}, "bench", ""); err != nil {
		a.stop(tb)
		tb.Fatal(err)
	}
	return a
}

// stop drains the runtime, commits and closes the store.
func (a *runningAtom) stop(tb testing.TB) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := a.rt.Stop(ctx); err != nil {
		tb.Error(err)
	}
	a.cancel()
	if err := a.store.Close(); err != nil {
		tb.Error(err)
	}
}

// waitRunning waits until every listener runs and the org counts a CometD
// subscriber on each channel.
func (a *runningAtom) waitRunning(tb testing.TB, org *emulator.Emulator, channels ...string) {
	tb.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ready := true
		for _, l := range a.rt.Listeners() {
			ready = ready && l.State == operations.Running
		}
		for _, ch := range channels {
			ready = ready && org.Subscribers(ch) > 0
		}
		if ready {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("listeners not running after 30s: %+v", a.rt.Listeners())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// heapInUse collects garbage and returns the bytes of heap in use.
func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

// liveHeap is the heap the last garbage collection found reachable.
func liveHeap() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}

// memPeak samples the process's memory every few milliseconds until
// stopped, keeping the highest heap in use (garbage not yet collected
// included), the highest live heap (what a collection found reachable:
// the memory the work needs) and the most memory taken from the OS.
type memPeak struct {
	stopc chan struct{}
	done  chan struct{}
	heap  uint64
	live  uint64
	sys   uint64
}

func sampleMemory(every time.Duration) *memPeak {
	p := &memPeak{stopc: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		t := time.NewTicker(every)
		defer t.Stop()
		var m runtime.MemStats
		for {
			runtime.ReadMemStats(&m)
			p.heap, p.sys = max(p.heap, m.HeapInuse), max(p.sys, m.Sys)
			p.live = max(p.live, liveHeap())
			select {
			case <-p.stopc:
				return
			case <-t.C:
			}
		}
	}()
	return p
}

// stop ends sampling and returns the peaks.
func (p *memPeak) stop() (heap, live, sys uint64) {
	close(p.stopc)
	<-p.done
	return p.heap, p.live, p.sys
}

const mb = 1 << 20

// cpuTime is the CPU time (user and system) the process has used: the
// emulator, the sink and the pipeline under test together.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
