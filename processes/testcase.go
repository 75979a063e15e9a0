package processes

// Process tests
//
// A Test component runs one document through a process as a dry run and
// compares what came of it with what it expects: the status, the error,
// the reply, the outputs, their properties and what each send operation
// was handed. `atom test` runs the Tests of a folder; `go test` runs them
// through RunTests (examples/ does), as Benthos runs its config tests.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/atomrt/atom/operations"
)

// ErrUnknownTest means RunTests was asked for a test the Set lacks.
var ErrUnknownTest = errors.New("unknown test")

// Fields of a Test, of its input and of its expect, with the docs the
// JSON Schema and the reference show.
var (
	testFields = []fieldInfo{
		{"process", "The process the test runs its input through, by name: one that listens, or a sub-process."},
		{"input", "The document to run: body (any value) and props (property names to text)."},
		{"expect", "What should come of the run (see Test expectations). A part left out is not checked; status is ok unless written."},
	}
	inputFields = []fieldInfo{
		{"body", "The document body: any YAML value."},
		{"props", "The document properties, name to text, as a listener would set them (replayId, http.header.x-request-id, ...)."},
	}
	expectFields = []fieldInfo{
		{"status", "How the run ends: ok (the default), failed, filtered (every path ended at a filter) or stopped."},
		{"error", "Text the run's error contains; written alone, it implies status: failed."},
		{"reply", "The reply body, compared exactly as JSON; null expects no reply."},
		{"output", "The body of the one document that reaches the end of the process, compared exactly as JSON."},
		{"outputs", "The bodies of the documents that reach the end, in order (a fan-out gives several); [] expects none."},
		{"props", "Properties every output has, with these values; it may have others too."},
		{"sent", "By send operation: the document bodies the process's send steps hand it, in order, compared exactly as JSON; [] expects no send. Sends are dry runs: nothing leaves the atom."},
	}
	testStatuses = []string{StatusOK, StatusFailed, StatusFiltered, StatusStopped}
)

// test builds a Test component; processes and operations are loaded
// already, so its references are checked here.
func (l *loader) test(d *yamlDoc) *Test {
	f := d.f
	t := &Test{Name: d.name, Pos: d.pos, Expect: Expect{Status: StatusOK, Where: map[string]Pos{}}}
	switch n := d.vals["process"]; {
	case n == nil:
		if !d.meant["process"] {
			l.report(d.pos, d.path, "add process: and the name of the process to run", "test has no process")
		}
	default:
		name, ok := l.text(f, n, d.path+".process", "the name of a process")
		if !ok {
			break
		}
		t.Process = name
		if _, known := l.set.Processes[name]; !known {
			l.report(f.pos(deref(n)), d.path+".process", refHint(name, l.set.Processes), fmt.Sprintf("unknown process %q", name))
		}
	}
	switch {
	case d.has("input"):
		t.Input = l.testInput(f, d.path+".input", d.vals["input"])
	case !d.meant["input"]:
		l.report(d.pos, d.path, "add input: {body: {...}, props: {name: value}}", "test has no input")
	}
	if d.has("expect") {
		l.expect(f, d.path+".expect", d.vals["expect"], &t.Expect)
	}
	return t
}

func (l *loader) testInput(f *srcFile, path string, n *yaml.Node) operations.Document {
	o, ok := l.object(f, path, n, fieldNames(inputFields), "field")
	if !ok {
		l.report(f.pos(deref(n)), path, "write input: {body: {...}, props: {name: value}}", "want a document, got "+describeNode(n))
		return operations.Document{}
	}
	var doc operations.Document
	if o.has("body") {
		doc.Body = nodeValue(o.vals["body"])
	}
	if o.has("props") {
		doc.Props = l.testProps(f, path+".props", o.vals["props"])
	}
	return doc
}

// testProps reads properties: names to text (a number or true is taken
// as written).
func (l *loader) testProps(f *srcFile, path string, n *yaml.Node) map[string]string {
	o, ok := l.object(f, path, n, nil, "property")
	if !ok {
		l.report(f.pos(deref(n)), path, "write props: {name: value}", "want properties, got "+describeNode(n))
		return nil
	}
	props := make(map[string]string, len(o.list))
	for _, k := range o.list {
		v := o.get(k)
		if v.Kind != yaml.ScalarNode || isNull(v) {
			l.report(f.pos(v), path+"."+k, "", "want text, got "+describeNode(v))
			continue
		}
		props[k] = v.Value
	}
	return props
}

// expect reads a Test's expectations into e.
func (l *loader) expect(f *srcFile, path string, n *yaml.Node, e *Expect) {
	o, ok := l.object(f, path, n, fieldNames(expectFields), "field")
	if !ok {
		if !isNull(deref(n)) {
			l.report(f.pos(deref(n)), path, "write expect: {status: ok, reply: {...}, ...}", "want expectations, got "+describeNode(n))
		}
		return
	}
	for _, k := range o.list {
		e.Where[k] = f.pos(o.keys[k])
	}
	if v := o.get("status"); v != nil {
		e.Status = l.enum(f, v, path+".status", testStatuses)
	}
	if o.has("error") {
		e.Error, _ = l.text(f, o.vals["error"], path+".error", "text the error contains")
		switch {
		case !o.has("status"):
			e.Status = StatusFailed
		case e.Status != StatusFailed:
			l.report(e.Where["error"], path+".error", "remove error:, or expect status: failed",
				fmt.Sprintf("an error is expected only of a failed run, and status is %s", e.Status))
		}
	}
	if o.has("reply") {
		e.Reply = &Expected{Body: nodeValue(o.vals["reply"]), Pos: e.Where["reply"]}
		if e.Reply.Body != nil && e.Status == StatusFailed {
			l.report(e.Where["reply"], path+".reply", "remove reply:, or expect another status", "a failed run has no reply")
		}
	}
	l.expectOutputs(f, path, o, e)
	if o.has("props") {
		e.Props = l.testProps(f, path+".props", o.vals["props"])
	}
	if e.Status == StatusFiltered && (len(e.Outputs) > 0 || len(e.Props) > 0) {
		at := e.Where["output"]
		if at.Line == 0 {
			at = e.Where["outputs"]
		}
		if at.Line == 0 {
			at = e.Where["props"]
		}
		l.report(at, path, "nothing reaches the end of a filtered run: remove output, outputs and props, or expect status: ok",
			"a filtered run has no output")
	}
	if o.has("sent") {
		l.expectSent(f, path+".sent", o.vals["sent"], e)
	}
}

func (l *loader) expectOutputs(f *srcFile, path string, o yamlMap, e *Expect) {
	switch {
	case o.has("output") && o.has("outputs"):
		later := "outputs"
		if slices.Index(o.list, "output") > slices.Index(o.list, "outputs") {
			later = "output"
		}
		l.report(e.Where[later], path, "keep output: for one document, or outputs: for a list", "both output and outputs")
	case o.has("output"):
		e.Outputs = []Expected{{Body: nodeValue(o.vals["output"]), Pos: e.Where["output"]}}
	case o.has("outputs"):
		v := o.get("outputs")
		if v.Kind != yaml.SequenceNode {
			l.report(f.pos(v), path+".outputs", "write outputs: [{...}, {...}], or output: {...} for one document", "want a list of bodies, got "+describeNode(v))
			return
		}
		e.Outputs = make([]Expected, 0, len(v.Content))
		for _, c := range v.Content {
			e.Outputs = append(e.Outputs, Expected{Body: nodeValue(c), Pos: f.pos(deref(c))})
		}
	}
}

// expectSent reads sent: bodies by send operation.
func (l *loader) expectSent(f *srcFile, path string, n *yaml.Node, e *Expect) {
	so, ok := l.object(f, path, n, nil, "operation")
	if !ok {
		l.report(f.pos(deref(n)), path, "write sent: {operation: [body, ...]}", "want bodies by send operation, got "+describeNode(n))
		return
	}
	for _, op := range so.list {
		p := path + "." + op
		es := ExpectedSends{Operation: op, Pos: f.pos(so.keys[op])}
		l.checkSentOperation(op, es.Pos, p)
		v := so.get(op)
		if v.Kind != yaml.SequenceNode {
			l.report(f.pos(v), p, fmt.Sprintf("write %s: [body, ...], a body a send; [] when nothing may be sent", op), "want a list of bodies, got "+describeNode(v))
			continue
		}
		for _, c := range v.Content {
			es.Bodies = append(es.Bodies, Expected{Body: nodeValue(c), Pos: f.pos(deref(c))})
		}
		e.Sent = append(e.Sent, es)
	}
}

func (l *loader) checkSentOperation(name string, at Pos, path string) {
	op, ok := l.set.Operations[name]
	if !ok {
		sends := map[string]*Operation{}
		for n, o := range l.set.Operations {
			if o.Action == Send {
				sends[n] = o
			}
		}
		l.report(at, path, refHint(name, sends), fmt.Sprintf("unknown send operation %q", name))
		return
	}
	if op.Action == Listen {
		l.report(at, path, "sent lists send operations, those of the process's send steps", fmt.Sprintf("operation %q is a listen operation", name))
	}
}

// TestResult is what came of one Test.
type TestResult struct {
	Test *Test
	// Result is the run, with its trace.
	Result *Result
	// Failures are the expectations the run did not meet, in the order
	// checked; none when the test passed.
	Failures []TestFailure
}

// Passed reports whether the run met every expectation.
func (r TestResult) Passed() bool { return len(r.Failures) == 0 }

// TestFailure is one expectation a run did not meet: where the
// expectation is written, its dotted path (tests.NAME.expect.reply) and
// what differed.
type TestFailure struct {
	Pos  Pos    `json:"pos"`
	Path string `json:"path"`
	Msg  string `json:"msg"`
}

// Error reads like `tests.yaml:14:3: tests.gold.expect.reply: priority:
// want "high", got "normal"`.
func (f TestFailure) Error() string { return Diagnostic{Pos: f.Pos, Path: f.Path, Msg: f.Msg}.Error() }

// RunTests runs the Tests of set (every one, in the order written, or
// those named) through exec, each as a dry run with the trace on, and
// says what came of each. exec must be compiled from set, with a sender
// for every send operation (a sender that cannot describe a dry run is
// only noted). A name the set lacks is an error wrapping ErrUnknownTest;
// a test that fails is a TestResult with Failures.
func RunTests(ctx context.Context, exec *Executor, set *Set, names ...string) ([]TestResult, error) {
	tests, err := selectTests(set, names)
	if err != nil {
		return nil, err
	}
	out := make([]TestResult, 0, len(tests))
	for _, t := range tests {
		if err := ctx.Err(); err != nil {
			return out, fmt.Errorf("run tests: %w", err)
		}
		out = append(out, RunTest(ctx, exec, t))
	}
	return out, nil
}

// selectTests returns the named tests, or all, in the order written.
func selectTests(set *Set, names []string) ([]*Test, error) {
	var tests []*Test
	if len(names) == 0 {
		for _, t := range set.Tests {
			tests = append(tests, t)
		}
	} else {
		seen := map[string]bool{}
		for _, n := range names {
			t, ok := set.Tests[n]
			if !ok {
				msg := fmt.Errorf("%w %q", ErrUnknownTest, n)
				if hint := refHint(n, set.Tests); hint != "" {
					msg = fmt.Errorf("%w (%s)", msg, hint)
				}
				return nil, msg
			}
			if !seen[n] {
				seen[n] = true
				tests = append(tests, t)
			}
		}
	}
	sort.Slice(tests, func(i, j int) bool {
		a, b := tests[i].Pos, tests[j].Pos
		switch {
		case a.File != b.File:
			return a.File < b.File
		case a.Line != b.Line:
			return a.Line < b.Line
		case a.Col != b.Col:
			return a.Col < b.Col
		}
		return tests[i].Name < tests[j].Name
	})
	return tests, nil
}

// RunTest runs one Test through exec as a dry run with the trace on and
// checks what came of it.
func RunTest(ctx context.Context, exec *Executor, t *Test) TestResult {
	res := exec.Run(ctx, t.Process, t.Input.Clone(), RunOptions{DryRun: true, Trace: true})
	c := checker{t: t, path: kindPlural[KindTest] + "." + t.Name + ".expect"}
	c.check(res)
	return TestResult{Test: t, Result: res, Failures: c.failures}
}

// checker compares a run with a Test's expectations.
type checker struct {
	t        *Test
	path     string
	failures []TestFailure
}

// fail records a failure of the expectation written under field, at pos
// (or where field is written, or at the test).
func (c *checker) fail(pos Pos, field, msg string) {
	if pos.Line == 0 {
		pos = c.t.Expect.Where[field]
	}
	if pos.Line == 0 {
		pos = c.t.Pos
	}
	c.failures = append(c.failures, TestFailure{Pos: pos, Path: c.path + "." + field, Msg: msg})
}

func (c *checker) check(res *Result) {
	e := c.t.Expect
	if res.Status != e.Status {
		msg := fmt.Sprintf("want status %s, got %s", e.Status, res.Status)
		switch {
		case res.Err != nil:
			msg += ": " + res.Err.Error()
		case len(res.Outputs) > 0:
			msg += " with output " + short(res.Outputs[0].Body)
		}
		c.fail(Pos{}, "status", msg)
		return // what follows would only repeat it
	}
	if e.Error != "" {
		got := ""
		if res.Err != nil {
			got = res.Err.Error()
		}
		if !strings.Contains(got, e.Error) {
			c.fail(Pos{}, "error", fmt.Sprintf("want an error containing %q, got %q", e.Error, got))
		}
	}
	c.checkReply(res)
	c.checkOutputs(res)
	c.checkProps(res)
	c.checkSent(res)
}

func (c *checker) checkReply(res *Result) {
	want := c.t.Expect.Reply
	switch {
	case want == nil:
	case want.Body == nil && res.Reply != nil:
		c.fail(want.Pos, "reply", "want no reply, got "+short(res.Reply.Body))
	case want.Body == nil:
	case res.Reply == nil:
		c.fail(want.Pos, "reply", "want a reply "+short(want.Body)+", got none (no reply step ran)")
	default:
		c.compare(want.Pos, "reply", want.Body, res.Reply.Body)
	}
}

func (c *checker) checkOutputs(res *Result) {
	want := c.t.Expect.Outputs
	if want == nil {
		return
	}
	field := "outputs"
	if _, one := c.t.Expect.Where["output"]; one {
		field = "output"
	}
	if len(res.Outputs) != len(want) {
		bodies := make([]any, len(res.Outputs))
		for i, d := range res.Outputs {
			bodies[i] = d.Body
		}
		c.fail(Pos{}, field, fmt.Sprintf("want %s, got %s: %s", count(len(want), "output"), count(len(res.Outputs), "output"), short(bodies)))
		return
	}
	for i, w := range want {
		f := field
		if field == "outputs" {
			f = fmt.Sprintf("outputs[%d]", i)
		}
		c.compare(w.Pos, f, w.Body, res.Outputs[i].Body)
	}
}

func (c *checker) checkProps(res *Result) {
	want := c.t.Expect.Props
	if len(want) == 0 {
		return
	}
	if len(res.Outputs) == 0 {
		c.fail(Pos{}, "props", "want properties on the output, but no document reached the end of the process")
		return
	}
	names := sortedKeys(want)
	for i, out := range res.Outputs {
		var diffs []string
		for _, k := range names {
			got, ok := out.Props[k]
			switch {
			case !ok:
				diffs = append(diffs, fmt.Sprintf("%s: want %q, got none", k, want[k]))
			case got != want[k]:
				diffs = append(diffs, fmt.Sprintf("%s: want %q, got %q", k, want[k], got))
			}
		}
		if len(diffs) == 0 {
			continue
		}
		msg := strings.Join(diffs, "; ")
		if len(res.Outputs) > 1 {
			msg = fmt.Sprintf("output %d: %s", i, msg)
		}
		c.fail(Pos{}, "props", msg)
	}
}

func (c *checker) checkSent(res *Result) {
	if len(c.t.Expect.Sent) == 0 {
		return
	}
	got := map[string][]any{}
	collectSent(res.Trace.Steps, got)
	for _, es := range c.t.Expect.Sent {
		field := "sent." + es.Operation
		bodies := got[es.Operation]
		if len(bodies) != len(es.Bodies) {
			msg := fmt.Sprintf("want %s, got %s", count(len(es.Bodies), "send"), count(len(bodies), "send"))
			if len(bodies) > 0 {
				msg += ": " + short(bodies)
			}
			c.fail(es.Pos, field, msg)
			continue
		}
		for i, w := range es.Bodies {
			c.compare(w.Pos, fmt.Sprintf("%s[%d]", field, i), w.Body, bodies[i])
		}
	}
}

// collectSent gathers, in the order they ran, the bodies that send steps
// handed their operations: the steps' inputs, whatever the connector then
// makes of them (its dry-run description is in the trace too).
func collectSent(steps []StepTrace, into map[string][]any) {
	for i := range steps {
		s := &steps[i]
		if s.Kind == StepSend && s.Status == StatusOK && s.Operation != "" {
			into[s.Operation] = append(into[s.Operation], s.Input)
		}
		collectSent(s.Steps, into)
	}
}

func count(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return strconv.Itoa(n) + " " + what + "s"
}

// compare checks got against want as JSON values and records what
// differs, path by path, with all of got when it is short.
func (c *checker) compare(pos Pos, field string, want, got any) {
	want, got = normalize(want), normalize(got)
	var diffs []difference
	jsonDiff("", want, got, &diffs)
	if len(diffs) == 0 {
		return
	}
	if diffs[0].path == "" {
		// The values differ at the top: say both.
		c.fail(pos, field, diffs[0].msg)
		return
	}
	const most = 5
	parts := make([]string, 0, most)
	for _, d := range diffs[:min(len(diffs), most)] {
		parts = append(parts, d.path+": "+d.msg)
	}
	msg := strings.Join(parts, "; ")
	if len(diffs) > most {
		msg += fmt.Sprintf("; and %d more", len(diffs)-most)
	}
	if g := short(got); len(g) <= maxShort {
		msg += " (got " + g + ")"
	}
	c.fail(pos, field, msg)
}

// normalize turns a value into what encoding/json decodes: numbers
// float64, objects map[string]any. YAML values, mapping results and
// decoded JSON then compare alike.
func normalize(v any) any {
	data, err := json.Marshal(v)
	if err != nil {
		return v
	}
	var out any
	if err := json.Unmarshal(data, &out); err != nil {
		return v
	}
	return out
}

var plainKey = regexp.MustCompile(`^[A-Za-z_$][A-Za-z0-9_$]*$`)

func keyPath(path, key string) string {
	if !plainKey.MatchString(key) {
		return path + "[" + strconv.Quote(key) + "]"
	}
	if path == "" {
		return key
	}
	return path + "." + key
}

// difference is one place where two JSON values differ; path "" is the
// top.
type difference struct{ path, msg string }

// jsonDiff appends what differs between two normalized JSON values,
// place by place: "want X, got Y", "missing (want X)", "not expected (got
// X)".
func jsonDiff(path string, want, got any, out *[]difference) {
	at := func(msg string) { *out = append(*out, difference{path, msg}) }
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			at("want " + short(want) + ", got " + short(got))
			return
		}
		keys := make([]string, 0, len(w)+len(g))
		for k := range w {
			keys = append(keys, k)
		}
		for k := range g {
			if _, both := w[k]; !both {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		for _, k := range keys {
			wv, inWant := w[k]
			gv, inGot := g[k]
			p := keyPath(path, k)
			switch {
			case !inGot:
				*out = append(*out, difference{p, "missing (want " + short(wv) + ")"})
			case !inWant:
				*out = append(*out, difference{p, "not expected (got " + short(gv) + ")"})
			default:
				jsonDiff(p, wv, gv, out)
			}
		}
	case []any:
		g, ok := got.([]any)
		switch {
		case !ok:
			at("want " + short(want) + ", got " + short(got))
		case len(g) != len(w):
			at(fmt.Sprintf("want %s, got %s: %s", count(len(w), "item"), count(len(g), "item"), short(got)))
		default:
			for i := range w {
				jsonDiff(fmt.Sprintf("%s[%d]", path, i), w[i], g[i], out)
			}
		}
	default:
		if !reflect.DeepEqual(want, got) {
			at("want " + short(want) + ", got " + short(got))
		}
	}
}

// maxShort bounds a value quoted in a failure.
const maxShort = 200

// short is v as compact JSON, cut to maxShort bytes.
func short(v any) string {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	if len(data) > maxShort {
		cut := maxShort
		for cut > 0 && data[cut]&0xC0 == 0x80 { // not inside a UTF-8 sequence
			cut--
		}
		return string(data[:cut]) + "…"
	}
	return string(data)
}
