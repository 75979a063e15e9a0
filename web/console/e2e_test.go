package console_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/atomrt/atom/atom"
	"github.com/atomrt/atom/emulator"
	"github.com/atomrt/atom/operations"
	"github.com/atomrt/atom/operations/standard"
	"github.com/atomrt/atom/persistence"
	"github.com/atomrt/atom/processes"
	"github.com/atomrt/atom/web"
)

var updateDocs = flag.Bool("console.docs", false, "copy the browser test's dashboard screenshot to docs/console.png")

const (
	chromiumPath = "/usr/bin/chromium"
	e2eToken     = "e2e-console-token"
	// The emulator's built-in connected app (emulator/default.yaml). The
	// secret is written literally in the deployment so that the test can
	// check the console never shows it.
	emuClientID     = "atom-emulator"
	emuClientSecret = "atom-emulator-secret"
	orderEvent      = "Order_Placed__e"
	sfListener      = "sf:/event/" + orderEvent
	mainProcess     = "orders-in"
	pausedEvents    = 5
	poisonOrder     = "POISON-1"
	refusedOrder    = "REFUSED-1" // the sink never takes it
)

// deployment is what the browser test runs: Salesforce order events mapped,
// routed to a sub-process or sent to a sink, and an HTTP webhook listener
// beside it so that the dashboard shows two kinds.
const deployment = `kind: Connection
name: sf
type: salesforce
settings:
  loginUrl: {{EMULATOR}}
  grant: client_credentials
  clientId: ` + emuClientID + `
  clientSecret: ` + emuClientSecret + `
---
kind: Connection
name: inbound
type: http
---
kind: Connection
name: sink
type: http
settings:
  baseUrl: {{SINK}}
---
kind: Operation
name: order-events
connection: sf
action: listen
settings:
  event: ` + orderEvent + `
  initial: all
---
kind: Operation
name: order-webhook
connection: inbound
action: listen
settings:
  path: /hooks/orders
---
kind: Operation
name: fulfil
connection: sink
action: send
settings:
  url: /fulfilment/standard
  maxRetryTime: 0s
---
kind: Operation
name: fulfil-express
connection: sink
action: send
settings:
  url: /fulfilment/express
  maxRetryTime: 0s
---
kind: Mapping
name: order-to-fulfilment
fields:
  orderId: body.Order_Number__c
  customer: body.Customer_Id__c
  amount: body.Amount__c
  express: body.Express__c == true
---
kind: Process
name: ` + mainProcess + `
listen: order-events
track: [replayId, eventUuid]
steps:
  - map: order-to-fulfilment
  - set:
      orderId: body.orderId
  - route:
      cases:
        - when: body.express
          steps: [{call: express-fulfilment}]
      otherwise:
        - send: fulfil
---
kind: Process
name: express-fulfilment
steps:
  - log: '"express order " + props.orderId'
  - send: fulfil-express
---
kind: Process
name: webhook-orders
listen: order-webhook
steps:
  - send: fulfil
`

// TestConsoleInBrowser drives the console in Debian's headless Chromium
// (through playwright-core, pinned in e2e/package-lock.json) against a real
// atom, with a token required, whose listener reads the Salesforce
// emulator: it gives the token at the console's prompt; pauses the
// listener, publishes events, sees them wait, resumes and sees every one
// processed; draws a process; test-runs it; retries a dead letter once the
// sink takes it, and retries in vain then discards another; searches
// executions by replay ID; sets a paused listener's position; checks a
// phone-sized screen; and, undeployed, the empty states.
// e2e/console.e2e.mjs asks this test to act on the world (publish, heal
// the sink, undeploy) where the scenario needs it. Screenshots of each
// page land in e2e/screenshots/ (-console.docs copies the dashboard's to
// docs/console.png).
func TestConsoleInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test skipped with -short")
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("node is not installed: install Node.js 20 or later, then run `npm ci --prefix web/console/e2e`")
	}
	if _, err := os.Stat(filepath.Join("e2e", "node_modules", "playwright-core")); err != nil {
		t.Fatal("playwright-core is not installed for the browser test: run `npm ci --prefix web/console/e2e` (make test and .ci/run do)")
	}
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("Chromium is not installed at %s for the browser test: run `apt-get install chromium` (.ci/run does)", chromiumPath)
	}

	emu := startEmulator(t)
	sink := newSink(t)
	a := startAtom(t, strings.NewReplacer("{{EMULATOR}}", emu.URL(), "{{SINK}}", sink.srv.URL).Replace(deployment))
	waitFor(t, 20*time.Second, "the Salesforce listener to run", func() bool {
		st, err := a.rt.Listener(sfListener)
		return err == nil && st.State == operations.Running
	})

	shots, err := filepath.Abs(filepath.Join("e2e", "screenshots"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	w := &world{t: t, emu: emu, sink: sink, rt: a.rt}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "console.e2e.mjs")
	cmd.Dir = "e2e"
	cmd.Env = append(os.Environ(),
		"ATOM_URL="+a.url, "ATOM_TOKEN="+e2eToken, "SCREENSHOTS="+shots, "CHROMIUM="+chromiumPath,
		"LISTENER="+sfListener, "OTHER_LISTENER=inbound:POST /hooks/orders", "PROCESS="+mainProcess,
		"EVENTS="+fmt.Sprint(pausedEvents), "SECRET="+emuClientSecret,
		"EXPECT_PAIR=body.Order_Number__c=>orderId",
		`SAMPLE={"Order_Number__c":"TRY-1","Customer_Id__c":"C-9","Amount__c":12.5,"Express__c":true}`)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := false
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var line map[string]any
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Logf("console.e2e.mjs: %s", sc.Bytes())
			continue
		}
		if ask, ok := line["ask"].(string); ok {
			reply := w.answer(ask, line)
			data, _ := json.Marshal(reply)
			if _, err := stdin.Write(append(data, '\n')); err != nil {
				t.Errorf("answer %s: %v", ask, err)
			}
			continue
		}
		if line["step"] == "done" {
			done = true
		}
		t.Logf("console.e2e.mjs: %s", sc.Bytes())
	}
	_ = stdin.Close()
	if err := cmd.Wait(); err != nil || !done {
		t.Fatalf("the browser scenario failed (%v); screenshots in %s\nstderr:\n%s", err, shots, stderr.String())
	}

	// What the console showed, checked against the world.
	st := w.final
	if st.State != operations.Running {
		t.Errorf("listener state after the scenario = %s, want running", st.State)
	}
	// Retries run outside the listener, so its counts stay as the events
	// left them: the poison and the refused order dead-lettered once each.
	if st.Received != pausedEvents+2 || st.Processed != pausedEvents || st.DeadLettered != 2 {
		t.Errorf("listener counts = received %d, processed %d, dead-lettered %d; want %d, %d and 2",
			st.Received, st.Processed, st.DeadLettered, pausedEvents+2, pausedEvents)
	}
	dls, err := a.rt.DeadLetters(persistence.DeadLetterQuery{})
	if err != nil || len(dls) != 0 {
		t.Errorf("dead letters after the retry = %v, %v; want none", dls, err)
	}
	for i := 1; i <= pausedEvents; i++ {
		if n := sink.count(fmt.Sprintf("E2E-%d", i)); n < 1 {
			t.Errorf("order E2E-%d never reached the sink", i)
		}
	}
	if n := sink.count("TRY-1"); n != 0 {
		t.Errorf("the dry test run sent TRY-1 to the sink %d times; a dry run must send nothing", n)
	}
	if n := sink.count(refusedOrder); n != 0 {
		t.Errorf("the sink took the order it refuses %d times", n)
	}
	if n := sink.count(poisonOrder); n != 1 {
		t.Errorf("the retried dead letter reached the sink %d times, want once", n)
	}
	if *updateDocs {
		copyFile(t, filepath.Join(shots, "dashboard-final.png"), filepath.Join("..", "..", "docs", "console.png"))
	}
	t.Logf("screenshots in %s", shots)
}

// world is what the browser scenario asks the test to do or check.
type world struct {
	t    *testing.T
	emu  *emulator.Emulator
	sink *sink
	rt   *atom.Runtime
	// final is the listener's status before the scenario undeployed.
	final atom.ListenerStatus
}

// answer handles one request of console.e2e.mjs; {"error": ...} fails the
// scenario there, and the test here.
func (w *world) answer(ask string, line map[string]any) map[string]any {
	fail := func(format string, args ...any) map[string]any {
		msg := fmt.Sprintf(ask+": "+format, args...)
		w.t.Error(msg)
		return map[string]any{"error": msg}
	}
	switch ask {
	case "publish":
		// The console has paused the listener: publish while it is.
		st, err := w.rt.Listener(sfListener)
		if err != nil || st.State != operations.Paused {
			return fail("listener is %s (%v), want paused before publishing", st.State, err)
		}
		for i := 1; i <= pausedEvents; i++ {
			if _, err := w.emu.Publish(orderEvent, map[string]any{
				"Order_Number__c": fmt.Sprintf("E2E-%d", i), "Customer_Id__c": "C-1",
				"Amount__c": float64(10 * i), "Express__c": i%2 == 0,
			}); err != nil {
				return fail("publish: %v", err)
			}
		}
		return map[string]any{"published": pausedEvents, "received": st.Received, "processed": st.Processed}
	case "check-paused":
		// The events wait in the emulator while the listener is paused.
		st, err := w.rt.Listener(sfListener)
		if err != nil {
			return fail("%v", err)
		}
		if before, _ := line["processed"].(float64); st.Processed != int64(before) {
			return fail("processed %d while paused, the console showed %v", st.Processed, before)
		}
		for i := 1; i <= pausedEvents; i++ {
			if w.sink.count(fmt.Sprintf("E2E-%d", i)) != 0 {
				return fail("order E2E-%d reached the sink while the listener was paused", i)
			}
		}
		return map[string]any{"ok": true}
	case "check-delivered":
		if !poll(20*time.Second, func() bool {
			for i := 1; i <= pausedEvents; i++ {
				if w.sink.count(fmt.Sprintf("E2E-%d", i)) == 0 {
					return false
				}
			}
			return true
		}) {
			return fail("not every order published while paused reached the sink: %v", w.sink.orders())
		}
		return map[string]any{"ok": true}
	case "poison":
		if _, err := w.emu.Publish(orderEvent, map[string]any{"Order_Number__c": poisonOrder, "Amount__c": 1.0}); err != nil {
			return fail("publish: %v", err)
		}
		var dl persistence.DeadLetter
		if !poll(20*time.Second, func() bool {
			dls, err := w.rt.DeadLetters(persistence.DeadLetterQuery{})
			if err != nil || len(dls) == 0 {
				return false
			}
			dl = dls[0]
			return true
		}) {
			return fail("the poison order was not dead-lettered")
		}
		return map[string]any{"id": dl.ID, "replayId": dl.Doc.Props["replayId"]}
	case "undeploy":
		// The last step: keep what the listener ended with, then leave
		// nothing deployed so that the console shows its empty states.
		st, err := w.rt.Listener(sfListener)
		if err != nil {
			return fail("%v", err)
		}
		w.final = st
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := w.rt.Undeploy(ctx); err != nil {
			return fail("%v", err)
		}
		return map[string]any{"ok": true}
	case "refuse":
		if _, err := w.emu.Publish(orderEvent, map[string]any{"Order_Number__c": refusedOrder, "Amount__c": 2.0}); err != nil {
			return fail("publish: %v", err)
		}
		var dl persistence.DeadLetter
		if !poll(20*time.Second, func() bool {
			dls, err := w.rt.DeadLetters(persistence.DeadLetterQuery{})
			if err != nil || len(dls) == 0 {
				return false
			}
			dl = dls[0]
			body, _ := dl.Doc.Body.(map[string]any)
			return body["Order_Number__c"] == refusedOrder
		}) {
			return fail("the refused order was not dead-lettered")
		}
		return map[string]any{"id": dl.ID}
	case "heal":
		w.sink.acceptPoison.Store(true)
		return map[string]any{"ok": true}
	default:
		return fail("unknown request")
	}
}

// sink is the system orders are sent to. It refuses the poison order with
// 400 (a permanent failure, so the run is dead-lettered at once) until
// the test heals it.
type sink struct {
	srv          *httptest.Server
	acceptPoison atomic.Bool
	mu           sync.Mutex
	got          map[string]int // orderId → times received
}

func newSink(t *testing.T) *sink {
	s := &sink{got: map[string]int{}}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			OrderID string `json:"orderId"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if body.OrderID == refusedOrder || strings.HasPrefix(body.OrderID, "POISON") && !s.acceptPoison.Load() {
			http.Error(w, `{"error":"order refused: unknown customer"}`, http.StatusBadRequest)
			return
		}
		s.mu.Lock()
		s.got[body.OrderID]++
		s.mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *sink) count(order string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.got[order]
}

func (s *sink) orders() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int, len(s.got))
	for k, v := range s.got {
		out[k] = v
	}
	return out
}

func startEmulator(t *testing.T) *emulator.Emulator {
	t.Helper()
	cfg := emulator.DefaultConfig()
	cfg.CometD.Timeout = time.Second // short long-polls: pause and stop stay quick
	cfg.CometD.MaxInterval = 3 * time.Second
	e, err := emulator.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Listen("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	return e
}

type atomUnderTest struct {
	rt  *atom.Runtime
	url string
}

// startAtom runs a real atom (store in a temporary folder, the standard
// connectors, the web handler on a loopback port with a token required)
// and deploys yaml.
func startAtom(t *testing.T, yaml string) *atomUnderTest {
	t.Helper()
	reg, err := standard.Registry()
	if err != nil {
		t.Fatal(err)
	}
	store, err := persistence.Open(filepath.Join(t.TempDir(), "atom.db"), persistence.Options{})
	if err != nil {
		t.Fatal(err)
	}
	logs := &lockedBuffer{}
	rt, err := atom.New(atom.Options{Registry: reg, Store: store, Log: zerolog.New(logs), DrainTimeout: 5 * time.Second})
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
	srv := web.NewServer("", web.Handler(rt, web.Options{
		Token: e2eToken, RequireAuth: true, Addr: ln.Addr().String(), Log: zerolog.New(logs),
	}))
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() {
		stopCtx, done := context.WithTimeout(context.Background(), 10*time.Second)
		defer done()
		_ = srv.Shutdown(stopCtx)
		if err := rt.Stop(stopCtx); err != nil {
			t.Errorf("stop the atom: %v", err)
		}
		cancel()
		if err := store.Close(); err != nil {
			t.Errorf("close the store: %v", err)
		}
		if t.Failed() {
			t.Logf("atom logs:\n%s", logs.String())
		}
	})
	if _, err := rt.Deploy([]processes.File{{Name: "orders.yaml", Data: []byte(yaml)}}, "e2e", "browser test"); err != nil {
		t.Fatalf("deploy: %v", err)
	}
	return &atomUnderTest{rt: rt, url: "http://" + ln.Addr().String()}
}

// lockedBuffer collects the atom's logs, shown when the test fails.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func poll(within time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(within)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	if !poll(within, cond) {
		t.Fatalf("timed out after %s waiting for %s", within, what)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	src, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := os.Create(to)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
}
