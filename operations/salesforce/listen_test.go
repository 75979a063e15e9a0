package salesforce

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/atomrt/atom/emulator"
	"github.com/atomrt/atom/operations"
)

func TestListenDeliversEventsAsDocuments(t *testing.T) {
	e := startEmulator(t, nil)
	c := emuConn(t, e)
	ids := publish(t, e, 1, 5)
	l := newTestListener(t, c, operations.Settings{"initial": "all"})
	s := newTestStream(t, "")
	running(t, l, s)
	waitFor(t, 10*time.Second, "5 retained events", func() bool { return s.len() == 5 })
	waitFor(t, 5*time.Second, "running", func() bool { st, _ := s.state(); return st == operations.Running })
	publish(t, e, 6, 5)
	waitFor(t, 10*time.Second, "10 events", func() bool { return s.len() >= 10 })

	evs := s.delivered()
	sameOrders(t, orderNumbers(evs), wantOrders(1, 10))
	stored := e.Events(orderChannel)
	for i, ev := range evs {
		want := stored[i]
		if ev.Position != strconv.FormatInt(want.ReplayID, 10) {
			t.Errorf("event %d: position %s, want %d", i, ev.Position, want.ReplayID)
		}
		p := ev.Doc.Props
		if p["replayId"] != ev.Position || p["eventUuid"] != want.EventUUID || p["channel"] != orderChannel ||
			p["createdDate"] == "" || p["createdById"] == "" || p["schema"] == "" {
			t.Errorf("event %d: props %v", i, p)
		}
		body := ev.Doc.Body.(map[string]any)
		if body["Amount__c"] != float64(i+1) || body["CreatedDate"] != p["createdDate"] {
			t.Errorf("event %d: body %v", i, body)
		}
	}
	if ev0, _ := strconv.ParseInt(evs[0].Position, 10, 64); ev0 != ids[0] {
		t.Errorf("first position %d, want %d", ev0, ids[0])
	}
	if n := e.Subscribers(orderChannel); n != 1 {
		t.Errorf("emulator shows %d subscribers, want 1", n)
	}
}

func TestListenStartPositions(t *testing.T) {
	// Replay IDs of the 6 events published first: the emulator numbers
	// them from 1, but a test must not compute them, so they are read.
	tests := []struct {
		name      string
		settings  func(ids []int64) operations.Settings
		committed func(ids []int64) string
		want      []string // before the 2 published after subscribing
	}{
		{"stored, nothing committed, initial latest", nil, nil, nil},
		{"stored, nothing committed, initial all", func([]int64) operations.Settings { return operations.Settings{"initial": "all"} }, nil, wantOrders(1, 6)},
		{"stored resumes after committed", func([]int64) operations.Settings { return operations.Settings{"initial": "all"} },
			func(ids []int64) string { return strconv.FormatInt(ids[3], 10) }, wantOrders(5, 2)},
		{"latest", func([]int64) operations.Settings { return operations.Settings{"replay": "latest"} }, nil, nil},
		{"all", func([]int64) operations.Settings { return operations.Settings{"replay": "all"} }, nil, wantOrders(1, 6)},
		{"replay ID", func(ids []int64) operations.Settings {
			return operations.Settings{"replay": strconv.FormatInt(ids[1], 10)}
		}, nil, wantOrders(3, 4)},
		{"committed wins over replay all", func([]int64) operations.Settings { return operations.Settings{"replay": "all"} },
			func(ids []int64) string { return strconv.FormatInt(ids[4], 10) }, wantOrders(6, 1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := startEmulator(t, nil)
			c := emuConn(t, e)
			ids := publish(t, e, 1, 6)
			var settings operations.Settings
			if tt.settings != nil {
				settings = tt.settings(ids)
			}
			committed := ""
			if tt.committed != nil {
				committed = tt.committed(ids)
			}
			l := newTestListener(t, c, settings)
			s := newTestStream(t, committed)
			stop := running(t, l, s)
			waitFor(t, 10*time.Second, "subscribed", func() bool { st, _ := s.state(); return st == operations.Running })
			waitFor(t, 10*time.Second, "retained events", func() bool { return s.len() >= len(tt.want) })
			publish(t, e, 100, 2)
			want := append(append([]string(nil), tt.want...), wantOrders(100, 2)...)
			waitFor(t, 10*time.Second, "new events", func() bool { return s.len() >= len(want) })
			time.Sleep(50 * time.Millisecond) // would a stray event follow?
			if err := stop(); err != nil {
				t.Fatalf("Run: %v", err)
			}
			sameOrders(t, orderNumbers(s.delivered()), want)
		})
	}
}

func TestListenUnknownChannelFails(t *testing.T) {
	e := startEmulator(t, nil)
	c := emuConn(t, e)
	l := newTestListener(t, c, operations.Settings{"event": "Nope__e"})
	s := newTestStream(t, "")
	stop := running(t, l, s)
	waitFor(t, 10*time.Second, "failed state", func() bool { return s.sawState(operations.Failed, ErrUnknownChannel) })
	if err := stop(); err != nil && !errors.Is(err, ErrUnknownChannel) {
		t.Fatalf("Run: %v", err)
	}
	if n := e.Calls()["subscribe"]; n != 1 {
		t.Errorf("%d subscribes, want 1 (a configuration error must not spin)", n)
	}
}

func TestListenWrongCredentialsFail(t *testing.T) {
	e := startEmulator(t, nil)
	set := emuSettings(e, GrantClientCredentials)
	set["clientSecret"] = operations.NewSecret("wrong")
	c := openConn(t, set, newTestStream(t, "").log)
	l := newTestListener(t, c, nil)
	s := newTestStream(t, "")
	stop := running(t, l, s)
	waitFor(t, 10*time.Second, "failed state", func() bool { return s.sawState(operations.Failed, ErrAuth) })
	err := stop()
	if !errors.Is(err, ErrAuth) {
		t.Fatalf("Run: %v, want ErrAuth", err)
	}
	if strings.Contains(err.Error(), "wrong") {
		t.Errorf("error shows the secret: %v", err)
	}
}

// TestListenSurvivesFaults runs one stream through each emulator fault and
// checks that every event arrives exactly once, in order.
func TestListenSurvivesFaults(t *testing.T) {
	faults := []struct {
		name  string
		fault func(e *emulator.Emulator)
		heal  func(e *emulator.Emulator)
		count string // a counter that must have moved
	}{
		{"expired tokens", func(e *emulator.Emulator) { e.ExpireTokens() }, nil, "reauth"},
		{"dropped clients", func(e *emulator.Emulator) { e.DropClients() }, nil, "reconnects"},
		{"503 burst", func(e *emulator.Emulator) { e.Fail503(4); e.DropClients() }, nil, "reconnects"},
		{"latency", func(e *emulator.Emulator) { e.SetLatency(150 * time.Millisecond) }, func(e *emulator.Emulator) { e.SetLatency(0) }, ""},
		{"restart", func(e *emulator.Emulator) { _ = e.Restart() }, nil, "reconnects"},
		{"refused connections", func(e *emulator.Emulator) { e.RefuseConnections(true) }, func(e *emulator.Emulator) { e.RefuseConnections(false) }, "reconnects"},
	}
	for _, f := range faults {
		t.Run(f.name, func(t *testing.T) {
			t.Parallel()
			e := startEmulator(t, nil)
			c := emuConn(t, e)
			l := newTestListener(t, c, nil)
			s := newTestStream(t, "")
			s.lag = 3 // three events in flight when the fault strikes
			stop := running(t, l, s)
			waitFor(t, 10*time.Second, "subscribed", func() bool { st, _ := s.state(); return st == operations.Running })
			publish(t, e, 1, 50)
			waitFor(t, 10*time.Second, "50 events", func() bool { return s.len() >= 50 })
			f.fault(e)
			publish(t, e, 51, 50) // published while the fault holds
			if f.heal != nil {
				time.Sleep(300 * time.Millisecond)
				f.heal(e)
			}
			publish(t, e, 101, 50)
			waitFor(t, 20*time.Second, "150 events", func() bool { return s.len() >= 150 })
			time.Sleep(100 * time.Millisecond) // would a duplicate follow?
			if err := stop(); err != nil {
				t.Fatalf("Run: %v", err)
			}
			sameOrders(t, orderNumbers(s.delivered()), wantOrders(1, 150))
			t.Logf("counters %v, emulator calls %v", s.counts, e.Calls())
			if f.count != "" && s.count(f.count) == 0 {
				t.Errorf("counter %s did not move: %v", f.count, s.counts)
			}
		})
	}
}

// TestListenSubscribe503 refuses subscribes in-band with 503 (as
// Salesforce does in ext.sfdc.failureReason): the listener backs off and
// subscribes again from the committed position.
func TestListenSubscribe503(t *testing.T) {
	e := startEmulator(t, nil)
	p := startProxy(t, e)
	c := proxiedConn(t, e, p)
	l := newTestListener(t, c, nil)
	s := newTestStream(t, "")
	p.failSubscribes(2) // the first subscribe, and its first retry
	stop := running(t, l, s)
	waitFor(t, 10*time.Second, "subscribed", func() bool { st, _ := s.state(); return st == operations.Running })
	publish(t, e, 1, 10)
	waitFor(t, 10*time.Second, "10 events", func() bool { return s.len() >= 10 })
	p.failSubscribes(3)
	e.DropClients()
	publish(t, e, 11, 10)
	waitFor(t, 10*time.Second, "20 events", func() bool { return s.len() >= 20 })
	time.Sleep(50 * time.Millisecond)
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	sameOrders(t, orderNumbers(s.delivered()), wantOrders(1, 20))
	sent := p.sent()
	if len(sent) != 7 {
		t.Errorf("%d subscribes, want 7 (3 + 4)", len(sent))
	}
	if !s.sawState(operations.Reconnecting, nil) || s.count("reconnects") < 5 {
		t.Errorf("states %+v counters %v", s.states, s.counts)
	}
	if _, err := s.state(); err == nil || !strings.Contains(err.Error(), "503") {
		t.Errorf("last reason %v, want the 503", err)
	}
}

// TestListenEventNameAnyCase listens with the event's API name in another
// case: Salesforce matches names case-insensitively and sends events on
// the canonical channel, which must not be taken for another channel.
func TestListenEventNameAnyCase(t *testing.T) {
	e := startEmulator(t, nil)
	c := emuConn(t, e)
	l := newTestListener(t, c, operations.Settings{"event": strings.ToLower(orderEvent)})
	s := newTestStream(t, "")
	stop := running(t, l, s)
	waitFor(t, 10*time.Second, "subscribed", func() bool { st, _ := s.state(); return st == operations.Running })
	publish(t, e, 1, 3)
	waitFor(t, 10*time.Second, "3 events", func() bool { return s.len() >= 3 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	sameOrders(t, orderNumbers(s.delivered()), wantOrders(1, 3))
}
