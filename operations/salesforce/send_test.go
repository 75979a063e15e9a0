package salesforce

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/atomrt/atom/emulator"
	"github.com/atomrt/atom/operations"
)

func newTestSender(t testing.TB, c *conn, settings operations.Settings) *sender {
	t.Helper()
	s := operations.Settings{"event": orderEvent, "retryInitial": 10 * time.Millisecond, "retryMax": 200 * time.Millisecond}
	for k, v := range settings {
		s[k] = v
	}
	snd, err := c.Sender("send", s)
	if err != nil {
		t.Fatal(err)
	}
	return snd.(*sender)
}

func order(i int) operations.Document {
	return operations.Document{Body: map[string]any{"Order_Number__c": orderNumber(i), "Amount__c": float64(i)}}
}

// published returns the order numbers on the emulator's bus, in order.
func published(e *emulator.Emulator) []string {
	evs := e.Events(orderChannel)
	out := make([]string, len(evs))
	for i, ev := range evs {
		out[i], _ = ev.Payload["Order_Number__c"].(string)
	}
	return out
}

func TestSendSingle(t *testing.T) {
	e := startEmulator(t, nil)
	c := emuConn(t, e)
	snd := newTestSender(t, c, operations.Settings{"batchSize": int64(1)})
	for i := 1; i <= 5; i++ {
		doc, err := snd.Send(t.Context(), order(i))
		if err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
		body := doc.Body.(map[string]any)
		if body["success"] != true || body["id"] == "" || doc.Props["sf.id"] != body["id"] || body["eventUuid"] == nil {
			t.Errorf("send %d answered %v %v", i, body, doc.Props)
		}
		if uuid := e.Events(orderChannel)[i-1].EventUUID; body["eventUuid"] != uuid {
			t.Errorf("send %d: eventUuid %v, the bus has %s", i, body["eventUuid"], uuid)
		}
	}
	sameOrders(t, published(e), wantOrders(1, 5))
	if calls := e.Calls(); calls["publish"] != 5 || calls["composite"] != 0 {
		t.Errorf("calls %v, want 5 publish", calls)
	}
}

// TestSendRepublishesAListenedEvent sends a listened event's document as
// it is: the system fields are left out.
func TestSendRepublishesAListenedEvent(t *testing.T) {
	e := startEmulator(t, nil)
	c := emuConn(t, e)
	publish(t, e, 1, 1)
	l := newTestListener(t, c, operations.Settings{"initial": "all"})
	s := newTestStream(t, "")
	stop := running(t, l, s)
	waitFor(t, 10*time.Second, "1 event", func() bool { return s.len() == 1 })
	_ = stop()
	for _, size := range []int64{1, 200} {
		snd := newTestSender(t, c, operations.Settings{"batchSize": size})
		if _, err := snd.Send(t.Context(), s.delivered()[0].Doc); err != nil {
			t.Fatalf("batchSize %d: republish: %v", size, err)
		}
	}
	sameOrders(t, published(e), []string{orderNumber(1), orderNumber(1), orderNumber(1)})
}

// sendAll sends docs concurrently, all released at once, and returns each
// one's error.
func sendAll(ctx context.Context, snd operations.Sender, docs []operations.Document) []error {
	errs := make([]error, len(docs))
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i, d := range docs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, errs[i] = snd.Send(ctx, d)
		}()
	}
	close(start)
	wg.Wait()
	return errs
}

func TestSendBatches1000In5Calls(t *testing.T) {
	e := startEmulator(t, nil)
	c := emuConn(t, e)
	// A generous linger, so that 1,000 goroutines starting on a busy
	// machine still fill whole batches; batches leave as soon as full.
	snd := newTestSender(t, c, operations.Settings{"linger": 2 * time.Second})
	docs := make([]operations.Document, 1000)
	for i := range docs {
		docs[i] = order(i + 1)
	}
	if _, err := c.auth.session(t.Context()); err != nil { // the token, outside the count
		t.Fatal(err)
	}
	e.ResetCalls()
	for i, err := range sendAll(t.Context(), snd, docs) {
		if err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
	if calls := e.Calls(); calls["composite"] > 5 || calls["publish"] != 0 {
		t.Errorf("calls %v, want at most 5 composite", calls)
	}
	got := published(e)
	seen := map[string]int{}
	for _, n := range got {
		seen[n]++
	}
	for i := range docs {
		if seen[orderNumber(i+1)] != 1 {
			t.Fatalf("order %d published %d times", i+1, seen[orderNumber(i+1)])
		}
	}
	if len(got) != 1000 {
		t.Fatalf("%d published, want 1000", len(got))
	}
}

// TestSendBadRecordsFailAlone sends a batch with three bad records: only
// their callers fail, with ErrPermanent and Salesforce's codes, whether
// Salesforce refuses the record alone (an unknown field, a missing
// required one) or the whole request (a value of the wrong JSON type).
func TestSendBadRecordsFailAlone(t *testing.T) {
	e := startEmulator(t, nil)
	c := emuConn(t, e)
	snd := newTestSender(t, c, operations.Settings{"linger": 2 * time.Second, "batchSize": int64(100)})
	docs := make([]operations.Document, 100)
	for i := range docs {
		docs[i] = order(i + 1)
	}
	bad := map[int]string{
		10: "INVALID_FIELD",
		50: "REQUIRED_FIELD_MISSING",
		90: "JSON_PARSER_ERROR",
	}
	docs[10].Body.(map[string]any)["Nope__c"] = "x"
	delete(docs[50].Body.(map[string]any), "Order_Number__c")
	docs[90].Body.(map[string]any)["Amount__c"] = map[string]any{"not": "a number"}
	errs := sendAll(t.Context(), snd, docs)
	var want []string
	for i, err := range errs {
		code, isBad := bad[i]
		if !isBad {
			if err != nil {
				t.Errorf("send %d: %v", i, err)
			}
			want = append(want, orderNumber(i+1))
			continue
		}
		var pe *PublishError
		if !errors.Is(err, operations.ErrPermanent) || !errors.As(err, &pe) || len(pe.Errors) == 0 || pe.Errors[0].Code != code {
			t.Errorf("send %d: %v, want a permanent %s", i, err, code)
		}
	}
	got := published(e)
	seen := map[string]bool{}
	for _, n := range got {
		seen[n] = true
	}
	if len(got) != 97 || len(seen) != 97 {
		t.Errorf("%d published (%d distinct), want 97", len(got), len(seen))
	}
	for _, n := range want {
		if !seen[n] {
			t.Errorf("%s was not published", n)
		}
	}
	t.Logf("calls %v", e.Calls())
}

func TestSendRetries(t *testing.T) {
	tests := []struct {
		name  string
		fault func(e *emulator.Emulator)
		check func(t *testing.T, calls map[string]int)
	}{
		{"401 then a new token", func(e *emulator.Emulator) { e.ExpireTokens() }, func(t *testing.T, calls map[string]int) {
			if calls["token"] != 2 {
				t.Errorf("%d token requests, want 2 (one renewal)", calls["token"])
			}
		}},
		{"503 burst", func(e *emulator.Emulator) { e.Fail503(3) }, nil},
		{"latency", func(e *emulator.Emulator) { e.SetLatency(100 * time.Millisecond) }, nil},
		{"refused connections", func(e *emulator.Emulator) {
			e.RefuseConnections(true)
			time.AfterFunc(300*time.Millisecond, func() { e.RefuseConnections(false) })
		}, nil},
	}
	for _, tt := range tests {
		for _, size := range []int64{1, 200} {
			t.Run(fmt.Sprintf("%s/batch %d", tt.name, size), func(t *testing.T) {
				t.Parallel()
				e := startEmulator(t, nil)
				c := emuConn(t, e)
				snd := newTestSender(t, c, operations.Settings{"batchSize": size, "linger": time.Millisecond})
				if _, err := snd.Send(t.Context(), order(1)); err != nil {
					t.Fatal(err)
				}
				tt.fault(e)
				errs := sendAll(t.Context(), snd, []operations.Document{order(2), order(3), order(4)})
				if err := errors.Join(errs...); err != nil {
					t.Fatalf("send: %v", err)
				}
				got := published(e)
				if len(got) != 4 {
					t.Errorf("published %v, want 4 orders", got)
				}
				if tt.check != nil {
					tt.check(t, e.Calls())
				}
			})
		}
	}
}

func TestSendGivesUpAfterMaxRetryTime(t *testing.T) {
	e := startEmulator(t, nil)
	c := emuConn(t, e)
	snd := newTestSender(t, c, operations.Settings{"batchSize": int64(1), "maxRetryTime": 300 * time.Millisecond})
	if _, err := snd.Send(t.Context(), order(1)); err != nil {
		t.Fatal(err)
	}
	e.RefuseConnections(true)
	_, err := snd.Send(t.Context(), order(2))
	if err == nil || errors.Is(err, operations.ErrPermanent) {
		t.Fatalf("send: %v, want a transient failure after retrying", err)
	}
	e.RefuseConnections(false)
	sameOrders(t, published(e), wantOrders(1, 1))
}

func TestSendCallerCancel(t *testing.T) {
	e := startEmulator(t, nil)
	c := emuConn(t, e)
	snd := newTestSender(t, c, operations.Settings{"linger": time.Hour, "batchSize": int64(10)})
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	if _, err := snd.Send(ctx, order(1)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("send: %v, want the caller's deadline", err)
	}
	// The batch still waits; once full it goes, without the abandoned
	// record.
	docs := make([]operations.Document, 9)
	for i := range docs {
		docs[i] = order(i + 2)
	}
	if err := errors.Join(sendAll(t.Context(), snd, docs)...); err != nil {
		t.Fatal(err)
	}
	got := published(e)
	sort.Strings(got)
	sameOrders(t, got, wantOrders(2, 9))
}

func TestSendSingleCallerCancelled(t *testing.T) {
	e := startEmulator(t, nil)
	c := emuConn(t, e)
	snd := newTestSender(t, c, operations.Settings{"batchSize": int64(1)})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	done := make(chan error, 1)
	go func() { _, err := snd.Send(ctx, order(1)); done <- err }()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("send: %v, want context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Send with a cancelled context did not return")
	}
	if n := len(published(e)); n != 0 {
		t.Errorf("%d published", n)
	}
}

// With the default linger (0) a lone caller's record goes at once, in a
// request of its own, and records that arrive while a batch is in flight
// gather into the next one.
func TestSendDefaultLingerSendsAtOnceAndGathersWhileBusy(t *testing.T) {
	e := startEmulator(t, nil)
	c := emuConn(t, e)
	snd := newTestSender(t, c, operations.Settings{})
	if _, err := c.auth.session(t.Context()); err != nil {
		t.Fatal(err)
	}
	e.ResetCalls()
	for i := 1; i <= 5; i++ { // one caller, one after another
		if _, err := snd.Send(t.Context(), order(i)); err != nil {
			t.Fatal(err)
		}
	}
	if calls := e.Calls()["composite"]; calls != 5 {
		t.Fatalf("5 sequential sends made %d calls, want 5 (nothing held back)", calls)
	}

	e.ResetCalls()
	e.SetLatency(300 * time.Millisecond) // the first batch stays in flight
	first := make(chan error, 1)
	go func() { _, err := snd.Send(t.Context(), order(100)); first <- err }()
	deadline := time.Now().Add(5 * time.Second) // until the first batch has reached Salesforce
	for e.Calls()["composite"] == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	docs := make([]operations.Document, 10)
	for i := range docs {
		docs[i] = order(101 + i)
	}
	for i, err := range sendAll(t.Context(), snd, docs) {
		if err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if calls := e.Calls()["composite"]; calls != 2 {
		t.Errorf("1 send then 10 while it was in flight made %d calls, want 2", calls)
	}
	if n := len(published(e)); n != 16 {
		t.Errorf("%d published, want 16", n)
	}
}
