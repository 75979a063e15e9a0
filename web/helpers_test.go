package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/atomrt/atom/atom"
	"github.com/atomrt/atom/operations"
	httpconn "github.com/atomrt/atom/operations/http"
	"github.com/atomrt/atom/operations/optest"
	"github.com/atomrt/atom/persistence"
	"github.com/atomrt/atom/web"
)

// env is a real atom (runtime, bbolt store, topic and http connectors)
// behind web.Handler on a real socket.
type env struct {
	t     *testing.T
	rt    *atom.Runtime
	srv   *httptest.Server
	tp    *optest.Topic
	sink  *optest.Sink
	token string // sent with every request when set
}

func newEnv(t *testing.T, opts web.Options) *env {
	t.Helper()
	store, err := persistence.Open(filepath.Join(t.TempDir(), "atom.db"), persistence.Options{})
	if err != nil {
		t.Fatal(err)
	}
	tp := optest.NewTopic()
	reg := operations.NewRegistry()
	if err := reg.Register(tp.Connector()); err != nil {
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
	e := &env{t: t, rt: rt, tp: tp, sink: optest.NewSink(t)}
	e.srv = httptest.NewServer(web.Handler(rt, opts))
	t.Cleanup(e.srv.Close)
	return e
}

// yaml fills the sink's URL into a deployment.
func (e *env) yaml(src string) string { return strings.ReplaceAll(src, "SINK", e.sink.URL) }

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
