package httpconn

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/atomrt/atom/operations"
	"github.com/atomrt/atom/persistence"
)

const hookPath = "/hooks/orders"

// newWebhook makes a webhook listener on a real router. Requests to a
// listener that is not running are answered at once (no start grace).
func newWebhook(t *testing.T, env operations.Env, s operations.Settings) (*testWebhooks, *listener) {
	t.Helper()
	wh := newTestWebhooks(t)
	env.Webhooks = wh
	c := openConn(t, nil, env)
	settings := operations.Settings{"path": hookPath}
	for k, v := range s {
		settings[k] = v
	}
	l, err := c.Listener("orders-hook", settings)
	if err != nil {
		t.Fatalf("listener: %v", err)
	}
	l.(*listener).ep.grace = 0
	t.Cleanup(func() { _ = l.(io.Closer).Close() })
	return wh, l.(*listener)
}

func TestWebhookCompleteRepliesWithReplyDocument(t *testing.T) {
	wh, l := newWebhook(t, operations.Env{}, nil)
	if l.Key() != "POST /hooks/orders" {
		t.Errorf("key %q", l.Key())
	}
	st := newTestStream(func(ev operations.Event) *operations.Outcome {
		body := ev.Doc.Body.(map[string]any)
		return &operations.Outcome{Reply: &operations.Document{Body: map[string]any{"orderId": body["id"], "status": "received"}}}
	})
	runListener(t, l, st)

	status, ans, _ := wh.post(t, hookPath+"?source=shop&token=qs-secret", `{"id":"o-1","qty":2}`, map[string]string{
		"X-Request-Id": "req-9", "Authorization": "Bearer hdr-secret", "Cookie": "s=cookie-secret",
	})
	if status != 200 || ans["orderId"] != "o-1" || ans["status"] != "received" {
		t.Fatalf("answer %d %v", status, ans)
	}
	evs := st.delivered()
	if len(evs) != 1 {
		t.Fatalf("delivered %d events, want 1", len(evs))
	}
	doc := evs[0].Doc
	if b := doc.Body.(map[string]any); b["id"] != "o-1" || b["qty"] != 2.0 {
		t.Errorf("body %v", doc.Body)
	}
	want := map[string]string{
		PropMethod: "POST", PropPath: hookPath, PropQueryPrefix + "source": "shop",
		PropHeaderPrefix + "content-type": "application/json", PropHeaderPrefix + "x-request-id": "req-9",
	}
	for k, v := range want {
		if doc.Props[k] != v {
			t.Errorf("prop %s = %q, want %q", k, doc.Props[k], v)
		}
	}
	for k, v := range doc.Props {
		if strings.Contains(v, "secret") || strings.Contains(k, "authorization") || strings.Contains(k, "cookie") {
			t.Errorf("credential copied into props: %s=%s", k, v)
		}
	}
}

func TestWebhookCompleteOutcomes(t *testing.T) {
	for _, tc := range []struct {
		name    string
		outcome operations.Outcome
		status  int
		check   func(ans map[string]any) bool
	}{
		{"no reply", operations.Outcome{}, 200, func(a map[string]any) bool { return a["status"] == "ok" }},
		{"failed", operations.Outcome{Err: errors.New("mapping orders: field total: not a number")}, 500,
			func(a map[string]any) bool {
				msg := a["error"].(string)
				return a["code"] == "process_failed" && strings.Contains(msg, "retry") && !strings.Contains(msg, "field total")
			}},
		{"dead-lettered", operations.Outcome{DeadLettered: 1}, 422,
			func(a map[string]any) bool {
				return a["code"] == "dead_lettered" && a["deadLettered"] == 1.0 && strings.Contains(a["error"].(string), "dead letter")
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wh, l := newWebhook(t, operations.Env{}, nil)
			st := newTestStream(func(operations.Event) *operations.Outcome { o := tc.outcome; return &o })
			runListener(t, l, st)
			status, ans, _ := wh.post(t, hookPath, `{"id":"o-1"}`, nil)
			if status != tc.status || !tc.check(ans) {
				t.Errorf("answer %d %v, want %d", status, ans, tc.status)
			}
			if n := len(st.delivered()); n != 1 {
				t.Errorf("delivered %d, want 1", n)
			}
		})
	}
}

func TestWebhookRefusesBadJSON(t *testing.T) {
	for _, tc := range []struct {
		body string
		want []string
	}{
		{`{"a":1,}`, []string{"not JSON", "at byte 8 (line 1, column 8)"}},
		{"{\n  \"a\": tru\n}", []string{"not JSON", "line 2, column 11"}},
		{`{"a":1} x`, []string{"after top-level value"}},
		{`{"a":`, []string{"unexpected end"}},
		{"  ", []string{"empty"}},
	} {
		t.Run(tc.body, func(t *testing.T) {
			wh, l := newWebhook(t, operations.Env{}, nil)
			st := newTestStream(okOutcome)
			runListener(t, l, st)
			status, ans, _ := wh.post(t, hookPath, tc.body, nil)
			if status != 400 || ans["code"] != "bad_json" {
				t.Fatalf("answer %d %v, want 400 bad_json", status, ans)
			}
			for _, w := range tc.want {
				if !strings.Contains(ans["error"].(string), w) {
					t.Errorf("error %q does not say %q", ans["error"], w)
				}
			}
			if n := len(st.delivered()); n != 0 {
				t.Errorf("delivered %d, want 0", n)
			}
			if st.count("webhook_bad_json") != 1 {
				t.Errorf("bad JSON not counted")
			}
		})
	}
}

// hiddenLength hides a body's length so that it is sent chunked.
type hiddenLength struct{ r io.Reader }

func (h hiddenLength) Read(p []byte) (int, error) { return h.r.Read(p) }

func TestWebhookRefusesLargeBody(t *testing.T) {
	wh, l := newWebhook(t, operations.Env{}, operations.Settings{"maxBodyBytes": int64(64)})
	st := newTestStream(okOutcome)
	runListener(t, l, st)
	big := `{"pad":"` + strings.Repeat("x", 100) + `"}`

	status, ans, _ := wh.post(t, hookPath, big, nil)
	if status != 413 || ans["code"] != "body_too_large" || !strings.Contains(ans["error"].(string), "64 bytes") {
		t.Errorf("with Content-Length: %d %v", status, ans)
	}
	req, _ := http.NewRequest(http.MethodPost, wh.srv.URL+hookPath, hiddenLength{strings.NewReader(big)})
	resp, err := wh.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 413 || resp.ContentLength == 0 {
		t.Errorf("chunked: %d", resp.StatusCode)
	}
	if status, _, _ := wh.post(t, hookPath, `{"small":true}`, nil); status != 200 {
		t.Errorf("small body: %d", status)
	}
	if n := len(st.delivered()); n != 1 {
		t.Errorf("delivered %d, want only the small one", n)
	}
}

func TestWebhookPausedAnswers503NotFound404(t *testing.T) {
	wh, l := newWebhook(t, operations.Env{}, nil)
	st := newTestStream(okOutcome)

	assertPaused := func(when string) {
		t.Helper()
		status, ans, h := wh.post(t, hookPath, `{"a":1}`, nil)
		if status != 503 || ans["code"] != "listener_paused" || !strings.Contains(ans["error"].(string), "paused") || h.Get("Retry-After") == "" {
			t.Errorf("%s: answer %d %v (Retry-After %q), want 503 listener_paused", when, status, ans, h.Get("Retry-After"))
		}
	}
	assertPaused("before Run")
	stop := runListener(t, l, st)
	if status, _, _ := wh.post(t, hookPath, `{"a":1}`, nil); status != 200 {
		t.Errorf("running: %d", status)
	}
	stop()
	assertPaused("after Run")
	if n := len(st.delivered()); n != 1 {
		t.Errorf("delivered %d, want 1 (only while running)", n)
	}
	_ = l.Close()
	if status, _, _ := wh.post(t, hookPath, `{"a":1}`, nil); status != 404 {
		t.Errorf("after Close: %d, want 404", status)
	}
	if err := l.Run(t.Context(), st); !errors.Is(err, ErrClosed) {
		t.Errorf("Run after Close = %v, want ErrClosed", err)
	}
}

func TestWebhookWaitsBrieflyForRunToStart(t *testing.T) {
	wh, l := newWebhook(t, operations.Env{}, nil)
	l.ep.grace = 10 * time.Second // a redeploy: the new listener is about to run
	st := newTestStream(okOutcome)
	got := make(chan int, 1)
	go func() {
		status, _, _ := wh.post(t, hookPath, `{"a":1}`, nil)
		got <- status
	}()
	runListener(t, l, st)
	if status := <-got; status != 200 {
		t.Errorf("answer %d, want 200 once Run started", status)
	}
}

func TestWebhookTimeoutAnswers504(t *testing.T) {
	wh, l := newWebhook(t, operations.Env{}, operations.Settings{"timeout": 50 * time.Millisecond})
	st := newTestStream(func(operations.Event) *operations.Outcome { return nil }) // never finishes
	runListener(t, l, st)
	status, ans, _ := wh.post(t, hookPath, `{"a":1}`, nil)
	if status != 504 || ans["code"] != "timeout" {
		t.Fatalf("answer %d %v, want 504", status, ans)
	}
	if n := len(st.delivered()); n != 1 {
		t.Errorf("delivered %d, want 1 (the run goes on)", n)
	}
	if st.count("webhook_timeouts") != 1 {
		t.Error("timeout not counted")
	}
}

func TestWebhookBusyAnswers503(t *testing.T) {
	wh, l := newWebhook(t, operations.Env{}, operations.Settings{"timeout": 50 * time.Millisecond})
	st := newTestStream(okOutcome)
	st.block = make(chan struct{}) // the runtime never takes the event
	runListener(t, l, st)
	status, ans, h := wh.post(t, hookPath, `{"a":1}`, nil)
	if status != 503 || ans["code"] != "busy" || h.Get("Retry-After") == "" {
		t.Fatalf("answer %d %v, want 503 busy", status, ans)
	}
	if n := len(st.delivered()); n != 0 {
		t.Errorf("delivered %d, want 0", n)
	}
}

func TestWebhookStoppingWhileWaitingToDeliver(t *testing.T) {
	wh, l := newWebhook(t, operations.Env{}, nil)
	st := newTestStream(okOutcome)
	st.block = make(chan struct{})
	stop := runListener(t, l, st)
	type result struct {
		status int
		ans    map[string]any
	}
	got := make(chan result, 1)
	go func() {
		status, ans, _ := wh.post(t, hookPath, `{"a":1}`, nil)
		got <- result{status, ans}
	}()
	eventually(t, "request waiting in Deliver", func() bool { return st.waiting.Load() == 1 })
	stop()
	r := <-got
	if r.status != 503 || r.ans["code"] != "stopping" {
		t.Errorf("answer %d %v, want 503 stopping", r.status, r.ans)
	}
}

func TestWebhookSharedRoute(t *testing.T) {
	wh := newTestWebhooks(t)
	c := openConn(t, nil, operations.Env{Webhooks: wh})
	s := operations.Settings{"path": hookPath}
	a, err := c.Listener("a", s)
	if err != nil {
		t.Fatal(err)
	}
	b, err := c.Listener("b", operations.Settings{"path": hookPath, "method": "POST", "ack": "complete"})
	if err != nil {
		t.Fatalf("second operation on the same webhook: %v", err)
	}
	a.(*listener).ep.grace = 0
	if _, err := c.Listener("c", operations.Settings{"path": hookPath, "maxBodyBytes": int64(10)}); err == nil || !strings.Contains(err.Error(), "other settings") {
		t.Errorf("other settings on one webhook: %v", err)
	}
	_ = b.(io.Closer).Close()
	if status, _, _ := wh.post(t, hookPath, `{}`, nil); status != 503 {
		t.Errorf("after closing one of two: %d, want 503 (still served, not running)", status)
	}
	_ = a.(io.Closer).Close()
	if status, _, _ := wh.post(t, hookPath, `{}`, nil); status != 404 {
		t.Errorf("after closing both: %d, want 404", status)
	}
}

func TestListenerRefusesBadSettings(t *testing.T) {
	wh := newTestWebhooks(t)
	c := openConn(t, nil, operations.Env{Webhooks: wh})
	for _, tc := range []struct {
		s    operations.Settings
		want string
	}{
		{operations.Settings{}, "path"},
		{operations.Settings{"path": "hooks"}, "path"},
		{operations.Settings{"path": "/h?x=1"}, "path"},
		{operations.Settings{"path": "/h", "ack": "later"}, "ack"},
		{operations.Settings{"path": "/h", "maxBodyBytes": int64(0)}, "maxBodyBytes"},
		{operations.Settings{"path": "/h", "timeout": time.Duration(0)}, "timeout"},
		{operations.Settings{"path": "/h", "headerProps": []string{"X-Hub-Signature"}}, "credential"},
		{operations.Settings{"path": "/h", "headerProps": []string{"Authorization"}}, "credential"},
		{operations.Settings{"path": "/h", "ack": "accepted"}, "store"}, // no Inbox in this Env
	} {
		if _, err := c.Listener("op", tc.s); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Listener(%v) = %v, want an error about %s", tc.s, err, tc.want)
		}
	}
	bare := openConn(t, nil, operations.Env{})
	if _, err := bare.Listener("op", operations.Settings{"path": "/h"}); err == nil {
		t.Error("a listener without Webhooks was made")
	}
}

func TestWebhookHeaderProps(t *testing.T) {
	wh, l := newWebhook(t, operations.Env{}, operations.Settings{"headerProps": []string{"x-github-event"}})
	st := newTestStream(okOutcome)
	runListener(t, l, st)
	wh.post(t, hookPath, `{}`, map[string]string{"X-GitHub-Event": "push", "X-Other": "no"})
	p := st.delivered()[0].Doc.Props
	if p["http.header.x-github-event"] != "push" || p["http.header.x-other"] != "" {
		t.Errorf("props %v", p)
	}
}

// openStore opens a real bbolt store in dir.
func openStore(t *testing.T, dir string) *persistence.Store {
	t.Helper()
	st, err := persistence.Open(filepath.Join(dir, "atom.db"), persistence.Options{})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	return st
}

func TestWebhookAcceptedQueuesThenProcesses(t *testing.T) {
	store := openStore(t, t.TempDir())
	t.Cleanup(func() { _ = store.Close() })
	wh, l := newWebhook(t, operations.Env{Inbox: store}, operations.Settings{"ack": "accepted"})

	// Paused: refused, and nothing stored.
	st := newTestStream(okOutcome)
	if status, ans, _ := wh.post(t, hookPath, `{"n":0}`, nil); status != 503 || ans["code"] != "listener_paused" {
		t.Fatalf("paused: %d %v", status, ans)
	}
	runListener(t, l, st)
	var ids []string
	for i := 1; i <= 3; i++ {
		status, ans, _ := wh.post(t, hookPath, fmt.Sprintf(`{"n":%d}`, i), nil)
		if status != 202 || ans["status"] != "accepted" {
			t.Fatalf("post %d: %d %v", i, status, ans)
		}
		ids = append(ids, fmt.Sprint(ans["id"]))
	}
	eventually(t, "3 deliveries", func() bool { return len(st.delivered()) == 3 })
	for i, ev := range st.delivered() {
		if ev.Doc.Props[PropInboxID] != ids[i] || ev.Doc.Body.(map[string]any)["n"] != float64(i+1) {
			t.Errorf("event %d: %v %v, want id %s", i, ev.Doc.Props, ev.Doc.Body, ids[i])
		}
		if ev.Doc.Props[PropMethod] != "POST" {
			t.Errorf("event %d lost its request props: %v", i, ev.Doc.Props)
		}
	}
	eventually(t, "inbox emptied", func() bool {
		p, err := store.Pending(l.ep.inboxName)
		return err == nil && len(p) == 0
	})
	if n := len(st.delivered()); n != 3 {
		t.Errorf("delivered %d, want 3", n)
	}
}

func TestWebhookAcceptedSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	store := openStore(t, dir)
	wh := newTestWebhooks(t)
	c := openConn(t, nil, operations.Env{Webhooks: wh, Inbox: store})
	l, err := c.Listener("orders-hook", operations.Settings{"path": hookPath, "ack": "accepted"})
	if err != nil {
		t.Fatal(err)
	}
	// The first atom takes three documents and fails or crashes before
	// finishing any: one run fails without keeping its document, the
	// others never finish.
	first := newTestStream(func(ev operations.Event) *operations.Outcome {
		if ev.Doc.Body.(map[string]any)["n"] == 1.0 {
			return &operations.Outcome{Err: errors.New("target down, not kept")}
		}
		return nil
	})
	stop := runListener(t, l, first)
	for i := 1; i <= 3; i++ {
		if status, ans, _ := wh.post(t, hookPath, fmt.Sprintf(`{"n":%d}`, i), nil); status != 202 {
			t.Fatalf("post %d: %d %v", i, status, ans)
		}
	}
	eventually(t, "first delivery", func() bool { return len(first.delivered()) == 3 })
	stop()
	_ = l.(io.Closer).Close()
	_ = c.Close()
	name := l.(*listener).ep.inboxName
	kept, err := store.Pending(name)
	if err != nil || len(kept) != 3 {
		t.Fatalf("kept %d documents (%v), want 3", len(kept), err)
	}
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}

	// The atom starts again on the same file.
	store = openStore(t, dir)
	t.Cleanup(func() { _ = store.Close() })
	c2 := openConn(t, nil, operations.Env{Webhooks: wh, Inbox: store})
	l2, err := c2.Listener("orders-hook", operations.Settings{"path": hookPath, "ack": "accepted"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l2.(io.Closer).Close() })
	second := newTestStream(okOutcome)
	runListener(t, l2, second)
	eventually(t, "redelivery", func() bool { return len(second.delivered()) == 3 })
	for i, ev := range second.delivered() {
		if ev.Doc.Body.(map[string]any)["n"] != float64(i+1) || ev.Doc.Props[PropInboxID] != fmt.Sprint(kept[i].ID) {
			t.Errorf("redelivered %d: %v %v, want n=%d id=%d", i, ev.Doc.Body, ev.Doc.Props, i+1, kept[i].ID)
		}
	}
	eventually(t, "inbox emptied", func() bool {
		p, err := store.Pending(name)
		return err == nil && len(p) == 0
	})
	// And new documents still flow.
	if status, _, _ := wh.post(t, hookPath, `{"n":4}`, nil); status != 202 {
		t.Fatalf("post after restart: %d", status)
	}
	eventually(t, "new delivery", func() bool { return len(second.delivered()) == 4 })
}

func TestWebhookAcceptedOverflowDeliversEachOnce(t *testing.T) {
	store := openStore(t, t.TempDir())
	t.Cleanup(func() { _ = store.Close() })
	wh, l := newWebhook(t, operations.Env{Inbox: store}, operations.Settings{"ack": "accepted"})
	l.ep.queueCap = 2
	st := newTestStream(okOutcome)
	st.block = make(chan struct{}) // the runtime is busy: back-pressure
	runListener(t, l, st)
	const n = 20
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if status, ans, _ := wh.post(t, hookPath, fmt.Sprintf(`{"n":%d}`, i), nil); status != 202 {
				t.Errorf("post %d: %d %v", i, status, ans)
			}
		}()
	}
	wg.Wait()
	if p, _ := store.Pending(l.ep.inboxName); len(p) != n {
		t.Fatalf("stored %d, want %d", len(p), n)
	}
	close(st.block)
	eventually(t, "all delivered", func() bool { return len(st.delivered()) == n })
	eventually(t, "inbox emptied", func() bool {
		p, err := store.Pending(l.ep.inboxName)
		return err == nil && len(p) == 0
	})
	seen := map[string]bool{}
	for _, ev := range st.delivered() {
		id := ev.Doc.Props[PropInboxID]
		if seen[id] {
			t.Errorf("document %s delivered twice", id)
		}
		seen[id] = true
	}
	if len(st.delivered()) != n {
		t.Errorf("delivered %d, want %d", len(st.delivered()), n)
	}
}

func BenchmarkWebhookComplete(b *testing.B) {
	wh := newTestWebhooks(b)
	srv := wh.srv
	c := openConn(b, nil, operations.Env{Webhooks: wh})
	l, err := c.Listener("bench", operations.Settings{"path": hookPath})
	if err != nil {
		b.Fatal(err)
	}
	st := newTestStream(okOutcome)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = l.Run(ctx, st) }()
	if l.(*listener).ep.awaitRun(ctx) == nil {
		b.Fatal("listener did not start")
	}
	body := `{"orderId":"o-1","sku":"A-1","qty":2,"price":9.99,"customer":{"id":"c-7","tier":"gold"}}`
	client := srv.Client()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := client.Post(srv.URL+hookPath, "application/json", strings.NewReader(body))
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}
