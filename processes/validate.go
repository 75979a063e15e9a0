package processes

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/atomrt/atom/mapping"
	"github.com/atomrt/atom/operations"
)

// settings checks a settings mapping against a connector's Spec and
// returns it in the Go types operations.Settings documents, defaults
// applied. owner is where a missing required setting is reported when
// there is no settings mapping at all; misspelt says the settings key
// itself was misspelt (and reported), so missing settings are not.
func (l *loader) settings(f *srcFile, path string, raw *yaml.Node, spec operations.Spec, owner Pos, misspelt bool) operations.Settings {
	out := operations.Settings{}
	var given yamlMap
	at := owner
	if n := deref(raw); n != nil && !isNull(n) {
		o, ok := l.object(f, path, n, specNames(spec), "setting")
		if !ok {
			l.report(f.pos(n), path, "write settings: {name: value}", "want a mapping of settings, got "+describeNode(n))
			return out
		} else {
			given, at = o, f.pos(n)
		}
	}
	for _, fld := range spec.Fields {
		v := given.get(fld.Name)
		if v == nil || isNull(v) {
			switch {
			case fld.Default != nil:
				out[fld.Name] = defaultValue(fld)
			case fld.Required && !misspelt && !given.meant[fld.Name]:
				l.report(at, path, missingHint(fld), fmt.Sprintf("missing required setting %q", fld.Name))
			}
			continue
		}
		if val, ok := l.setting(f, path+"."+fld.Name, fld, v); ok {
			out[fld.Name] = val
		}
	}
	return out
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" }

// specNames lists a Spec's field names; never nil, so that object treats
// every key as unknown when a Spec has no fields.
func specNames(spec operations.Spec) []string {
	out := make([]string, 0, len(spec.Fields))
	for _, f := range spec.Fields {
		out = append(out, f.Name)
	}
	return out
}

func missingHint(f operations.Field) string {
	switch {
	case f.Example != nil:
		return fmt.Sprintf("add %s: %v", f.Name, f.Example)
	case len(f.Enum) > 0:
		return fmt.Sprintf("add %s: %s", f.Name, orList(f.Enum))
	}
	return fmt.Sprintf("add %s: under settings", f.Name)
}

// defaultValue returns a field's default in the Go type of its Type, so
// that a Spec written with an untyped constant (Default: 10) still gives
// an int64.
func defaultValue(f operations.Field) any {
	switch d := f.Default.(type) {
	case int:
		switch f.Type {
		case operations.Int:
			return int64(d)
		case operations.Float:
			return float64(d)
		case operations.Duration:
			return time.Duration(d)
		}
	case string:
		switch f.Type {
		case operations.Duration:
			if v, err := time.ParseDuration(d); err == nil {
				return v
			}
		case operations.Secret:
			return operations.NewSecret(d)
		}
	}
	return f.Default
}

// typeWant says what a setting type looks like, for "want X, got Y".
func typeWant(f operations.Field) string {
	switch f.Type {
	case operations.Int:
		return "a whole number"
	case operations.Float:
		return "a number"
	case operations.Bool:
		return "true or false"
	case operations.Duration:
		return "a duration such as 30s or 5m"
	case operations.Enum:
		return orList(f.Enum)
	case operations.Map:
		return "a mapping of names to text"
	case operations.List:
		return "a list of text"
	case operations.Secret:
		return "text, such as ${env:NAME} or ${file:PATH}"
	}
	return "text"
}

// setting converts one setting's value. References are resolved in every
// text, including map values and list items (an Authorization header
// built from ${env:TOKEN}). A value is quoted in a diagnostic only when
// its field is not a Secret.
func (l *loader) setting(f *srcFile, path string, fld operations.Field, n *yaml.Node) (any, bool) {
	switch fld.Type {
	case operations.Map:
		mo, ok := l.object(f, path, n, nil, "key")
		if !ok {
			l.report(f.pos(n), path, "", fmt.Sprintf("want %s, got %s", typeWant(fld), describeNode(n)))
			return nil, false
		}
		m := make(map[string]string, len(mo.list))
		good := true
		for _, k := range mo.list {
			v := mo.get(k)
			if v.Kind != yaml.ScalarNode {
				l.report(f.pos(v), path+"."+k, "", "want text, got "+describeNode(v))
				good = false
				continue
			}
			s, literal, ok := l.expand(f, v, path+"."+k, false)
			good = good && ok
			if literal && credentialKey(k) && hasLiteralCredential(v.Value) {
				l.noteSecret(f, v) // a literal X-Api-Key header is a secret too
			}
			m[k] = s
		}
		return m, good
	case operations.List:
		if n.Kind != yaml.SequenceNode {
			l.report(f.pos(n), path, "write [a, b]", fmt.Sprintf("want %s, got %s", typeWant(fld), describeNode(n)))
			return nil, false
		}
		list := make([]string, 0, len(n.Content))
		good := true
		for i, c := range n.Content {
			p := fmt.Sprintf("%s[%d]", path, i)
			if c = deref(c); c.Kind != yaml.ScalarNode {
				l.report(f.pos(c), p, "", "want text, got "+describeNode(c))
				good = false
				continue
			}
			s, _, ok := l.expand(f, c, p, false)
			good = good && ok
			list = append(list, s)
		}
		return list, good
	}
	if n.Kind != yaml.ScalarNode {
		l.report(f.pos(n), path, "", fmt.Sprintf("want %s, got %s", typeWant(fld), describeNode(n)))
		return nil, false
	}
	secret := fld.Type == operations.Secret
	s, literal, ok := l.expand(f, n, path, secret)
	if secret && literal {
		l.noteSecret(f, n)
	}
	if !ok {
		return nil, false
	}
	bad := func(hint string) (any, bool) {
		l.report(f.pos(n), path, hint, fmt.Sprintf("want %s, got %q", typeWant(fld), s))
		return nil, false
	}
	switch fld.Type {
	case operations.String:
		return s, true
	case operations.Secret:
		return operations.NewSecret(s), true
	case operations.Enum:
		if hasString(fld.Enum, s) {
			return s, true
		}
		if h := didYouMean(s, fld.Enum); h != "" {
			l.report(f.pos(n), path, h, fmt.Sprintf("unknown value %q", s))
			return nil, false
		}
		return bad("")
	case operations.Int:
		v, err := strconv.ParseInt(strings.ReplaceAll(s, "_", ""), 10, 64)
		if err != nil {
			return bad("")
		}
		return v, true
	case operations.Float:
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return bad("")
		}
		return v, true
	case operations.Bool:
		switch strings.ToLower(s) {
		case "true":
			return true, true
		case "false":
			return false, true
		}
		return bad("")
	case operations.Duration:
		v, err := time.ParseDuration(s)
		if err != nil || v < 0 {
			return bad("units are ms, s, m and h; 1m30s also works")
		}
		return v, true
	}
	l.report(f.pos(n), path, "the connector's Spec is wrong; report it", fmt.Sprintf("setting %q has unknown type %q", fld.Name, fld.Type))
	return nil, false
}

// checkRefs checks every reference by name from processes, once all
// components are known.
func (l *loader) checkRefs() {
	for _, r := range l.refs {
		switch r.kind {
		case KindOperation:
			l.checkOperationRef(r)
		case KindMapping:
			if _, ok := l.set.Mappings[r.name]; !ok {
				l.report(r.pos, r.path, refHint(r.name, l.set.Mappings), fmt.Sprintf("unknown mapping %q", r.name))
			}
		case KindProcess:
			p, ok := l.set.Processes[r.name]
			switch {
			case !ok:
				l.report(r.pos, r.path, refHint(r.name, l.set.Processes), fmt.Sprintf("unknown process %q", r.name))
			case p.Listen != "":
				l.report(r.pos, r.path, "remove its listen: to make it a sub-process, which runs only when called",
					fmt.Sprintf("process %q listens to %q and cannot be called", r.name, p.Listen))
			}
		}
	}
}

func (l *loader) checkOperationRef(r nameRef) {
	op, ok := l.set.Operations[r.name]
	if !ok {
		// Suggest among the operations that do what is asked.
		fit := map[string]*Operation{}
		for n, o := range l.set.Operations {
			if o.Action == r.action {
				fit[n] = o
			}
		}
		l.report(r.pos, r.path, refHint(r.name, fit), fmt.Sprintf("unknown %s operation %q", r.action, r.name))
		return
	}
	switch {
	case op.Action == "" || op.Action == r.action:
	case r.action == Listen:
		l.report(r.pos, r.path, "a process starts from a listen operation; send through this one with a send step",
			fmt.Sprintf("operation %q is a send operation", r.name))
	default:
		l.report(r.pos, r.path, fmt.Sprintf("a send step needs a send operation; a process starts from this one with listen: %s", r.name),
			fmt.Sprintf("operation %q is a listen operation", r.name))
	}
}

// checkCycles reports sub-process calls that come back to a process on
// the way, each cycle once, as a → b → a.
func (l *loader) checkCycles() {
	procs := make([]string, 0, len(l.calls))
	for p := range l.calls {
		procs = append(procs, p)
	}
	sort.Strings(procs)
	const (
		unseen = iota
		onStack
		done
	)
	state := map[string]int{}
	reported := map[string]bool{}
	var stack []string
	var visit func(p string)
	visit = func(p string) {
		state[p] = onStack
		stack = append(stack, p)
		for _, e := range l.calls[p] {
			if _, ok := l.set.Processes[e.to]; !ok {
				continue // reported as unknown
			}
			switch state[e.to] {
			case unseen:
				visit(e.to)
			case onStack:
				i := len(stack) - 1
				for stack[i] != e.to {
					i--
				}
				cycle := append(append([]string(nil), stack[i:]...), e.to)
				if key := cycleKey(cycle[:len(cycle)-1]); !reported[key] {
					reported[key] = true
					l.report(e.pos, e.path, "a sub-process cannot call itself, directly or through others",
						"call cycle: "+strings.Join(cycle, " → "))
				}
			}
		}
		stack = stack[:len(stack)-1]
		state[p] = done
	}
	for _, p := range procs {
		if state[p] == unseen {
			visit(p)
		}
	}
}

// cycleKey names a cycle whatever process it is read from.
func cycleKey(c []string) string {
	first := 0
	for i, p := range c {
		if p < c[first] {
			first = i
		}
	}
	return strings.Join(append(append([]string(nil), c[first:]...), c[:first]...), "\x00")
}

// compileMapping compile-checks a mapping and reports each problem at the
// part it is about.
func (l *loader) compileMapping(f *srcFile, path string, m *Mapping, o yamlMap) {
	if l.opts.Compiler == nil {
		return
	}
	for _, err := range unjoin(l.opts.Compiler.CompileMapping(m)) {
		var fe *FieldError
		switch {
		case errors.As(err, &fe):
			at := Pos{File: f.name}
			for _, fm := range m.Fields {
				if fm.Target == fe.Target {
					at = fm.Pos
					break
				}
			}
			l.report(at, path+".fields."+fe.Target, "", fe.Err.Error())
		case m.JQ != "":
			l.report(f.pos(o.get("jq")), path+".jq", "", "invalid jq program: "+err.Error())
		case m.Expr != "":
			l.report(f.pos(o.get("expr")), path+".expr", "", "invalid expression: "+err.Error())
		default:
			l.report(m.Pos, path, "", err.Error())
		}
	}
}

// unjoin splits an errors.Join into its errors.
func unjoin(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, unjoin(e)...)
		}
		return out
	}
	return []error{err}
}

// DefaultCompiler compile-checks with the mapping package, the one the
// executor runs mappings with.
var DefaultCompiler Compiler = mappingCompiler{}

type mappingCompiler struct{}

func (mappingCompiler) CompileMapping(m *Mapping) error {
	spec := mapping.Spec{Name: m.Name, JQ: m.JQ, Expr: m.Expr, Lookups: m.Lookups}
	for _, fm := range m.Fields {
		spec.Fields = append(spec.Fields, mapping.Field{Target: fm.Target, Expr: fm.Expr})
	}
	_, err := mapping.Compile(spec)
	var out []error
	for _, e := range unjoin(err) {
		// The loader says which mapping and where: keep only what is wrong.
		var ce *mapping.CompileError
		switch {
		case errors.As(e, &ce) && ce.Field != "":
			err := ce.Err
			if !errors.Is(err, mapping.ErrTarget) {
				err = fmt.Errorf("invalid expression: %w", err)
			}
			out = append(out, &FieldError{Target: ce.Field, Err: err})
		case errors.As(e, &ce) && m.JQ != "":
			// gojq's messages start with "jq: "; the loader says jq already.
			out = append(out, errors.New(strings.TrimPrefix(ce.Err.Error(), "jq: ")))
		case errors.As(e, &ce):
			out = append(out, ce.Err)
		default:
			out = append(out, e)
		}
	}
	return errors.Join(out...)
}

func (mappingCompiler) CompileExpr(src string) error {
	_, err := mapping.CompileExpr(src, nil)
	var ce *mapping.CompileError
	if errors.As(err, &ce) {
		return ce.Err
	}
	return err
}

// credentialKey reports whether a map setting's key names a credential
// (an Authorization or X-Api-Key header, say), whose literal value is then
// redacted wherever YAML is shown, like a Secret setting's.
func credentialKey(k string) bool {
	k = strings.ToLower(k)
	for _, w := range []string{"auth", "token", "secret", "password", "passwd", "key", "cookie", "credential", "signature"} {
		if strings.Contains(k, w) && k != "idempotency-key" {
			return true
		}
	}
	return false
}

var referenceRE = regexp.MustCompile(`\$\{[^}]*\}`)

// hasLiteralCredential reports whether a header value holds more than
// references and an auth scheme word: "Bearer ${env:TOKEN}" holds no secret,
// "Bearer abc123" does.
func hasLiteralCredential(v string) bool {
	rest := strings.TrimSpace(referenceRE.ReplaceAllString(v, ""))
	for _, scheme := range []string{"Bearer", "Basic", "Token", "ApiKey"} {
		if len(rest) >= len(scheme) && strings.EqualFold(rest[:len(scheme)], scheme) {
			rest = strings.TrimSpace(rest[len(scheme):])
		}
	}
	return rest != ""
}
