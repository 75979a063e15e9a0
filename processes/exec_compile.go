package processes

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/rs/zerolog"

	"github.com/atomrt/atom/mapping"
	"github.com/atomrt/atom/operations"
)

// program is a compiled process.
type program struct {
	name  string
	pos   Pos
	steps []*step
}

// step is a compiled step: everything it needs is resolved once, at
// Compile, so that running it looks nothing up by name.
type step struct {
	kind  string
	label string
	path  string // "steps[2].route.cases[0].steps[1]"
	pos   Pos

	mapping  *mapping.Mapping // map; reply (nil: the document as it is)
	assigns  []assign         // set
	cond     *mapping.Expr    // filter
	route    *route           // route
	branches [][]*step        // branch
	calls    []*program       // call
	callPath []string         // call: the trace path of each callee
	send     *sendOp          // send
	level    zerolog.Level    // log
	message  *mapping.Expr    // log (nil: the document); stop (fail message, nil: plain stop)
	try      []*step          // try
	catch    []*step          // try
}

type assign struct {
	prop string
	expr *mapping.Expr
}

type route struct {
	all       bool
	cases     []routeCase
	otherwise []*step
}

type routeCase struct {
	when  *mapping.Expr
	steps []*step
	note  string // "case 2", for the trace
}

type sendOp struct {
	op       string
	sender   operations.Sender
	dry      operations.DryRunner // nil when the sender cannot describe a dry run
	response bool
}

// Compile compiles every mapping and expression of a deployment once and
// resolves every reference (mappings, sub-processes, senders). Every
// problem is reported, each naming the component and where it was
// written; the error matches ErrCompile.
func Compile(set *Set, deps Deps) (*Executor, error) {
	c := compiler{set: set, deps: deps, mappings: map[string]*mapping.Mapping{}, procs: map[string]*program{}}
	for _, name := range sortedKeys(set.Mappings) {
		m := set.Mappings[name]
		if m == nil {
			continue
		}
		cm, err := compileMapping(name, m)
		if err != nil {
			c.errs = append(c.errs, err)
			continue
		}
		c.mappings[name] = cm
	}
	// Every program exists before any is compiled, so that a call step
	// can point at its callee whatever the order.
	for name, p := range set.Processes {
		if p != nil {
			c.procs[name] = &program{name: name, pos: p.Pos}
		}
	}
	for _, name := range sortedKeys(set.Processes) {
		p := set.Processes[name]
		if p == nil {
			continue
		}
		c.proc = name
		c.procs[name].steps = c.steps(p.Steps, "steps")
	}
	if len(c.errs) > 0 {
		return nil, &compileError{errs: c.errs}
	}
	return &Executor{procs: c.procs, log: deps.Log}, nil
}

type compiler struct {
	set      *Set
	deps     Deps
	mappings map[string]*mapping.Mapping
	procs    map[string]*program
	proc     string // the process being compiled
	errs     []error
}

// errorf records a problem with a step or a part of one.
func (c *compiler) errorf(pos Pos, where, format string, args ...any) {
	var b strings.Builder
	if pos.Line > 0 {
		b.WriteString(pos.String())
		b.WriteString(": ")
	}
	fmt.Fprintf(&b, "process %q: %s: ", c.proc, where)
	prefix := strings.ReplaceAll(b.String(), "%", "%%")
	c.errs = append(c.errs, fmt.Errorf(prefix+format, args...))
}

func (c *compiler) steps(in []Step, prefix string) []*step {
	out := make([]*step, 0, len(in))
	for i := range in {
		out = append(out, c.step(&in[i], prefix+"["+strconv.Itoa(i)+"]"))
	}
	return out
}

func (c *compiler) step(in *Step, path string) *step {
	s := &step{kind: in.Kind, label: in.Name, path: path, pos: in.Pos}
	switch in.Kind {
	case StepMap:
		s.mapping = c.mappingRef(in, in.Map, path)
	case StepSet:
		for _, a := range in.Set {
			pos := a.Pos
			if pos.Line == 0 {
				pos = in.Pos
			}
			e := c.expr(a.Expr, pos, path+".set."+a.Prop)
			s.assigns = append(s.assigns, assign{prop: a.Prop, expr: e})
		}
	case StepRoute:
		s.route = c.route(in, path)
	case StepBranch:
		for i, b := range in.Branch {
			s.branches = append(s.branches, c.steps(b, fmt.Sprintf("%s.branch[%d]", path, i)))
		}
	case StepCall:
		c.call(s, in)
	case StepSend:
		c.send(s, in)
	case StepFilter:
		s.cond = c.expr(in.Filter, in.Pos, path+".filter")
	case StepLog:
		c.logStep(s, in)
	case StepStop:
		if in.Stop != nil && in.Stop.Fail != "" {
			s.message = c.expr(in.Stop.Fail, in.Pos, path+".stop.fail")
		}
	case StepTry:
		s.try = c.steps(in.Try, path+".try")
		s.catch = c.steps(in.Catch, path+".catch")
	case StepReply:
		if in.Reply != nil && (in.Reply.Name != "" || in.Reply.Inline != nil) {
			s.mapping = c.mappingRef(in, in.Reply, path)
		}
	default:
		c.errorf(in.Pos, path, "unknown step kind %q (want map, set, route, branch, call, send, filter, log, stop, try or reply)", in.Kind)
	}
	return s
}

func (c *compiler) mappingRef(in *Step, ref *MappingRef, path string) *mapping.Mapping {
	switch {
	case ref == nil || ref.Name == "" && ref.Inline == nil:
		c.errorf(in.Pos, path, "%s step names no mapping", in.Kind)
		return nil
	case ref.Inline != nil:
		name := ref.Inline.Name
		if name == "" {
			name = "inline"
		}
		m, err := compileMapping(name, ref.Inline)
		if err != nil {
			c.errorf(in.Pos, path, "%w", err)
		}
		return m
	}
	m, ok := c.mappings[ref.Name]
	if !ok {
		if _, exists := c.set.Mappings[ref.Name]; !exists {
			c.errorf(in.Pos, path, "unknown mapping %q", ref.Name)
		}
		// Otherwise it did not compile, and that was reported once.
	}
	return m
}

func compileMapping(name string, m *Mapping) (*mapping.Mapping, error) {
	spec := mapping.Spec{Name: name, JQ: m.JQ, Expr: m.Expr, Lookups: m.Lookups, Where: where(m.Pos)}
	for _, f := range m.Fields {
		spec.Fields = append(spec.Fields, mapping.Field{Target: f.Target, Expr: f.Expr, Where: where(f.Pos)})
	}
	cm, err := mapping.Compile(spec)
	if err != nil {
		return nil, fmt.Errorf("compile mapping: %w", err)
	}
	return cm, nil
}

func where(p Pos) string {
	if p.Line == 0 {
		return ""
	}
	return p.String()
}

func (c *compiler) expr(src string, pos Pos, path string) *mapping.Expr {
	if strings.TrimSpace(src) == "" {
		c.errorf(pos, path, "empty expression")
		return nil
	}
	e, err := mapping.CompileExpr(src, nil)
	if err != nil {
		c.errorf(pos, path, "%w", err)
	}
	return e
}

func (c *compiler) route(in *Step, path string) *route {
	if in.Route == nil {
		c.errorf(in.Pos, path, "route step has no cases")
		return &route{}
	}
	r := &route{}
	switch in.Route.Mode {
	case "", RouteFirst:
	case RouteAll:
		r.all = true
	default:
		c.errorf(in.Pos, path, "unknown route mode %q (want first or all)", in.Route.Mode)
	}
	for i, rc := range in.Route.Cases {
		cp := fmt.Sprintf("%s.route.cases[%d]", path, i)
		pos := rc.Pos
		if pos.Line == 0 {
			pos = in.Pos
		}
		r.cases = append(r.cases, routeCase{
			when:  c.expr(rc.When, pos, cp+".when"),
			steps: c.steps(rc.Steps, cp+".steps"),
			note:  "case " + strconv.Itoa(i),
		})
	}
	r.otherwise = c.steps(in.Route.Otherwise, path+".route.otherwise")
	return r
}

func (c *compiler) call(s *step, in *Step) {
	if len(in.Call) == 0 {
		c.errorf(in.Pos, s.path, "call step names no sub-process")
	}
	for i, name := range in.Call {
		p, ok := c.procs[name]
		if !ok {
			c.errorf(in.Pos, s.path, "unknown sub-process %q", name)
			continue
		}
		s.calls = append(s.calls, p)
		s.callPath = append(s.callPath, fmt.Sprintf("%s.call[%d]", s.path, i))
	}
}

func (c *compiler) send(s *step, in *Step) {
	if in.Send == nil || in.Send.Operation == "" {
		c.errorf(in.Pos, s.path, "send step names no operation")
		return
	}
	op := in.Send.Operation
	snd, ok := c.deps.Senders[op]
	if !ok || snd == nil {
		c.errorf(in.Pos, s.path, "no sender for operation %q (is it a Send operation of this deployment?)", op)
		return
	}
	dry, _ := snd.(operations.DryRunner)
	s.send = &sendOp{op: op, sender: snd, dry: dry, response: in.Send.Response}
}

func (c *compiler) logStep(s *step, in *Step) {
	s.level = zerolog.InfoLevel
	if in.Log == nil {
		return
	}
	switch in.Log.Level {
	case "", "info":
	case "debug":
		s.level = zerolog.DebugLevel
	case "warn":
		s.level = zerolog.WarnLevel
	case "error":
		s.level = zerolog.ErrorLevel
	default:
		c.errorf(in.Pos, s.path, "unknown log level %q (want debug, info, warn or error)", in.Log.Level)
	}
	if in.Log.Message != "" {
		s.message = c.expr(in.Log.Message, in.Pos, s.path+".log.message")
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// compileError is every problem Compile found, one a line.
type compileError struct{ errs []error }

func (e *compileError) Error() string {
	lines := make([]string, len(e.errs))
	for i, err := range e.errs {
		lines[i] = err.Error()
	}
	return strings.Join(lines, "\n")
}

func (e *compileError) Unwrap() []error { return e.errs }

func (e *compileError) Is(target error) bool { return target == ErrCompile }
