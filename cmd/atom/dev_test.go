package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
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
	checkDevInBrowser(t, base)
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

// checkDevInBrowser opens the console of a running `atom dev` in headless
// Chromium and waits for the dashboard to show events flowing.
func checkDevInBrowser(t *testing.T, base string) {
	t.Helper()
	if testing.Short() {
		return
	}
	e2e, _ := filepath.Abs("../../web/console/e2e")
	if _, err := os.Stat(filepath.Join(e2e, "node_modules", "playwright-core")); err != nil {
		t.Fatalf("playwright-core is not installed: run npm ci --prefix web/console/e2e (make test does)")
	}
	if _, err := os.Stat("/usr/bin/chromium"); err != nil {
		t.Fatalf("/usr/bin/chromium is missing: apt-get install chromium (.ci/run does)")
	}
	cmd := exec.Command("node", "dev.e2e.mjs")
	cmd.Dir = e2e
	cmd.Env = append(os.Environ(), "ATOM_URL="+base, "SCREENSHOTS="+t.TempDir())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the console of atom dev shows no events flowing: %v\n%s", err, out)
	}
	var res struct {
		OK        bool
		Listeners int
	}
	if err := json.Unmarshal(bytes.TrimSpace(out), &res); err != nil || !res.OK || res.Listeners < 6 {
		t.Errorf("browser check: %s (want ok with the examples' 6 listeners)", out)
	}
}
