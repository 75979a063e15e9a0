package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"sync"
	"testing"
	"time"
)

// lockedBuffer is a bytes.Buffer safe for the dev command's goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// `atom dev` is `make run`: within seconds of starting, generated events
// flow through the examples' listeners, and Ctrl-C stops it cleanly.
func TestDevShowsEventsFlowing(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var out, logs lockedBuffer
	done := make(chan error, 1)
	go func() {
		done <- runDev(ctx, []string{"--listen", "127.0.0.1:0", "--rate", "50", "--processes", "../../examples", "--log-level", "warn"}, &out, &logs)
	}()
	console := regexp.MustCompile(`console\s+(http://\S+)/console/`)
	var base string
	deadline := time.Now().Add(15 * time.Second)
	for base == "" && time.Now().Before(deadline) {
		if m := console.FindStringSubmatch(out.String()); m != nil {
			base = m[1]
		}
		time.Sleep(10 * time.Millisecond)
	}
	if base == "" {
		cancel()
		t.Fatalf("no console URL printed:\n%s\n%s", out.String(), logs.String())
	}
	processed := func() int64 {
		resp, err := http.Get(base + "/api/listeners")
		if err != nil {
			return 0
		}
		defer resp.Body.Close()
		var ls []struct{ Processed int64 }
		_ = json.NewDecoder(resp.Body).Decode(&ls)
		var n int64
		for _, l := range ls {
			n += l.Processed
		}
		return n
	}
	for processed() < 20 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := processed(); n < 20 {
		t.Errorf("only %d runs processed in the first seconds of atom dev", n)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("atom dev did not stop cleanly: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("atom dev did not stop within 30s of Ctrl-C")
	}
}
