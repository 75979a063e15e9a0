package salesforce

// One test per item of SALESFORCE.md's "What users of other clients keep
// running into", each proving this connector does not have it.

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/atomrt/atom/emulator"
	"github.com/atomrt/atom/operations"
)

// expiredStart publishes orders 1-3, lets them age past a retention window
// that it then sets, and publishes orders 4-6 inside it. It returns the
// replay ID of order 1, now refused by a subscribe.
func expiredStart(t *testing.T, e *emulator.Emulator) string {
	t.Helper()
	old := publish(t, e, 1, 3)
	time.Sleep(2500 * time.Millisecond)
	publish(t, e, 4, 3)
	// Orders 1-3 are 2.5s old, 4-6 just published: a 2s window keeps
	// only the latter, for about two seconds — ample to subscribe.
	e.SetRetention(2 * time.Second)
	return strconv.FormatInt(old[0], 10)
}

// invalidReplayRun runs a listener with policy from an expired committed
// position, publishes orders 100-101 once it runs, and returns the stream.
func invalidReplayRun(t *testing.T, policy string) (*testStream, error) {
	t.Helper()
	e := startEmulator(t, nil)
	c := emuConn(t, e)
	settings := operations.Settings{}
	if policy != "" {
		settings["onInvalidReplay"] = policy
	}
	l := newTestListener(t, c, settings)
	s := newTestStream(t, expiredStart(t, e))
	stop := running(t, l, s)
	waitFor(t, 10*time.Second, "running or failed", func() bool {
		st, _ := s.state()
		return st == operations.Running || st == operations.Failed
	})
	if st, _ := s.state(); st == operations.Failed {
		return s, stop()
	}
	publish(t, e, 100, 2)
	waitFor(t, 10*time.Second, "new events", func() bool { return s.len() > 0 && orderNumbers(s.delivered())[s.len()-1] == orderNumber(101) })
	time.Sleep(50 * time.Millisecond)
	return s, stop()
}

// Bug 1: a stored replay ID older than retention: the stream runs with no
// events and no error. Here the refusal is counted, logged, shown in the
// state, and the default policy (all) replays every retained event.
func TestBug1_ExpiredReplayIDIsReportedAndReplayed(t *testing.T) {
	t.Parallel()
	s, err := invalidReplayRun(t, "")
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	sameOrders(t, orderNumbers(s.delivered()), append(wantOrders(4, 3), wantOrders(100, 2)...))
	if n := s.count("invalid_replay"); n != 1 {
		t.Errorf("invalid_replay counted %d times, want 1", n)
	}
	if !s.sawState(operations.Reconnecting, ErrInvalidReplay) {
		t.Errorf("the state never showed the refused replay ID: %+v", s.states)
	}
	if _, err := s.state(); err == nil || !strings.Contains(err.Error(), "replaying every retained event") {
		t.Errorf("the state's error does not say what was done: %v", err)
	}
}

// Bug 8: a fallback to latest after an invalid replay ID silently skips
// events. Here the default is all (never skips); latest must be chosen,
// and then says that it skips; fail stops the listener with the reason.
func TestBug8_FallbackToLatestIsNeverSilent(t *testing.T) {
	t.Parallel()
	f, _ := listenSpec.Field("onInvalidReplay")
	if f.Default != ReplayAll {
		t.Fatalf("onInvalidReplay defaults to %v, want all", f.Default)
	}
	t.Run("latest", func(t *testing.T) {
		t.Parallel()
		s, err := invalidReplayRun(t, ReplayLatest)
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
		sameOrders(t, orderNumbers(s.delivered()), wantOrders(100, 2))
		if n := s.count("invalid_replay"); n != 1 {
			t.Errorf("invalid_replay counted %d times, want 1", n)
		}
		_, err = s.state()
		if !errors.Is(err, ErrInvalidReplay) || !strings.Contains(err.Error(), "SKIPPED") {
			t.Errorf("the state's error does not say events were skipped: %v", err)
		}
	})
	t.Run("fail", func(t *testing.T) {
		t.Parallel()
		s, err := invalidReplayRun(t, ReplayFail)
		if !errors.Is(err, ErrInvalidReplay) {
			t.Fatalf("Run: %v, want ErrInvalidReplay", err)
		}
		if s.len() != 0 {
			t.Errorf("%d events delivered, want none", s.len())
		}
		if !s.sawState(operations.Failed, ErrInvalidReplay) || s.count("invalid_replay") != 1 {
			t.Errorf("states %+v, counters %v", s.states, s.counts)
		}
	})
}

// Bug 2: after 403::Unknown client, resubscribing from the configured
// replay ID (old events again) or from an empty replay map (subscribe
// fails). Here the resubscribe starts after the committed position.
func TestBug2_UnknownClientResubscribesFromCommitted(t *testing.T) {
	e := startEmulator(t, nil)
	p := startProxy(t, e)
	c := proxiedConn(t, e, p)
	ids := publish(t, e, 1, 100)
	l := newTestListener(t, c, operations.Settings{"initial": "all"})
	s := newTestStream(t, "")
	s.lag = 5 // five events in flight, not yet committed
	stop := running(t, l, s)
	waitFor(t, 10*time.Second, "100 events", func() bool { return s.len() == 100 })

	e.DropClients()
	publish(t, e, 101, 10)
	waitFor(t, 10*time.Second, "110 events", func() bool { return s.len() >= 110 })
	time.Sleep(50 * time.Millisecond)
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	sameOrders(t, orderNumbers(s.delivered()), wantOrders(1, 110))
	// On the wire: the first subscribe from the configured start (all),
	// the second after the committed event 95, with the channel's key.
	sent := p.sent()
	if len(sent) != 2 {
		t.Fatalf("%d subscribes, want 2: %+v", len(sent), sent)
	}
	for i, want := range []int64{replayAll, ids[94]} {
		m := sent[i]
		if m.Subscription != orderChannel || len(m.Ext.Replay) != 1 || m.Ext.Replay[orderChannel] != want {
			t.Errorf("subscribe %d sent %+v, want replay {%s: %d}", i, m, orderChannel, want)
		}
	}
	// Exactly the five in flight came again, and were recognised and
	// skipped; from the configured start it would have been all 100.
	if n := s.count("duplicates_skipped"); n != 5 {
		t.Errorf("%d events came again, want the 5 in flight", n)
	}
}

// Bug 3: streams stop after a few hours with no notification and no
// reconnect. Here a connect that gets no answer past the advice timeout
// and a margin is abandoned, counted and re-established.
func TestBug3_SilentStreamIsReestablished(t *testing.T) {
	e := startEmulator(t, nil) // connects held 1s
	c := emuConn(t, e)
	l := newTestListener(t, c, nil)
	l.requestTimeout = time.Second
	s := newTestStream(t, "")
	stop := running(t, l, s)
	waitFor(t, 10*time.Second, "subscribed", func() bool { st, _ := s.state(); return st == operations.Running })
	publish(t, e, 1, 10)
	waitFor(t, 10*time.Second, "10 events", func() bool { return s.len() == 10 })

	// Every request now waits 4s before the server even looks at it: to
	// the client the stream has gone silent.
	e.SetLatency(4 * time.Second)
	waitFor(t, 10*time.Second, "the watchdog", func() bool { return s.count("watchdog") > 0 })
	st, err := s.state()
	if st != operations.Reconnecting || err == nil || !strings.Contains(err.Error(), "went silent") {
		t.Errorf("state %s (%v), want reconnecting because the stream went silent", st, err)
	}
	publish(t, e, 11, 10) // published while silent
	e.SetLatency(0)
	publish(t, e, 21, 10)
	waitFor(t, 15*time.Second, "30 events", func() bool { return s.len() >= 30 })
	time.Sleep(50 * time.Millisecond)
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	sameOrders(t, orderNumbers(s.delivered()), wantOrders(1, 30))
}

// Bug 4: token expiry stops delivery silently while the client still
// reports "subscribed". Here the 401 is noticed, a new token fetched once,
// delivery goes on with nothing lost, and no token is ever logged or put
// in an error.
func TestBug4_TokenExpiryIsRenewedAndNeverLogged(t *testing.T) {
	e := startEmulator(t, nil)
	var logs syncBuffer
	log := zerolog.New(&logs).Level(zerolog.DebugLevel)
	c := openConn(t, emuSettings(e, GrantPassword), log)
	l := newTestListener(t, c, nil)
	s := newTestStream(t, "")
	s.log = log
	s.lag = 2
	stop := running(t, l, s)
	waitFor(t, 10*time.Second, "subscribed", func() bool { st, _ := s.state(); return st == operations.Running })
	publish(t, e, 1, 20)
	waitFor(t, 10*time.Second, "20 events", func() bool { return s.len() == 20 })
	tokens := []string{c.auth.current().token.Reveal()}

	e.ExpireTokens()
	publish(t, e, 21, 20)
	waitFor(t, 10*time.Second, "40 events", func() bool { return s.len() >= 40 })
	tokens = append(tokens, c.auth.current().token.Reveal())

	// A send with the renewed token expiring too.
	snd, err := c.Sender("send", operations.Settings{"event": orderEvent, "batchSize": int64(1)})
	if err != nil {
		t.Fatal(err)
	}
	e.ExpireTokens()
	if _, err := snd.Send(t.Context(), operations.Document{Body: map[string]any{"Order_Number__c": orderNumber(41), "Amount__c": 41.0}}); err != nil {
		t.Fatalf("send after expiry: %v", err)
	}
	waitFor(t, 10*time.Second, "41 events", func() bool { return s.len() >= 41 })
	tokens = append(tokens, c.auth.current().token.Reveal())
	time.Sleep(50 * time.Millisecond)
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}

	sameOrders(t, orderNumbers(s.delivered()), wantOrders(1, 41))
	if n := e.Calls()["token"]; n != 3 {
		t.Errorf("%d token requests, want 3 (one, then one per expiry)", n)
	}
	if s.count("reauth") < 1 {
		t.Errorf("reauth never counted")
	}
	if tokens[0] == tokens[1] || tokens[1] == tokens[2] {
		t.Fatalf("tokens were not renewed")
	}
	text := logs.String()
	for _, ch := range s.states {
		if ch.err != nil {
			text += "\n" + ch.err.Error()
		}
	}
	if !strings.Contains(text, "authenticating again") {
		t.Errorf("the renewal was not logged:\n%s", text)
	}
	for _, tok := range append(tokens, emuPassword, emuClientSecret, emuToken) {
		if strings.Contains(text, tok) {
			t.Fatalf("a secret (%d chars) appears in the logs or errors:\n%s", len(tok), text)
		}
	}
}

// Bug 5: two subscriptions in one client get out of sync (the second
// subscribe carries the first channel's replay key). Here each listener
// has its own session and replay map, and resumes from its own position.
func TestBug5_TwoSubscriptionsKeepTheirOwnReplayIDs(t *testing.T) {
	e := startEmulator(t, nil)
	p := startProxy(t, e)
	c := proxiedConn(t, e, p)
	orders := newTestListener(t, c, nil)
	ink := newTestListener(t, c, operations.Settings{"event": inkEvent})
	so, si := newTestStream(t, ""), newTestStream(t, "")
	so.lag, si.lag = 2, 4
	stopO, stopI := running(t, orders, so), running(t, ink, si)
	waitFor(t, 10*time.Second, "both subscribed", func() bool {
		a, _ := so.state()
		b, _ := si.state()
		return a == operations.Running && b == operations.Running
	})
	publishInk := func(first, n int) {
		for i := range n {
			if _, err := e.Publish(inkEvent, map[string]any{"Printer_Serial__c": orderNumber(first + i), "Ink_Color__c": "cyan"}); err != nil {
				t.Fatal(err)
			}
		}
	}
	for round := range 3 {
		publish(t, e, round*10+1, 10)
		publishInk(round*5+1, 5)
		if round == 1 {
			waitFor(t, 10*time.Second, "events before the drop", func() bool { return so.len() == 20 && si.len() == 10 })
			e.DropClients()
		}
	}
	waitFor(t, 10*time.Second, "all events", func() bool { return so.len() >= 30 && si.len() >= 15 })
	time.Sleep(50 * time.Millisecond)
	if err := errors.Join(stopO(), stopI()); err != nil {
		t.Fatalf("Run: %v", err)
	}
	sameOrders(t, orderNumbers(so.delivered()), wantOrders(1, 30))
	inkGot := si.delivered()
	inkStored := e.Events(inkEvent)
	if len(inkGot) != 15 || len(inkStored) != 15 {
		t.Fatalf("ink: %d delivered, %d stored, want 15", len(inkGot), len(inkStored))
	}
	for i, ev := range inkGot {
		if ev.Position != strconv.FormatInt(inkStored[i].ReplayID, 10) || ev.Doc.Props["channel"] != "/event/"+inkEvent {
			t.Errorf("ink event %d: position %s channel %s, want %d", i, ev.Position, ev.Doc.Props["channel"], inkStored[i].ReplayID)
		}
	}
	// Every subscribe carried exactly its own channel's key.
	sent := p.sent()
	if len(sent) != 4 {
		t.Errorf("%d subscribes, want 4 (two per listener)", len(sent))
	}
	for _, m := range sent {
		if _, ok := m.Ext.Replay[m.Subscription]; !ok || len(m.Ext.Replay) != 1 {
			t.Errorf("subscribe to %s sent replay map %v", m.Subscription, m.Ext.Replay)
		}
	}
	// Each came back from its own committed position: exactly its own
	// in-flight events were seen again.
	if so.count("duplicates_skipped") != 2 || si.count("duplicates_skipped") != 4 {
		t.Errorf("skipped %d order and %d ink duplicates, want 2 and 4", so.count("duplicates_skipped"), si.count("duplicates_skipped"))
	}
}

// Bug 6: events dropped when an in-memory buffer is full, while the
// replay ID still advances. Here a slow consumer makes the listener stop
// polling (reading stays within the buffer), the emulator forgets the
// client meanwhile, and the listener resubscribes from the committed
// position: every event arrives once, in order.
func TestBug6_SlowConsumerBlocksInsteadOfDropping(t *testing.T) {
	const total, buffer = 3000, 20
	e := startEmulator(t, func(cfg *emulator.Config) {
		cfg.CometD.MaxInterval = 400 * time.Millisecond // forgets a client that stops polling
		cfg.CometD.MaxBatch = 50
	})
	c := emuConn(t, e)
	publish(t, e, 1, total)
	l := newTestListener(t, c, operations.Settings{"initial": "all", "bufferSize": int64(buffer)})
	s := newTestStream(t, "")
	s.gate = make(chan struct{})
	var readAhead int64
	var mu sync.Mutex
	s.inBuffer = func() int {
		// Called under s.mu before the event is recorded: events read
		// from Salesforce but not yet received by the runtime.
		ahead := l.read.Load() - int64(len(s.events))
		mu.Lock()
		readAhead = max(readAhead, ahead)
		mu.Unlock()
		return int(ahead)
	}
	stop := running(t, l, s)
	go func() {
		for i := range total {
			if i == 1000 || i == 2000 {
				time.Sleep(time.Second) // the sink stalls; polling must stop
			}
			select {
			case s.gate <- struct{}{}:
			case <-t.Context().Done():
				return
			}
		}
	}()
	waitFor(t, 30*time.Second, "every event", func() bool { return s.len() >= total })
	time.Sleep(100 * time.Millisecond)
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	sameOrders(t, orderNumbers(s.delivered()), wantOrders(1, total))
	mu.Lock()
	defer mu.Unlock()
	// The buffer, plus the one event being handed over.
	if readAhead > buffer+1 {
		t.Errorf("read %d events ahead of the runtime, want at most %d", readAhead, buffer+1)
	}
	if s.count("reconnects") < 2 {
		t.Errorf("the emulator never forgot the stalled client (reconnects %d); the test proves nothing", s.count("reconnects"))
	}
	t.Logf("read ahead at most %d; counters %v; calls %v", readAhead, s.counts, e.Calls())
}

// Bug 7: several listeners with "resume from last replay ID" on one
// channel corrupt the stored position. The runtime runs one listener per
// Key; here every spelling of a channel has one Key, distinct channels
// have distinct Keys, and a listener stopped and run again (a pause)
// resumes from its stream's committed position, not a shared one.
func TestBug7_OneKeyPerChannelAndPositionsPerStream(t *testing.T) {
	e := startEmulator(t, nil)
	c := emuConn(t, e)
	byEvent := newTestListener(t, c, nil)
	byChannel := newTestListener(t, c, operations.Settings{"event": "", "channel": orderChannel})
	other := newTestListener(t, c, operations.Settings{"event": inkEvent})
	if byEvent.Key() != byChannel.Key() || byEvent.Key() == other.Key() {
		t.Fatalf("keys %q %q %q: one channel must have one key", byEvent.Key(), byChannel.Key(), other.Key())
	}

	s := newTestStream(t, "")
	stop := running(t, byEvent, s)
	waitFor(t, 10*time.Second, "subscribed", func() bool { st, _ := s.state(); return st == operations.Running })
	publish(t, e, 1, 10)
	waitFor(t, 10*time.Second, "10 events", func() bool { return s.len() == 10 })
	if err := stop(); err != nil { // pause
		t.Fatal(err)
	}
	publish(t, e, 11, 100) // while paused
	stop = running(t, byEvent, s)
	waitFor(t, 10*time.Second, "110 events", func() bool { return s.len() >= 110 })
	time.Sleep(50 * time.Millisecond)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	sameOrders(t, orderNumbers(s.delivered()), wantOrders(1, 110))

	// A second stream on the same listener value starts from its own
	// position (nothing committed: latest), untouched by the first.
	s2 := newTestStream(t, "")
	stop = running(t, byEvent, s2)
	waitFor(t, 10*time.Second, "subscribed", func() bool { st, _ := s2.state(); return st == operations.Running })
	publish(t, e, 111, 3)
	waitFor(t, 10*time.Second, "3 events", func() bool { return s2.len() >= 3 })
	time.Sleep(50 * time.Millisecond)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	sameOrders(t, orderNumbers(s2.delivered()), wantOrders(111, 3))
}

// TestCatchUp100kIntoASlowSink reads 100,000 retained events into a sink
// that stalls twice for longer than the emulator remembers a silent
// client: reading never runs more than the buffer ahead, and every event
// arrives once, in order.
func TestCatchUp100kIntoASlowSink(t *testing.T) {
	if testing.Short() {
		t.Skip("100,000 events")
	}
	const total, buffer = 100_000, 1000
	e := startEmulator(t, func(cfg *emulator.Config) { cfg.CometD.MaxInterval = 400 * time.Millisecond })
	c := emuConn(t, e)
	publish(t, e, 1, total)
	l := newTestListener(t, c, operations.Settings{"initial": "all", "bufferSize": int64(buffer)})
	s := &catchUpStream{countStream: countStream{want: total, done: make(chan struct{})}, l: l, stallAt: map[int64]bool{30_000: true, 70_000: true}}
	start := time.Now()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx, s) }()
	select {
	case <-s.done:
	case <-time.After(90 * time.Second):
		t.Fatalf("%d of %d events after 90s", s.n.Load(), total)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if s.bad != "" {
		t.Fatal(s.bad)
	}
	if s.readAhead > buffer+1 {
		t.Errorf("read %d events ahead of the sink, want at most %d", s.readAhead, buffer+1)
	}
	if s.handshakes = e.Calls()["handshake"]; s.handshakes < 3 {
		t.Errorf("%d handshakes: the emulator never forgot the stalled client; the test proves nothing", s.handshakes)
	}
	t.Logf("%d events in %s, read ahead at most %d, %d handshakes", total, time.Since(start).Round(time.Millisecond), s.readAhead, s.handshakes)
}

// catchUpStream checks order as events arrive (keeping none) and stalls
// at given counts.
type catchUpStream struct {
	countStream
	l          *listener
	stallAt    map[int64]bool
	last       int
	readAhead  int64
	handshakes int
	bad        string
}

func (s *catchUpStream) Deliver(ctx context.Context, ev operations.Event) error {
	n := s.n.Load() // Deliver is called from one goroutine at a time
	if s.stallAt[n] {
		time.Sleep(time.Second)
	}
	s.readAhead = max(s.readAhead, s.l.read.Load()-n)
	num, _ := ev.Doc.Body.(map[string]any)["Order_Number__c"].(string)
	if want := orderNumber(s.last + 1); num != want && s.bad == "" {
		s.bad = "event " + strconv.FormatInt(n, 10) + " is " + num + ", want " + want
	}
	s.last++
	return s.countStream.Deliver(ctx, ev)
}

// Bug 2, before the first event: a listener that subscribed to new events
// (-1) loses its client before any event came. Resubscribing at -1 again
// would skip everything published meanwhile; Atom marks when it subscribed
// and replays from then.
func TestBug2_UnknownClientBeforeTheFirstEventSkipsNothing(t *testing.T) {
	e := startEmulator(t, nil)
	c := emuConn(t, e)
	publish(t, e, 1, 3)                 // before the subscription: not wanted
	time.Sleep(2100 * time.Millisecond) // beyond the mark's margin (see markStart)
	l := newTestListener(t, c, operations.Settings{"initial": "latest"})
	s := newTestStream(t, "")
	stop := running(t, l, s)
	defer stop()
	waitFor(t, 10*time.Second, "running", func() bool { st, _ := s.state(); return st == operations.Running })
	if got := s.Committed(); !strings.HasPrefix(got, sincePrefix) {
		t.Fatalf("committed %q after subscribing to new events, want a %s mark", got, sincePrefix)
	}
	e.RefuseConnections(true) // the client is cut off ...
	e.DropClients()           // ... and forgotten
	publish(t, e, 100, 10)    // published while it cannot read
	e.RefuseConnections(false)
	waitFor(t, 20*time.Second, "the 10 events", func() bool { return s.len() >= 10 })
	time.Sleep(50 * time.Millisecond)
	sameOrders(t, orderNumbers(s.delivered()), wantOrders(100, 10))
	if n := s.count("skipped_before_start"); n != 3 {
		t.Errorf("skipped_before_start = %d, want the 3 events from before the subscription", n)
	}
}
