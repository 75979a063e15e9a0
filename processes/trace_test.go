package processes

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/atomrt/atom/operations"
)

// -update rewrites the golden traces. The flag may be defined by another
// test file of this package too; whoever comes first defines it.
func init() {
	if flag.Lookup("update") == nil {
		flag.Bool("update", false, "rewrite golden files under testdata/")
	}
}

func updating() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

// orderFlow is a representative deployment: an order event is mapped,
// tagged, routed to one of two sub-processes that send it on, with a try
// around the audit send.
func orderFlow() *Set {
	return setOf(
		map[string]*Mapping{"to-order": {Name: "to-order", JQ: `{order: .Order_Number__c, amount: .Amount__c, region: .Region__c, replay: $props.replayId}`, Pos: Pos{File: "maps.yaml", Line: 1, Col: 1}}},
		&Process{Name: "orders", Pos: Pos{File: "orders.yaml", Line: 1, Col: 1}, Steps: []Step{
			atLine(5, labelled("to order", mapStep("to-order"))),
			atLine(7, setStep("region", "body.region", "big", "body.amount >= 100")),
			atLine(10, routeStep(RouteFirst, seq(atLine(16, callStep("us-orders"))),
				RouteCase{When: `props.region == "EU"`, Pos: tpos(12), Steps: seq(atLine(13, callStep("eu-orders")))},
			)),
			atLine(18, tryStep(
				seq(atLine(19, labelled("audit", sendStep("audit")))),
				seq(atLine(21, logStep("warn", `"audit failed: " + props.error`))),
			)),
			atLine(23, replyStep(&MappingRef{Inline: &Mapping{JQ: `{accepted: .order}`}})),
		}},
		&Process{Name: "eu-orders", Pos: Pos{File: "orders.yaml", Line: 30, Col: 1}, Steps: []Step{
			atLine(32, filterStep(`body.amount > 0`)),
			atLine(33, labelled("eu erp", sendForAnswer("eu"))),
		}},
		&Process{Name: "us-orders", Pos: Pos{File: "orders.yaml", Line: 40, Col: 1}, Steps: []Step{
			atLine(42, sendStep("us")),
		}},
	)
}

func orderFlowSenders() map[string]operations.Sender {
	return map[string]operations.Sender{
		"eu": &recorder{answer: func(d operations.Document) (operations.Document, error) {
			return operations.NewDocument(map[string]any{"order": "O-1001", "erpId": "E-77"}, map[string]string{"httpStatus": "201"}), nil
		}},
		"us":    &recorder{},
		"audit": &recorder{answer: brokenAnswer},
	}
}

func TestTraceGolden(t *testing.T) {
	e := mustCompile(t, orderFlow(), orderFlowSenders())
	cases := []struct {
		golden string
		doc    operations.Document
		opt    RunOptions
	}{
		{"trace_order_eu.json", orderEvent(), RunOptions{Trace: true}},
		{"trace_order_light.json", orderEvent(), RunOptions{}},
	}
	for _, tc := range cases {
		t.Run(tc.golden, func(t *testing.T) {
			res := e.Run(context.Background(), "orders", tc.doc, tc.opt)
			if res.Status != StatusOK {
				t.Fatalf("status %s: %v", res.Status, res.Err)
			}
			got := goldenJSON(t, res.Trace)
			path := filepath.Join("testdata", "exec", tc.golden)
			if updating() {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to write it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("trace differs from %s (run with -update if the change is right):\n%s", path, got)
			}
		})
	}
}

// goldenJSON renders a trace without what changes between runs:
// durations and stacks.
func goldenJSON(t *testing.T, tr Trace) []byte {
	t.Helper()
	strip(tr.Steps)
	data, err := json.MarshalIndent(tr, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return append(data, '\n')
}

func strip(steps []StepTrace) {
	for i := range steps {
		steps[i].Duration = 0
		steps[i].Stack = ""
		strip(steps[i].Steps)
	}
}

func TestTraceContent(t *testing.T) {
	e := mustCompile(t, orderFlow(), orderFlowSenders())
	res := e.Run(context.Background(), "orders", orderEvent(), RunOptions{Trace: true})
	var paths []string
	var walk func(prefix string, steps []StepTrace)
	walk = func(prefix string, steps []StepTrace) {
		for _, s := range steps {
			paths = append(paths, prefix+s.Path+" "+s.Kind+" "+s.Status)
			walk(prefix+"  ", s.Steps)
		}
	}
	walk("", res.Trace.Steps)
	want := []string{
		"steps[0] map ok",
		"steps[1] set ok",
		"steps[2] route ok",
		"  steps[2].route.cases[0].steps[0] call ok",
		"    steps[2].route.cases[0].steps[0].call[0] process ok",
		"      steps[0] filter ok",
		"      steps[1] send ok",
		"steps[3] try caught",
		"  steps[3].try[0] send failed",
		"  steps[3].catch[0] log ok",
		"steps[4] reply ok",
	}
	if strings.Join(paths, "\n") != strings.Join(want, "\n") {
		t.Errorf("trace:\n%s\nwant:\n%s", strings.Join(paths, "\n"), strings.Join(want, "\n"))
	}
	m := res.Trace.Steps[0]
	if m.Label != "to order" || m.Pos != tpos(5) || m.Input == nil || m.Output == nil || m.Props["replayId"] != "42" {
		t.Errorf("map step %+v", m)
	}
	if set := res.Trace.Steps[1]; set.Props["region"] != "EU" || set.Props["big"] != "true" {
		t.Errorf("set step props %v", set.Props)
	}
	if r := res.Trace.Steps[2]; r.Note != "case 0" {
		t.Errorf("route note %q", r.Note)
	}
	if c := res.Trace.Steps[3].Steps[1]; c.Note != `audit failed: send through operation "audit": connection refused` {
		t.Errorf("catch log note %q", c.Note)
	}
	// The trace is JSON and reads back.
	data, err := json.Marshal(res.Trace)
	if err != nil {
		t.Fatal(err)
	}
	var back Trace
	if err := json.Unmarshal(data, &back); err != nil || len(back.Steps) != 5 || back.Steps[2].Steps[0].Steps[0].Label != "eu-orders" {
		t.Errorf("round trip: %v %+v", err, back)
	}
	var text bytes.Buffer
	if err := res.Trace.WriteText(&text); err != nil || !strings.Contains(text.String(), `steps[3] try: caught`) {
		t.Errorf("text trace %v:\n%s", err, text.String())
	}
}

func TestTraceLightWithoutOption(t *testing.T) {
	e := mustCompile(t, orderFlow(), orderFlowSenders())
	res := e.Run(context.Background(), "orders", orderEvent(), RunOptions{})
	var check func(steps []StepTrace)
	n := 0
	check = func(steps []StepTrace) {
		for _, s := range steps {
			n++
			if s.Input != nil || s.Output != nil || s.Props != nil || s.Sent != nil {
				t.Errorf("step %s captured bodies without RunOptions.Trace: %+v", s.Path, s)
			}
			if s.Kind == "" || s.Status == "" || s.Path == "" {
				t.Errorf("step %+v lacks kind, status or path", s)
			}
			check(s.Steps)
		}
	}
	check(res.Trace.Steps)
	if n != 11 {
		t.Errorf("%d steps traced, want 11", n)
	}
}
