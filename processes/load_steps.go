package processes

// Decoding of process steps and their parts.

import (
	"fmt"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// strings reads a list of non-empty texts.
func (l *loader) strings(f *srcFile, path string, n *yaml.Node, want string) []string {
	n = deref(n)
	if n.Kind != yaml.SequenceNode {
		l.report(f.pos(n), path, "write [a, b]", fmt.Sprintf("want a list of %s, got %s", want, describeNode(n)))
		return nil
	}
	out := make([]string, 0, len(n.Content))
	for i, c := range n.Content {
		if s, ok := l.text(f, c, fmt.Sprintf("%s[%d]", path, i), "a name"); ok {
			out = append(out, s)
		}
	}
	return out
}

// stepCtx is what step decoding needs to know about its process.
type stepCtx struct {
	f      *srcFile
	proc   string
	record bool // record call edges (false for a second definition)
}

func (l *loader) steps(sc stepCtx, path string, n *yaml.Node, depth int) []Step {
	n = deref(n)
	if n == nil || n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		l.report(sc.f.pos(n), path, "write a list: - map: ..., - send: ...", "want a list of steps, got "+describeNode(n))
		return nil
	}
	if depth > maxDepth {
		l.report(sc.f.pos(n), path, "move some of them into a sub-process", fmt.Sprintf("steps nested more than %d deep", maxDepth))
		return nil
	}
	out := make([]Step, 0, len(n.Content))
	for i, c := range n.Content {
		if s, ok := l.step(sc, fmt.Sprintf("%s[%d]", path, i), c, depth); ok {
			out = append(out, s)
		}
	}
	return out
}

var stepNames = fieldNames(stepKinds)

// step decodes one step: a mapping with exactly one step kind, an
// optional name, and catch after a try.
func (l *loader) step(sc stepCtx, path string, n *yaml.Node, depth int) (Step, bool) {
	f := sc.f
	n = deref(n)
	s := Step{Pos: f.pos(n)}
	if n.Kind != yaml.MappingNode {
		hint := "write - " + StepCall + ": notify, - " + StepSend + ": target, ..."
		if n.Kind == yaml.ScalarNode && hasString(stepNames, n.Value) {
			hint = fmt.Sprintf("write %s: and what it works on", n.Value)
		}
		l.report(f.pos(n), path, hint, "a step is a mapping such as {call: notify}, got "+describeNode(n))
		return s, false
	}
	o, _ := l.object(f, path, n, nil, "field")
	var kinds []string
	for _, k := range o.list {
		if hasString(stepNames, k) {
			kinds = append(kinds, k)
		}
	}
	unknown := false
	for _, k := range o.list {
		if hasString(stepNames, k) || k == "name" || k == "catch" {
			continue
		}
		unknown = true
		what, cands := "step", append(append([]string(nil), stepNames...), "name")
		if len(kinds) > 0 {
			what, cands = "field", []string{"name"}
			if kinds[0] == StepTry {
				cands = append(cands, "catch")
			}
		}
		hint := didYouMean(k, cands)
		if hint == "" {
			hint = "want " + orList(cands)
		}
		l.report(f.pos(o.keys[k]), path, hint, fmt.Sprintf("unknown %s %q", what, k))
	}
	switch {
	case len(kinds) == 0:
		if !unknown {
			l.report(f.pos(n), path, "want one of "+orList(stepNames), "step has no kind")
		}
		return s, false
	case len(kinds) > 1:
		l.report(f.pos(o.keys[kinds[1]]), path, "split them into separate steps", fmt.Sprintf("step has both %q and %q", kinds[0], kinds[1]))
	}
	s.Kind = kinds[0]
	if o.has("name") {
		s.Name, _ = l.text(f, o.vals["name"], path+".name", "a label")
	}
	if o.has("catch") && s.Kind != StepTry {
		l.report(f.pos(o.keys["catch"]), path, "put the steps that may fail under try:, and these under catch:", "catch without try")
	}
	l.stepBody(sc, &s, path+"."+s.Kind, o, depth)
	return s, true
}

// stepBody decodes what a step kind works on.
func (l *loader) stepBody(sc stepCtx, s *Step, path string, o yamlMap, depth int) {
	f := sc.f
	raw := o.vals[s.Kind]
	v := deref(raw)
	null := v.Kind == yaml.ScalarNode && v.ShortTag() == "!!null"
	switch s.Kind {
	case StepMap:
		s.Map = l.mappingRef(sc, path, v, false)
	case StepReply:
		s.Reply = l.mappingRef(sc, path, v, true)
	case StepSet:
		const hint = `write set: {name: expression}, such as set: {priority: '"high"'}`
		props, ok := l.object(f, path, v, nil, "property")
		switch {
		case !ok:
			l.report(f.pos(v), path, hint, "want properties to set, got "+describeNode(v))
			return
		case len(props.list) == 0:
			l.report(f.pos(v), path, hint, "set has no properties")
			return
		}
		for _, p := range props.list {
			src := l.expr(f, props.vals[p], path+"."+p, "an expr expression")
			s.Set = append(s.Set, Assign{Prop: p, Expr: src, Pos: f.pos(props.keys[p])})
		}
	case StepRoute:
		s.Route = l.route(sc, path, v, depth)
	case StepBranch:
		const hint = "write branch: [[steps of path 1], [steps of path 2]]"
		switch {
		case v.Kind != yaml.SequenceNode:
			l.report(f.pos(v), path, hint, "want a list of paths, got "+describeNode(v))
			return
		case len(v.Content) == 0:
			l.report(f.pos(v), path, hint, "branch has no paths")
			return
		}
		for i, c := range v.Content {
			p := fmt.Sprintf("%s[%d]", path, i)
			if c = deref(c); c.Kind != yaml.SequenceNode {
				l.report(f.pos(c), p, "each path is a list of steps", "want a list of steps, got "+describeNode(c))
				continue
			}
			s.Branch = append(s.Branch, l.steps(sc, p, c, depth+1))
		}
	case StepCall:
		var targets []*yaml.Node
		switch {
		case v.Kind == yaml.SequenceNode:
			targets = v.Content
		case !null:
			targets = []*yaml.Node{v}
		}
		if len(targets) == 0 {
			l.report(f.pos(v), path, "write call: name, or call: [a, b] to fan out", "call names no process")
		}
		for i, t := range targets {
			p := path
			if v.Kind == yaml.SequenceNode {
				p = fmt.Sprintf("%s[%d]", path, i)
			}
			name, ok := l.text(f, t, p, "the name of a process")
			if !ok {
				continue
			}
			s.Call = append(s.Call, name)
			pos := f.pos(deref(t))
			l.refs = append(l.refs, nameRef{kind: KindProcess, name: name, pos: pos, path: p})
			if sc.record {
				l.calls[sc.proc] = append(l.calls[sc.proc], callEdge{to: name, pos: pos, path: p})
			}
		}
	case StepSend:
		s.Send = &SendStep{}
		opNode := v
		if v.Kind == yaml.MappingNode {
			so, _ := l.object(f, path, v, []string{"operation", "response"}, "field")
			opNode = so.get("operation")
			if opNode == nil {
				l.report(f.pos(v), path, "add operation: and the name of a send operation", "send has no operation")
			}
			if r := so.get("response"); r != nil {
				s.Send.Response = l.boolean(f, r, path+".response")
			}
		}
		if opNode != nil {
			if name, ok := l.text(f, opNode, path, "the name of a send operation"); ok {
				s.Send.Operation = name
				l.refs = append(l.refs, nameRef{kind: KindOperation, name: name, action: Send, pos: f.pos(opNode), path: path})
			}
		}
	case StepFilter:
		s.Filter = l.expr(f, raw, path, "a condition")
	case StepLog:
		s.Log = &LogStep{Level: "info"}
		switch {
		case null:
		case v.Kind == yaml.MappingNode:
			lo, _ := l.object(f, path, v, []string{"message", "level"}, "field")
			if lo.has("message") {
				s.Log.Message = l.expr(f, lo.vals["message"], path+".message", "an expr expression")
			}
			if lv := lo.get("level"); lv != nil {
				s.Log.Level = l.enum(f, lv, path+".level", []string{"debug", "info", "warn", "error"})
			}
		default:
			s.Log.Message = l.expr(f, raw, path, "an expr expression, or {message, level}")
		}
	case StepStop:
		s.Stop = &StopStep{}
		if null {
			return
		}
		if v.Kind != yaml.MappingNode {
			l.report(f.pos(v), path, `write stop: {}, or stop: {fail: '"why"'} to fail the run`, "want a mapping, got "+describeNode(v))
			return
		}
		so, _ := l.object(f, path, v, []string{"fail"}, "field")
		if so.has("fail") {
			s.Stop.Fail = l.expr(f, so.vals["fail"], path+".fail", "an expr expression giving the failure message")
		}
	case StepTry:
		s.Try = l.steps(sc, path, v, depth+1)
		if len(s.Try) == 0 && (v.Kind != yaml.SequenceNode || len(v.Content) == 0) {
			l.report(f.pos(v), path, "put the steps that may fail under try:", "try has no steps")
		}
		if o.has("catch") {
			s.Catch = l.steps(sc, strings.TrimSuffix(path, "."+StepTry)+".catch", o.vals["catch"], depth+1)
		}
	}
}

// mappingRef reads map: or reply:, a Mapping's name or an inline mapping;
// reply may also be empty.
func (l *loader) mappingRef(sc stepCtx, path string, v *yaml.Node, emptyOK bool) *MappingRef {
	f := sc.f
	switch {
	case emptyOK && v.Kind == yaml.ScalarNode && v.ShortTag() == "!!null":
		return &MappingRef{}
	case emptyOK && v.Kind == yaml.MappingNode && len(v.Content) == 0:
		return &MappingRef{}
	case v.Kind == yaml.MappingNode:
		mo, _ := l.object(f, path, v, fieldNames(mappingFields), "field")
		name := strings.TrimPrefix(path, kindPlural[KindProcess]+".")
		return &MappingRef{Inline: l.mapping(f, path, mo, name, f.pos(v))}
	}
	name, ok := l.text(f, v, path, "the name of a mapping, or an inline mapping {jq: ...}")
	if !ok {
		return &MappingRef{}
	}
	l.refs = append(l.refs, nameRef{kind: KindMapping, name: name, pos: f.pos(v), path: path})
	return &MappingRef{Name: name}
}

func (l *loader) route(sc stepCtx, path string, v *yaml.Node, depth int) *Route {
	f := sc.f
	r := &Route{Mode: RouteFirst}
	ro, ok := l.object(f, path, v, []string{"mode", "cases", "otherwise"}, "field")
	if !ok {
		l.report(f.pos(v), path, "write route: {cases: [{when: condition, steps: [...]}], otherwise: [...]}", "want a mapping, got "+describeNode(v))
		return r
	}
	if m := ro.get("mode"); m != nil {
		r.Mode = l.enum(f, m, path+".mode", []string{RouteFirst, RouteAll})
	}
	cases := ro.get("cases")
	if cases == nil || cases.Kind != yaml.SequenceNode || len(cases.Content) == 0 {
		at := f.pos(v)
		if cases != nil {
			at = f.pos(cases)
		}
		l.report(at, path, "add cases: [{when: condition, steps: [...]}]", "route has no cases")
	} else {
		for i, c := range cases.Content {
			p := fmt.Sprintf("%s.cases[%d]", path, i)
			co, ok := l.object(f, p, c, []string{"when", "steps"}, "field")
			if !ok {
				l.report(f.pos(c), p, "write {when: condition, steps: [...]}", "want a case, got "+describeNode(c))
				continue
			}
			rc := RouteCase{Pos: f.pos(deref(c))}
			if !co.has("when") {
				l.report(rc.Pos, p, "add when: and an expr condition", "case has no when")
			} else {
				rc.When = l.expr(f, co.vals["when"], p+".when", "a condition")
			}
			rc.Steps = l.steps(sc, p+".steps", co.vals["steps"], depth+1)
			r.Cases = append(r.Cases, rc)
		}
	}
	if ro.has("otherwise") {
		r.Otherwise = l.steps(sc, path+".otherwise", ro.vals["otherwise"], depth+1)
	}
	return r
}

// expr reads an expression and compile-checks it.
func (l *loader) expr(f *srcFile, n *yaml.Node, path, want string) string {
	src, ok := l.text(f, n, path, want)
	if !ok || l.opts.Compiler == nil {
		return src
	}
	if err := l.opts.Compiler.CompileExpr(src); err != nil {
		l.report(f.pos(deref(n)), path, "", "invalid expression: "+err.Error())
	}
	return src
}

// enum reads one of a few words.
func (l *loader) enum(f *srcFile, n *yaml.Node, path string, allowed []string) string {
	s, ok := l.text(f, n, path, orList(allowed))
	if !ok {
		return allowed[0]
	}
	if !hasString(allowed, s) {
		hint := didYouMean(s, allowed)
		if hint == "" {
			hint = "want " + orList(allowed)
		}
		l.report(f.pos(deref(n)), path, hint, fmt.Sprintf("unknown value %q", s))
		return allowed[0]
	}
	return s
}

func (l *loader) boolean(f *srcFile, n *yaml.Node, path string) bool {
	n = deref(n)
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!bool" {
		b, _ := strconv.ParseBool(n.Value)
		return b
	}
	l.report(f.pos(n), path, "", "want true or false, got "+describeNode(n))
	return false
}
