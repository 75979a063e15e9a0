package processes

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/atomrt/atom/operations"
)

// testSuite is a small deployment with Tests: orders are filtered,
// routed by amount, fanned out to two sends when big, and answered.
// Tests whose name starts with "wrong-" expect what does not happen.
const testSuite = `kind: Connection
name: hooks
type: hook
settings: {url: HOOK_URL}
---
kind: Operation
name: orders-in
connection: hooks
action: listen
settings: {path: /in}
---
kind: Operation
name: big
connection: hooks
action: send
settings: {path: /big}
---
kind: Operation
name: small
connection: hooks
action: send
settings: {path: /small}
---
kind: Process
name: orders
listen: orders-in
steps:
  - filter: 'body.amount >= 0'
  - route:
      cases:
        - when: 'body.id == ""'
          steps: [{stop: {fail: '"order has no id"'}}]
        - when: 'body.amount > 1000'
          steps: [{set: {size: '"big"'}}, {call: send-big}]
      otherwise:
        - set: {size: '"small"'}
        - map: {jq: '{id, amount, small: true}'}
        - send: small
  - reply: {expr: '{"id": body.id, "size": props.size}'}
---
kind: Process
name: send-big
steps:
  - map: {jq: '{id, amount, big: true}'}
  - branch:
      - [{send: big}]
      - [{map: {jq: '. + {copy: 1}'}}, {send: big}]
---
kind: Test
name: big-order
process: orders
input:
  body: {id: o-1, amount: 2000}
  props: {replayId: 7}
expect:
  reply: {id: o-1, size: big}
  outputs:
    - {id: o-1, amount: 2000, big: true}
    - {id: o-1, amount: 2000.0, big: true, copy: 1}
  props: {size: big, replayId: "7"}
  sent:
    big: [{id: o-1, amount: 2000, big: true}, {id: o-1, amount: 2000, big: true, copy: 1}]
    small: []
---
kind: Test
name: small-order
process: orders
input: {body: {id: o-2, amount: 5}}
expect:
  status: ok
  output: {id: o-2, amount: 5, small: true}
  reply: {id: o-2, size: small}
  sent: {small: [{id: o-2, amount: 5, small: true}]}
---
kind: Test
name: refund-is-filtered
process: orders
input: {body: {id: o-3, amount: -1}}
expect:
  status: filtered
  reply: null
  sent: {small: [], big: []}
---
kind: Test
name: order-without-id-fails
process: orders
input: {body: {id: "", amount: 2000}}
expect: {error: has no id}
---
kind: Test
name: sub-process-alone
process: send-big
input: {body: {id: s-1, amount: 1, extra: x}}
expect:
  outputs: [{id: s-1, amount: 1, big: true}, {id: s-1, amount: 1, big: true, copy: 1}]
---
kind: Test
name: wrong-reply
process: orders
input: {body: {id: o-2, amount: 5}}
expect:
  reply: {id: o-2, size: big}
---
kind: Test
name: wrong-status
process: orders
input: {body: {id: o-3, amount: -1}}
---
kind: Test
name: wrong-sent
process: orders
input: {body: {id: o-1, amount: 2000}}
expect:
  sent:
    big: [{id: o-1}]
    small: [{id: o-1}]
---
kind: Test
name: wrong-error
process: orders
input: {body: {id: "", amount: 2000}}
expect: {error: has no lines}
---
kind: Test
name: wrong-output
process: orders
input: {body: {id: o-2, amount: 5}}
expect:
  output: {id: o-2, amount: 6, small: true, lines: []}
  props: {size: huge, region: EU}
`

// loadSuite loads testSuite with describing senders that post to srv,
// which must receive nothing: tests are dry runs.
func loadSuite(t *testing.T, srv *hookServer) (*Set, *Executor) {
	t.Helper()
	src := strings.ReplaceAll(testSuite, "HOOK_URL", srv.URL)
	set, err := Load(hookRegistry(t), []File{{Name: "suite.yaml", Data: []byte(src)}})
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	senders := map[string]operations.Sender{}
	for name, op := range set.Operations {
		if op.Action == Send {
			senders[name] = describingSender{postSender{url: srv.URL + op.Settings.String("path"), client: srv.Client()}}
		}
	}
	return set, mustCompile(t, set, senders)
}

// lineOf is the line of testSuite where text first appears after the
// line holding after.
func lineOf(t *testing.T, after, text string) int {
	t.Helper()
	start := strings.Index(testSuite, after)
	i := strings.Index(testSuite[start:], text)
	if start < 0 || i < 0 {
		t.Fatalf("%q after %q not in the suite", text, after)
	}
	return strings.Count(testSuite[:start+i], "\n") + 1
}

func TestRunTestsPassesAndFails(t *testing.T) {
	t.Parallel()
	srv := newHookServer(t)
	set, exec := loadSuite(t, srv)
	results, err := RunTests(context.Background(), exec, set)
	if err != nil {
		t.Fatal(err)
	}
	if len(results) != len(set.Tests) {
		t.Fatalf("%d results for %d tests", len(results), len(set.Tests))
	}
	var order []string
	failures := map[string][]string{}
	for _, r := range results {
		order = append(order, r.Test.Name)
		for _, f := range r.Failures {
			failures[r.Test.Name] = append(failures[r.Test.Name], f.Error())
		}
		if r.Result == nil || r.Result.Trace.Process != r.Test.Process {
			t.Errorf("%s: result %+v lacks its trace", r.Test.Name, r.Result)
		}
		if wrong := strings.HasPrefix(r.Test.Name, "wrong-"); r.Passed() == wrong {
			t.Errorf("%s: passed = %v, failures:\n%s", r.Test.Name, r.Passed(), strings.Join(failures[r.Test.Name], "\n"))
		}
	}
	if got := strings.Join(order, ","); !strings.HasPrefix(got, "big-order,small-order,refund-is-filtered,") {
		t.Errorf("tests ran in order %s, want the order written", got)
	}

	want := map[string][]string{
		"wrong-reply": {lineAt(t, "name: wrong-reply", "reply:", 3) +
			`: tests.wrong-reply.expect.reply: size: want "big", got "small" (got {"id":"o-2","size":"small"})`},
		"wrong-status": {"suite.yaml:" + itoa(lineOf(t, "name: wrong-status", "")-1) + ":1" +
			": tests.wrong-status.expect.status: want status ok, got filtered"},
		"wrong-sent": {
			lineAt(t, "name: wrong-sent", "big:", 5) + `: tests.wrong-sent.expect.sent.big: want 1 send, got 2 sends: [{"amount":2000,"big":true,"id":"o-1"},{"amount":2000,"big":true,"copy":1,"id":"o-1"}]`,
			lineAt(t, "name: wrong-sent", "small:", 5) + `: tests.wrong-sent.expect.sent.small: want 1 send, got 0 sends`,
		},
		"wrong-error": {lineAt(t, "name: wrong-error", "error:", 10) +
			`: tests.wrong-error.expect.error: want an error containing "has no lines", got "suite.yaml:` +
			itoa(lineOf(t, "name: orders", "{stop:")) + `:19: process \"orders\": steps[1].route.cases[0].steps[0] stop: order has no id"`},
		"wrong-output": {
			lineAt(t, "name: wrong-output", "output:", 3) + `: tests.wrong-output.expect.output: amount: want 6, got 5; lines: missing (want []) (got {"amount":5,"id":"o-2","small":true})`,
			lineAt(t, "name: wrong-output", "props:", 3) + `: tests.wrong-output.expect.props: region: want "EU", got none; size: want "huge", got "small"`,
		},
	}
	for name, w := range want {
		if got := strings.Join(failures[name], "\n"); got != strings.Join(w, "\n") {
			t.Errorf("%s failures:\n%s\nwant\n%s", name, got, strings.Join(w, "\n"))
		}
	}
	if reqs := srv.requests(); len(reqs) != 0 {
		t.Errorf("tests are dry runs, but the server received %v", reqs)
	}
}

// lineAt is "suite.yaml:LINE:COL" for text after the line holding after.
func lineAt(t *testing.T, after, text string, col int) string {
	return "suite.yaml:" + itoa(lineOf(t, after, text)) + ":" + itoa(col)
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestRunTestsByName(t *testing.T) {
	t.Parallel()
	set, exec := loadSuite(t, newHookServer(t))
	results, err := RunTests(context.Background(), exec, set, "small-order", "big-order", "small-order")
	if err != nil {
		t.Fatal(err)
	}
	if len(results) != 2 || results[0].Test.Name != "big-order" || !results[0].Passed() || !results[1].Passed() {
		t.Fatalf("results = %+v, want big-order and small-order, both passed", results)
	}
	_, err = RunTests(context.Background(), exec, set, "smal-order")
	if !errors.Is(err, ErrUnknownTest) || !strings.Contains(err.Error(), `did you mean "small-order"?`) {
		t.Errorf("err = %v, want ErrUnknownTest with a suggestion", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if results, err := RunTests(ctx, exec, set); !errors.Is(err, context.Canceled) || len(results) != 0 {
		t.Errorf("cancelled: %d results, err %v", len(results), err)
	}
}

func TestLoadTests(t *testing.T) {
	t.Parallel()
	set, _ := loadSuite(t, newHookServer(t))
	big := set.Tests["big-order"]
	if big == nil || big.Process != "orders" || big.Pos.Line != lineOf(t, "name: big-order", "")-1 {
		t.Fatalf("big-order = %+v", big)
	}
	e := big.Expect
	if e.Status != StatusOK {
		t.Errorf("status = %q, want ok by default", e.Status)
	}
	if big.Input.Props["replayId"] != "7" || big.Input.Body.(map[string]any)["amount"] != float64(2000) {
		t.Errorf("input = %+v", big.Input)
	}
	if len(e.Outputs) != 2 || len(e.Sent) != 2 || e.Sent[0].Operation != "big" || len(e.Sent[1].Bodies) != 0 {
		t.Errorf("expect = %+v", e)
	}
	if e.Where["reply"].Line != lineOf(t, "name: big-order", "reply:") {
		t.Errorf("reply written at %v", e.Where["reply"])
	}
	if r := set.Tests["refund-is-filtered"].Expect.Reply; r == nil || r.Body != nil {
		t.Errorf("reply: null = %+v, want an expected reply with no body", r)
	}
	if s := set.Tests["order-without-id-fails"].Expect.Status; s != StatusFailed {
		t.Errorf("error alone gives status %q, want failed", s)
	}
}

func TestJSONDiff(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name      string
		want, got any
		diffs     string
	}{
		{"equal numbers", map[string]any{"n": float64(1)}, map[string]any{"n": 1}, ""},
		{"top", "a", "b", `: want "a", got "b"`},
		{"types", map[string]any{}, []any{}, `: want {}, got []`},
		{"nested", map[string]any{"a": map[string]any{"b": []any{1, 2}}}, map[string]any{"a": map[string]any{"b": []any{1, 3}}}, `a.b[1]: want 2, got 3`},
		{"keys", map[string]any{"x": 1, "odd-key": 2}, map[string]any{"x": 1, "y": true}, `["odd-key"]: missing (want 2) | y: not expected (got true)`},
		{"length", []any{1}, []any{1, 2}, `: want 1 item, got 2 items: [1,2]`},
	} {
		t.Run(c.name, func(t *testing.T) {
			var diffs []difference
			jsonDiff("", normalize(c.want), normalize(c.got), &diffs)
			var parts []string
			for _, d := range diffs {
				parts = append(parts, d.path+": "+d.msg)
			}
			if got := strings.Join(parts, " | "); got != c.diffs {
				t.Errorf("diff = %q, want %q", got, c.diffs)
			}
		})
	}
}
