package atom

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/atomrt/atom/operations"
	"github.com/atomrt/atom/operations/optest"
	"github.com/atomrt/atom/persistence"
	"github.com/atomrt/atom/processes"
)

const twoProcesses = base + `
---
kind: Process
name: pa
listen: orders
steps: [{send: to-a}]
---
kind: Process
name: pb
listen: orders
steps: [{send: to-b}]
`

func TestTwoProcessesShareOneListenerAndGetEveryEventInOrder(t *testing.T) {
	tp, sk := optest.NewTopic(), optest.NewSink(t)
	h := start(t, tp, sk, "")
	h.deploy(twoProcesses)
	tp.PublishNext(50)
	eventually(t, "both processes to get 50 events", func() bool {
		return len(sk.NS("/a")) == 50 && len(sk.NS("/b")) == 50
	})
	if got := sk.NS("/a"); !equalInts(got, seq(1, 50)) {
		t.Errorf("process pa got %v, want 1..50 in order", got)
	}
	if got := sk.NS("/b"); !equalInts(got, seq(1, 50)) {
		t.Errorf("process pb got %v, want 1..50 in order", got)
	}
	subs, starts := tp.Stats()
	runs := len(starts)
	if subs != 1 || runs != 1 {
		t.Errorf("subscriptions = %d (runs %d), want exactly one shared", subs, runs)
	}
	// The position moves once both runs of the last event have finished.
	eventually(t, "position 500", func() bool { return h.rt.Listeners()[0].Position == "500" })
	st := h.rt.Listeners()
	if len(st) != 1 || st[0].Received != 50 || st[0].Processed != 100 {
		t.Fatalf("status = %+v, want one listener, 50 received, 100 processed runs", st)
	}
}

func TestConcurrencyCommitsWatermarkAndDeliversAll(t *testing.T) {
	tp, sk := optest.NewTopic(), optest.NewSink(t)
	sk.SetDelay(2 * time.Millisecond)
	h := start(t, tp, sk, "")
	h.deploy(base + `
---
kind: Process
name: pa
listen: orders
concurrency: 8
steps: [{send: to-a}]
`)
	tp.PublishNext(200)
	eventually(t, "200 events", func() bool { return len(sk.NS("/a")) == 200 })
	got := map[int]int{}
	for _, n := range sk.NS("/a") {
		got[n]++
	}
	for i := 1; i <= 200; i++ {
		if got[i] != 1 {
			t.Fatalf("event %d delivered %d times", i, got[i])
		}
	}
	eventually(t, "position 2000", func() bool { return h.rt.Listeners()[0].Position == "2000" })
	if c := h.rt.Listeners()[0].Concurrency; c != 8 {
		t.Errorf("concurrency = %d, want 8", c)
	}
}

func TestPauseEveryListenerLosesNothing(t *testing.T) {
	tp, sk := optest.NewTopic(), optest.NewSink(t)
	h := start(t, tp, sk, "")
	h.deploy(twoProcesses)
	tp.PublishNext(10)
	eventually(t, "first 10", func() bool { return len(sk.NS("/a")) == 10 })
	name := h.rt.Listeners()[0].Name
	if err := h.rt.Pause(name); err != nil {
		t.Fatal(err)
	}
	eventually(t, "source stopped", func() bool { s, _ := tp.Stats(); return s == 0 })
	tp.PublishNext(100)
	time.Sleep(50 * time.Millisecond) // give a wrongly running listener a chance to read
	if n := len(sk.NS("/a")); n != 10 {
		t.Fatalf("while paused %d events were processed, want still 10", n)
	}
	if st := h.rt.Listeners()[0]; st.State != operations.Paused {
		t.Fatalf("state = %s, want paused", st.State)
	}
	if err := h.rt.Resume(name); err != nil {
		t.Fatal(err)
	}
	eventually(t, "all 110", func() bool { return len(sk.NS("/a")) == 110 && len(sk.NS("/b")) == 110 })
	if got := sk.NS("/a"); !equalInts(got, seq(1, 110)) {
		t.Errorf("got %v, want 1..110 in order", got)
	}
	_, starts := tp.Stats()
	if len(starts) != 2 || starts[1] != "100" {
		t.Errorf("source starts = %v, want the resume to start after position 100", starts)
	}
}

func TestPoisonDocumentIsDeadLetteredAndOthersGetThrough(t *testing.T) {
	tp, sk := optest.NewTopic(), optest.NewSink(t)
	h := start(t, tp, sk, "")
	h.deploy(base + `
---
kind: Process
name: pa
listen: orders
steps:
  - set: {kind: 'body.n == 3 ? "poison" : "ok"'}
  - map: {expr: 'props.kind == "poison" ? {"n": body.n, "poison": true} : body'}
  - send: to-a
`)
	tp.PublishNext(5)
	eventually(t, "4 good events", func() bool { return len(sk.NS("/a")) == 4 })
	eventually(t, "position 50", func() bool { return h.rt.Listeners()[0].Position == "50" })
	if got := sk.NS("/a"); !equalInts(got, []int{1, 2, 4, 5}) {
		t.Errorf("sink got %v, want 1 2 4 5", got)
	}
	dls, err := h.store.DeadLetters(persistence.DeadLetterQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if len(dls) != 1 {
		t.Fatalf("%d dead letters, want 1", len(dls))
	}
	dl := dls[0]
	if dl.Process != "pa" || dl.Doc.Body.(map[string]any)["n"] != float64(3) || dl.Doc.Prop("position") != "30" {
		t.Errorf("dead letter = %+v, want process pa, the input document n=3 with its position", dl)
	}
	if dl.Error == "" || dl.Step == "" {
		t.Errorf("dead letter lacks error or step: %+v", dl)
	}
	st := h.rt.Listeners()[0]
	if st.Failed != 1 || st.DeadLettered != 1 || st.Processed != 4 {
		t.Errorf("status = %+v, want 4 processed, 1 failed, 1 dead-lettered", st)
	}
	execs, err := h.store.Executions(persistence.ExecQuery{Status: "failed"})
	if err != nil || len(execs) != 1 {
		t.Fatalf("failed executions = %+v, %v; want one", execs, err)
	}
	if full, err := h.store.Execution(execs[0].ID); err != nil || len(full.Trace) == 0 {
		t.Errorf("failed execution kept no trace: %+v, %v", full, err)
	}
	if execs[0].Tracked["eventUuid"] != "uuid-3" {
		t.Errorf("tracked = %v, want eventUuid uuid-3", execs[0].Tracked)
	}
}

func TestRestartResumesFromCommittedPositionWithoutDuplicates(t *testing.T) {
	tp, sk := optest.NewTopic(), optest.NewSink(t)
	h := start(t, tp, sk, "")
	h.deploy(twoProcesses)
	tp.PublishNext(30)
	eventually(t, "30 events", func() bool { return len(sk.NS("/b")) == 30 })
	path := h.path
	h.close()

	tp.PublishNext(20)
	h2 := start(t, tp, sk, path) // starts the stored active deployment
	eventually(t, "50 events", func() bool { return len(sk.NS("/a")) == 50 && len(sk.NS("/b")) == 50 })
	time.Sleep(20 * time.Millisecond)
	if got := sk.NS("/a"); !equalInts(got, seq(1, 50)) {
		t.Errorf("after a clean restart got %v, want 1..50 exactly once", got)
	}
	_, starts := tp.Stats()
	if starts[len(starts)-1] != "300" {
		t.Errorf("restart began at %q, want after 300", starts[len(starts)-1])
	}
	_ = h2
}

func TestRedeployMidStreamLosesAndRepeatsNothing(t *testing.T) {
	tp, sk := optest.NewTopic(), optest.NewSink(t)
	sk.SetDelay(time.Millisecond)
	h := start(t, tp, sk, "")
	h.deploy(twoProcesses)
	tp.PublishNext(100)
	eventually(t, "some events", func() bool { return len(sk.NS("/a")) > 10 })
	h.deploy(twoProcesses + "\n# v2\n")
	tp.PublishNext(50)
	eventually(t, "150 events", func() bool { return len(sk.NS("/a")) >= 150 })
	time.Sleep(20 * time.Millisecond)
	if got := sk.NS("/a"); !equalInts(got, seq(1, 150)) {
		t.Errorf("across a redeploy got %v, want 1..150 exactly once", got)
	}
	deps, err := h.store.Deployments()
	if err != nil || len(deps) != 2 || !deps[0].Active || deps[0].Version != 2 {
		t.Errorf("deployments = %+v, %v; want 2 versions, v2 active", deps, err)
	}
}

func TestBadDeploymentLeavesRunningOneUntouched(t *testing.T) {
	tp, sk := optest.NewTopic(), optest.NewSink(t)
	h := start(t, tp, sk, "")
	h.deploy(twoProcesses)
	_, err := h.rt.Deploy(nil, "test", "")
	if err == nil {
		t.Fatal("deploying nothing succeeded")
	}
	bad := twoProcesses + "\n---\nkind: Process\nname: pc\nlisten: nope\nsteps: [{send: to-a}]\n"
	if _, err := h.rt.Deploy([]processes.File{{Name: "bad.yaml", Data: []byte(bad)}}, "test", ""); err == nil {
		t.Fatal("a deployment with an unknown operation succeeded")
	}
	tp.PublishNext(5)
	eventually(t, "old deployment still running", func() bool { return len(sk.NS("/a")) == 5 })
}

func TestFailingSourceIsRetriedAndReported(t *testing.T) {
	tp, sk := optest.NewTopic(), optest.NewSink(t)
	h := start(t, tp, sk, "")
	h.deploy(base + `
---
kind: Operation
name: broken
connection: bus
action: listen
settings: {channel: /event/Nope__e, fail: true}
---
kind: Process
name: pa
listen: broken
steps: [{send: to-a}]
`)
	eventually(t, "failed state", func() bool {
		st := h.rt.Listeners()[0]
		return st.State == operations.Failed && st.LastError != ""
	})
	if st := h.rt.Listeners()[0]; st.LastError != "channel /event/Nope__e refused" {
		t.Errorf("last error = %q", st.LastError)
	}
}

func TestOffsetsChangeOnlyWhilePausedAndAreAudited(t *testing.T) {
	tp, sk := optest.NewTopic(), optest.NewSink(t)
	h := start(t, tp, sk, "")
	h.deploy(twoProcesses)
	tp.PublishNext(10)
	eventually(t, "position 100", func() bool { return h.rt.Listeners()[0].Position == "100" })
	name := h.rt.Listeners()[0].Name
	ctx := context.Background()
	if _, err := h.rt.SetOffset(ctx, name, "50", "ops"); !errors.Is(err, ErrNotPaused) {
		t.Fatalf("set offset while running: err = %v, want ErrNotPaused", err)
	}
	if err := h.rt.Pause(name); err != nil {
		t.Fatal(err)
	}
	prev, err := h.rt.SetOffset(ctx, name, "50", "ops")
	if err != nil || prev[PositionKey] != "100" {
		t.Fatalf("set offset: prev %v, %v; want previous 100", prev, err)
	}
	changes, err := h.store.OffsetChanges(name)
	if err != nil || len(changes) != 1 || changes[0].Who != "ops" {
		t.Fatalf("offset changes = %+v, %v", changes, err)
	}
	if err := h.rt.Resume(name); err != nil {
		t.Fatal(err)
	}
	eventually(t, "events 6..10 again", func() bool { return len(sk.NS("/a")) == 15 })
	if got := sk.NS("/a")[10:]; !equalInts(got, seq(6, 10)) {
		t.Errorf("after rewinding to 50 got %v, want 6..10", got)
	}
}

func TestRetryDeadLetter(t *testing.T) {
	tp, sk := optest.NewTopic(), optest.NewSink(t)
	sk.SetRefuse(true)
	h := start(t, tp, sk, "")
	h.deploy(base + `
---
kind: Process
name: pa
listen: orders
steps: [{send: to-a}]
`)
	tp.PublishNext(1)
	eventually(t, "dead letter", func() bool {
		d, _ := h.store.DeadLetters(persistence.DeadLetterQuery{})
		return len(d) == 1
	})
	d, _ := h.store.DeadLetters(persistence.DeadLetterQuery{})
	ctx := context.Background()
	dl, err := h.rt.RetryDeadLetter(ctx, d[0].ID)
	if err == nil || dl.Attempts != 2 {
		t.Fatalf("retry while the sink refuses: %+v, %v; want an error and 2 attempts", dl, err)
	}
	if kept, _ := h.store.DeadLetter(d[0].ID); kept.Attempts != 2 {
		t.Errorf("stored attempts = %d, want 2", kept.Attempts)
	}
	sk.SetRefuse(false)
	if _, err := h.rt.RetryDeadLetter(ctx, d[0].ID); err != nil {
		t.Fatalf("retry once the sink accepts: %v", err)
	}
	if got := sk.NS("/a"); !equalInts(got, []int{1}) {
		t.Errorf("sink got %v after the retry, want [1]", got)
	}
	if _, err := h.store.DeadLetter(d[0].ID); !errors.Is(err, persistence.ErrNotFound) {
		t.Errorf("dead letter still there after a successful retry: %v", err)
	}
}

// Webhook requests keep arriving while the listener is paused and resumed
// over and over: each request is either answered 200 after its document
// was sent on, or refused with 503 and not sent; none is lost or sent
// twice, and a request racing the end of a run cannot crash the runtime.
func TestWebhookRequestsRacingPauseAndResume(t *testing.T) {
	tp, sk := optest.NewTopic(), optest.NewSink(t)
	h := start(t, tp, sk, "")
	h.deploy(base + `
---
kind: Connection
name: hooks
type: http
---
kind: Operation
name: hook
connection: hooks
action: listen
settings: {path: /in}
---
kind: Process
name: ph
listen: hook
concurrency: 4
steps: [{send: to-a}]
`)
	srv := httptest.NewServer(h.rt.Webhooks())
	t.Cleanup(srv.Close)
	name := "hooks:POST /in"
	var mu sync.Mutex
	accepted := map[int]bool{}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; ; i += 4 {
				select {
				case <-stop:
					return
				default:
				}
				resp, err := http.Post(srv.URL+"/in", "application/json", strings.NewReader(fmt.Sprintf(`{"n":%d}`, i)))
				if err != nil {
					continue
				}
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					mu.Lock()
					accepted[i] = true
					mu.Unlock()
				} else if resp.StatusCode != http.StatusServiceUnavailable {
					t.Errorf("request %d answered %d, want 200 or 503", i, resp.StatusCode)
				}
			}
		}()
	}
	for range 20 {
		time.Sleep(5 * time.Millisecond)
		if err := h.rt.Pause(name); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Millisecond)
		if err := h.rt.Resume(name); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	got := map[int]int{}
	for _, n := range sk.NS("/a") {
		got[n]++
	}
	mu.Lock()
	defer mu.Unlock()
	if len(accepted) == 0 {
		t.Fatal("no request was accepted")
	}
	for n := range accepted {
		if got[n] != 1 {
			t.Errorf("request %d was answered 200 but sent %d times", n, got[n])
		}
	}
	for n, c := range got {
		if !accepted[n] || c != 1 {
			t.Errorf("document %d sent %d times but answered 200: %v", n, c, accepted[n])
		}
	}
}

// A stop that outlasts its drain cancels the runs in flight: their events
// are neither dead-lettered nor committed, and run again after a restart.
func TestShutdownPastDrainKeepsEventsForTheRestart(t *testing.T) {
	tp, sk := optest.NewTopic(), optest.NewSink(t)
	h := start(t, tp, sk, "")
	h.rt.drain = 100 * time.Millisecond
	h.deploy(base + `
---
kind: Process
name: pa
listen: orders
steps: [{send: to-a}]
`)
	tp.PublishNext(1)
	eventually(t, "first event sent", func() bool { return sk.Count("/a") == 1 })
	eventually(t, "position 10", func() bool { return h.rt.Listeners()[0].Position == "10" })
	sk.SetDelay(2 * time.Second) // the second event's send outlasts the drain
	tp.PublishNext(1)
	eventually(t, "second event in flight", func() bool { return h.rt.Listeners()[0].InFlight > 0 })
	path := h.path
	h.close()
	h.store = nil
	store, err := persistence.Open(path, persistence.Options{})
	if err != nil {
		t.Fatal(err)
	}
	dls, _ := store.DeadLetters(persistence.DeadLetterQuery{})
	props, _ := store.Properties("bus:/event/Order__e")
	store.Close()
	if len(dls) != 0 {
		t.Errorf("a run cancelled by shutdown was dead-lettered: %+v", dls)
	}
	if props[PositionKey] != "10" {
		t.Errorf("position after the cut-short stop = %q, want 10 (the cancelled event uncommitted)", props[PositionKey])
	}
	sk.SetDelay(0)
	start(t, tp, sk, path)
	eventually(t, "event 2 again after the restart", func() bool { return sk.Count("/a") >= 2 })
	if _, starts := tp.Stats(); starts[len(starts)-1] != "10" {
		t.Errorf("the restart read from %q, want after 10, so the cancelled event runs again", starts[len(starts)-1])
	}
}

func TestLagShowsWhileAnEventWaits(t *testing.T) {
	tp, sk := optest.NewTopic(), optest.NewSink(t)
	h := start(t, tp, sk, "")
	h.deploy(twoProcesses)
	sk.SetDelay(200 * time.Millisecond)
	tp.PublishNext(1)
	eventually(t, "lag while the send waits", func() bool {
		st := h.rt.Listeners()[0]
		return st.InFlight == 1 && st.LagSeconds > 0
	})
	eventually(t, "no lag once done", func() bool {
		st := h.rt.Listeners()[0]
		return st.InFlight == 0 && st.LagSeconds == 0 && st.Position == "10"
	})
}

// EnsureDeployed of what already runs is a no-op: no new version, no
// restart; different files deploy.
func TestEnsureDeployedOfTheSameFilesChangesNothing(t *testing.T) {
	tp, sk := optest.NewTopic(), optest.NewSink(t)
	h := start(t, tp, sk, "")
	h.deploy(twoProcesses)
	eventually(t, "listening", func() bool { s, _ := tp.Stats(); return s == 1 })
	files := []processes.File{{Name: "test.yaml", Data: []byte(strings.ReplaceAll(twoProcesses, "SINK", sk.URL))}}
	if _, err := h.rt.EnsureDeployed(files, "test", ""); err != nil {
		t.Fatal(err)
	}
	// An event published now is processed by whichever listener runs: had
	// the deployment been replaced, a second one would have started.
	tp.PublishNext(1)
	eventually(t, "the event", func() bool { return sk.Count("/a") == 1 })
	deps, err := h.store.Deployments()
	if err != nil || len(deps) != 1 {
		t.Fatalf("deployments = %+v, %v; want one version", deps, err)
	}
	if _, starts := tp.Stats(); len(starts) != 1 {
		t.Errorf("the listener started %d times, want once", len(starts))
	}
	files[0].Data = append(files[0].Data, "\n# changed\n"...)
	if d, err := h.rt.EnsureDeployed(files, "test", ""); err != nil || d.Version != 2 {
		t.Errorf("changed files: deployment %+v, %v; want version 2", d, err)
	}
}

// Unknown names say what exists, so the fix is in the message.
func TestUnknownNamesListWhatExists(t *testing.T) {
	tp, sk := optest.NewTopic(), optest.NewSink(t)
	h := start(t, tp, sk, "")
	h.deploy(twoProcesses)
	err := h.rt.Pause("bus:/event/Ordr__e")
	if !errors.Is(err, ErrUnknownListener) || !strings.Contains(err.Error(), "bus:/event/Order__e") {
		t.Errorf("pause of an unknown listener: %v; want ErrUnknownListener naming bus:/event/Order__e", err)
	}
	_, _, err = h.rt.TestRun(context.Background(), "pz", operations.Document{}, false)
	if !errors.Is(err, ErrUnknownProcess) || !strings.Contains(err.Error(), "deployed: pa, pb") {
		t.Errorf("test run of an unknown process: %v; want ErrUnknownProcess listing pa, pb", err)
	}
}
