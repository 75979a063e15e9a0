package salesforce

import (
	"fmt"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/atomrt/atom/emulator"
	"github.com/atomrt/atom/operations"
)

// The emulator's built-in org (see emulator/default.yaml).
const (
	emuClientID     = "atom-emulator"
	emuClientSecret = "atom-emulator-secret"
	emuUser         = "atom@example.com"
	emuPassword     = "atom-emulator"
	emuToken        = "AtomEmulatorToken0123456"
	emuRefresh      = "5Aep861AtomEmulatorDemoRefreshToken"
	orderEvent      = "Order_Placed__e"
	orderChannel    = "/event/Order_Placed__e"
	inkEvent        = "Printer_Low_Ink__e"
)

// startEmulator runs an emulator on 127.0.0.1:0 with short CometD timeouts
// (connects held 1s, clients forgotten after 3s without a request) and no
// API limits in the way; mod changes the configuration further.
func startEmulator(t testing.TB, mod func(*emulator.Config)) *emulator.Emulator {
	t.Helper()
	cfg := emulator.DefaultConfig()
	cfg.CometD.Timeout = time.Second
	cfg.CometD.MaxInterval = 3 * time.Second
	cfg.Limits.DailyAPIRequests = 10_000_000
	cfg.Limits.HourlyPublishedEvents = 10_000_000
	cfg.Limits.DailyDeliveredEvents = 100_000_000
	if mod != nil {
		mod(&cfg)
	}
	e, err := emulator.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Listen("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	return e
}

// emuSettings are connection settings for the emulator's built-in app and
// user with the given grant.
func emuSettings(e *emulator.Emulator, grant string) operations.Settings {
	s := operations.Settings{"loginUrl": e.URL(), "grant": grant, "clientId": emuClientID}
	switch grant {
	case GrantClientCredentials:
		s["clientSecret"] = operations.NewSecret(emuClientSecret)
	case GrantPassword:
		s["clientSecret"] = operations.NewSecret(emuClientSecret)
		s["username"] = emuUser
		s["password"] = operations.NewSecret(emuPassword)
		s["securityToken"] = operations.NewSecret(emuToken)
	case GrantRefreshToken:
		s["clientSecret"] = operations.NewSecret(emuClientSecret)
		s["refreshToken"] = operations.NewSecret(emuRefresh)
	}
	return s
}

// openConn opens a connection to the emulator, logging to log.
func openConn(t testing.TB, s operations.Settings, log zerolog.Logger) *conn {
	t.Helper()
	c, err := open("sf", s, operations.Env{Log: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c.(*conn)
}

// emuConn opens a client-credentials connection to the emulator.
func emuConn(t testing.TB, e *emulator.Emulator) *conn {
	return openConn(t, emuSettings(e, GrantClientCredentials), zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel))
}

// newTestListener makes a listener with fast retries and a short
// watchdog; settings add to or override {event: Order_Placed__e}.
func newTestListener(t testing.TB, c *conn, settings operations.Settings) *listener {
	t.Helper()
	s := operations.Settings{"event": orderEvent, "retryInitial": 20 * time.Millisecond, "retryMax": 300 * time.Millisecond}
	for k, v := range settings {
		s[k] = v
	}
	l, err := c.Listener("listen", s)
	if err != nil {
		t.Fatal(err)
	}
	ln := l.(*listener)
	ln.requestTimeout = 3 * time.Second
	ln.margin = 500 * time.Millisecond
	return ln
}

// publish publishes n Order_Placed__e events numbered from first and
// returns their replay IDs.
func publish(t testing.TB, e *emulator.Emulator, first, n int) []int64 {
	t.Helper()
	ids := make([]int64, n)
	for i := range n {
		id, err := e.Publish(orderEvent, map[string]any{"Order_Number__c": orderNumber(first + i), "Amount__c": float64(first + i)})
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = id
	}
	return ids
}

func orderNumber(i int) string { return fmt.Sprintf("N-%05d", i) }

// orderNumbers returns the delivered events' Order_Number__c, in order.
func orderNumbers(evs []operations.Event) []string {
	out := make([]string, len(evs))
	for i, ev := range evs {
		body, _ := ev.Doc.Body.(map[string]any)
		out[i], _ = body["Order_Number__c"].(string)
	}
	return out
}

// wantOrders returns the order numbers first..first+n-1.
func wantOrders(first, n int) []string {
	out := make([]string, n)
	for i := range n {
		out[i] = orderNumber(first + i)
	}
	return out
}

// sameOrders fails the test unless got is exactly want, saying where they
// part.
func sameOrders(t testing.TB, got, want []string) {
	t.Helper()
	for i := 0; i < min(len(got), len(want)); i++ {
		if got[i] != want[i] {
			t.Fatalf("event %d is %s, want %s (got %d events, want %d)", i, got[i], want[i], len(got), len(want))
		}
	}
	if len(got) != len(want) {
		t.Fatalf("got %d events, want %d; the first %d agree", len(got), len(want), min(len(got), len(want)))
	}
}
