package mapping

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// Mapping kinds, as Kind reports them.
const (
	KindJQ     = "jq"
	KindExpr   = "expr"
	KindFields = "fields"
)

// Spec is a mapping as written, in plain types (processes.Mapping holds
// the same). Exactly one of JQ, Expr and Fields is set.
type Spec struct {
	Name    string
	JQ      string
	Expr    string
	Fields  []Field                   // in the order written
	Lookups map[string]map[string]any // lookup tables, by name
	// Where is where the mapping was written ("orders.yaml:10:3"), for
	// errors; it may be empty.
	Where string
}

// Field is one "target.path: expression" entry of a field map. Where is
// where it was written ("orders.yaml:12:5"), for errors.
type Field struct {
	Target string
	Expr   string
	Where  string
}

// Mapping is a compiled mapping. It is safe for concurrent use by many
// goroutines, and never changes the bodies it is given.
type Mapping struct {
	name   string
	where  string
	kind   string
	jq     *jqProgram
	expr   *Expr
	fields []field
	// topKeys sizes a field map's output object.
	topKeys int
}

// field is one compiled field map entry.
type field struct {
	target string
	where  string
	path   []segment
	expr   *Expr
	// clone is set when a later entry writes inside this entry's value:
	// the value may belong to the input body, so it is copied before
	// anything is written into it.
	clone bool
}

// Compile checks and compiles a mapping once, to be run many times. Every
// problem found is reported, each naming the mapping, the field and where
// it was written; the error is a *CompileError, or several joined.
func Compile(s Spec) (*Mapping, error) {
	m := &Mapping{name: s.Name, where: s.Where}
	fail := func(err error) error { return &CompileError{Mapping: s.Name, Where: s.Where, Err: err} }
	var set []string
	if s.JQ != "" {
		set = append(set, "jq")
	}
	if s.Expr != "" {
		set = append(set, "expr")
	}
	if len(s.Fields) > 0 {
		set = append(set, "fields")
	}
	if len(set) != 1 {
		found := "none"
		if len(set) > 1 {
			found = strings.Join(set, " and ")
		}
		return nil, fail(fmt.Errorf("%w (found %s)", ErrKind, found))
	}
	t, err := newTables(s.Lookups)
	if err != nil {
		return nil, fail(err)
	}
	switch {
	case s.JQ != "":
		m.kind = KindJQ
		if m.jq, err = compileJQ(s.JQ, t); err != nil {
			return nil, fail(err)
		}
	case s.Expr != "":
		m.kind = KindExpr
		if m.expr, err = compileExpr(s.Expr, t); err != nil {
			return nil, fail(err)
		}
	default:
		m.kind = KindFields
		if err := m.compileFields(s.Fields, t); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// compileFields compiles every entry, collecting every error.
func (m *Mapping) compileFields(fs []Field, t tables) error {
	var errs []error
	fail := func(f Field, err error) {
		errs = append(errs, &CompileError{Mapping: m.name, Field: f.Target, Where: f.Where, Err: err})
	}
	seen := map[string]string{} // exact target → where first written
	top := map[string]bool{}
	for _, f := range fs {
		path, err := parseTarget(f.Target)
		if err != nil {
			fail(f, err)
			continue
		}
		e, err := compileExpr(f.Expr, t)
		if err != nil {
			fail(f, err)
			continue
		}
		if exact(path) {
			key := fmt.Sprint(path)
			if first, dup := seen[key]; dup {
				fail(f, fmt.Errorf("%w: set twice (first at %s); remove one", ErrTarget, orUnknown(first)))
				continue
			}
			seen[key] = f.Where
		}
		if len(path) > 0 && path[0].kind == segKey {
			top[path[0].key] = true
		}
		m.fields = append(m.fields, field{target: f.Target, where: f.Where, path: path, expr: e})
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	for i := range m.fields {
		for j := i + 1; j < len(m.fields); j++ {
			if isPrefix(m.fields[i].path, m.fields[j].path) {
				m.fields[i].clone = true
				break
			}
		}
	}
	m.topKeys = len(top)
	return nil
}

func orUnknown(where string) string {
	if where == "" {
		return "an earlier entry"
	}
	return where
}

// Name returns the mapping's name.
func (m *Mapping) Name() string { return m.name }

// Kind returns KindJQ, KindExpr or KindFields.
func (m *Mapping) Kind() string { return m.kind }

// Run maps a document body (and its properties) to a new body, a JSON
// value: map[string]any, []any, string, float64, bool or nil.
//
// Run never changes body or props, so a body shared between runs stays
// as it was; the result may share maps and slices with body, so treat it
// as read-only too (clone it before changing it). An error is a
// *RunError naming the mapping, the field and, where it can, the part of
// the input being read.
func (m *Mapping) Run(ctx context.Context, body any, props map[string]string) (any, error) {
	if err := ctx.Err(); err != nil {
		return nil, m.runError("", "", "", err)
	}
	switch m.kind {
	case KindJQ:
		v, err := m.jq.run(ctx, body, props)
		if err != nil {
			return nil, m.runError("", m.where, "", err)
		}
		return v, nil
	case KindExpr:
		v, err := m.expr.Eval(body, props)
		if err != nil {
			return nil, m.wrap("", m.where, err)
		}
		return v, nil
	default:
		return m.runFields(body, props)
	}
}

// runFields builds the output object entry by entry, on one pooled VM.
func (m *Mapping) runFields(body any, props map[string]string) (any, error) {
	var out any = make(map[string]any, m.topKeys)
	r := getRunner(body, props, nil)
	defer putRunner(r)
	for i := range m.fields {
		f := &m.fields[i]
		r.env.Lookups = f.expr.lookups
		v, err := r.run(f.expr)
		if err != nil {
			path, err := explain(f.expr.src, err)
			return nil, m.runError(f.target, f.where, path, err)
		}
		if v, err = normalize(v); err != nil {
			return nil, m.runError(f.target, f.where, "", err)
		}
		if f.clone {
			v = cloneValue(v)
		}
		if out, err = set(out, f.path, v); err != nil {
			return nil, m.runError(f.target, f.where, "", err)
		}
	}
	return out, nil
}

func (m *Mapping) runError(field, where, path string, err error) *RunError {
	return &RunError{Mapping: m.name, Field: field, Where: where, Path: path, Err: err}
}

// wrap adds the mapping's name and position to an expression's
// *RunError.
func (m *Mapping) wrap(field, where string, err error) error {
	if re, ok := err.(*RunError); ok {
		return m.runError(field, where, re.Path, re.Err)
	}
	return m.runError(field, where, "", err)
}
