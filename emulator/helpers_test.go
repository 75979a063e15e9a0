package emulator

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"
)

// Demo credentials from default.yaml.
const (
	demoUser     = "atom@example.com"
	demoPassword = "atom-emulator"
	demoToken    = "AtomEmulatorToken0123456"
	demoClient   = "atom-emulator"
	demoSecret   = "atom-emulator-secret"
	demoRefresh  = "5Aep861AtomEmulatorDemoRefreshToken"
)

// testConfig is the default configuration with short CometD timeouts.
func testConfig() Config {
	cfg := DefaultConfig()
	cfg.CometD.Timeout = 2 * time.Second
	cfg.CometD.MaxInterval = 3 * time.Second
	return cfg
}

// start runs an emulator on a loopback port for the test.
func start(t testing.TB, cfg Config) *Emulator {
	t.Helper()
	e, err := New(cfg)
	if err != nil {
		t.Fatalf("new emulator: %v", err)
	}
	if err := e.Listen("127.0.0.1:0"); err != nil {
		t.Fatalf("listen: %v", err)
	}
	t.Cleanup(func() {
		if err := e.Close(); err != nil {
			t.Errorf("close emulator: %v", err)
		}
	})
	return e
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// tokenResult is the parsed token endpoint answer.
type tokenResult struct {
	status int
	body   map[string]any
}

func postForm(t testing.TB, e *Emulator, form url.Values) tokenResult {
	t.Helper()
	resp, err := http.PostForm(e.URL()+"/services/oauth2/token", form)
	if err != nil {
		t.Fatalf("token request: %v", err)
	}
	defer resp.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("decode token response: %v", err)
	}
	return tokenResult{status: resp.StatusCode, body: body}
}

// login runs the password grant with the demo user.
func login(t testing.TB, e *Emulator) string {
	t.Helper()
	res := postForm(t, e, url.Values{
		"grant_type": {"password"}, "client_id": {demoClient}, "client_secret": {demoSecret},
		"username": {demoUser}, "password": {demoPassword + demoToken},
	})
	if res.status != 200 {
		t.Fatalf("login: %d %v", res.status, res.body)
	}
	return res.body["access_token"].(string)
}

// call makes a REST request and decodes the JSON answer.
func call(t testing.TB, e *Emulator, token, method, path string, body any) (int, any) {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		data, _ := json.Marshal(b)
		rd = bytes.NewReader(data)
	}
	req, _ := http.NewRequest(method, e.URL()+path, rd)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var out any
	if len(data) > 0 {
		if err := json.Unmarshal(data, &out); err != nil {
			t.Fatalf("%s %s: answer is not JSON: %s", method, path, data)
		}
	}
	return resp.StatusCode, out
}

// errorCode returns errorCode of the first element of a REST error list.
func errorCode(t testing.TB, body any) string {
	t.Helper()
	list, ok := body.([]any)
	if !ok || len(list) == 0 {
		t.Fatalf("not a REST error list: %v", body)
	}
	return list[0].(map[string]any)["errorCode"].(string)
}

// bayeux is a tiny CometD long-polling client for tests.
type bayeux struct {
	t        testing.TB
	endpoint string
	token    string
	http     *http.Client
	clientID string
	auth     string // Authorization scheme: Bearer or OAuth
}

func newBayeux(t testing.TB, e *Emulator, token string) *bayeux {
	jar, _ := cookiejar.New(nil)
	return &bayeux{t: t, endpoint: e.URL() + "/cometd/62.0", token: token, http: &http.Client{Jar: jar, Timeout: 30 * time.Second}, auth: "Bearer"}
}

// post sends messages and returns the HTTP status and decoded replies.
func (b *bayeux) post(msgs ...map[string]any) (int, []map[string]any) {
	b.t.Helper()
	data, _ := json.Marshal(msgs)
	return b.postRaw(data)
}

func (b *bayeux) postRaw(data []byte) (int, []map[string]any) {
	b.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, b.endpoint, bytes.NewReader(data))
	req.Header.Set("Content-Type", "application/json")
	if b.token != "" {
		req.Header.Set("Authorization", b.auth+" "+b.token)
	}
	resp, err := b.http.Do(req)
	if err != nil {
		b.t.Fatalf("cometd post: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var out []map[string]any
	if resp.StatusCode == 200 {
		if err := json.Unmarshal(body, &out); err != nil {
			b.t.Fatalf("cometd answer is not a message list: %s", body)
		}
	}
	return resp.StatusCode, out
}

func (b *bayeux) handshake() map[string]any {
	b.t.Helper()
	_, replies := b.post(map[string]any{"channel": "/meta/handshake", "version": "1.0",
		"supportedConnectionTypes": []string{"long-polling"}, "ext": map[string]any{"replay": true}, "id": "1"})
	if len(replies) != 1 {
		b.t.Fatalf("handshake: %v", replies)
	}
	if id, ok := replies[0]["clientId"].(string); ok {
		b.clientID = id
	}
	return replies[0]
}

func (b *bayeux) subscribe(channel string, replay any) map[string]any {
	b.t.Helper()
	msg := map[string]any{"channel": "/meta/subscribe", "clientId": b.clientID, "subscription": channel}
	if replay != nil {
		msg["ext"] = map[string]any{"replay": map[string]any{channel: replay}}
	}
	_, replies := b.post(msg)
	if len(replies) != 1 {
		b.t.Fatalf("subscribe: %v", replies)
	}
	return replies[0]
}

// connect returns the events of one connect response and its reply.
func (b *bayeux) connect() ([]map[string]any, map[string]any) {
	b.t.Helper()
	_, replies := b.post(map[string]any{"channel": "/meta/connect", "clientId": b.clientID, "connectionType": "long-polling"})
	var events []map[string]any
	var rep map[string]any
	for _, m := range replies {
		if m["channel"] == "/meta/connect" {
			rep = m
		} else {
			events = append(events, m)
		}
	}
	if rep == nil {
		b.t.Fatalf("connect answer without a connect reply: %v", replies)
	}
	return events, rep
}

// receive connects until n events arrived (or fails).
func (b *bayeux) receive(n int) []map[string]any {
	b.t.Helper()
	var all []map[string]any
	deadline := time.Now().Add(10 * time.Second)
	for len(all) < n {
		if time.Now().After(deadline) {
			b.t.Fatalf("received %d of %d events", len(all), n)
		}
		events, rep := b.connect()
		if rep["successful"] != true {
			b.t.Fatalf("connect failed: %v", rep)
		}
		all = append(all, events...)
	}
	return all
}

// replayIDs lists the replay IDs of received events.
func replayIDs(events []map[string]any) []int64 {
	out := make([]int64, len(events))
	for i, ev := range events {
		out[i] = int64(ev["data"].(map[string]any)["event"].(map[string]any)["replayId"].(float64))
	}
	return out
}

func publishedIDs(events []Event) []int64 {
	out := make([]int64, len(events))
	for i, ev := range events {
		out[i] = ev.ReplayID
	}
	return out
}

func order(n int) map[string]any {
	return map[string]any{"Order_Number__c": "ORD-" + strings.Repeat("0", 3) + string(rune('0'+n%10)), "Amount__c": float64(10 * n)}
}
