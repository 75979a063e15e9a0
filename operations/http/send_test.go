package httpconn

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/atomrt/atom/operations"
)

// sink is a real HTTP server that records what it was sent and answers
// with respond (called with the 1-based request number).
type sink struct {
	srv     *httptest.Server
	mu      sync.Mutex
	reqs    []sunk
	respond func(n int, w http.ResponseWriter, r *http.Request)
}

type sunk struct {
	method, path, rawQuery string
	header                 http.Header
	body                   []byte
	at                     time.Time
}

func newSink(t testing.TB, respond func(n int, w http.ResponseWriter, r *http.Request)) *sink {
	t.Helper()
	s := &sink{respond: respond}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.reqs = append(s.reqs, sunk{method: r.Method, path: r.URL.EscapedPath(), rawQuery: r.URL.RawQuery, header: r.Header.Clone(), body: body, at: time.Now()})
		n := len(s.reqs)
		s.mu.Unlock()
		s.respond(n, w, r)
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *sink) requests() []sunk {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]sunk(nil), s.reqs...)
}

func jsonAnswer(status int, body string) func(int, http.ResponseWriter, *http.Request) {
	return func(_ int, w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}
}

// fastRetry are send settings that retry quickly, for tests.
func fastRetry(extra operations.Settings) operations.Settings {
	s := operations.Settings{
		"retryInitial": time.Millisecond,
		"retryMax":     5 * time.Millisecond,
		"maxRetryTime": 5 * time.Second,
		"timeout":      5 * time.Second,
	}
	for k, v := range extra {
		s[k] = v
	}
	return s
}

func newTestSender(t testing.TB, conn operations.Settings, op operations.Settings) *sender {
	t.Helper()
	c := openConn(t, conn, operations.Env{})
	s, err := c.Sender("test-send", op)
	if err != nil {
		t.Fatalf("sender: %v", err)
	}
	return s.(*sender)
}

func TestSendSuccess(t *testing.T) {
	sk := newSink(t, jsonAnswer(201, `{"id":"ord-1","ok":true}`))
	s := newTestSender(t,
		operations.Settings{"baseUrl": sk.srv.URL + "/api/", "auth": "bearer", "token": operations.NewSecret("tok-123"),
			"headers": map[string]string{"X-Tenant": "acme", "X-Override": "conn"}},
		fastRetry(operations.Settings{"url": "/orders", "headers": map[string]string{"X-Override": "op", "Idempotency-Key": "{prop:eventUuid}"}}))

	out, err := s.Send(context.Background(), operations.Document{
		Body:  map[string]any{"sku": "A-1", "qty": 2.0},
		Props: map[string]string{"eventUuid": "u-42"},
	})
	if err != nil {
		t.Fatalf("send: %v", err)
	}
	reqs := sk.requests()
	if len(reqs) != 1 {
		t.Fatalf("server got %d requests, want 1", len(reqs))
	}
	r := reqs[0]
	if r.method != "POST" || r.path != "/api/orders" {
		t.Errorf("request %s %s, want POST /api/orders", r.method, r.path)
	}
	if got := string(r.body); got != `{"qty":2,"sku":"A-1"}` {
		t.Errorf("body %s", got)
	}
	for name, want := range map[string]string{
		"Content-Type": "application/json", "Authorization": "Bearer tok-123", "X-Tenant": "acme",
		"X-Override": "op", "Idempotency-Key": "u-42",
	} {
		if got := r.header.Get(name); got != want {
			t.Errorf("header %s = %q, want %q", name, got, want)
		}
	}
	body, _ := out.Body.(map[string]any)
	if body["id"] != "ord-1" || body["ok"] != true {
		t.Errorf("answer body %#v", out.Body)
	}
	if out.Props[PropStatus] != "201" || out.Props[PropContentType] != "application/json" {
		t.Errorf("answer props %v", out.Props)
	}
}

func TestSendBasicAuthAndTextAnswer(t *testing.T) {
	sk := newSink(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, "accepted")
	})
	s := newTestSender(t,
		operations.Settings{"auth": "basic", "username": "ann", "password": operations.NewSecret("pw")},
		fastRetry(operations.Settings{"url": sk.srv.URL + "/x", "method": "PUT"}))
	out, err := s.Send(context.Background(), operations.Document{Body: "hello"})
	if err != nil {
		t.Fatal(err)
	}
	r := sk.requests()[0]
	req := http.Request{Header: r.header}
	if u, p, ok := req.BasicAuth(); !ok || u != "ann" || p != "pw" {
		t.Errorf("basic auth %q %q %v", u, p, ok)
	}
	if r.method != "PUT" || string(r.body) != `"hello"` {
		t.Errorf("request %s %s", r.method, r.body)
	}
	if out.Body != "accepted" || out.Props[PropStatus] != "200" {
		t.Errorf("answer %#v", out)
	}
}

func TestSendRetries5xxThenSucceeds(t *testing.T) {
	for _, status := range []int{500, 502, 503} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			sk := newSink(t, func(n int, w http.ResponseWriter, r *http.Request) {
				if n <= 2 {
					jsonAnswer(status, `{"error":"down"}`)(n, w, r)
					return
				}
				jsonAnswer(200, `{"ok":true}`)(n, w, r)
			})
			s := newTestSender(t, nil, fastRetry(operations.Settings{"url": sk.srv.URL + "/x"}))
			out, err := s.Send(context.Background(), operations.Document{Body: map[string]any{"n": 1.0}})
			if err != nil {
				t.Fatalf("send: %v", err)
			}
			reqs := sk.requests()
			if len(reqs) != 3 {
				t.Fatalf("attempts = %d, want 3", len(reqs))
			}
			for _, r := range reqs {
				if string(r.body) != `{"n":1}` {
					t.Errorf("attempt sent %s", r.body)
				}
			}
			if out.Props[PropStatus] != "200" {
				t.Errorf("answer %v", out.Props)
			}
		})
	}
}

func TestSendHonoursRetryAfter(t *testing.T) {
	sk := newSink(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if n == 1 {
			w.Header().Set("Retry-After", "1")
			jsonAnswer(429, `{"error":"slow down"}`)(n, w, r)
			return
		}
		jsonAnswer(200, `{}`)(n, w, r)
	})
	// Without Retry-After the backoff would be at most 5ms.
	s := newTestSender(t, nil, fastRetry(operations.Settings{"url": sk.srv.URL}))
	if _, err := s.Send(context.Background(), operations.Document{Body: 1.0}); err != nil {
		t.Fatal(err)
	}
	reqs := sk.requests()
	if len(reqs) != 2 {
		t.Fatalf("attempts = %d, want 2", len(reqs))
	}
	// A lower bound only: the sender must not ask again before told to.
	if gap := reqs[1].at.Sub(reqs[0].at); gap < 900*time.Millisecond {
		t.Errorf("second attempt %s after the 429, want about 1s (Retry-After: 1)", gap)
	}
}

func TestSendRetryAfterCappedByMaxRetryTime(t *testing.T) {
	sk := newSink(t, func(n int, w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "3600")
		jsonAnswer(503, `{"error":"maintenance"}`)(n, w, r)
	})
	s := newTestSender(t, nil, fastRetry(operations.Settings{"url": sk.srv.URL, "maxRetryTime": 200 * time.Millisecond}))
	_, err := s.Send(context.Background(), operations.Document{Body: 1.0})
	if !errors.Is(err, ErrGaveUp) || errors.Is(err, operations.ErrPermanent) {
		t.Fatalf("err = %v, want ErrGaveUp and not permanent", err)
	}
	// One attempt, a wait cut to what remained, one last attempt.
	if n := len(sk.requests()); n != 2 {
		t.Errorf("attempts = %d, want 2", n)
	}
	if !strings.Contains(err.Error(), "2 attempt(s)") || !strings.Contains(err.Error(), "503") {
		t.Errorf("error does not say how many attempts or the last status: %v", err)
	}
}

func TestRetryAfterForms(t *testing.T) {
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"5", 5 * time.Second, true},
		{" 0 ", 0, true},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second, true},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0, true},
		{"-3", 0, false},
		{"soon", 0, false},
		{"", 0, false},
	} {
		got, ok := retryAfter(tc.in, now)
		if got != tc.want || ok != tc.ok {
			t.Errorf("retryAfter(%q) = %s, %v; want %s, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestSendClientErrorIsPermanent(t *testing.T) {
	for _, status := range []int{400, 401, 404, 409, 422} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			sk := newSink(t, jsonAnswer(status, `{"error":"bad sku A-1"}`))
			s := newTestSender(t, operations.Settings{"auth": "bearer", "token": operations.NewSecret("tok-secret-9")},
				fastRetry(operations.Settings{"url": sk.srv.URL + "/orders"}))
			_, err := s.Send(context.Background(), operations.Document{Body: map[string]any{}})
			if !errors.Is(err, operations.ErrPermanent) {
				t.Fatalf("err = %v, want ErrPermanent", err)
			}
			if n := len(sk.requests()); n != 1 {
				t.Errorf("attempts = %d, want 1", n)
			}
			msg := err.Error()
			for _, want := range []string{fmt.Sprint(status), "bad sku A-1", "test-send", "/orders"} {
				if !strings.Contains(msg, want) {
					t.Errorf("error %q does not mention %q", msg, want)
				}
			}
			if strings.Contains(msg, "tok-secret-9") || strings.Contains(msg, "Authorization") {
				t.Errorf("error shows a request header: %q", msg)
			}
		})
	}
}

func TestSendSuccessCodes(t *testing.T) {
	sk := newSink(t, jsonAnswer(404, `{"gone":true}`))
	s := newTestSender(t, nil, fastRetry(operations.Settings{"url": sk.srv.URL, "successCodes": []string{"2xx", "404"}}))
	out, err := s.Send(context.Background(), operations.Document{Body: 1.0})
	if err != nil || out.Props[PropStatus] != "404" {
		t.Fatalf("send = %v, %v; want the 404 as success", out, err)
	}
	s = newTestSender(t, nil, fastRetry(operations.Settings{"url": sk.srv.URL, "successCodes": []string{"200"}}))
	if _, err := s.Send(context.Background(), operations.Document{Body: 1.0}); !errors.Is(err, operations.ErrPermanent) {
		t.Fatalf("err = %v, want permanent", err)
	}
}

func TestSendGivesUpAfterMaxRetryTime(t *testing.T) {
	sk := newSink(t, jsonAnswer(500, `{"error":"boom"}`))
	s := newTestSender(t, nil, fastRetry(operations.Settings{"url": sk.srv.URL, "maxRetryTime": 100 * time.Millisecond}))
	_, err := s.Send(context.Background(), operations.Document{Body: 1.0})
	if !errors.Is(err, ErrGaveUp) {
		t.Fatalf("err = %v, want ErrGaveUp", err)
	}
	n := len(sk.requests())
	if n < 2 {
		t.Errorf("attempts = %d, want retries", n)
	}
	if want := fmt.Sprintf("after %d attempt(s)", n); !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not say %q", err, want)
	}
	if !strings.Contains(err.Error(), "500") || !strings.Contains(err.Error(), "boom") {
		t.Errorf("error does not carry the last failure: %v", err)
	}
}

func TestSendNoRetryWhenMaxRetryTimeZero(t *testing.T) {
	sk := newSink(t, jsonAnswer(503, `{}`))
	s := newTestSender(t, nil, fastRetry(operations.Settings{"url": sk.srv.URL, "maxRetryTime": time.Duration(0)}))
	if _, err := s.Send(context.Background(), operations.Document{Body: 1.0}); !errors.Is(err, ErrGaveUp) {
		t.Fatalf("err = %v", err)
	}
	if n := len(sk.requests()); n != 1 {
		t.Errorf("attempts = %d, want 1", n)
	}
}

func TestSendRetriesClosedPort(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close() // nothing listens there now
	s := newTestSender(t, nil, fastRetry(operations.Settings{"url": "http://" + addr + "/x", "maxRetryTime": 100 * time.Millisecond}))
	_, err = s.Send(context.Background(), operations.Document{Body: 1.0})
	if !errors.Is(err, ErrGaveUp) || errors.Is(err, operations.ErrPermanent) {
		t.Fatalf("err = %v, want ErrGaveUp", err)
	}
	if !strings.Contains(err.Error(), "refused") || strings.Contains(err.Error(), "after 1 attempt(s)") {
		t.Errorf("want several attempts refused: %v", err)
	}
}

// dropFirst accepts connections and closes the first n at once, then
// hands the rest to an HTTP server: a network error, then recovery.
type dropFirst struct {
	net.Listener
	n        int32
	accepted atomic.Int32
}

func (d *dropFirst) Accept() (net.Conn, error) {
	for {
		c, err := d.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if d.accepted.Add(1) <= d.n {
			_ = c.Close()
			continue
		}
		return c, nil
	}
}

func TestSendRetriesNetworkErrorThenSucceeds(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dl := &dropFirst{Listener: ln, n: 2}
	var handled atomic.Int32
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		handled.Add(1)
		jsonAnswer(200, `{"ok":true}`)(0, w, r)
	})}
	go func() { _ = srv.Serve(dl) }()
	t.Cleanup(func() { _ = srv.Close() })

	s := newTestSender(t, nil, fastRetry(operations.Settings{"url": "http://" + ln.Addr().String() + "/x"}))
	if _, err := s.Send(context.Background(), operations.Document{Body: 1.0}); err != nil {
		t.Fatalf("send: %v", err)
	}
	if got := handled.Load(); got != 1 {
		t.Errorf("handled %d requests, want 1", got)
	}
	if got := dl.accepted.Load(); got != 3 {
		t.Errorf("connections = %d, want 3 (two dropped, one served)", got)
	}
}

func TestSendStopsOnCancel(t *testing.T) {
	sk := newSink(t, jsonAnswer(503, `{}`))
	s := newTestSender(t, nil, fastRetry(operations.Settings{"url": sk.srv.URL, "maxRetryTime": time.Hour, "retryInitial": 50 * time.Millisecond, "retryMax": 50 * time.Millisecond}))
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		eventually(t, "first attempt", func() bool { return len(sk.requests()) > 0 })
		cancel()
	}()
	_, err := s.Send(ctx, operations.Document{Body: 1.0})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

func TestSendPlaceholders(t *testing.T) {
	sk := newSink(t, jsonAnswer(200, `{}`))
	s := newTestSender(t, operations.Settings{"baseUrl": sk.srv.URL + "/v1"},
		fastRetry(operations.Settings{
			"url":     "/orders/{prop:orderId}/lines/{body:lines.0.no}?sku={body:lines.0.sku}&tag={prop:tag}",
			"headers": map[string]string{"X-Order": "order {prop:orderId}", "X-Total": "{body:total}"},
		}))
	doc := operations.Document{
		Body:  map[string]any{"total": 12.5, "lines": []any{map[string]any{"no": 3.0, "sku": "A&B=1"}}},
		Props: map[string]string{"orderId": "a/b c", "tag": "x+y"},
	}
	if _, err := s.Send(context.Background(), doc); err != nil {
		t.Fatal(err)
	}
	r := sk.requests()[0]
	if r.path != "/v1/orders/a%2Fb%20c/lines/3" {
		t.Errorf("path %q", r.path)
	}
	if r.rawQuery != "sku=A%26B%3D1&tag=x%2By" {
		t.Errorf("query %q", r.rawQuery)
	}
	if r.header.Get("X-Order") != "order a/b c" || r.header.Get("X-Total") != "12.5" {
		t.Errorf("headers %v", r.header)
	}

	// A missing property fails for good, before sending.
	_, err := s.Send(context.Background(), operations.Document{Body: doc.Body, Props: map[string]string{"tag": "t"}})
	if !errors.Is(err, operations.ErrPermanent) || !strings.Contains(err.Error(), "{prop:orderId}") {
		t.Fatalf("err = %v, want a permanent error naming the placeholder", err)
	}
	if n := len(sk.requests()); n != 1 {
		t.Errorf("a failed placeholder sent a request (%d requests)", n)
	}
}

func TestSendTemplateBody(t *testing.T) {
	sk := newSink(t, jsonAnswer(200, `{}`))
	s := newTestSender(t, nil, fastRetry(operations.Settings{
		"url": sk.srv.URL, "body": "template",
		"template": `{"id": {{json .Props.id}}, "items": {{json .Body.items}}, "total": {{.Body.total}}}`,
	}))
	doc := operations.Document{Body: map[string]any{"items": []any{"a", "b"}, "total": 3.5}, Props: map[string]string{"id": `x"1`}}
	if _, err := s.Send(context.Background(), doc); err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(sk.requests()[0].body, &got); err != nil {
		t.Fatalf("template body is not JSON: %s", sk.requests()[0].body)
	}
	if got["id"] != `x"1` || got["total"] != 3.5 || len(got["items"].([]any)) != 2 {
		t.Errorf("template body %v", got)
	}
}

func TestSendGetHasNoBody(t *testing.T) {
	sk := newSink(t, jsonAnswer(200, `[1,2]`))
	s := newTestSender(t, nil, fastRetry(operations.Settings{"url": sk.srv.URL + "/items?id={prop:id}", "method": "GET"}))
	out, err := s.Send(context.Background(), operations.Document{Body: map[string]any{"x": 1.0}, Props: map[string]string{"id": "7"}})
	if err != nil {
		t.Fatal(err)
	}
	r := sk.requests()[0]
	if r.method != "GET" || len(r.body) != 0 || r.header.Get("Content-Type") != "" || r.rawQuery != "id=7" {
		t.Errorf("GET sent %s %q ct=%q q=%q", r.method, r.body, r.header.Get("Content-Type"), r.rawQuery)
	}
	if arr, _ := out.Body.([]any); len(arr) != 2 {
		t.Errorf("answer %#v", out.Body)
	}
}

func TestSendTLS(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		jsonAnswer(200, `{"tls":true}`)(0, w, r)
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake is expected
	srv.StartTLS()
	t.Cleanup(srv.Close)
	strict := newTestSender(t, nil, fastRetry(operations.Settings{"url": srv.URL}))
	_, err := strict.Send(context.Background(), operations.Document{Body: 1.0})
	if !errors.Is(err, operations.ErrPermanent) || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("err = %v, want a permanent certificate error", err)
	}
	lax := newTestSender(t, operations.Settings{"tlsInsecureSkipVerify": true}, fastRetry(operations.Settings{"url": srv.URL}))
	if _, err := lax.Send(context.Background(), operations.Document{Body: 1.0}); err != nil {
		t.Fatalf("insecure send: %v", err)
	}
}

func TestSecretsNeverShown(t *testing.T) {
	const pass, key, qtok = "pa55-word-zz", "key-value-qq", "qtok-yy"
	sk := newSink(t, jsonAnswer(401, `{"error":"who are you"}`))
	var logs bytes.Buffer
	conn := openConnLogged(t, operations.Settings{
		"baseUrl": strings.Replace(sk.srv.URL, "http://", "http://user:"+pass+"@", 1),
		"auth":    "basic", "username": "ann", "password": operations.NewSecret(pass),
		"headers": map[string]string{"X-Api-Key": key},
	}, &logs)
	snd, err := conn.Sender("secret-send", fastRetry(operations.Settings{"url": "/x?access_token=" + qtok + "&page=2"}))
	if err != nil {
		t.Fatal(err)
	}
	doc := operations.Document{Body: map[string]any{"a": 1.0}}
	_, sendErr := snd.Send(context.Background(), doc)
	if !errors.Is(sendErr, operations.ErrPermanent) {
		t.Fatalf("err = %v", sendErr)
	}
	if sk.requests()[0].header.Get("X-Api-Key") != key {
		t.Fatal("the key was not sent")
	}
	dry, err := snd.(operations.DryRunner).DryRun(doc)
	if err != nil {
		t.Fatal(err)
	}
	dryText, _ := json.Marshal(dry)
	for _, shown := range []string{sendErr.Error(), string(dryText), fmt.Sprintf("%+v %#v", snd, conn), logs.String()} {
		for _, secret := range []string{pass, key, qtok} {
			if strings.Contains(shown, secret) {
				t.Errorf("secret %q shown in %s", secret, shown)
			}
		}
	}
	d := dry.Body.(map[string]any)
	if d["method"] != "POST" || !strings.Contains(d["url"].(string), "page=2") || dry.Props[PropDryRun] != "true" {
		t.Errorf("dry run %s", dryText)
	}
	h := d["headers"].(map[string]any)
	if h["Authorization"] != redacted || h["X-Api-Key"] != redacted || h["Content-Type"] != "application/json" {
		t.Errorf("dry-run headers %v", h)
	}
	if b, _ := d["body"].(map[string]any); b["a"] != 1.0 {
		t.Errorf("dry-run body %v", d["body"])
	}
	if n := len(sk.requests()); n != 1 {
		t.Errorf("dry run sent a request (%d requests)", n)
	}
}

func TestOpenAndSenderRefuseBadSettings(t *testing.T) {
	conns := []struct {
		s    operations.Settings
		want string
	}{
		{operations.Settings{"baseUrl": "ftp://x"}, "baseUrl"},
		{operations.Settings{"baseUrl": "not a url"}, "baseUrl"},
		{operations.Settings{"auth": "basic"}, "username"},
		{operations.Settings{"auth": "bearer"}, "token"},
		{operations.Settings{"auth": "magic"}, "auth"},
		{operations.Settings{"headers": map[string]string{"Bad Name": "x"}}, "header name"},
		{operations.Settings{"timeout": -time.Second}, "timeout"},
	}
	for _, tc := range conns {
		if _, err := Open("c", tc.s, operations.Env{}); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Open(%v) = %v, want an error about %s", tc.s, err, tc.want)
		}
	}
	ops := []struct {
		s    operations.Settings
		want string
	}{
		{operations.Settings{}, "url is not set"},
		{operations.Settings{"url": "/relative"}, "no baseUrl"},
		{operations.Settings{"url": "ftp://host/x"}, "http and https"},
		{operations.Settings{"url": "http://h/{prop:x"}, "closing"},
		{operations.Settings{"url": "http://h/{prop:}"}, "names nothing"},
		{operations.Settings{"url": "http://h", "body": "template"}, "template is not set"},
		{operations.Settings{"url": "http://h", "body": "template", "template": "{{"}, "template"},
		{operations.Settings{"url": "http://h", "template": "x"}, "body: template"},
		{operations.Settings{"url": "http://h", "successCodes": []string{"2x"}}, "successCodes"},
		{operations.Settings{"url": "http://h", "retryInitial": time.Second, "retryMax": time.Millisecond}, "retryMax"},
		{operations.Settings{"url": "http://h", "timeout": time.Duration(0)}, "timeout"},
	}
	c := openConn(t, nil, operations.Env{})
	for _, tc := range ops {
		if _, err := c.Sender("op", tc.s); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Sender(%v) = %v, want an error about %s", tc.s, err, tc.want)
		}
	}
}

func TestRegister(t *testing.T) {
	reg := operations.NewRegistry()
	if err := Register(reg); err != nil {
		t.Fatal(err)
	}
	c, ok := reg.Get("http")
	if !ok || c.Listen == nil || c.Send == nil || c.Open == nil {
		t.Fatalf("registered %+v", c)
	}
	for _, spec := range []operations.Spec{c.Connection, *c.Listen, *c.Send} {
		for _, f := range spec.Fields {
			if f.Doc == "" {
				t.Errorf("field %s has no doc", f.Name)
			}
			if f.Type == operations.Enum && f.Default != nil && !contains(f.Enum, f.Default.(string)) {
				t.Errorf("field %s: default %v not in %v", f.Name, f.Default, f.Enum)
			}
		}
	}
	if err := Register(reg); err == nil {
		t.Error("registering twice succeeded")
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func BenchmarkSend(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"ok":true}`)
	}))
	b.Cleanup(srv.Close)
	s := newTestSender(b, operations.Settings{"baseUrl": srv.URL, "headers": map[string]string{"X-Api-Key": "k"}},
		operations.Settings{"url": "/orders/{prop:orderId}"})
	doc := operations.Document{
		Body:  map[string]any{"orderId": "o-1", "sku": "A-1", "qty": 2.0, "price": 9.99, "customer": map[string]any{"id": "c-7", "tier": "gold"}},
		Props: map[string]string{"orderId": "o-1"},
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.Send(context.Background(), doc); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}

func TestSendTemplateMissingFieldIsPermanent(t *testing.T) {
	sk := newSink(t, jsonAnswer(200, `{}`))
	s := newTestSender(t, nil, fastRetry(operations.Settings{
		"url": sk.srv.URL, "body": "template", "template": `{"total": {{.Body.total}}, "note": {{json (index .Body "note")}}}`,
	}))
	if _, err := s.Send(context.Background(), operations.Document{Body: map[string]any{"total": 1.0}}); err != nil {
		t.Fatalf("an optional field read with index failed: %v", err)
	}
	if got := string(sk.requests()[0].body); got != `{"total": 1, "note": null}` {
		t.Errorf("body %s", got)
	}
	_, err := s.Send(context.Background(), operations.Document{Body: map[string]any{}})
	if !errors.Is(err, operations.ErrPermanent) || !strings.Contains(err.Error(), "total") {
		t.Fatalf("err = %v, want a permanent error naming the field", err)
	}
	if n := len(sk.requests()); n != 1 {
		t.Errorf("requests = %d, want 1", n)
	}
}
