package atom

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/atomrt/atom/emulator"
	"github.com/atomrt/atom/operations"
	httpconn "github.com/atomrt/atom/operations/http"
	"github.com/atomrt/atom/operations/optest"
	"github.com/atomrt/atom/operations/salesforce"
	"github.com/atomrt/atom/persistence"
	"github.com/atomrt/atom/processes"
)

// These tests run the runtime with the real Salesforce connector against
// the emulator: the listener rules of DESIGN.md with a real stream.

func startWithOrg(t *testing.T) (*Runtime, *emulator.Emulator, *optest.Sink) {
	t.Helper()
	org, err := emulator.New(emulator.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	if err := org.Listen("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = org.Close() })
	store, err := persistence.Open(filepath.Join(t.TempDir(), "atom.db"), persistence.Options{})
	if err != nil {
		t.Fatal(err)
	}
	reg := operations.NewRegistry()
	for _, register := range []func(*operations.Registry) error{httpconn.Register, salesforce.Register} {
		if err := register(reg); err != nil {
			t.Fatal(err)
		}
	}
	rt, err := New(Options{Registry: reg, Store: store, Log: zerolog.New(io.Discard)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := rt.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stopCtx, done := context.WithTimeout(context.Background(), 10*time.Second)
		defer done()
		_ = rt.Stop(stopCtx)
		cancel()
		_ = store.Close()
	})
	return rt, org, optest.NewSink(t)
}

const orgYAML = `
kind: Connection
name: org
type: salesforce
settings: {loginUrl: ORG, grant: client_credentials, clientId: atom-emulator, clientSecret: atom-emulator-secret}
---
kind: Connection
name: web
type: http
settings: {baseUrl: SINK}
---
kind: Operation
name: orders-a
connection: org
action: listen
settings: {event: Order_Placed__e}
---
kind: Operation
name: orders-b
connection: org
action: listen
settings: {event: Order_Placed__e}
---
kind: Operation
name: to-a
connection: web
action: send
settings: {url: /a}
---
kind: Operation
name: to-b
connection: web
action: send
settings: {url: /b}
---
kind: Process
name: pa
listen: orders-a
steps: [{map: {jq: '{n: .Item_Count__c}'}}, {send: to-a}]
---
kind: Process
name: pb
listen: orders-b
steps: [{map: {jq: '{n: .Item_Count__c}'}}, {send: to-b}]
`

func deployOrg(t *testing.T, rt *Runtime, org *emulator.Emulator, sk *optest.Sink) {
	t.Helper()
	y := strings.NewReplacer("ORG", org.URL(), "SINK", sk.URL).Replace(orgYAML)
	if _, err := rt.Deploy([]processes.File{{Name: "org.yaml", Data: []byte(y)}}, "test", ""); err != nil {
		t.Fatal(err)
	}
	eventually(t, "listener running", func() bool {
		ls := rt.Listeners()
		return len(ls) == 1 && ls[0].State == operations.Running
	})
}

func publishOrders(t *testing.T, org *emulator.Emulator, from, to int) {
	t.Helper()
	for i := from; i <= to; i++ {
		if _, err := org.Publish("Order_Placed__e", map[string]any{
			"Order_Number__c": fmt.Sprintf("ORD-%d", i), "Amount__c": 1.0, "Item_Count__c": i,
		}); err != nil {
			t.Fatal(err)
		}
	}
}

func TestTwoProcessesOnOneEventShareOneCometDClient(t *testing.T) {
	rt, org, sk := startWithOrg(t)
	deployOrg(t, rt, org, sk)
	if n := org.Subscribers("Order_Placed__e"); n != 1 {
		t.Fatalf("emulator shows %d CometD subscribers, want 1 shared by both processes", n)
	}
	publishOrders(t, org, 1, 200)
	eventually(t, "both processes get 200", func() bool { return len(sk.NS("/a")) == 200 && len(sk.NS("/b")) == 200 })
	if !equalInts(sk.NS("/a"), seq(1, 200)) || !equalInts(sk.NS("/b"), seq(1, 200)) {
		t.Errorf("not every event in order: a=%v b=%v", sk.NS("/a"), sk.NS("/b"))
	}
	if st := rt.Listeners()[0]; len(st.Processes) != 2 || st.Received != 200 {
		t.Errorf("listener status = %+v, want 2 processes and 200 received", st)
	}
	// With no track list, a process tracks what the connector says
	// identifies an event: its replay ID and event UUID, searchable.
	ev := org.Events("Order_Placed__e")[41]
	execs, err := rt.Executions(persistence.ExecQuery{PropKey: "eventUuid", PropValue: ev.EventUUID})
	if err != nil || len(execs) != 2 {
		t.Fatalf("executions for event %s = %+v, %v; want one per process", ev.EventUUID, execs, err)
	}
	want := map[string]string{"replayId": fmt.Sprint(ev.ReplayID), "eventUuid": ev.EventUUID}
	if fmt.Sprint(execs[0].Tracked) != fmt.Sprint(want) {
		t.Errorf("tracked = %v, want %v", execs[0].Tracked, want)
	}
}

func TestPauseEveryListenerPublishResumeGetsAllInOrder(t *testing.T) {
	rt, org, sk := startWithOrg(t)
	deployOrg(t, rt, org, sk)
	publishOrders(t, org, 1, 10)
	eventually(t, "first 10", func() bool { return len(sk.NS("/a")) == 10 && len(sk.NS("/b")) == 10 })
	for _, l := range rt.Listeners() {
		if err := rt.Pause(l.Name); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "subscription gone while paused", func() bool { return org.Subscribers("Order_Placed__e") == 0 })
	publishOrders(t, org, 11, 110)
	time.Sleep(100 * time.Millisecond)
	if n := len(sk.NS("/a")); n != 10 {
		t.Fatalf("%d events processed while every listener was paused, want 10", n)
	}
	for _, l := range rt.Listeners() {
		if err := rt.Resume(l.Name); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "all 110 after resume", func() bool { return len(sk.NS("/a")) == 110 && len(sk.NS("/b")) == 110 })
	if !equalInts(sk.NS("/a"), seq(1, 110)) || !equalInts(sk.NS("/b"), seq(1, 110)) {
		t.Errorf("after resume: a=%v b=%v, want 1..110 in order, once each", sk.NS("/a"), sk.NS("/b"))
	}
}

// The runtime's metrics include what connectors report (retries, batch
// sizes) and the duration of each step.
func TestMetricsCarryConnectorFiguresAndStepDurations(t *testing.T) {
	rt, org, sk := startWithOrg(t)
	var calls atomic.Int32
	flaky := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if calls.Add(1) == 1 {
			http.Error(w, "try again", http.StatusServiceUnavailable)
		}
	}))
	t.Cleanup(flaky.Close)
	y := strings.NewReplacer("ORG", org.URL(), "SINK", sk.URL, "FLAKY", flaky.URL).Replace(orgYAML + `
---
kind: Operation
name: republish
connection: org
action: send
settings: {event: Order_Placed__e, batchSize: 200, linger: 1ms}
---
kind: Operation
name: more
connection: org
action: listen
settings: {event: Printer_Low_Ink__e}
---
kind: Process
name: copy
listen: more
steps:
  - map: {expr: '{"Order_Number__c": body.Printer_Serial__c, "Amount__c": 1.0}'}
  - send: republish
  - send: flaky
---
kind: Connection
name: flaky-api
type: http
settings: {baseUrl: FLAKY}
---
kind: Operation
name: flaky
connection: flaky-api
action: send
settings: {url: /x, retryInitial: 1ms, retryMax: 2ms}
`)
	if _, err := rt.Deploy([]processes.File{{Name: "m.yaml", Data: []byte(y)}}, "test", ""); err != nil {
		t.Fatal(err)
	}
	eventually(t, "listeners running", func() bool { ok, _ := rt.Ready(); return ok })
	if _, err := org.Publish("Printer_Low_Ink__e", map[string]any{"Printer_Serial__c": "P-1", "Ink_Color__c": "cyan"}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the copy published and sent", func() bool {
		return len(org.Events("Order_Placed__e")) == 1 && calls.Load() == 2
	})
	eventually(t, "the run finished", func() bool { st, _ := rt.Listener("org:/event/Printer_Low_Ink__e"); return st.Processed == 1 })
	families, err := rt.Metrics().Gather()
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]float64{}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			labels := ""
			for _, l := range m.GetLabel() {
				labels += l.GetName() + "=" + l.GetValue() + ","
			}
			switch {
			case m.Counter != nil:
				found[f.GetName()+"{"+labels+"}"] = m.Counter.GetValue()
			case m.Histogram != nil:
				found[f.GetName()+"{"+labels+"}"] = float64(m.Histogram.GetSampleCount())
			}
		}
	}
	for key, want := range map[string]float64{
		"atom_connector_events_total{connection=flaky-api,name=retries,}": 1,
		"atom_connector_values{connection=org,name=batch_size,}":          1,
		"atom_step_seconds{kind=send,process=copy,}":                      2, // two send steps
		"atom_step_seconds{kind=map,process=copy,}":                       1,
		"atom_process_runs_total{process=copy,status=ok,}":                1,
	} {
		if found[key] != want {
			t.Errorf("%s = %v, want %v", key, found[key], want)
		}
	}
}

// The whole atom rides out the emulator's faults: every event reaches the
// sink once, in order, across dropped clients, expired tokens, a 503
// burst and an emulator restart.
func TestFaultsThroughTheRuntimeLoseNothing(t *testing.T) {
	rt, org, sk := startWithOrg(t)
	deployOrg(t, rt, org, sk)
	faults := []struct {
		name   string
		inject func()
	}{
		{"drop clients", func() { org.DropClients() }},
		{"expire tokens", func() { org.ExpireTokens() }},
		{"503 burst", func() { org.Fail503(3) }},
		{"restart", func() {
			if err := org.Restart(); err != nil {
				t.Fatal(err)
			}
		}},
	}
	n := 0
	for _, f := range faults {
		publishOrders(t, org, n+1, n+25)
		f.inject()
		publishOrders(t, org, n+26, n+50)
		n += 50
		deadline := time.Now().Add(20 * time.Second)
		for len(sk.NS("/a")) < n || len(sk.NS("/b")) < n {
			if time.Now().After(deadline) {
				t.Fatalf("after %s: a has %d, b has %d, want %d; listener %+v; emulator %+v",
					f.name, len(sk.NS("/a")), len(sk.NS("/b")), n, rt.Listeners()[0], org.State())
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	if !equalInts(sk.NS("/a"), seq(1, n)) || !equalInts(sk.NS("/b"), seq(1, n)) {
		t.Errorf("after the faults: a=%v b=%v, want 1..%d once each, in order", sk.NS("/a"), sk.NS("/b"), n)
	}
	st := rt.Listeners()[0]
	if st.Counters["reconnects"] == 0 {
		t.Errorf("no reconnect counted through %d faults: %+v", len(faults), st)
	}
}

// A listener that starts at "new events" and is paused before the first
// one comes resumes from when it subscribed: what was published while it
// was paused arrives, nothing from before its subscription does.
func TestPauseBeforeTheFirstEventLosesNothing(t *testing.T) {
	rt, org, sk := startWithOrg(t)
	publishOrders(t, org, 1, 5) // before the subscription: not wanted
	// The mark is Salesforce's Date header (whole seconds) less a second of
	// margin for clock skew between its servers: events up to two seconds
	// older than the subscription may come as extras, never fewer.
	time.Sleep(2100 * time.Millisecond)
	deployOrg(t, rt, org, sk)
	name := rt.Listeners()[0].Name
	eventually(t, "position marked at the subscription", func() bool {
		return strings.HasPrefix(rt.Listeners()[0].Position, "since:")
	})
	if err := rt.Pause(name); err != nil {
		t.Fatal(err)
	}
	eventually(t, "unsubscribed", func() bool { return org.Subscribers("Order_Placed__e") == 0 })
	publishOrders(t, org, 6, 25)
	if err := rt.Resume(name); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the 20 published while paused", func() bool { return len(sk.NS("/a")) >= 20 && len(sk.NS("/b")) >= 20 })
	eventually(t, "position past them", func() bool { return !strings.HasPrefix(rt.Listeners()[0].Position, "since:") })
	if !equalInts(sk.NS("/a"), seq(6, 25)) || !equalInts(sk.NS("/b"), seq(6, 25)) {
		t.Errorf("got a=%v b=%v, want 6..25 once each (1..5 predate the subscription)", sk.NS("/a"), sk.NS("/b"))
	}
	if c := rt.Listeners()[0].Counters["skipped_before_start"]; c != 5 {
		t.Errorf("skipped_before_start = %d, want 5", c)
	}
}
