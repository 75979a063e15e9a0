package atom

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/atomrt/atom/operations"
	httpconn "github.com/atomrt/atom/operations/http"
	"github.com/atomrt/atom/persistence"
	"github.com/atomrt/atom/processes"
)

// sink is an HTTP server that records every JSON body posted to it, by
// path. Bodies with "poison": true get 400, a final failure.
type sink struct {
	srv    *httptest.Server
	mu     sync.Mutex
	got    map[string][]map[string]any
	delay  time.Duration
	refuse bool // answer every request 400
}

func (s *sink) setRefuse(v bool) { s.mu.Lock(); s.refuse = v; s.mu.Unlock() }

func newSink(t *testing.T) *sink {
	s := &sink{got: map[string][]map[string]any{}}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body map[string]any
		data, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(data, &body); err != nil {
			http.Error(w, "not json", http.StatusBadRequest)
			return
		}
		s.mu.Lock()
		refuse := s.refuse
		s.mu.Unlock()
		if body["poison"] == true || refuse {
			http.Error(w, `{"error":"poison"}`, http.StatusBadRequest)
			return
		}
		s.mu.Lock()
		d := s.delay
		s.mu.Unlock()
		time.Sleep(d)
		s.mu.Lock()
		s.got[r.URL.Path] = append(s.got[r.URL.Path], body)
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"ok":true}`))
	}))
	t.Cleanup(s.srv.Close)
	return s
}

// ns returns the "n" field of every body received at path, in order.
func (s *sink) ns(path string) []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []int
	for _, b := range s.got[path] {
		n, _ := b["n"].(float64)
		out = append(out, int(n))
	}
	return out
}

type harness struct {
	t     *testing.T
	rt    *Runtime
	store *persistence.Store
	path  string
	tp    *topic
	sink  *sink
	stop  context.CancelFunc
}

// start runs a runtime on a store file (reused when path is set) with the
// topic and http connectors.
func start(t *testing.T, tp *topic, sk *sink, storePath string) *harness {
	t.Helper()
	if storePath == "" {
		storePath = filepath.Join(t.TempDir(), "atom.db")
	}
	store, err := persistence.Open(storePath, persistence.Options{})
	if err != nil {
		t.Fatal(err)
	}
	reg := operations.NewRegistry()
	if err := reg.Register(topicConnector(tp)); err != nil {
		t.Fatal(err)
	}
	if err := httpconn.Register(reg); err != nil {
		t.Fatal(err)
	}
	rt, err := New(Options{Registry: reg, Store: store, Log: zerolog.New(io.Discard), DrainTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := rt.Start(ctx); err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, rt: rt, store: store, path: storePath, tp: tp, sink: sk, stop: cancel}
	t.Cleanup(h.close)
	return h
}

// close stops the runtime cleanly (drain, commit) and closes the store.
func (h *harness) close() {
	if h.rt == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h.rt.Stop(ctx); err != nil {
		h.t.Errorf("stop: %v", err)
	}
	h.stop()
	if err := h.store.Close(); err != nil {
		h.t.Errorf("close store: %v", err)
	}
	h.rt = nil
}

func (h *harness) deploy(yaml string) {
	h.t.Helper()
	yaml = strings.ReplaceAll(yaml, "SINK", h.sink.srv.URL)
	if _, err := h.rt.Deploy([]processes.File{{Name: "test.yaml", Data: []byte(yaml)}}, "test", ""); err != nil {
		h.t.Fatalf("deploy: %v", err)
	}
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

func seq(from, to int) []int {
	var s []int
	for i := from; i <= to; i++ {
		s = append(s, i)
	}
	return s
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

const base = `
kind: Connection
name: bus
type: topic
---
kind: Connection
name: web
type: http
settings: {baseUrl: SINK}
---
kind: Operation
name: orders
connection: bus
action: listen
settings: {channel: /event/Order__e}
---
kind: Operation
name: to-a
connection: web
action: send
settings: {url: /a, maxRetryTime: 0s}
---
kind: Operation
name: to-b
connection: web
action: send
settings: {url: /b, maxRetryTime: 0s}
`
