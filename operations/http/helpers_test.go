package httpconn

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/atomrt/atom/operations"
)

// testWebhooks is a small real router on a real socket: it serves the
// routes listeners register, and 404 for the rest. A route registered
// again replaces the old one, as the atom's router does.
type testWebhooks struct {
	srv    *httptest.Server
	mu     sync.Mutex
	routes map[string]*testRoute
}

type testRoute struct{ h http.Handler }

func newTestWebhooks(t testing.TB) *testWebhooks {
	t.Helper()
	w := &testWebhooks{routes: map[string]*testRoute{}}
	w.srv = httptest.NewServer(w)
	t.Cleanup(w.srv.Close)
	return w
}

func (w *testWebhooks) Handle(method, path string, h http.Handler) (func(), error) {
	if method == "" || !strings.HasPrefix(path, "/") {
		return nil, fmt.Errorf("bad route %s %s", method, path)
	}
	key := method + " " + path
	r := &testRoute{h: h}
	w.mu.Lock()
	w.routes[key] = r
	w.mu.Unlock()
	return func() {
		w.mu.Lock()
		if w.routes[key] == r {
			delete(w.routes, key)
		}
		w.mu.Unlock()
	}, nil
}

func (w *testWebhooks) ServeHTTP(rw http.ResponseWriter, req *http.Request) {
	w.mu.Lock()
	r, ok := w.routes[req.Method+" "+req.URL.Path]
	w.mu.Unlock()
	if !ok {
		http.Error(rw, `{"error":"no route","code":"not_found"}`, http.StatusNotFound)
		return
	}
	r.h.ServeHTTP(rw, req)
}

// post sends body to the webhook server and returns the status and the
// decoded JSON answer.
func (w *testWebhooks) post(t *testing.T, path string, body string, header map[string]string) (int, map[string]any, http.Header) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, w.srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := w.srv.Client().Do(req)
	if err != nil {
		t.Fatalf("post %s: %v", path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var ans map[string]any
	if len(bytes.TrimSpace(data)) > 0 {
		if err := json.Unmarshal(data, &ans); err != nil {
			ans = map[string]any{"_raw": string(data)}
		}
	}
	return resp.StatusCode, ans, resp.Header
}

// testStream is the runtime's side of a listener, for tests: it records
// every event and answers it with outcome (nil: Done is never called).
type testStream struct {
	outcome func(ev operations.Event) *operations.Outcome
	block   chan struct{} // when set, Deliver waits for it or ctx
	waiting atomic.Int32  // Deliver calls waiting on block

	mu     sync.Mutex
	events []operations.Event
	states []operations.State
	counts map[string]int
}

func newTestStream(outcome func(operations.Event) *operations.Outcome) *testStream {
	return &testStream{outcome: outcome, counts: map[string]int{}}
}

func okOutcome(operations.Event) *operations.Outcome { return &operations.Outcome{} }

func (s *testStream) Start() string     { return "" }
func (s *testStream) Committed() string { return "" }

// Mark implements operations.Stream; webhooks have no positions.
func (s *testStream) Mark(string) {}
func (s *testStream) Log() zerolog.Logger {
	return zerolog.Nop()
}

func (s *testStream) SetState(st operations.State, _ error) {
	s.mu.Lock()
	s.states = append(s.states, st)
	s.mu.Unlock()
}

func (s *testStream) Count(name string) {
	s.mu.Lock()
	s.counts[name]++
	s.mu.Unlock()
}

func (s *testStream) Deliver(ctx context.Context, ev operations.Event) error {
	if s.block != nil {
		s.waiting.Add(1)
		defer s.waiting.Add(-1)
		select {
		case <-s.block:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	s.mu.Lock()
	s.events = append(s.events, ev)
	s.mu.Unlock()
	if o := s.outcome(ev); o != nil && ev.Done != nil {
		// The runtime calls Done from the run's goroutine, after Deliver
		// returned.
		go ev.Done(*o)
	}
	return nil
}

func (s *testStream) delivered() []operations.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]operations.Event(nil), s.events...)
}

func (s *testStream) count(name string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts[name]
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// openConn opens an HTTP connection with settings s.
func openConn(t testing.TB, s operations.Settings, env operations.Env) *connection {
	t.Helper()
	c, err := Open("test-conn", s, env)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c.(*connection)
}

// runListener runs l until the test ends or stop is called, and waits
// until it takes requests.
func runListener(t *testing.T, l operations.Listener, s operations.Stream) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- l.Run(ctx, s) }()
	ep := l.(*listener).ep
	eventually(t, "listener running", func() bool {
		ep.mu.Lock()
		defer ep.mu.Unlock()
		return ep.run != nil
	})
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-errc; err != nil && !errors.Is(err, context.Canceled) {
				t.Errorf("Run returned %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// openConnLogged opens a connection whose log goes to w.
func openConnLogged(t testing.TB, s operations.Settings, w io.Writer) *connection {
	t.Helper()
	return openConn(t, s, operations.Env{Log: zerolog.New(w).Level(zerolog.DebugLevel)})
}
