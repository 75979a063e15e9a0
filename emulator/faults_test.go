package emulator

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestFail503(t *testing.T) {
	e := start(t, testConfig())
	token := login(t, e)
	b := newBayeux(t, e, token)
	b.handshake()

	e.Fail503(4)
	res := postForm(t, e, url.Values{"grant_type": {"client_credentials"}, "client_id": {demoClient}, "client_secret": {demoSecret}})
	if res.status != 503 || res.body["error"] != "temporarily_unavailable" {
		t.Errorf("token: %d %v", res.status, res.body)
	}
	status, body := call(t, e, token, http.MethodPost, "/services/data/v62.0/sobjects/Order_Placed__e", order(1))
	if status != 503 || errorCode(t, body) != "SERVER_UNAVAILABLE" {
		t.Errorf("publish: %d %v", status, body)
	}
	if status, _ := b.post(map[string]any{"channel": "/meta/connect", "clientId": b.clientID, "connectionType": "long-polling"}); status != 503 {
		t.Errorf("connect: HTTP %d, want 503", status)
	}
	rep := b.subscribe("/event/Order_Placed__e", -1)
	if rep["successful"] != false || rep["error"] != "503::Service Unavailable" ||
		rep["ext"].(map[string]any)["sfdc"].(map[string]any)["failureReason"] != "503::Service Unavailable" {
		t.Errorf("subscribe: %v", rep)
	}
	if n := len(e.Events("Order_Placed__e")); n != 0 || e.Subscribers("Order_Placed__e") != 0 {
		t.Fatalf("a 503 published %d events or subscribed", n)
	}
	// The fifth request goes through.
	if rep := b.subscribe("/event/Order_Placed__e", -1); rep["successful"] != true {
		t.Fatalf("subscribe after the 503s: %v", rep)
	}
	if e.State().Faults.Fail503Remaining != 0 {
		t.Fatal("503s left over")
	}
}

func TestLatency(t *testing.T) {
	e := start(t, testConfig())
	token := login(t, e)
	e.SetLatency(time.Minute)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, e.URL()+"/services/data/v62.0/limits", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("answered at once (%d) despite a minute of latency", resp.StatusCode)
	}
	e.SetLatency(0)
	if status, _ := call(t, e, token, http.MethodGet, "/services/data/v62.0/limits", nil); status != 200 {
		t.Fatalf("after clearing latency: %d", status)
	}
}

func TestDropClientsThenResumeFromLastReplayID(t *testing.T) {
	cfg := testConfig()
	cfg.CometD.Timeout = 30 * time.Second
	e := start(t, cfg)
	b := newBayeux(t, e, login(t, e))
	b.handshake()
	b.subscribe("/event/Order_Placed__e", -2)
	first, _ := e.Publish("Order_Placed__e", order(1))
	got := b.receive(1)
	last := replayIDs(got)[0]
	if last != first {
		t.Fatalf("received %d, want %d", last, first)
	}
	held := make(chan map[string]any, 1)
	go func() { _, rep := b.connect(); held <- rep }()
	eventually(t, "the connect to be held", func() bool { return e.Calls()["connect"] == 2 })
	if n := e.DropClients(); n != 1 {
		t.Errorf("dropped %d clients, want 1", n)
	}
	select {
	case rep := <-held:
		if rep["error"] != "403::Unknown client" || rep["advice"].(map[string]any)["reconnect"] != "handshake" {
			t.Fatalf("held connect after DropClients: %v", rep)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("held connect not answered after DropClients")
	}
	if e.Subscribers("Order_Placed__e") != 0 {
		t.Fatal("dropped client still subscribed")
	}
	missed, _ := e.Publish("Order_Placed__e", order(2))
	old := b.clientID
	b.handshake()
	if b.clientID == old {
		t.Fatal("same client ID after re-handshake")
	}
	if rep := b.subscribe("/event/Order_Placed__e", last); rep["successful"] != true {
		t.Fatalf("resubscribe: %v", rep)
	}
	if got := replayIDs(b.receive(1)); !reflect.DeepEqual(got, []int64{missed}) {
		t.Fatalf("after resubscribing from %d received %v, want %d", last, got, missed)
	}
}

func TestRefuseConnections(t *testing.T) {
	cfg := testConfig()
	cfg.CometD.Timeout = 30 * time.Second
	e := start(t, cfg)
	token := login(t, e)
	b := newBayeux(t, e, token)
	b.handshake()
	b.subscribe("/event/Order_Placed__e", -1)
	b.connect()
	cut := make(chan error, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodPost, b.endpoint, strings.NewReader(`[{"channel":"/meta/connect","clientId":"`+b.clientID+`","connectionType":"long-polling"}]`))
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := b.http.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		cut <- err
	}()
	eventually(t, "the connect to be held", func() bool { return e.Calls()["connect"] == 2 })
	e.RefuseConnections(true)
	select {
	case err := <-cut:
		if err == nil {
			t.Fatal("held connect answered instead of cut")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("held connect not cut")
	}
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	if resp, err := client.Get(e.URL() + "/services/data"); err == nil {
		resp.Body.Close()
		t.Fatal("a new connection was accepted while refusing")
	}
	if !e.State().Faults.RefuseConnections {
		t.Error("state does not show refused connections")
	}
	e.RefuseConnections(false)
	resp, err := client.Get(e.URL() + "/services/data")
	if err != nil {
		t.Fatalf("after accepting again: %v", err)
	}
	resp.Body.Close()
}

func TestRestartForgetsClientsKeepsBusAndSessions(t *testing.T) {
	cfg := testConfig()
	cfg.CometD.Timeout = 30 * time.Second
	e := start(t, cfg)
	token := login(t, e)
	id1, _ := e.Publish("Order_Placed__e", order(1))
	b := newBayeux(t, e, token)
	b.handshake()
	b.subscribe("/event/Order_Placed__e", -1)
	b.connect()
	cut := make(chan struct{})
	go func() {
		defer close(cut)
		req, _ := http.NewRequest(http.MethodPost, b.endpoint, strings.NewReader(`[{"channel":"/meta/connect","clientId":"`+b.clientID+`","connectionType":"long-polling"}]`))
		req.Header.Set("Authorization", "Bearer "+token)
		if resp, err := b.http.Do(req); err == nil {
			resp.Body.Close()
		}
	}()
	eventually(t, "the connect to be held", func() bool { return e.Calls()["connect"] == 2 })
	if err := e.Restart(); err != nil {
		t.Fatal(err)
	}
	<-cut
	if _, rep := b.connect(); rep["error"] != "403::Unknown client" {
		t.Fatalf("connect after restart: %v", rep)
	}
	b.handshake() // the session survived
	if rep := b.subscribe("/event/Order_Placed__e", -2); rep["successful"] != true {
		t.Fatalf("subscribe after restart: %v", rep)
	}
	if got := replayIDs(b.receive(1)); !reflect.DeepEqual(got, []int64{id1}) {
		t.Fatalf("bus after restart: %v, want %d", got, id1)
	}
}

func TestCloseEndsHeldConnects(t *testing.T) {
	cfg := testConfig()
	cfg.CometD.Timeout = time.Minute
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Listen("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	b := newBayeux(t, e, login(t, e))
	b.handshake()
	b.subscribe("/event/Order_Placed__e", -1)
	b.connect()
	done := make(chan struct{})
	go func() {
		defer close(done)
		req, _ := http.NewRequest(http.MethodPost, b.endpoint, strings.NewReader(`[{"channel":"/meta/connect","clientId":"`+b.clientID+`","connectionType":"long-polling"}]`))
		req.Header.Set("Authorization", "Bearer "+b.token)
		if resp, err := b.http.Do(req); err == nil {
			resp.Body.Close()
		}
	}()
	eventually(t, "the connect to be held", func() bool { return e.Calls()["connect"] == 2 })
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Close left a connect held")
	}
	if err := e.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := e.Listen("127.0.0.1:0"); err == nil {
		t.Fatal("Listen after Close succeeded")
	}
}

func TestStartStopsOnCancel(t *testing.T) {
	cfg := testConfig()
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := e.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if e.URL() == "" {
		t.Fatal("no URL after Start")
	}
	cancel()
	eventually(t, "the emulator to close", func() bool {
		e.mu.Lock()
		defer e.mu.Unlock()
		return e.closed
	})
}

func admin(t *testing.T, e *Emulator, method, path, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, e.URL()+"/__emulator"+path, strings.NewReader(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	var out map[string]any
	var raw any
	_ = json.NewDecoder(resp.Body).Decode(&raw)
	switch v := raw.(type) {
	case map[string]any:
		out = v
	case []any:
		out = map[string]any{"list": v}
	}
	return resp.StatusCode, out
}

func TestAdminEndpoints(t *testing.T) {
	e := start(t, testConfig())
	token := login(t, e)

	status, body := admin(t, e, http.MethodPost, "/events/Order_Placed__e", `{"Order_Number__c":"ADM-1","Amount__c":5}`)
	if status != 200 || body["replayId"] == nil {
		t.Fatalf("admin publish: %d %v", status, body)
	}
	if status, body := admin(t, e, http.MethodPost, "/events/Order_Placed__e", `{"Amount__c":5}`); status != 400 || body["code"] != "invalid_event" {
		t.Errorf("admin publish invalid: %d %v", status, body)
	}
	if status, body := admin(t, e, http.MethodPost, "/events/Nope__e", `{}`); status != 404 || body["code"] != "unknown_event" {
		t.Errorf("admin publish unknown: %d %v", status, body)
	}
	status, body = admin(t, e, http.MethodGet, "/events/Order_Placed__e", "")
	if list := body["list"].([]any); status != 200 || len(list) != 1 || list[0].(map[string]any)["payload"].(map[string]any)["Order_Number__c"] != "ADM-1" {
		t.Fatalf("admin events: %d %v", status, body)
	}

	b := newBayeux(t, e, token)
	b.handshake()
	b.subscribe("/event/Order_Placed__e", -1)
	status, body = admin(t, e, http.MethodGet, "/state", "")
	ch := body["channels"].(map[string]any)["/event/Order_Placed__e"].(map[string]any)
	if status != 200 || body["clients"] != 1.0 || ch["subscribers"] != 1.0 || ch["retained"] != 1.0 || body["url"] != e.URL() {
		t.Fatalf("state: %d %v", status, body)
	}

	if _, body := admin(t, e, http.MethodPost, "/faults/drop-clients", ""); body["dropped"] != 1.0 {
		t.Errorf("drop-clients: %v", body)
	}
	if _, rep := b.connect(); rep["error"] != "403::Unknown client" {
		t.Errorf("connect after admin drop-clients: %v", rep)
	}
	if _, body := admin(t, e, http.MethodPost, "/faults/expire-tokens", ""); body["expired"] != 1.0 {
		t.Errorf("expire-tokens: %v", body)
	}
	if status, _ := call(t, e, token, http.MethodGet, "/services/data/v62.0/limits", nil); status != 401 {
		t.Errorf("REST after admin expire-tokens: %d", status)
	}
	token = login(t, e)
	admin(t, e, http.MethodPost, "/faults/fail-503?count=1", "")
	if status, _ := call(t, e, token, http.MethodGet, "/services/data/v62.0/limits", nil); status != 503 {
		t.Errorf("REST after admin fail-503: %d", status)
	}
	admin(t, e, http.MethodPost, "/faults/latency?duration=1ms", "")
	if e.State().Faults.Latency != "1ms" {
		t.Errorf("latency %v", e.State().Faults.Latency)
	}
	admin(t, e, http.MethodPost, "/faults/clear", "")
	if st := e.State().Faults; st.Latency != "0s" || st.Fail503Remaining != 0 {
		t.Errorf("after clear: %+v", st)
	}
	if status, body := admin(t, e, http.MethodPost, "/faults/retention?duration=1ns", ""); status != 200 || body["retention"] != "1ns" {
		t.Errorf("retention: %d %v", status, body)
	}
	eventually(t, "events to expire", func() bool { return len(e.Events("Order_Placed__e")) == 0 })
	admin(t, e, http.MethodPost, "/faults/retention?duration=72h", "")
	for _, bad := range []string{"/faults/retention", "/faults/latency?duration=soon", "/faults/fail-503?count=x", "/faults/nope", "/nope"} {
		if status, body := admin(t, e, http.MethodPost, bad, ""); status < 400 || body["code"] == nil {
			t.Errorf("%s: %d %v", bad, status, body)
		}
	}

	e.ResetCalls()
	call(t, e, token, http.MethodGet, "/services/data/v62.0/limits", nil)
	admin(t, e, http.MethodPost, "/calls/reset", "")
	if len(e.Calls()) != 0 {
		t.Errorf("calls after reset: %v", e.Calls())
	}

	if status, body := admin(t, e, http.MethodPost, "/faults/restart", ""); status != 200 || body["restarted"] != true {
		t.Errorf("restart: %d %v", status, body)
	}
	if status, body := admin(t, e, http.MethodPost, "/faults/refuse-connections?duration=200ms", ""); status != 200 || body["refusing"] != "200ms" {
		t.Errorf("refuse-connections: %d %v", status, body)
	}
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	eventually(t, "connections to be refused", func() bool {
		resp, err := client.Get(e.URL() + "/services/data")
		if err == nil {
			resp.Body.Close()
		}
		return err != nil
	})
	eventually(t, "connections to be accepted again", func() bool {
		resp, err := client.Get(e.URL() + "/services/data")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil
	})
}
