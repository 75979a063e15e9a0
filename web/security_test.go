package web_test

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/atomrt/atom/web"
)

func TestAuthWhenRequired(t *testing.T) {
	const token = "right-token"
	e := newEnv(t, web.Options{RequireAuth: true, Token: token})

	for _, path := range []string{"/api/listeners", "/api/info", "/api/openapi.json", "/metrics", "/api/deployments/1"} {
		st, body := e.call("GET", path, nil)
		if st != 401 || !strings.Contains(string(body), `"unauthorized"`) {
			t.Errorf("GET %s without a token: %d %s", path, st, body)
		}
	}
	resp := e.raw("GET", "/api/listeners", nil, "Authorization", "Bearer wrong")
	if resp.StatusCode != 401 || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
		t.Errorf("wrong token: %d, WWW-Authenticate %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
	if st, _ := e.call("POST", "/api/deployments", e.yaml(components)); st != 401 {
		t.Fatalf("deploy without a token: %d", st)
	}
	var list []deployment
	e.token = token
	e.must("GET", "/api/deployments", nil, 200, &list)
	if len(list) != 0 {
		t.Fatalf("a refused deploy was saved: %+v", list)
	}
	e.deploy(components)
	e.must("GET", "/metrics", nil, 200, nil)
	e.token = ""

	req, _ := http.NewRequest("GET", e.srv.URL+"/api/listeners", nil)
	req.SetBasicAuth("ops", token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("basic auth with the token: %d", resp.StatusCode)
	}
	req.SetBasicAuth("ops", "wrong")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Errorf("basic auth with a wrong password: %d", resp.StatusCode)
	}

	// Probes, the console's files and webhooks need no token.
	for _, path := range []string{"/healthz", "/readyz", "/console/"} {
		if st, body := e.call("GET", path, nil); st != 200 {
			t.Errorf("GET %s without a token: %d %s", path, st, body)
		}
	}
	if st, body := e.hook(`{"id":"o-1","n":1}`); st != 200 {
		t.Errorf("webhook without a token: %d %s", st, body)
	}

	// Who is recorded from basic auth.
	req, _ = http.NewRequest("POST", e.srv.URL+"/api/deployments?note=as-ops", strings.NewReader(e.yaml(components)))
	req.Header.Set("Content-Type", "application/yaml")
	req.SetBasicAuth("ops", token)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 201 || !strings.Contains(string(body), `"who":"ops@127.0.0.1"`) {
		t.Errorf("deploy as ops: %d %s", resp.StatusCode, body)
	}
}

func TestAuthRequiredWithoutATokenRefusesAll(t *testing.T) {
	e := newEnv(t, web.Options{RequireAuth: true})
	e.apiErr("GET", "/api/listeners", nil, 500, "internal")
	e.token = "anything"
	e.apiErr("GET", "/api/listeners", nil, 500, "internal")
}

func TestCrossSiteRequestsAreRefused(t *testing.T) {
	e := newEnv(t, web.Options{})
	e.deploy(components)
	resp := e.raw("POST", "/api/listeners/pause-all", nil, "Sec-Fetch-Site", "cross-site")
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 403 || !strings.Contains(string(body), `"forbidden"`) {
		t.Fatalf("cross-site pause: %d %s", resp.StatusCode, body)
	}
	resp = e.raw("POST", "/api/deployments", strings.NewReader(e.yaml(components)), "Origin", "https://evil.example", "Content-Type", "application/yaml")
	if resp.StatusCode != 403 {
		t.Fatalf("deploy from another origin: %d", resp.StatusCode)
	}
	var ls []listenerStatus
	e.must("GET", "/api/listeners", nil, 200, &ls)
	for _, l := range ls {
		if l.State == "paused" {
			t.Fatalf("a cross-site request paused %s", l.Name)
		}
	}
	var list []deployment
	e.must("GET", "/api/deployments", nil, 200, &list)
	if len(list) != 1 {
		t.Fatalf("a cross-site deploy was saved: %+v", list)
	}
	// Reading cross-site is harmless; same-origin changes pass.
	if resp := e.raw("GET", "/api/listeners", nil, "Sec-Fetch-Site", "cross-site"); resp.StatusCode != 200 {
		t.Fatalf("cross-site GET: %d", resp.StatusCode)
	}
	if resp := e.raw("POST", "/api/listeners/pause-all", nil, "Sec-Fetch-Site", "same-origin"); resp.StatusCode != 200 {
		t.Fatalf("same-origin pause: %d", resp.StatusCode)
	}
}

func TestHealthReadyMetricsAndInfo(t *testing.T) {
	e := newEnv(t, web.Options{Addr: "127.0.0.1:8080"})
	e.must("GET", "/healthz", nil, 200, nil)
	var ready struct {
		Ready  bool
		Reason string
	}
	e.must("GET", "/readyz", nil, 200, &ready)
	if !ready.Ready {
		t.Fatalf("ready with nothing deployed = %+v", ready)
	}
	e.deploy(components)
	eventually(t, "ready", func() bool {
		st, _ := e.call("GET", "/readyz", nil)
		return st == 200
	})
	e.tp.Publish(1)
	eventually(t, "run counted", func() bool {
		_, body := e.call("GET", "/metrics", nil)
		return strings.Contains(string(body), `atom_process_runs_total{process="from-bus",status="ok"} 1`)
	})
	_, body := e.call("GET", "/metrics", nil)
	if !strings.Contains(string(body), `atom_listener_events_received_total{listener="bus:/event/Order__e"} 1`) {
		t.Errorf("metrics lack the listener's count:\n%s", body)
	}

	var info struct {
		Version, Listen string
		AuthRequired    bool
		Deployment      *int
	}
	e.must("GET", "/api/info", nil, 200, &info)
	if info.Listen != "127.0.0.1:8080" || info.AuthRequired || info.Deployment == nil || *info.Deployment != 1 || info.Version == "" {
		t.Errorf("info = %+v", info)
	}

	// A listener that never subscribes makes the atom not ready.
	e.deploy(strings.Replace(components, "channel: /event/Order__e", "channel: /stuck", 1))
	e.must("GET", "/readyz", nil, 503, &ready)
	if ready.Ready || !strings.Contains(ready.Reason, "bus:/stuck") {
		t.Errorf("not ready = %+v", ready)
	}
}

func TestRoutingAndFallThrough(t *testing.T) {
	e := newEnv(t, web.Options{})
	e.deploy(components)
	e.apiErr("GET", "/api/nope", nil, 404, "not_found")
	e.apiErr("PATCH", "/api/listeners", nil, 405, "method_not_allowed")
	// Unknown paths outside the API are the webhooks' 404.
	st, body := e.call("POST", "/hooks/nope", []byte(`{}`))
	if st != 404 || !strings.Contains(string(body), "no webhook serves") {
		t.Errorf("unknown webhook: %d %s", st, body)
	}
	resp := e.raw("GET", "/", nil)
	if resp.StatusCode != 200 || resp.Request.URL.Path != "/console/" {
		t.Errorf("GET / ended at %s with %d, want the console", resp.Request.URL.Path, resp.StatusCode)
	}
}

func TestLoadOrCreateToken(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	tok, created, err := web.LoadOrCreateToken(dir, "")
	if err != nil || !created || len(tok) != 43 {
		t.Fatalf("first start: %q %v %v", tok, created, err)
	}
	info, err := os.Stat(filepath.Join(dir, web.TokenFile))
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("token file: %v %v", info, err)
	}
	again, created, err := web.LoadOrCreateToken(dir, "")
	if err != nil || created || again != tok {
		t.Fatalf("second start: %q %v %v, want the stored %q", again, created, err, tok)
	}
	conf, created, err := web.LoadOrCreateToken(dir, "configured")
	if err != nil || created || conf != "configured" {
		t.Fatalf("configured: %q %v %v", conf, created, err)
	}
	if err := os.WriteFile(filepath.Join(dir, web.TokenFile), []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := web.LoadOrCreateToken(dir, ""); err == nil || !strings.Contains(err.Error(), "empty") {
		t.Fatalf("empty token file: %v", err)
	}
}

func TestIsLoopback(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:8080": true, "localhost:8080": true, "[::1]:80": true, "127.0.0.2:1": true,
		":8080": false, "0.0.0.0:8080": false, "[::]:8080": false, "10.0.0.1:8080": false,
		"example.com:80": false, "127.0.0.1": true,
	} {
		if got := web.IsLoopback(addr); got != want {
			t.Errorf("IsLoopback(%q) = %v, want %v", addr, got, want)
		}
	}
}
