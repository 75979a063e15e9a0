package httpconn_test

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

	"github.com/atomrt/atom/atom"
	"github.com/atomrt/atom/operations"
	httpconn "github.com/atomrt/atom/operations/http"
	"github.com/atomrt/atom/persistence"
	"github.com/atomrt/atom/processes"
)

// TestSpecExamplesLoad loads the connector's examples, together, with the
// real component loader.
func TestSpecExamplesLoad(t *testing.T) {
	reg := operations.NewRegistry()
	if err := httpconn.Register(reg); err != nil {
		t.Fatal(err)
	}
	c, _ := reg.Get("http")
	var docs []string
	for _, spec := range []operations.Spec{c.Connection, *c.Listen, *c.Send} {
		docs = append(docs, spec.Examples...)
	}
	src := strings.Join(docs, "---\n")
	_, err := processes.LoadWith(reg, []processes.File{{Name: "examples.yaml", Data: []byte(src)}},
		processes.LoadOptions{LookupEnv: func(string) (string, bool) { return "x", true }})
	if err != nil {
		t.Fatalf("examples do not load:\n%v\n%s", err, src)
	}
}

// TestThroughTheRuntime runs a webhook → send → reply process on a real
// atom with a real store: a request/reply call, and a fire-and-forget one.
func TestThroughTheRuntime(t *testing.T) {
	var mu sync.Mutex
	var got []map[string]any
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body map[string]any
		_ = json.NewDecoder(r.Body).Decode(&body)
		if body["poison"] == true {
			http.Error(w, `{"error":"poison"}`, http.StatusBadRequest)
			return
		}
		mu.Lock()
		got = append(got, body)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"accepted":true,"path":"`+r.URL.Path+`"}`)
	}))
	t.Cleanup(sink.Close)

	store, err := persistence.Open(filepath.Join(t.TempDir(), "atom.db"), persistence.Options{})
	if err != nil {
		t.Fatal(err)
	}
	reg := operations.NewRegistry()
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
			t.Errorf("stop: %v", err)
		}
		cancel()
		_ = store.Close()
	})
	web := httptest.NewServer(rt.Webhooks())
	t.Cleanup(web.Close)

	yaml := strings.ReplaceAll(`
kind: Connection
name: in
type: http
---
kind: Connection
name: out
type: http
settings: {baseUrl: SINK}
---
kind: Operation
name: hook
connection: in
action: listen
settings: {path: /hooks/orders}
---
kind: Operation
name: queued-hook
connection: in
action: listen
settings: {path: /hooks/queued, ack: accepted}
---
kind: Operation
name: post
connection: out
action: send
settings: {url: "/orders/{body:id}", maxRetryTime: 1s, retryInitial: 1ms}
---
kind: Process
name: orders
listen: hook
steps:
  - send: {operation: post, response: true}
  - reply: {}
---
kind: Process
name: queued
listen: queued-hook
steps:
  - send: post
`, "SINK", sink.URL)
	if _, err := rt.Deploy([]processes.File{{Name: "test.yaml", Data: []byte(yaml)}}, "test", ""); err != nil {
		t.Fatalf("deploy: %v", err)
	}

	post := func(path, body string) (int, map[string]any) {
		t.Helper()
		resp, err := http.Post(web.URL+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var ans map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&ans)
		return resp.StatusCode, ans
	}
	status, ans := post("/hooks/orders", `{"id":"o-1"}`)
	if status != 200 || ans["accepted"] != true || ans["path"] != "/orders/o-1" {
		t.Fatalf("request/reply: %d %v", status, ans)
	}
	status, ans = post("/hooks/orders", `{"id":"o-2","poison":true}`)
	if status != 422 || ans["code"] != "dead_lettered" {
		t.Fatalf("poison: %d %v, want 422 dead_lettered", status, ans)
	}
	status, ans = post("/hooks/queued", `{"id":"q-1"}`)
	if status != 202 {
		t.Fatalf("accepted: %d %v", status, ans)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("sink got %d documents, want 2", n)
		}
		time.Sleep(5 * time.Millisecond)
	}
	deadline = time.Now().Add(10 * time.Second)
	for {
		p, err := store.Pending("in:POST /hooks/queued")
		if err == nil && len(p) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("inbox still holds %d documents (%v)", len(p), err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
