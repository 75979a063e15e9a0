package examples

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/atomrt/atom/atom"
	"github.com/atomrt/atom/emulator"
	"github.com/atomrt/atom/operations/standard"
	"github.com/atomrt/atom/persistence"
	"github.com/atomrt/atom/processes"
	"github.com/atomrt/atom/web"
)

func TestEveryExampleValidates(t *testing.T) {
	reg, err := standard.Registry()
	if err != nil {
		t.Fatal(err)
	}
	files, err := processes.ReadPath(".")
	if err != nil {
		t.Fatal(err)
	}
	set, err := processes.Load(reg, files)
	if err != nil {
		t.Fatalf("examples do not validate:\n%v", err)
	}
	if len(set.Processes) < 2 {
		t.Fatalf("only %d processes in examples/", len(set.Processes))
	}
}

// TestEveryExampleTestPasses runs the Test components of examples/, as
// `atom test --processes examples` does: each a dry run, nothing sent.
func TestEveryExampleTestPasses(t *testing.T) {
	reg, err := standard.Registry()
	if err != nil {
		t.Fatal(err)
	}
	files, err := processes.ReadPath(".")
	if err != nil {
		t.Fatal(err)
	}
	results, err := atom.RunTests(context.Background(), reg, files)
	if err != nil {
		t.Fatalf("examples' tests cannot run: %v", err)
	}
	if len(results) < 10 {
		t.Errorf("only %d Test components in examples/", len(results))
	}
	tested := map[string]bool{}
	for _, r := range results {
		tested[r.Test.Process] = true
		for _, f := range r.Failures {
			t.Errorf("test %s (process %s): %v", r.Test.Name, r.Test.Process, f)
		}
	}
	for _, p := range []string{"orders-in", "stock-levels", "printer-reorder", "opportunity-won-notify", "order-placed-fanout"} {
		if !tested[p] {
			t.Errorf("process %s has no Test in examples/", p)
		}
	}
}

// received is a sink that records what each path got.
type received struct {
	mu  sync.Mutex
	got map[string][]map[string]any
	hdr map[string][]http.Header
}

func newReceiver(t *testing.T) (*received, *httptest.Server) {
	r := &received{got: map[string][]map[string]any{}, hdr: map[string][]http.Header{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		var body map[string]any
		if err := json.NewDecoder(req.Body).Decode(&body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.mu.Lock()
		r.got[req.URL.Path] = append(r.got[req.URL.Path], body)
		r.hdr[req.URL.Path] = append(r.hdr[req.URL.Path], req.Header.Clone())
		r.mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(srv.Close)
	return r, srv
}

func (r *received) at(path string) []map[string]any {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]map[string]any(nil), r.got[path]...)
}

type atomUnderTest struct {
	rt    *atom.Runtime
	store *persistence.Store
	url   string
	org   *emulator.Emulator
}

// runAtom starts a Salesforce org emulator and a real atom on examples/
// pointed at it, with its store in dir, serving on a loopback port.
func runAtom(t *testing.T, dir string) *atomUnderTest {
	t.Helper()
	org, err := emulator.New(emulator.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	if err := org.Listen("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = org.Close() })
	t.Setenv("SF_LOGIN_URL", org.URL())
	reg, err := standard.Registry()
	if err != nil {
		t.Fatal(err)
	}
	store, err := persistence.Open(filepath.Join(dir, "atom.db"), persistence.Options{})
	if err != nil {
		t.Fatal(err)
	}
	rt, err := atom.New(atom.Options{Registry: reg, Store: store, Log: zerolog.New(io.Discard)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := rt.Start(ctx); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := web.NewServer("", web.Handler(rt, web.Options{}))
	go func() { _ = srv.Serve(ln) }()
	a := &atomUnderTest{rt: rt, store: store, url: "http://" + ln.Addr().String(), org: org}
	t.Cleanup(func() {
		stopCtx, done := context.WithTimeout(context.Background(), 10*time.Second)
		defer done()
		if err := rt.Stop(stopCtx); err != nil {
			t.Errorf("stop: %v", err)
		}
		_ = srv.Shutdown(stopCtx)
		cancel()
		if err := store.Close(); err != nil {
			t.Errorf("close store: %v", err)
		}
	})
	files, err := processes.ReadPath(".")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rt.Deploy(files, "test", ""); err != nil {
		t.Fatalf("deploy examples: %v", err)
	}
	return a
}

func post(t *testing.T, url, body string) (int, map[string]any) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	data, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(data, &out)
	return resp.StatusCode, out
}

func TestOrderWebhookRoutesToSubProcessesAndDeadLettersPoison(t *testing.T) {
	rcv, sink := newReceiver(t)
	t.Setenv("ATOM_SINK_URL", sink.URL)
	t.Setenv("ATOM_SINK_KEY", "k-123")
	a := runAtom(t, t.TempDir())

	orders := []string{
		`{"id":"o-1","customer":{"name":"Ada","tier":"gold"},"lines":[{"sku":"A-1","qty":2,"price":40}]}`,
		`{"id":"o-2","customer":{"name":"Bob"},"lines":[{"sku":"B-1","qty":1,"price":30}]}`,
		`{"id":"o-3","customer":{"name":"Cy"},"lines":[]}`,
		`{"id":"o-4","customer":{"name":"Di"},"lines":[{"sku":"C-1","qty":10,"price":60}]}`,
	}
	var codes []int
	var replies []map[string]any
	for _, o := range orders {
		code, reply := post(t, a.url+"/hooks/orders", o)
		codes = append(codes, code)
		replies = append(replies, reply)
	}
	if want := []int{200, 200, 422, 200}; !equal(codes, want) {
		t.Fatalf("webhook answers %v, want %v (replies %v)", codes, want, replies)
	}
	if replies[0]["priority"] != "high" || replies[1]["priority"] != "normal" {
		t.Errorf("replies = %v, want o-1 high and o-2 normal", replies)
	}

	prio, std := rcv.at("/fulfilment/priority"), rcv.at("/fulfilment/standard")
	if ids(prio) != "o-1,o-4" || ids(std) != "o-2" {
		t.Fatalf("priority got %s, standard got %s; want o-1,o-4 and o-2", ids(prio), ids(std))
	}
	if prio[1]["total"] != float64(600) || prio[0]["customer"] != "Ada" {
		t.Errorf("mapped documents wrong: %v", prio)
	}
	if h := rcv.hdr["/fulfilment/priority"][0]; h.Get("Idempotency-Key") != "o-1" || h.Get("X-Api-Key") != "k-123" {
		t.Errorf("headers sent = %v", h)
	}

	dls, err := a.store.DeadLetters(persistence.DeadLetterQuery{})
	if err != nil || len(dls) != 1 {
		t.Fatalf("dead letters = %v, %v; want exactly the order without lines", dls, err)
	}
	body := dls[0].Doc.Body.(map[string]any)
	if body["id"] != "o-3" || dls[0].Process != "orders-in" || !strings.Contains(dls[0].Error, "has no lines") {
		t.Errorf("dead letter = %+v", dls[0])
	}
}

func TestStockWebhookAcceptsThenProcesses(t *testing.T) {
	rcv, sink := newReceiver(t)
	t.Setenv("ATOM_SINK_URL", sink.URL)
	a := runAtom(t, t.TempDir())
	levels := []string{
		`{"sku":"INK-BK-02","warehouse":"AMS","onHand":3,"reorderPoint":10}`,
		`{"sku":"INK-CY-02","warehouse":"NYC","onHand":40,"reorderPoint":10}`,
		`{"sku":"TONER-7","warehouse":"SYD","onHand":0,"reorderPoint":4}`,
	}
	for _, l := range levels {
		if code, out := post(t, a.url+"/hooks/stock", l); code != http.StatusAccepted {
			t.Fatalf("stock webhook answered %d %v, want 202", code, out)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(rcv.at("/reorders")) < 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	got := rcv.at("/reorders")
	if len(got) != 2 {
		t.Fatalf("reorders = %v, want 2 (the NYC level is above its reorder point)", got)
	}
	want := `{"request":{"quantity":17,"reason":"stock 3 under 10","sku":"INK-BK-02","supplier":"supplies-eu"},"tags":["auto-reorder","AMS"]}`
	if b, _ := json.Marshal(got[0]); !bytes.Equal(b, []byte(want)) {
		t.Errorf("first reorder = %s\nwant %s", b, want)
	}
	if req := got[1]["request"].(map[string]any); req["supplier"] != "supplies-global" || req["quantity"] != float64(8) {
		t.Errorf("second reorder = %v, want the global supplier and 8", got[1])
	}
}

func ids(docs []map[string]any) string {
	var s []string
	for _, d := range docs {
		s = append(s, d["orderId"].(string))
	}
	return strings.Join(s, ",")
}

func equal(a, b []int) bool {
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
