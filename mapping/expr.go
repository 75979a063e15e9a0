package mapping

import (
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/vm"
)

// env is what an expr expression sees: body, props and lookups. A typed
// struct, rather than a map, lets expr reject unknown names when the
// expression is compiled and reach the fields by index when it runs.
type env struct {
	Body    any                       `expr:"body"`
	Props   map[string]string         `expr:"props"`
	Lookups map[string]map[string]any `expr:"lookups"`
}

// runner is a reusable expr virtual machine and its environment; pooling
// them keeps a run from allocating a VM and boxing a new environment.
type runner struct {
	vm  vm.VM
	env env
}

var runners = sync.Pool{New: func() any { return new(runner) }}

func getRunner(body any, props map[string]string, t tables) *runner {
	r := runners.Get().(*runner)
	r.env = env{Body: body, Props: props, Lookups: t}
	return r
}

func putRunner(r *runner) {
	r.env = env{} // do not keep the document alive from the pool
	runners.Put(r)
}

// Expr is a compiled expr expression, as used for route conditions,
// filters, properties and log messages. It is safe for concurrent use.
type Expr struct {
	src     string
	program *vm.Program
	lookups tables
}

// CompileExpr compiles an expr expression that sees body (the document
// body), props (its properties) and lookups (the given tables, also
// reachable with lookup(table, key)), and the functions listed in the
// package documentation. A name it does not know is a compile error.
func CompileExpr(src string, lookups map[string]map[string]any) (*Expr, error) {
	t, err := newTables(lookups)
	if err != nil {
		return nil, &CompileError{Err: err}
	}
	e, err := compileExpr(src, t)
	if err != nil {
		return nil, &CompileError{Err: err}
	}
	return e, nil
}

func compileExpr(src string, t tables) (*Expr, error) {
	if strings.TrimSpace(src) == "" {
		return nil, errors.New("empty expression")
	}
	opts := append(exprFunctions(t), expr.Env(env{}))
	p, err := expr.Compile(src, opts...)
	if err != nil {
		return nil, compileFailure(src, err)
	}
	if err := checkLookups(p.Node(), t); err != nil {
		return nil, err
	}
	return &Expr{src: src, program: p, lookups: t}, nil
}

// Source returns the expression as written.
func (e *Expr) Source() string { return e.src }

// Eval runs the expression and returns its value as a JSON value
// (map[string]any, []any, string, float64, bool or nil; a time becomes
// RFC 3339 text). It never changes body or props; the value may share
// maps and slices with body. An error is a *RunError.
func (e *Expr) Eval(body any, props map[string]string) (any, error) {
	v, err := e.eval(body, props)
	if err != nil {
		return nil, err
	}
	n, err := normalize(v)
	if err != nil {
		return nil, &RunError{Err: err}
	}
	return n, nil
}

// Bool runs a condition: its value must be true or false. An error is a
// *RunError.
func (e *Expr) Bool(body any, props map[string]string) (bool, error) {
	v, err := e.eval(body, props)
	if err != nil {
		return false, err
	}
	b, ok := v.(bool)
	if !ok {
		return false, &RunError{Err: fmt.Errorf("%w: condition %q gave %s, want true or false%s", ErrType, e.src, typeName(v), nullHint(v, "false"))}
	}
	return b, nil
}

// String runs the expression and returns its value as text: a string as
// it is, null as "", numbers without exponent, times as RFC 3339, objects
// and arrays as JSON. An error is a *RunError.
func (e *Expr) String(body any, props map[string]string) (string, error) {
	v, err := e.eval(body, props)
	if err != nil {
		return "", err
	}
	s, err := toText(v)
	if err != nil {
		return "", &RunError{Err: err}
	}
	return s, nil
}

func (e *Expr) eval(body any, props map[string]string) (any, error) {
	r := getRunner(body, props, e.lookups)
	v, err := r.run(e)
	putRunner(r)
	if err != nil {
		path, err := explain(e.src, err)
		return nil, &RunError{Path: path, Err: err}
	}
	return v, nil
}

func (r *runner) run(e *Expr) (any, error) {
	return r.vm.Run(e.program, &r.env)
}

func nullHint(v any, fallback string) string {
	if v != nil {
		return ""
	}
	return " (use x ?? " + fallback + " for a fallback)"
}

// checkLookups rejects lookup("name", ...) calls whose table is written
// as a constant and does not exist, when the expression is compiled
// rather than on the first document.
func checkLookups(node ast.Node, t tables) error {
	v := &lookupChecker{t: t}
	ast.Walk(&node, v)
	return v.err
}

type lookupChecker struct {
	t   tables
	err error
}

func (c *lookupChecker) Visit(node *ast.Node) {
	call, ok := (*node).(*ast.CallNode)
	if !ok || c.err != nil || len(call.Arguments) == 0 {
		return
	}
	if id, ok := call.Callee.(*ast.IdentifierNode); !ok || id.Value != "lookup" {
		return
	}
	if name, ok := call.Arguments[0].(*ast.StringNode); ok && !c.t.has(name.Value) {
		c.err = fmt.Errorf("%w: no lookup table %q%s", ErrLookup, name.Value, c.t.have())
	}
}

// failure is an expr error retold on one line; it unwraps to expr's own
// *file.Error (and through it to a function's error).
type failure struct {
	msg string
	err error
}

func (f *failure) Error() string { return f.msg }
func (f *failure) Unwrap() error { return f.err }

// compileFailure retells an expr compile error without its multi-line
// snippet.
func compileFailure(src string, err error) error {
	var fe *file.Error
	if !errors.As(err, &fe) {
		return err
	}
	return &failure{msg: fe.Message + at(src, fe), err: err}
}

// at says where in the expression an error is.
func at(src string, fe *file.Error) string {
	if !strings.Contains(src, "\n") {
		return fmt.Sprintf(" (column %d of %q)", fe.Column+1, src)
	}
	return fmt.Sprintf(" (line %d, column %d of the expression)", fe.Line, fe.Column+1)
}

// explain retells an expr run-time error on one line, and finds the part
// of the input the expression was reading: for "body.Contact__c.Phone"
// failing on a null Contact__c it returns the path "body.Contact__c" and
// "cannot fetch Phone from <nil>".
func explain(src string, err error) (string, error) {
	var fe *file.Error
	if !errors.As(err, &fe) {
		return "", err
	}
	msg := fe.Message
	if fe.Prev != nil {
		msg = fe.Prev.Error()
	}
	start, end := byteOffset(src, fe.From), byteOffset(src, fe.To)
	if rest, ok := strings.CutPrefix(msg, "interface conversion: interface {} is "); ok {
		if got, want, ok := strings.Cut(rest, ", not "); ok {
			msg = retype(got, want)
			err = fmt.Errorf("%w: %w", ErrType, err)
		}
	}
	if call := callAt(src, start, end); call != "" {
		return call, &failure{msg: msg, err: err}
	}
	if path := pathBefore(src, start); path != "" {
		return path, &failure{msg: msg, err: err}
	}
	return "", &failure{msg: msg + at(src, fe), err: err}
}

// retype words a Go type assertion failure for a mapping author.
func retype(got, want string) string {
	name := func(t string) string {
		switch t {
		case "nil":
			return "null"
		case "float64", "int":
			return "number"
		case "[]interface {}":
			return "array"
		case "map[string]interface {}":
			return "object"
		}
		return t
	}
	msg := "got " + name(got) + ", want " + name(want)
	if got == "nil" {
		msg += " (use default(x, fallback) or x ?? fallback)"
	}
	return msg
}

// byteOffset turns expr's rune offset into a byte offset.
func byteOffset(src string, runes int) int {
	n := 0
	for i := range src {
		if n == runes {
			return i
		}
		n++
	}
	return len(src)
}

// callAt returns the call written at src[start:end] ("upper(body.Name)")
// when the error location is a function name, else "".
func callAt(src string, start, end int) string {
	if start >= end || end > len(src) || !isIdentStart(src[start]) {
		return ""
	}
	for i := start; i < end; i++ {
		if !isIdent(src[i]) {
			return ""
		}
	}
	rest := strings.TrimLeft(src[end:], " \t")
	if !strings.HasPrefix(rest, "(") {
		return ""
	}
	open := len(src) - len(rest)
	close := matchClose(src, open)
	if close < 0 || close-start > 120 {
		return src[start:end] + "(...)"
	}
	return src[start : close+1]
}

// pathBefore returns the member chain that ends just before a failing
// member access: "body.Contact__c" for an error at "Phone" in
// "body.Contact__c.Phone" or at "[3]" in "body.Contact__c[3]".
func pathBefore(src string, at int) string {
	if at > len(src) {
		return ""
	}
	head := src[:at]
	switch {
	case strings.HasSuffix(head, "?."):
		head = head[:len(head)-2]
	case strings.HasSuffix(head, "."):
		head = head[:len(head)-1]
	case strings.HasSuffix(head, "?.["):
		head = head[:len(head)-3]
	case strings.HasSuffix(head, "["):
		head = head[:len(head)-1]
	case at < len(src) && src[at] == '[':
	default:
		return ""
	}
	i := len(head)
walk:
	for i > 0 {
		c := head[i-1]
		switch {
		case isIdent(c) || c == '.' || c == '?':
			i--
		case c == ']':
			j := matchOpen(head, i-1)
			if j < 0 {
				return ""
			}
			i = j
		default:
			break walk
		}
	}
	p := strings.TrimLeft(head[i:], ".?")
	if p == "" || !isIdentStart(p[0]) {
		return ""
	}
	return p
}

func isIdentStart(c byte) bool {
	return c == '_' || c == '$' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

func isIdent(c byte) bool { return isIdentStart(c) || '0' <= c && c <= '9' }

// matchClose finds the bracket closing the one at src[open], skipping
// quoted strings; -1 when there is none.
func matchClose(src string, open int) int {
	depth := 0
	var quote byte
	for i := open; i < len(src); i++ {
		c := src[i]
		switch {
		case quote != 0:
			if c == '\\' {
				i++
			} else if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'' || c == '`':
			quote = c
		case c == '(' || c == '[' || c == '{':
			depth++
		case c == ')' || c == ']' || c == '}':
			depth--
			if depth == 0 {
				return i
			}
		}
	}
	return -1
}

// matchOpen finds the '[' opening the ']' at src[close]; -1 when there is
// none. Quotes are not tracked: an index is a number or a short key.
func matchOpen(src string, close int) int {
	depth := 0
	for i := close; i >= 0; i-- {
		switch src[i] {
		case ']':
			depth++
		case '[':
			depth--
			if depth == 0 {
				return i
			}
		}
	}
	return -1
}
