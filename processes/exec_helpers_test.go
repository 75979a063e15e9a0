package processes

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/rs/zerolog"

	"github.com/atomrt/atom/operations"
)

// The senders below implement operations.Sender, the connector contract:
// they stand in for a connector, not for any of this package's
// collaborators.

// hookServer is a real HTTP server that records every request it gets.
// A path ending in /fail answers 500; others answer
// {"id": "rec-N", "got": <request body>}.
type hookServer struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []hookRequest
}

type hookRequest struct {
	Path  string
	Body  any
	Props map[string]string // from the X-Props header
}

func newHookServer(t testing.TB) *hookServer {
	h := &hookServer{}
	h.Server = httptest.NewServer(http.HandlerFunc(h.serve))
	t.Cleanup(h.Close)
	return h
}

func (h *hookServer) serve(w http.ResponseWriter, r *http.Request) {
	data, _ := io.ReadAll(r.Body)
	var body any
	if err := json.Unmarshal(data, &body); err != nil {
		http.Error(w, "not JSON", http.StatusBadRequest)
		return
	}
	var props map[string]string
	if h := r.Header.Get("X-Props"); h != "" {
		_ = json.Unmarshal([]byte(h), &props)
	}
	h.mu.Lock()
	h.reqs = append(h.reqs, hookRequest{Path: r.URL.Path, Body: body, Props: props})
	n := len(h.reqs)
	h.mu.Unlock()
	if strings.HasSuffix(r.URL.Path, "/fail") {
		http.Error(w, `{"error":"down for maintenance"}`, http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"id": fmt.Sprintf("rec-%d", n), "got": body})
}

// requests returns what the server received so far.
func (h *hookServer) requests() []hookRequest {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]hookRequest(nil), h.reqs...)
}

// bodies returns the bodies received on path.
func (h *hookServer) bodies(path string) []any {
	var out []any
	for _, r := range h.requests() {
		if r.Path == path {
			out = append(out, r.Body)
		}
	}
	return out
}

// postSender POSTs the body as JSON, with the properties as JSON in an
// X-Props header, and answers with the decoded response and a "sentTo" property.
type postSender struct {
	url    string
	client *http.Client
}

func (s postSender) Send(ctx context.Context, doc operations.Document) (operations.Document, error) {
	data, err := json.Marshal(doc.Body)
	if err != nil {
		return operations.Document{}, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(data))
	if err != nil {
		return operations.Document{}, err
	}
	if len(doc.Props) > 0 {
		props, _ := json.Marshal(doc.Props)
		req.Header.Set("X-Props", string(props))
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return operations.Document{}, err
	}
	defer resp.Body.Close()
	data, _ = io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		return operations.Document{}, fmt.Errorf("POST %s: %s: %s", s.url, resp.Status, bytes.TrimSpace(data))
	}
	var body any
	if err := json.Unmarshal(data, &body); err != nil {
		return operations.Document{}, err
	}
	return operations.NewDocument(body, map[string]string{"sentTo": s.url}), nil
}

// describingSender is a postSender that can describe a dry run, and puts
// a credential in the description to show that traces hide it.
type describingSender struct{ postSender }

func (s describingSender) DryRun(doc operations.Document) (operations.Document, error) {
	return operations.NewDocument(map[string]any{
		"method":  "POST",
		"url":     s.url,
		"headers": map[string]any{"Authorization": "Bearer s3cr3t-token", "Content-Type": "application/json"},
		"body":    doc.Body,
	}, nil), nil
}

// recorder keeps every document sent to it, as it was sent, and answers
// with answer (or the document itself when answer is nil).
type recorder struct {
	mu     sync.Mutex
	docs   []operations.Document
	answer func(operations.Document) (operations.Document, error)
}

func (r *recorder) Send(_ context.Context, doc operations.Document) (operations.Document, error) {
	r.mu.Lock()
	r.docs = append(r.docs, doc.Clone())
	r.mu.Unlock()
	if r.answer != nil {
		return r.answer(doc)
	}
	return operations.Document{}, nil
}

func (r *recorder) sent() []operations.Document {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]operations.Document(nil), r.docs...)
}

// panicSender panics, as a buggy connector might.
type panicSender struct{}

func (panicSender) Send(context.Context, operations.Document) (operations.Document, error) {
	panic("connector bug: nil client")
}

// syncBuffer is a bytes.Buffer safe for a logger used by parallel runs.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Step builders keep the tables short. Positions are made up but real
// enough to show in errors: t.yaml:LINE:3.

func tpos(line int) Pos { return Pos{File: "t.yaml", Line: line, Col: 3} }

func atLine(line int, s Step) Step { s.Pos = tpos(line); return s }

func labelled(name string, s Step) Step { s.Name = name; return s }

func jqStep(jq string) Step {
	return Step{Kind: StepMap, Map: &MappingRef{Inline: &Mapping{JQ: jq}}}
}

func mapStep(name string) Step { return Step{Kind: StepMap, Map: &MappingRef{Name: name}} }

// setStep takes prop, expr pairs.
func setStep(pairs ...string) Step {
	s := Step{Kind: StepSet}
	for i := 0; i+1 < len(pairs); i += 2 {
		s.Set = append(s.Set, Assign{Prop: pairs[i], Expr: pairs[i+1]})
	}
	return s
}

func filterStep(cond string) Step { return Step{Kind: StepFilter, Filter: cond} }

func sendStep(op string) Step { return Step{Kind: StepSend, Send: &SendStep{Operation: op}} }

func sendForAnswer(op string) Step {
	return Step{Kind: StepSend, Send: &SendStep{Operation: op, Response: true}}
}

func callStep(names ...string) Step { return Step{Kind: StepCall, Call: names} }

func whenCase(cond string, steps ...Step) RouteCase { return RouteCase{When: cond, Steps: steps} }

func routeStep(mode string, otherwise []Step, cases ...RouteCase) Step {
	return Step{Kind: StepRoute, Route: &Route{Mode: mode, Cases: cases, Otherwise: otherwise}}
}

func branchStep(paths ...[]Step) Step { return Step{Kind: StepBranch, Branch: paths} }

func seq(s ...Step) []Step { return s }

func tryStep(try, catch []Step) Step { return Step{Kind: StepTry, Try: try, Catch: catch} }

func stopStep(fail string) Step { return Step{Kind: StepStop, Stop: &StopStep{Fail: fail}} }

func logStep(level, msg string) Step {
	return Step{Kind: StepLog, Log: &LogStep{Level: level, Message: msg}}
}

func replyStep(ref *MappingRef) Step { return Step{Kind: StepReply, Reply: ref} }

func newProc(name string, s ...Step) *Process {
	return &Process{Name: name, Steps: s, Pos: Pos{File: name + ".yaml", Line: 1, Col: 1}}
}

func setOf(mappings map[string]*Mapping, procs ...*Process) *Set {
	set := &Set{Mappings: mappings, Processes: map[string]*Process{}}
	for _, p := range procs {
		set.Processes[p.Name] = p
	}
	return set
}

func mustCompile(t testing.TB, set *Set, senders map[string]operations.Sender) *Executor {
	t.Helper()
	e, err := Compile(set, Deps{Senders: senders, Log: zerolog.Nop()})
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	return e
}

// event is a small platform event with the properties a listener sets.
func orderEvent() operations.Document {
	return operations.NewDocument(map[string]any{
		"Order_Number__c": "O-1001",
		"Amount__c":       250.5,
		"Status__c":       "New",
		"Region__c":       "EU",
		"Lines__c":        []any{map[string]any{"sku": "A-1", "qty": 2.0}, map[string]any{"sku": "B-7", "qty": 1.0}},
	}, map[string]string{"replayId": "42", "channel": "/event/Order__e", "eventUuid": "uuid-1"})
}

func propsOf(docs []operations.Document) []map[string]string {
	out := make([]map[string]string, len(docs))
	for i, d := range docs {
		out[i] = maps.Clone(d.Props)
	}
	return out
}

func bodiesOf(docs []operations.Document) []any {
	out := make([]any, len(docs))
	for i, d := range docs {
		out[i] = d.Body
	}
	return out
}

// jsonEq reports whether a and b are equal as JSON.
func jsonEq(t testing.TB, a, b any) bool {
	t.Helper()
	ja, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	jb, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Equal(ja, jb)
}

func mustJSON(v any) string {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("(%v)", err)
	}
	return string(data)
}
