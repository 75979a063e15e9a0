package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/atomrt/atom/atom"
	"github.com/atomrt/atom/operations/standard"
	"github.com/atomrt/atom/persistence"
	"github.com/atomrt/atom/web"
)

const deployHook = `kind: Connection
name: inbound
type: http
---
kind: Operation
name: hook
connection: inbound
action: listen
settings: {path: /hooks/deployed}
---
kind: Process
name: echo
listen: hook
steps:
  - reply: {expr: '{"seen": body.id}'}
`

// serveAtomForDeploy serves a real atom (standard connectors, bbolt store) over
// HTTP, as `atom run` does.
func serveAtomForDeploy(t *testing.T, opts web.Options) *httptest.Server {
	t.Helper()
	reg, err := standard.Registry()
	if err != nil {
		t.Fatal(err)
	}
	store, err := persistence.Open(filepath.Join(t.TempDir(), "atom.db"), persistence.Options{})
	if err != nil {
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
	srv := httptest.NewServer(web.Handler(rt, opts))
	t.Cleanup(func() {
		srv.Close()
		sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer scancel()
		_ = rt.Stop(sctx)
		cancel()
		_ = store.Close()
	})
	return srv
}

func deployRun(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	err := deployCmd(context.Background(), args, &out, &errb)
	return out.String(), errb.String(), err
}

func writeDeployFile(t *testing.T, dir, name, text string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDeployCommand(t *testing.T) {
	srv := serveAtomForDeploy(t, web.Options{})
	dir := t.TempDir()
	good := writeDeployFile(t, dir, "hook.yaml", deployHook)

	out, errOut, err := deployRun(t, good, "--atom", srv.URL, "--note", "from the test")
	if err != nil || !strings.Contains(out, "deployed version 1") {
		t.Fatalf("deploy: %v\nstdout: %s\nstderr: %s", err, out, errOut)
	}
	resp, err := http.Post(srv.URL+"/hooks/deployed", "application/json", strings.NewReader(`{"id":"x-1"}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"seen":"x-1"`) {
		t.Fatalf("deployed webhook: %d %s", resp.StatusCode, body)
	}

	// A folder, with flags first; every problem printed at its position.
	bad := t.TempDir()
	writeDeployFile(t, bad, "a.yaml", deployHook)
	badFile := writeDeployFile(t, bad, "b.yaml", "kind: Process\nname: broken\nlisten: nope\nsteps:\n  - rout: {}\n")
	out, errOut, err = deployRun(t, "--atom", srv.URL, bad)
	var exit exitError
	if !errors.As(err, &exit) || exit != 1 {
		t.Fatalf("bad deploy: err %v, want exit status 1\n%s", err, errOut)
	}
	for _, want := range []string{badFile + ":3:9: ", badFile + ":5:5: ", "nothing was deployed"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
	if out != "" {
		t.Errorf("stdout of a refused deploy: %q", out)
	}

	if _, errOut, err = deployRun(t); !errors.As(err, &exit) || exit != 2 || !strings.Contains(errOut, "usage") {
		t.Errorf("no path: %v %q", err, errOut)
	}
	if _, _, err = deployRun(t, filepath.Join(dir, "missing.yaml"), "--atom", srv.URL); err == nil {
		t.Error("a missing file deployed")
	}
	if _, _, err = deployRun(t, good, "--atom", "not a url"); err == nil || !strings.Contains(err.Error(), "--atom") {
		t.Errorf("bad --atom: %v", err)
	}
}

func TestDeployCommandAuth(t *testing.T) {
	srv := serveAtomForDeploy(t, web.Options{RequireAuth: true, Token: "tok-1"})
	good := writeDeployFile(t, t.TempDir(), "hook.yaml", deployHook)
	t.Setenv("ATOM_API_TOKEN", "")

	_, errOut, err := deployRun(t, good, "--atom", srv.URL)
	var exit exitError
	if !errors.As(err, &exit) || exit != 1 || !strings.Contains(errOut, "--token") {
		t.Fatalf("without a token: %v %q", err, errOut)
	}
	if out, errOut, err := deployRun(t, good, "--atom", srv.URL, "--token", "tok-1"); err != nil || !strings.Contains(out, "version 1") {
		t.Fatalf("with --token: %v %s %s", err, out, errOut)
	}
	t.Setenv("ATOM_API_TOKEN", "tok-1")
	if out, errOut, err := deployRun(t, good, "--atom", srv.URL+"/"); err != nil || !strings.Contains(out, "version 2") {
		t.Fatalf("with ATOM_API_TOKEN: %v %s %s", err, out, errOut)
	}
}
