package atom

import (
	"context"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/atomrt/atom/operations"
	httpconn "github.com/atomrt/atom/operations/http"
	"github.com/atomrt/atom/operations/optest"
	"github.com/atomrt/atom/persistence"
	"github.com/atomrt/atom/processes"
)

type harness struct {
	t     *testing.T
	rt    *Runtime
	store *persistence.Store
	path  string
	tp    *optest.Topic
	sink  *optest.Sink
	stop  context.CancelFunc
}

// start runs a runtime on a store file (reused when path is set) with the
// topic and http connectors.
func start(t *testing.T, tp *optest.Topic, sk *optest.Sink, storePath string) *harness {
	t.Helper()
	if storePath == "" {
		storePath = filepath.Join(t.TempDir(), "atom.db")
	}
	store, err := persistence.Open(storePath, persistence.Options{})
	if err != nil {
		t.Fatal(err)
	}
	reg := operations.NewRegistry()
	if err := reg.Register(tp.Connector()); err != nil {
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
	yaml = strings.ReplaceAll(yaml, "SINK", h.sink.URL)
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
