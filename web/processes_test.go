package web_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/atomrt/atom/web"
)

type processView struct {
	Name, Listen, Listener string
	Concurrency, Steps     int
	Called                 bool
	Track                  []string
	YAML, File             string
	Graph                  struct {
		Nodes []struct{ ID, Kind, Label, Pos string }
		Edges []struct{ From, To, Label string }
	}
	Mappings []struct {
		Name, Kind, Source string
		Pairs              []struct{ Target, Source string }
	}
}

func TestProcessesListGraphAndMappings(t *testing.T) {
	e := newEnv(t, web.Options{})
	var list []processView
	e.must("GET", "/api/processes", nil, 200, &list)
	if len(list) != 0 {
		t.Fatalf("processes before a deployment = %+v", list)
	}
	e.apiErr("GET", "/api/processes/from-bus", nil, 404, "not_found")
	e.deploy(components)

	e.must("GET", "/api/processes", nil, 200, &list)
	byName := map[string]processView{}
	for _, p := range list {
		byName[p.Name] = p
	}
	if p := byName["from-bus"]; p.Listen != "orders" || p.Listener != "bus:/event/Order__e" || p.Steps != 4 || p.Called {
		t.Errorf("from-bus = %+v", p)
	}
	if p := byName["notify"]; p.Listen != "" || p.Listener != "" || !p.Called {
		t.Errorf("notify = %+v", p)
	}
	if p := byName["from-hook"]; p.Listener != "inbound:POST /hooks/orders" {
		t.Errorf("from-hook = %+v", p)
	}

	var p processView
	e.must("GET", "/api/processes/from-bus", nil, 200, &p)
	if !strings.HasPrefix(p.YAML, "kind: Process\nname: from-bus\n") || strings.Contains(p.YAML, "kind: Connection") || strings.Contains(p.YAML, "---") {
		t.Errorf("yaml is not the process's own document:\n%s", p.YAML)
	}
	if !strings.HasPrefix(p.File, "deployment.yaml:") || len(p.Track) != 2 {
		t.Errorf("file %q, track %v", p.File, p.Track)
	}
	kinds := map[string]string{}
	for _, n := range p.Graph.Nodes {
		kinds[n.ID] = n.Kind
	}
	for id, kind := range map[string]string{
		"start": "start", "steps[0]": "map", "steps[1]": "route", "steps[1].route.cases[0].steps[0]": "stop",
		"steps[2]": "call", "call:notify": "subprocess", "call:notify/steps[0]": "log", "call:notify/end": "end",
		"steps[3]": "send", "end": "end",
	} {
		if kinds[id] != kind {
			t.Errorf("node %s: kind %q, want %q (nodes %v)", id, kinds[id], kind, kinds)
		}
	}
	edges := map[string]string{}
	for _, ed := range p.Graph.Edges {
		edges[ed.From+" -> "+ed.To] = ed.Label
	}
	for edge, label := range map[string]string{
		"start -> steps[0]": "", "steps[0] -> steps[1]": "",
		"steps[1] -> steps[1].route.cases[0].steps[0]": "when body.n == 13",
		"steps[1] -> steps[2]":                         "no match",
		"steps[2] -> call:notify":                      "call",
		"call:notify -> call:notify/steps[0]":          "",
		"call:notify/steps[0] -> call:notify/end":      "",
		"steps[2] -> steps[3]":                         "", "steps[3] -> end": "",
	} {
		got, ok := edges[edge]
		if !ok || got != label {
			t.Errorf("edge %s: label %q (present %v), want %q", edge, got, ok, label)
		}
	}
	for edge := range edges {
		if strings.HasPrefix(edge, "steps[1].route.cases[0].steps[0] ->") {
			t.Errorf("a stop step leads on: %s", edge)
		}
	}
	if len(p.Mappings) != 1 || p.Mappings[0].Name != "shape" || p.Mappings[0].Kind != "jq" {
		t.Fatalf("mappings = %+v", p.Mappings)
	}
	assertPairs(t, p.Mappings[0].Pairs, "n", ".n", "orderId", ".id", "customer", ".customer.name")

	e.must("GET", "/api/processes/from-hook", nil, 200, &p)
	if len(p.Mappings) != 2 {
		t.Fatalf("from-hook mappings = %+v", p.Mappings)
	}
	if m := p.Mappings[0]; m.Kind != "fields" || !strings.Contains(m.Source, "orderId: body.id") {
		t.Errorf("field map = %+v", m)
	}
	assertPairs(t, p.Mappings[0].Pairs, "orderId", "body.id", "n", "body.n")
	if m := p.Mappings[1]; m.Kind != "expr" {
		t.Errorf("reply mapping = %+v", m)
	}
	assertPairs(t, p.Mappings[1].Pairs, "orderId", "body.orderId", "ok", "true")

	e.apiErr("GET", "/api/processes/nope", nil, 404, "not_found")
}

func assertPairs(t *testing.T, got []struct{ Target, Source string }, want ...string) {
	t.Helper()
	var flat []string
	for _, p := range got {
		flat = append(flat, p.Target, p.Source)
	}
	if strings.Join(flat, "|") != strings.Join(want, "|") {
		t.Errorf("pairs = %v, want %v", flat, want)
	}
}

type testResult struct {
	Execution, Status, Error string
	Reply                    *struct{ Body map[string]any }
	Outputs                  []struct{ Body map[string]any }
	Trace                    struct {
		Process string
		Steps   []struct{ Path, Kind, Status, Note string }
	}
	DurationMs float64
}

func TestTestRunDryAndLive(t *testing.T) {
	e := newEnv(t, web.Options{})
	e.deploy(components)

	var res testResult
	raw := e.must("POST", "/api/processes/from-bus/test", map[string]any{"body": map[string]any{"n": 7, "id": "o-7"}, "props": map[string]string{"eventUuid": "u-7"}}, 200, &res)
	if res.Status != "ok" || res.Execution == "" || len(res.Outputs) != 1 || res.Outputs[0].Body["orderId"] != "o-7" {
		t.Fatalf("dry run = %s", raw)
	}
	var send string
	for _, s := range res.Trace.Steps {
		if s.Kind == "send" {
			send = s.Status + " " + s.Note
		}
	}
	if !strings.Contains(send, "ok") || !strings.Contains(send, "dry") {
		t.Errorf("send step of a dry run: %q\n%s", send, raw)
	}
	if strings.Contains(string(raw), secret) {
		t.Errorf("dry-run trace shows the secret:\n%s", raw)
	}
	if n := e.sink.Count("/a"); n != 0 {
		t.Fatalf("a dry run sent %d documents", n)
	}

	// The run is in the history with its trace, and no position moved.
	var ex struct {
		Status, Process string
		Trace           json.RawMessage
	}
	e.must("GET", "/api/executions/"+res.Execution, nil, 200, &ex)
	if ex.Status != "test" || ex.Process != "from-bus" || !strings.Contains(string(ex.Trace), "steps[3]") {
		t.Errorf("recorded test run = %+v", ex)
	}
	var off struct{ Position string }
	e.must("GET", listenerPath("bus:/event/Order__e", "/offset"), nil, 200, &off)
	if off.Position != "" {
		t.Errorf("a test run moved the position to %q", off.Position)
	}

	raw = e.must("POST", "/api/processes/from-bus/test?live=true", map[string]any{"body": map[string]any{"n": 8}}, 200, &res)
	if res.Status != "ok" || e.sink.Count("/a") != 1 {
		t.Fatalf("live run: %s; sink has %d", raw, e.sink.Count("/a"))
	}
	if strings.Contains(string(raw), secret) {
		t.Errorf("live trace shows the secret:\n%s", raw)
	}
	auth := e.sink.Auth()[0]
	if auth != "Bearer "+secret {
		t.Errorf("the live send did not authenticate with the secret (got %q)", auth)
	}

	e.must("POST", "/api/processes/from-bus/test", map[string]any{"body": map[string]any{"n": 13}}, 200, &res)
	if res.Status != "failed" || !strings.Contains(res.Error, "unlucky 13") {
		t.Errorf("failing test run = %+v", res)
	}
	e.must("POST", "/api/processes/from-hook/test", map[string]any{"body": map[string]any{"id": "h-1"}}, 200, &res)
	if res.Reply == nil || res.Reply.Body["orderId"] != "h-1" {
		t.Errorf("reply of a test run = %+v", res.Reply)
	}

	e.apiErr("POST", "/api/processes/nope/test", map[string]any{"body": 1}, 404, "not_found")
	e.apiErr("POST", "/api/processes/from-bus/test", []byte(`{"body":`), 400, "bad_request")
	e.apiErr("POST", "/api/processes/from-bus/test", nil, 400, "bad_request")
	e.apiErr("POST", "/api/processes/from-bus/test?live=maybe", map[string]any{"body": 1}, 400, "bad_request")
	if n := e.sink.Count("/a"); n != 1 {
		t.Errorf("sink has %d documents after one live run", n)
	}
}

func TestSecretsAreRedactedInEveryAnswer(t *testing.T) {
	e := newEnv(t, web.Options{})
	e.deploy(components)
	e.tp.Publish(1)
	eventually(t, "event sent", func() bool { return e.sink.Count("/a") == 1 })

	var d deployment
	raw := e.must("GET", "/api/deployments/1", nil, 200, &d)
	if len(d.Files) != 1 || !strings.Contains(d.Files["deployment.yaml"], `token: "[redacted]"`) || strings.Contains(string(raw), secret) {
		t.Errorf("deployment files not redacted:\n%s", raw)
	}
	// A version that is not the running one is redacted too.
	e.deploy(strings.Replace(components, "path: /hooks/orders", "path: /hooks/v2", 1))
	raw = e.must("GET", "/api/deployments/1", nil, 200, &d)
	if !strings.Contains(d.Files["deployment.yaml"], "[redacted]") || strings.Contains(string(raw), secret) {
		t.Errorf("older version's files not redacted:\n%s", raw)
	}
	for _, path := range []string{
		"/api/deployments/active", "/api/deployments", "/api/processes", "/api/processes/from-bus",
		"/api/listeners", "/api/executions", "/api/dead-letters",
	} {
		if _, body := e.call("GET", path, nil); strings.Contains(string(body), secret) {
			t.Errorf("GET %s shows the secret:\n%s", path, body)
		}
	}
}
