package processes

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/atomrt/atom/operations"
)

// stepCase runs procs[0] on orderEvent() with three recording senders:
// "out", "audit" and "lookup" (which answers {"customerId": "C-9"} with the
// property status=201), and "broken" (which fails).
type stepCase struct {
	name     string
	mappings map[string]*Mapping
	procs    []*Process

	status string
	bodies []any               // output bodies, compared as JSON
	props  []map[string]string // per output: properties that must be set ("" means absent)
	sent   map[string][]any    // bodies each sender received, compared as JSON
	reply  any                 // the reply body, when one is expected
	err    string              // a substring of Result.Err
}

func lookupAnswer(operations.Document) (operations.Document, error) {
	return operations.NewDocument(map[string]any{"customerId": "C-9"}, map[string]string{"status": "201"}), nil
}

func brokenAnswer(operations.Document) (operations.Document, error) {
	return operations.Document{}, errors.New("connection refused")
}

func TestRunStepKinds(t *testing.T) {
	in := orderEvent().Body
	cases := []stepCase{
		{
			name:   "map jq with props",
			procs:  []*Process{newProc("p", jqStep(`{order: .Order_Number__c, amount: .Amount__c, replay: $props.replayId}`))},
			status: StatusOK,
			bodies: []any{map[string]any{"order": "O-1001", "amount": 250.5, "replay": "42"}},
			props:  []map[string]string{{"replayId": "42", "channel": "/event/Order__e", "eventUuid": "uuid-1"}},
		},
		{
			name: "map named field map",
			mappings: map[string]*Mapping{"to-order": {Name: "to-order", Fields: []FieldMap{
				{Target: "order.number", Expr: "body.Order_Number__c"},
				{Target: "order.region", Expr: "lower(body.Region__c)"},
			}}},
			procs:  []*Process{newProc("p", mapStep("to-order"))},
			status: StatusOK,
			bodies: []any{map[string]any{"order": map[string]any{"number": "O-1001", "region": "eu"}}},
		},
		{
			name:   "map inline expr",
			procs:  []*Process{newProc("p", Step{Kind: StepMap, Map: &MappingRef{Inline: &Mapping{Expr: `{"n": body.Order_Number__c, "event": props.eventUuid}`}}})},
			status: StatusOK,
			bodies: []any{map[string]any{"n": "O-1001", "event": "uuid-1"}},
		},
		{
			name: "set stringifies values and sees earlier ones",
			procs: []*Process{newProc("p", setStep(
				"amount", "body.Amount__c",
				"lines", "len(body.Lines__c)",
				"big", "body.Amount__c > 100",
				"first", "body.Lines__c[0]",
				"replayId", "nil",
				"label", `props.amount + "/" + props.lines`,
			))},
			status: StatusOK,
			bodies: []any{in},
			props: []map[string]string{{
				"amount": "250.5", "lines": "2", "big": "true", "first": `{"qty":2,"sku":"A-1"}`,
				"replayId": "", "label": "250.5/2", "eventUuid": "uuid-1",
			}},
		},
		{
			name:   "filter passes",
			procs:  []*Process{newProc("p", filterStep(`body.Status__c == "New"`), sendStep("out"))},
			status: StatusOK,
			bodies: []any{in},
			sent:   map[string][]any{"out": {in}},
		},
		{
			name:   "filter drops quietly",
			procs:  []*Process{newProc("p", filterStep(`body.Status__c == "Closed"`), sendStep("out"))},
			status: StatusFiltered,
			sent:   map[string][]any{"out": nil},
		},
		{
			name: "route first takes the first match only",
			procs: []*Process{newProc("p", routeStep(RouteFirst, seq(setStep("route", `"other"`)),
				whenCase(`body.Region__c == "EU"`, setStep("route", `"eu"`)),
				whenCase(`body.Amount__c > 100`, setStep("route", `"big"`)),
			), sendStep("out"))},
			status: StatusOK,
			props:  []map[string]string{{"route": "eu"}},
			sent:   map[string][]any{"out": {in}},
		},
		{
			name: "route all runs every match on its own copy",
			procs: []*Process{newProc("p", routeStep(RouteAll, nil,
				whenCase(`body.Region__c == "EU"`, setStep("route", `"eu"`), jqStep(`{eu: .Order_Number__c}`)),
				whenCase(`body.Region__c == "US"`, setStep("route", `"us"`)),
				whenCase(`body.Amount__c > 100`, setStep("route", `"big"`)),
			), sendStep("out"))},
			status: StatusOK,
			bodies: []any{map[string]any{"eu": "O-1001"}, in},
			props:  []map[string]string{{"route": "eu"}, {"route": "big"}},
			sent:   map[string][]any{"out": {map[string]any{"eu": "O-1001"}, in}},
		},
		{
			name: "route otherwise",
			procs: []*Process{newProc("p", routeStep("", seq(setStep("route", `"other"`)),
				whenCase(`body.Region__c == "US"`, setStep("route", `"us"`)),
			))},
			status: StatusOK,
			props:  []map[string]string{{"route": "other"}},
		},
		{
			name: "route without a match or otherwise passes the document on",
			procs: []*Process{newProc("p", routeStep("", nil,
				whenCase(`body.Region__c == "US"`, setStep("route", `"us"`)),
			), sendStep("out"))},
			status: StatusOK,
			props:  []map[string]string{{"route": ""}},
			sent:   map[string][]any{"out": {in}},
		},
		{
			name: "branch runs each path on a copy, in turn",
			procs: []*Process{newProc("p", branchStep(
				seq(setStep("path", `"a"`), sendStep("audit")),
				seq(jqStep(`{b: .Order_Number__c}`), setStep("path", `"b"`)),
			), sendStep("out"))},
			status: StatusOK,
			bodies: []any{in, map[string]any{"b": "O-1001"}},
			props:  []map[string]string{{"path": "a"}, {"path": "b"}},
			sent:   map[string][]any{"audit": {in}, "out": {in, map[string]any{"b": "O-1001"}}},
		},
		{
			name: "call continues with what the sub-process made",
			procs: []*Process{
				newProc("p", callStep("enrich"), sendStep("out")),
				newProc("enrich", jqStep(`{order: .Order_Number__c, replay: $props.replayId}`), setStep("enriched", "true")),
			},
			status: StatusOK,
			bodies: []any{map[string]any{"order": "O-1001", "replay": "42"}},
			props:  []map[string]string{{"enriched": "true", "replayId": "42"}},
			sent:   map[string][]any{"out": {map[string]any{"order": "O-1001", "replay": "42"}}},
		},
		{
			name:   "send with response makes the answer the document",
			procs:  []*Process{newProc("p", sendForAnswer("lookup"))},
			status: StatusOK,
			bodies: []any{map[string]any{"customerId": "C-9"}},
			props:  []map[string]string{{"status": "201", "replayId": "42"}},
			sent:   map[string][]any{"lookup": {in}},
		},
		{
			name:   "send without response merges the answer's properties",
			procs:  []*Process{newProc("p", sendStep("lookup"))},
			status: StatusOK,
			bodies: []any{in},
			props:  []map[string]string{{"status": "201", "replayId": "42"}},
		},
		{
			name:   "send failure fails the run",
			procs:  []*Process{newProc("p", sendStep("broken"), sendStep("out"))},
			status: StatusFailed,
			err:    `process "p": steps[0] send: send through operation "broken": connection refused`,
			sent:   map[string][]any{"broken": {in}, "out": nil},
		},
		{
			name:   "stop ends the run",
			procs:  []*Process{newProc("p", sendStep("audit"), Step{Kind: StepStop}, sendStep("out"))},
			status: StatusStopped,
			sent:   map[string][]any{"audit": {in}, "out": nil},
		},
		{
			name: "stop in a sub-process ends the whole run",
			procs: []*Process{
				newProc("p", callStep("sub"), sendStep("out")),
				newProc("sub", stopStep("")),
			},
			status: StatusStopped,
			sent:   map[string][]any{"out": nil},
		},
		{
			name:   "stop with fail fails the run with the message",
			procs:  []*Process{newProc("p", atLine(7, stopStep(`"order " + body.Order_Number__c + " has no customer"`)), sendStep("out"))},
			status: StatusFailed,
			err:    `t.yaml:7:3: process "p": steps[0] stop: order O-1001 has no customer`,
			sent:   map[string][]any{"out": nil},
		},
		{
			name: "try catches on the document as it was, with error props",
			procs: []*Process{newProc("p", tryStep(
				seq(setStep("stage", `"inside"`), jqStep(`{x: 1}`), sendStep("broken"), sendStep("out")),
				seq(sendStep("audit")),
			))},
			status: StatusOK,
			bodies: []any{in},
			props: []map[string]string{{
				"stage": "", "replayId": "42",
				"error":     `send through operation "broken": connection refused`,
				"errorStep": "steps[0].try[2]",
			}},
			sent: map[string][]any{"out": nil, "audit": {in}},
		},
		{
			name: "try catches a failing sub-process",
			procs: []*Process{
				newProc("p", tryStep(seq(callStep("sub")), seq(setStep("caught", "true")))),
				newProc("sub", stopStep(`"no"`)),
			},
			status: StatusOK,
			props:  []map[string]string{{"caught": "true", "errorStep": "steps[0].try[0]", "error": `process "sub": steps[0] stop: no`}},
		},
		{
			name:   "try without failure continues with its result",
			procs:  []*Process{newProc("p", tryStep(seq(setStep("stage", `"inside"`)), seq(sendStep("audit"))))},
			status: StatusOK,
			props:  []map[string]string{{"stage": "inside", "error": ""}},
			sent:   map[string][]any{"audit": nil},
		},
		{
			name:   "a failing catch fails the run",
			procs:  []*Process{newProc("p", tryStep(seq(sendStep("broken")), seq(stopStep(`"gave up: " + props.error`))))},
			status: StatusFailed,
			err:    `steps[0].catch[0] stop: gave up: send through operation "broken": connection refused`,
		},
		{
			name:   "reply with the document",
			procs:  []*Process{newProc("p", replyStep(&MappingRef{}), setStep("after", "1"))},
			status: StatusOK,
			reply:  in,
			props:  []map[string]string{{"after": "1"}},
		},
		{
			name:   "reply with a mapping",
			procs:  []*Process{newProc("p", replyStep(&MappingRef{Inline: &Mapping{JQ: `{accepted: .Order_Number__c}`}}))},
			status: StatusOK,
			bodies: []any{in},
			reply:  map[string]any{"accepted": "O-1001"},
		},
		{
			name:   "a reply inside a failed try is forgotten",
			procs:  []*Process{newProc("p", tryStep(seq(replyStep(&MappingRef{}), sendStep("broken")), seq(replyStep(&MappingRef{Inline: &Mapping{JQ: `{error: $props.error}`}}))))},
			status: StatusOK,
			reply:  map[string]any{"error": `send through operation "broken": connection refused`},
		},
		{
			name:   "no reply from a failed run",
			procs:  []*Process{newProc("p", replyStep(&MappingRef{}), sendStep("broken"))},
			status: StatusFailed,
		},
		{
			name:   "log continues",
			procs:  []*Process{newProc("p", logStep("warn", `"order " + body.Order_Number__c`), logStep("", ""), sendStep("out"))},
			status: StatusOK,
			sent:   map[string][]any{"out": {in}},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			senders := map[string]*recorder{
				"out": {}, "audit": {}, "lookup": {answer: lookupAnswer}, "broken": {answer: brokenAnswer},
			}
			deps := map[string]operations.Sender{}
			for k, v := range senders {
				deps[k] = v
			}
			e := mustCompile(t, setOf(tc.mappings, tc.procs...), deps)
			res := e.Run(context.Background(), tc.procs[0].Name, orderEvent(), RunOptions{})
			if res.Status != tc.status {
				t.Fatalf("status = %q, want %q (err %v)", res.Status, tc.status, res.Err)
			}
			checkErr(t, res, tc.err)
			if tc.bodies != nil && !jsonEq(t, bodiesOf(res.Outputs), tc.bodies) {
				t.Errorf("outputs = %s\nwant      %s", mustJSON(bodiesOf(res.Outputs)), mustJSON(tc.bodies))
			}
			checkProps(t, res.Outputs, tc.props)
			for op, want := range tc.sent {
				got := bodiesOf(senders[op].sent())
				if len(want) == 0 && len(got) == 0 {
					continue
				}
				if !jsonEq(t, got, want) {
					t.Errorf("sent to %s = %s\nwant %s", op, mustJSON(got), mustJSON(want))
				}
			}
			checkReply(t, res, tc.reply)
		})
	}
}

func checkErr(t *testing.T, res *Result, want string) {
	t.Helper()
	if res.Status != StatusFailed {
		if res.Err != nil {
			t.Errorf("status %s with error %v", res.Status, res.Err)
		}
		return
	}
	var se *StepError
	if !errors.As(res.Err, &se) {
		t.Fatalf("err = %v (%T), want a *StepError", res.Err, res.Err)
	}
	if want != "" && !strings.Contains(res.Err.Error(), want) {
		t.Errorf("err = %q\nwant it to contain %q", res.Err, want)
	}
	if len(res.Outputs) != 0 {
		t.Errorf("a failed run has outputs %s", mustJSON(bodiesOf(res.Outputs)))
	}
}

func checkProps(t *testing.T, outs []operations.Document, want []map[string]string) {
	t.Helper()
	if want == nil {
		return
	}
	if len(outs) != len(want) {
		t.Fatalf("%d outputs, want %d: %s", len(outs), len(want), mustJSON(propsOf(outs)))
	}
	for i, w := range want {
		for k, v := range w {
			got, ok := outs[i].Props[k]
			if v == "" && ok {
				t.Errorf("output %d: property %s = %q, want it absent", i, k, got)
			}
			if v != "" && got != v {
				t.Errorf("output %d: property %s = %q, want %q", i, k, got, v)
			}
		}
	}
}

func checkReply(t *testing.T, res *Result, want any) {
	t.Helper()
	if want == nil {
		if res.Reply != nil {
			t.Errorf("reply = %s, want none", mustJSON(res.Reply))
		}
		return
	}
	if res.Reply == nil {
		t.Fatalf("no reply, want %s", mustJSON(want))
	}
	if !jsonEq(t, res.Reply.Body, want) {
		t.Errorf("reply = %s, want %s", mustJSON(res.Reply.Body), mustJSON(want))
	}
	if res.Reply.Props["replayId"] != "42" {
		t.Errorf("reply props = %v, want the document's", res.Reply.Props)
	}
}

func TestStepSetPropText(t *testing.T) {
	cases := []struct {
		in   any
		want string
	}{
		{"as is", "as is"},
		{3.0, "3"},
		{-0.5, "-0.5"},
		{123456789012.0, "123456789012"},
		{1e21, "1e+21"},
		{0.0000001, "0.0000001"},
		{true, "true"},
		{map[string]any{"b": 1.0, "a": []any{"x", nil}}, `{"a":["x",null],"b":1}`},
	}
	for _, c := range cases {
		if got := propText(c.in); got != c.want {
			t.Errorf("propText(%#v) = %q, want %q", c.in, got, c.want)
		}
	}
}
