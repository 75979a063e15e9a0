package processes

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strings"
	"sync"
	"testing"

	"github.com/rs/zerolog"

	"github.com/atomrt/atom/mapping"
	"github.com/atomrt/atom/operations"
)

// hookSenders returns senders posting to srv: "orders" to /orders,
// "audit" to /audit, "down" to /down/fail, and "orders-dry" to /orders
// with a dry-run description.
func hookSenders(srv *hookServer) map[string]operations.Sender {
	post := func(path string) postSender { return postSender{url: srv.URL + path, client: srv.Client()} }
	return map[string]operations.Sender{
		"orders":     post("/orders"),
		"audit":      post("/audit"),
		"down":       post("/down/fail"),
		"orders-dry": describingSender{post("/orders")},
	}
}

func TestRunPropsFlowIntoSubProcesses(t *testing.T) {
	srv := newHookServer(t)
	set := setOf(nil,
		newProc("main", setStep("source", `"sf"`), callStep("deliver"), sendStep("audit")),
		newProc("deliver", jqStep(`{order: .Order_Number__c}`), sendStep("orders"), setStep("delivered", `props.sentTo != ""`)),
	)
	e := mustCompile(t, set, hookSenders(srv))
	res := e.Run(context.Background(), "main", orderEvent(), RunOptions{})
	if res.Status != StatusOK {
		t.Fatalf("status %s: %v", res.Status, res.Err)
	}
	reqs := srv.requests()
	if len(reqs) != 2 {
		t.Fatalf("server got %d requests, want 2: %+v", len(reqs), reqs)
	}
	// The sub-process sees the caller's properties, and its own flow
	// back to the caller with its document.
	if got := reqs[0].Props; reqs[0].Path != "/orders" || got["replayId"] != "42" || got["eventUuid"] != "uuid-1" || got["source"] != "sf" {
		t.Errorf("sub-process sent %s with props %v", reqs[0].Path, got)
	}
	if got := reqs[1].Props; reqs[1].Path != "/audit" || got["delivered"] != "true" || got["replayId"] != "42" {
		t.Errorf("caller sent %s with props %v", reqs[1].Path, got)
	}
	if !jsonEq(t, reqs[1].Body, map[string]any{"order": "O-1001"}) {
		t.Errorf("caller sent %s, want the sub-process's document", mustJSON(reqs[1].Body))
	}
}

func TestRunFanOutIsolation(t *testing.T) {
	srv := newHookServer(t)
	set := setOf(nil,
		newProc("main", callStep("first", "second")),
		// first changes the body and a property; second must not see either.
		newProc("first", setStep("channel", `"changed"`, "mine", `"first"`), jqStep(`.Status__c = "Changed" | .Lines__c[0].qty = 99`), sendStep("audit")),
		newProc("second", sendStep("orders")),
	)
	e := mustCompile(t, set, hookSenders(srv))
	in := orderEvent()
	res := e.Run(context.Background(), "main", in, RunOptions{})
	if res.Status != StatusOK {
		t.Fatalf("status %s: %v", res.Status, res.Err)
	}
	got := srv.bodies("/orders")
	if len(got) != 1 || !jsonEq(t, got[0], orderEvent().Body) {
		t.Errorf("second sent %s, want the event unchanged", mustJSON(got))
	}
	second := srv.requests()[1]
	if second.Props["channel"] != "/event/Order__e" || second.Props["mine"] != "" {
		t.Errorf("second saw props %v, want the caller's", second.Props)
	}
	if len(res.Outputs) != 2 || res.Outputs[0].Props["mine"] != "first" || res.Outputs[1].Props["mine"] != "" {
		t.Errorf("outputs %s", mustJSON(propsOf(res.Outputs)))
	}
	if !jsonEq(t, in.Body, orderEvent().Body) || !maps.Equal(in.Props, orderEvent().Props) {
		t.Errorf("the input document changed: %s %v", mustJSON(in.Body), in.Props)
	}
}

func TestRunDoesNotChangeItsInput(t *testing.T) {
	set := setOf(nil, newProc("p",
		setStep("replayId", `"overwritten"`, "added", "1"),
		jqStep(`.Amount__c = 0`),
		branchStep(seq(setStep("b", `"1"`)), seq(setStep("b", `"2"`))),
	))
	e := mustCompile(t, set, nil)
	in := orderEvent()
	res := e.Run(context.Background(), "p", in, RunOptions{Trace: true})
	if res.Status != StatusOK || len(res.Outputs) != 2 {
		t.Fatalf("status %s, %d outputs: %v", res.Status, len(res.Outputs), res.Err)
	}
	if !maps.Equal(in.Props, orderEvent().Props) || !jsonEq(t, in.Body, orderEvent().Body) {
		t.Errorf("input changed to %s %v", mustJSON(in.Body), in.Props)
	}
}

func TestRunDryRun(t *testing.T) {
	srv := newHookServer(t)
	set := setOf(nil,
		newProc("plain", sendStep("orders"), setStep("after", "true")),
		newProc("described", labelled("to orders", sendForAnswer("orders-dry")), setStep("after", "true")),
	)
	e := mustCompile(t, set, hookSenders(srv))
	for _, name := range []string{"plain", "described"} {
		t.Run(name, func(t *testing.T) {
			res := e.Run(context.Background(), name, orderEvent(), RunOptions{DryRun: true, Trace: true})
			if res.Status != StatusOK {
				t.Fatalf("status %s: %v", res.Status, res.Err)
			}
			// The document continues unchanged: there was no answer.
			if len(res.Outputs) != 1 || !jsonEq(t, res.Outputs[0].Body, orderEvent().Body) || res.Outputs[0].Props["after"] != "true" {
				t.Errorf("outputs %s", mustJSON(res.Outputs))
			}
			st := res.Trace.Steps[0]
			if !strings.HasPrefix(st.Note, "dry run: ") {
				t.Errorf("send step note %q, want a dry-run note", st.Note)
			}
			if name == "described" {
				data, _ := json.Marshal(st.Sent)
				if !strings.Contains(string(data), `"url":"`+srv.URL+`/orders"`) || !strings.Contains(string(data), "O-1001") {
					t.Errorf("sent description %s", data)
				}
				trace, _ := json.Marshal(res.Trace)
				if strings.Contains(string(trace), "s3cr3t") {
					t.Errorf("the trace shows a credential: %s", trace)
				}
			}
		})
	}
	if reqs := srv.requests(); len(reqs) != 0 {
		t.Errorf("a dry run sent %d requests: %+v", len(reqs), reqs)
	}
}

func TestRunSendFailureOverHTTP(t *testing.T) {
	srv := newHookServer(t)
	set := setOf(nil, newProc("p", sendStep("audit"), atLine(12, labelled("notify", sendStep("down"))), sendStep("orders")))
	e := mustCompile(t, set, hookSenders(srv))
	in := orderEvent()
	res := e.Run(context.Background(), "p", in, RunOptions{})
	if res.Status != StatusFailed {
		t.Fatalf("status %s, want failed", res.Status)
	}
	var se *StepError
	if !errors.As(res.Err, &se) || se.Path != "steps[1]" || se.Kind != StepSend || se.Label != "notify" || se.Pos != tpos(12) {
		t.Fatalf("err %v (%+v), want a StepError for steps[1]", res.Err, se)
	}
	if want := `t.yaml:12:3: process "p": steps[1] send "notify": send through operation "down": POST ` + srv.URL + `/down/fail: 500 Internal Server Error: {"error":"down for maintenance"}`; res.Err.Error() != want {
		t.Errorf("err = %q\nwant  %q", res.Err, want)
	}
	// Delivered: the audit and the failed attempt; kept: nothing after it.
	var paths []string
	for _, r := range srv.requests() {
		paths = append(paths, r.Path)
	}
	if strings.Join(paths, " ") != "/audit /down/fail" {
		t.Errorf("server got %v", paths)
	}
	if f := res.Trace.Failed(); f == nil || f.Path != "steps[1]" || !strings.Contains(f.Error, "500") {
		t.Errorf("trace's failed step %+v", f)
	}
}

func TestRunMappingErrorNamesStepAndMapping(t *testing.T) {
	mappings := map[string]*Mapping{"to-order": {
		Name: "to-order", Pos: Pos{File: "maps.yaml", Line: 1, Col: 1},
		Fields: []FieldMap{
			{Target: "number", Expr: "body.Order_Number__c", Pos: Pos{File: "maps.yaml", Line: 5, Col: 5}},
			{Target: "total", Expr: "body.Amount__c * body.Status__c", Pos: Pos{File: "maps.yaml", Line: 6, Col: 5}},
		},
	}}
	set := setOf(mappings,
		newProc("main", setStep("x", "1"), routeStep("", nil, whenCase("true", callStep("sub")))),
		newProc("sub", sendStep("out"), atLine(9, labelled("order", mapStep("to-order"))), sendStep("out")),
	)
	out := &recorder{}
	e := mustCompile(t, set, map[string]operations.Sender{"out": out})
	res := e.Run(context.Background(), "main", orderEvent(), RunOptions{})
	if res.Status != StatusFailed {
		t.Fatalf("status %s", res.Status)
	}
	var outer *StepError
	if !errors.As(res.Err, &outer) || outer.Process != "main" || outer.Path != "steps[1].route.cases[0].steps[0]" || outer.Kind != StepCall {
		t.Fatalf("outer error %+v", outer)
	}
	var inner *StepError
	if !errors.As(outer.Err, &inner) || inner.Process != "sub" || inner.Path != "steps[1]" || inner.Kind != StepMap || inner.Pos != tpos(9) {
		t.Fatalf("inner error %+v", inner)
	}
	var re *mapping.RunError
	if !errors.As(res.Err, &re) || re.Mapping != "to-order" || re.Field != "total" {
		t.Fatalf("mapping error %+v", re)
	}
	for _, want := range []string{`process "main": steps[1].route.cases[0].steps[0] call`, `t.yaml:9:3: process "sub": steps[1] map "order"`, `mapping "to-order"`, `field "total"`, "maps.yaml:6:5"} {
		if !strings.Contains(res.Err.Error(), want) {
			t.Errorf("err %q lacks %q", res.Err, want)
		}
	}
	if n := len(out.sent()); n != 1 {
		t.Errorf("%d sends, want the one before the mapping", n)
	}
}

func TestRunContainsAPanic(t *testing.T) {
	set := setOf(nil, newProc("p", tryStep(seq(sendStep("buggy")), nil), sendStep("buggy")))
	e := mustCompile(t, set, map[string]operations.Sender{"buggy": panicSender{}})
	res := e.Run(context.Background(), "p", orderEvent(), RunOptions{})
	if res.Status != StatusFailed || !errors.Is(res.Err, ErrStepPanic) {
		t.Fatalf("status %s, err %v; want failed with ErrStepPanic", res.Status, res.Err)
	}
	if !strings.Contains(res.Err.Error(), "steps[1] send: step panicked: connector bug: nil client") {
		t.Errorf("err %q", res.Err)
	}
	// The first panic was inside try: caught like any failure.
	try := res.Trace.Steps[0]
	if try.Status != StepCaught || try.Steps[0].Stack == "" {
		t.Errorf("try %+v", try)
	}
	if f := res.Trace.Failed(); f == nil || !strings.Contains(f.Stack, "panicSender") {
		t.Errorf("failed step has no useful stack: %+v", f)
	}
}

func TestRunCapsCallDepth(t *testing.T) {
	// The loader rejects call cycles; a Set built by hand can still have
	// one, and the executor must not recurse without end.
	set := setOf(nil, newProc("loop", setStep("n", `props.n + "."`), callStep("loop")))
	e := mustCompile(t, set, nil)
	res := e.Run(context.Background(), "loop", orderEvent(), RunOptions{})
	if res.Status != StatusFailed || !errors.Is(res.Err, ErrCallDepth) {
		t.Fatalf("status %s, err %v", res.Status, res.Err)
	}
}

func TestRunUnknownProcess(t *testing.T) {
	e := mustCompile(t, setOf(nil, newProc("p")), nil)
	res := e.Run(context.Background(), "nope", orderEvent(), RunOptions{})
	if res.Status != StatusFailed || !errors.Is(res.Err, ErrUnknownProcess) {
		t.Fatalf("status %s, err %v", res.Status, res.Err)
	}
}

func TestRunEmptyProcessPassesTheDocument(t *testing.T) {
	e := mustCompile(t, setOf(nil, newProc("p")), nil)
	res := e.Run(context.Background(), "p", orderEvent(), RunOptions{})
	if res.Status != StatusOK || len(res.Outputs) != 1 || res.Outputs[0].Props["replayId"] != "42" {
		t.Fatalf("status %s, outputs %s", res.Status, mustJSON(res.Outputs))
	}
}

func TestRunCancelled(t *testing.T) {
	srv := newHookServer(t)
	e := mustCompile(t, setOf(nil, newProc("p", setStep("a", "1"), sendStep("orders"))), hookSenders(srv))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res := e.Run(ctx, "p", orderEvent(), RunOptions{})
	if res.Status != StatusFailed || !errors.Is(res.Err, context.Canceled) {
		t.Fatalf("status %s, err %v", res.Status, res.Err)
	}
	if n := len(srv.requests()); n != 0 {
		t.Errorf("a cancelled run sent %d requests", n)
	}
}

func TestRunConcurrently(t *testing.T) {
	out := &recorder{}
	set := setOf(nil,
		newProc("main", jqStep(`. + {n: $props.n}`), setStep("big", "body.Amount__c > 100"),
			routeStep(RouteAll, nil, whenCase("true", callStep("a", "b")), whenCase("props.big == 'true'", sendStep("out")))),
		newProc("a", setStep("who", `"a"`), sendStep("out")),
		newProc("b", jqStep(`.n = "changed"`), sendStep("out")),
	)
	e := mustCompile(t, set, map[string]operations.Sender{"out": out})
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 20 {
				doc := orderEvent()
				doc.Props["n"] = fmt.Sprint(i*100 + j)
				if res := e.Run(context.Background(), "main", doc, RunOptions{Trace: j%2 == 0}); res.Status != StatusOK || len(res.Outputs) != 3 {
					t.Errorf("run %d/%d: %s, %d outputs: %v", i, j, res.Status, len(res.Outputs), res.Err)
				}
			}
		}()
	}
	wg.Wait()
	if n := len(out.sent()); n != 8*20*3 {
		t.Errorf("%d sends, want %d", n, 8*20*3)
	}
}

func TestRunLogStep(t *testing.T) {
	var buf syncBuffer
	set := setOf(nil, newProc("p",
		labelled("hello", logStep("warn", `"order " + body.Order_Number__c`)),
		logStep("debug", `"hidden"`),
		logStep("error", `body.Missing__c.Deeper`),
		logStep("", ""),
	))
	e, err := Compile(set, Deps{Log: zerolog.New(&buf).Level(zerolog.InfoLevel)})
	if err != nil {
		t.Fatal(err)
	}
	res := e.Run(context.Background(), "p", orderEvent(), RunOptions{})
	if res.Status != StatusOK {
		t.Fatalf("status %s: %v", res.Status, res.Err)
	}
	var lines []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		lines = append(lines, m)
	}
	if len(lines) != 3 {
		t.Fatalf("%d log lines, want 3 (debug is off): %s", len(lines), buf.String())
	}
	first := lines[0]
	if first["level"] != "warn" || first["message"] != "order O-1001" || first["process"] != "p" || first["step"] != "steps[0]" || first["step_name"] != "hello" {
		t.Errorf("first line %v", first)
	}
	if props, _ := first["props"].(map[string]any); props["replayId"] != "42" {
		t.Errorf("first line lacks the document's properties: %v", first)
	}
	// A message that cannot be built is logged as such; the run goes on.
	if msg, _ := lines[1]["message"].(string); lines[1]["level"] != "error" || !strings.HasPrefix(msg, "log message failed: ") {
		t.Errorf("second line %v", lines[1])
	}
	if body, _ := lines[2]["body"].(map[string]any); lines[2]["level"] != "info" || body["Order_Number__c"] != "O-1001" {
		t.Errorf("third line %v", lines[2])
	}
}

func TestExecCompileReportsEveryProblem(t *testing.T) {
	mappings := map[string]*Mapping{
		"bad": {Name: "bad", JQ: ".a | | .b", Pos: Pos{File: "m.yaml", Line: 3, Col: 1}},
	}
	set := setOf(mappings,
		newProc("p",
			atLine(2, mapStep("bad")),
			atLine(3, mapStep("missing")),
			atLine(4, routeStep("", nil, RouteCase{When: "body.x ==", Pos: tpos(5)})),
			atLine(6, sendStep("nowhere")),
			atLine(7, callStep("ghost")),
			atLine(8, setStep("a", "unknownName + 1")),
			atLine(9, Step{Kind: "teleport"}),
			atLine(10, filterStep("")),
		),
	)
	_, err := Compile(set, Deps{Senders: map[string]operations.Sender{}})
	if !errors.Is(err, ErrCompile) {
		t.Fatalf("err %v, want ErrCompile", err)
	}
	wants := []string{
		`mapping "bad"`,
		`t.yaml:3:3: process "p": steps[1]: unknown mapping "missing"`,
		`t.yaml:5:3: process "p": steps[2].route.cases[0].when: `,
		`t.yaml:6:3: process "p": steps[3]: no sender for operation "nowhere"`,
		`t.yaml:7:3: process "p": steps[4]: unknown sub-process "ghost"`,
		`t.yaml:8:3: process "p": steps[5].set.a: `,
		`t.yaml:9:3: process "p": steps[6]: unknown step kind "teleport"`,
		`t.yaml:10:3: process "p": steps[7].filter: empty expression`,
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != len(wants) {
		t.Errorf("%d problems, want %d:\n%s", len(lines), len(wants), err)
	}
	for _, w := range wants {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("missing %q in:\n%s", w, err)
		}
	}
	// A mapping that does not compile is reported once, not again for
	// each step that uses it.
	if n := strings.Count(err.Error(), `"bad"`); n != 1 {
		t.Errorf("mapping bad reported %d times", n)
	}
}
