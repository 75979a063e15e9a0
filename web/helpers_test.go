package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/atomrt/atom/atom"
	"github.com/atomrt/atom/operations"
	httpconn "github.com/atomrt/atom/operations/http"
	"github.com/atomrt/atom/persistence"
	"github.com/atomrt/atom/web"
)

// topic is an in-memory event stream with positions (copied from the
// atom package's tests): a stand-in for a platform event channel that a
// test publishes to and that a listener replays from a position.
type topic struct {
	mu     sync.Mutex
	events []operations.Document
	more   chan struct{} // closed and replaced on every publish
}

func newTopic() *topic { return &topic{more: make(chan struct{})} }

// publish appends events with bodies {"n": i} for the given numbers; the
// event at index i (from 1) has position i*10.
func (t *topic) publish(ns ...int) {
	t.mu.Lock()
	for _, n := range ns {
		t.events = append(t.events, operations.NewDocument(
			map[string]any{"n": float64(n)},
			map[string]string{"eventUuid": fmt.Sprintf("uuid-%d", n)}))
	}
	close(t.more)
	t.more = make(chan struct{})
	t.mu.Unlock()
}

func topicConnector(tp *topic) *operations.Connector {
	return &operations.Connector{
		Name:       "topic",
		Summary:    "test stream",
		Connection: operations.Spec{Summary: "test"},
		Listen: &operations.Spec{Summary: "listen", Fields: []operations.Field{
			{Name: "channel", Type: operations.String, Required: true, Doc: "channel"},
		}},
		Open: func(string, operations.Settings, operations.Env) (operations.Connection, error) {
			return topicConn{tp: tp}, nil
		},
	}
}

type topicConn struct{ tp *topic }

func (c topicConn) Listener(_ string, s operations.Settings) (operations.Listener, error) {
	return &topicListener{tp: c.tp, channel: s.String("channel")}, nil
}
func (topicConn) Sender(string, operations.Settings) (operations.Sender, error) {
	return nil, operations.ErrNotSupported
}
func (topicConn) Close() error { return nil }

type topicListener struct {
	tp      *topic
	channel string
}

func (l *topicListener) Key() string { return l.channel }

func (l *topicListener) Run(ctx context.Context, s operations.Stream) error {
	next := 0
	if p := s.Start(); p != "" {
		n, _ := strconv.Atoi(p)
		next = n / 10
	}
	if l.channel == "/stuck" { // never subscribes: the atom is not ready
		<-ctx.Done()
		return nil
	}
	s.SetState(operations.Running, nil)
	for {
		l.tp.mu.Lock()
		pending, more := l.tp.events[min(next, len(l.tp.events)):], l.tp.more
		l.tp.mu.Unlock()
		for _, d := range pending {
			next++
			d = d.Clone()
			d.SetProp("position", strconv.Itoa(next*10))
			if err := s.Deliver(ctx, operations.Event{Doc: d, Position: strconv.Itoa(next * 10)}); err != nil {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-more:
		}
	}
}

// sink records every JSON body posted to it, by path, and refuses bodies
// with "poison": true (400, a final failure) or everything when refuse.
type sink struct {
	srv    *httptest.Server
	mu     sync.Mutex
	got    map[string][]map[string]any
	auth   []string
	refuse bool
}

func newSink(t *testing.T) *sink {
	s := &sink{got: map[string][]map[string]any{}}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body map[string]any
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			http.Error(w, "not json", http.StatusBadRequest)
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		if body["poison"] == true || s.refuse {
			http.Error(w, `{"error":"poison"}`, http.StatusBadRequest)
			return
		}
		s.got[r.URL.Path] = append(s.got[r.URL.Path], body)
		s.auth = append(s.auth, r.Header.Get("Authorization"))
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"ok":true}`)
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *sink) setRefuse(v bool) { s.mu.Lock(); s.refuse = v; s.mu.Unlock() }

// ns returns the "n" of every body received at path, in order.
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

func (s *sink) count(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.got[path])
}

// env is a real atom (runtime, bbolt store, topic and http connectors)
// behind web.Handler on a real socket.
type env struct {
	t     *testing.T
	rt    *atom.Runtime
	srv   *httptest.Server
	tp    *topic
	sink  *sink
	token string // sent with every request when set
}

func newEnv(t *testing.T, opts web.Options) *env {
	t.Helper()
	store, err := persistence.Open(filepath.Join(t.TempDir(), "atom.db"), persistence.Options{})
	if err != nil {
		t.Fatal(err)
	}
	tp := newTopic()
	reg := operations.NewRegistry()
	if err := reg.Register(topicConnector(tp)); err != nil {
		t.Fatal(err)
	}
	if err := httpconn.Register(reg); err != nil {
		t.Fatal(err)
	}
	rt, err := atom.New(atom.Options{Registry: reg, Store: store, Log: zerolog.New(io.Discard), DrainTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := rt.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer scancel()
		if err := rt.Stop(sctx); err != nil {
			t.Errorf("stop runtime: %v", err)
		}
		cancel()
		if err := store.Close(); err != nil {
			t.Errorf("close store: %v", err)
		}
	})
	e := &env{t: t, rt: rt, tp: tp, sink: newSink(t)}
	e.srv = httptest.NewServer(web.Handler(rt, opts))
	t.Cleanup(e.srv.Close)
	return e
}

// yaml fills the sink's URL into a deployment.
func (e *env) yaml(src string) string { return strings.ReplaceAll(src, "SINK", e.sink.srv.URL) }

// deploy deploys YAML through the API and returns the version.
func (e *env) deploy(src string) int {
	e.t.Helper()
	var d struct{ Version int }
	e.must("POST", "/api/deployments", e.yaml(src), http.StatusCreated, &d)
	return d.Version
}

// call makes a request; a string body is sent as YAML when it does not
// look like JSON. It returns the status and the body.
func (e *env) call(method, path string, body any, hdr ...string) (int, []byte) {
	e.t.Helper()
	var rd io.Reader
	ctype := ""
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
		ctype = "application/yaml"
		if strings.HasPrefix(strings.TrimSpace(b), "{") {
			ctype = "application/json"
		}
	case []byte:
		rd = bytes.NewReader(b)
		ctype = "application/json"
	default:
		data, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(data)
		ctype = "application/json"
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if e.token != "" {
		req.Header.Set("Authorization", "Bearer "+e.token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp.StatusCode, data
}

// must makes a request, fails the test unless it gets status, and
// decodes the answer into out (when not nil).
func (e *env) must(method, path string, body any, status int, out any) []byte {
	e.t.Helper()
	got, data := e.call(method, path, body)
	if got != status {
		e.t.Fatalf("%s %s: status %d, want %d: %s", method, path, got, status, data)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			e.t.Fatalf("%s %s: answer is not the JSON expected: %v\n%s", method, path, err, data)
		}
	}
	return data
}

// apiErr asserts an error answer's status and code and returns it.
func (e *env) apiErr(method, path string, body any, status int, code string) apiError {
	e.t.Helper()
	var ae apiError
	e.must(method, path, body, status, &ae)
	if ae.Code != code || ae.Error == "" {
		e.t.Fatalf("%s %s: error %+v, want code %q and a message", method, path, ae, code)
	}
	return ae
}

type apiError struct {
	Error   string            `json:"error"`
	Code    string            `json:"code"`
	Details []json.RawMessage `json:"details"`
}

// listenerPath is a listener's API path, its name escaped as a browser's
// encodeURIComponent does.
func listenerPath(name, rest string) string {
	return "/api/listeners/" + strings.ReplaceAll(url.QueryEscape(name), "+", "%20") + rest
}

// eventually polls cond until it holds or ten seconds pass.
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

func seq(from, to int) []int {
	var s []int
	for i := from; i <= to; i++ {
		s = append(s, i)
	}
	return s
}

func newListener(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

func timeoutCtx(seconds int) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), time.Duration(seconds)*time.Second)
}

// raw makes a request with headers as given and returns the response, its
// body closed at cleanup.
func (e *env) raw(method, path string, body io.Reader, hdr ...string) *http.Response {
	e.t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	if e.token != "" {
		req.Header.Set("Authorization", "Bearer "+e.token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	e.t.Cleanup(func() { resp.Body.Close() })
	return resp
}
