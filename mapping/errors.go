package mapping

import (
	"errors"
	"strconv"
	"strings"
)

// ErrKind means a mapping sets none, or more than one, of jq, expr and
// fields: it must set exactly one.
var ErrKind = errors.New("a mapping needs exactly one of jq, expr and fields")

// ErrNoValue means a jq program produced no value. A mapping must produce
// exactly one; to drop a document, use a filter step.
var ErrNoValue = errors.New("jq program produced no value (a mapping must produce exactly one; use a filter step to drop a document)")

// ErrManyValues means a jq program produced more than one value. A mapping
// must produce exactly one; collect several into an array with [ ... ].
var ErrManyValues = errors.New("jq program produced more than one value (a mapping must produce exactly one; collect them into an array with [ ... ])")

// ErrTarget means a field map's target path is malformed, or cannot be set
// in the output built so far (say "a.b" after "a" was set to a string).
var ErrTarget = errors.New("bad target")

// ErrNotJSON means a value cannot be held in a document body: NaN, an
// infinity, a struct, a map without string keys.
var ErrNotJSON = errors.New("not a JSON value")

// ErrType means a value had the wrong type: a function argument, or the
// result of an expression used as a condition or a text.
var ErrType = errors.New("wrong type")

// ErrLookup means a lookup table or a key in it does not exist.
var ErrLookup = errors.New("lookup failed")

// ErrPanic means the jq engine panicked on an input; the panic is turned
// into this error so that one bad document cannot stop the atom.
var ErrPanic = errors.New("mapping engine panicked")

// CompileError says which mapping and which field did not compile, where
// it was written and what is wrong.
type CompileError struct {
	Mapping string // the mapping's name; "" for a lone expression
	Field   string // the field map target; "" for jq, expr and lone expressions
	Where   string // where it was written, "orders.yaml:12:5"; may be ""
	Err     error
}

func (e *CompileError) Error() string {
	return prefix(e.Mapping, e.Field, e.Where) + e.Err.Error()
}

// Unwrap returns the underlying error.
func (e *CompileError) Unwrap() error { return e.Err }

// RunError says which mapping and which field failed on a document, where
// they were written, and the part of the input the expression was reading
// when it failed (Path, such as "body.Contact__c"), when that is known.
type RunError struct {
	Mapping string // the mapping's name; "" for a lone expression
	Field   string // the field map target; "" for jq, expr and lone expressions
	Where   string // where it was written, "orders.yaml:12:5"; may be ""
	Path    string // the input path being read, "body.Contact__c"; may be ""
	Err     error
}

func (e *RunError) Error() string {
	s := prefix(e.Mapping, e.Field, e.Where)
	if e.Path != "" {
		s += e.Path + ": "
	}
	return s + e.Err.Error()
}

// Unwrap returns the underlying error.
func (e *RunError) Unwrap() error { return e.Err }

// prefix renders `mapping "m": field "f" (where): `, leaving out what is
// empty.
func prefix(mapping, field, where string) string {
	var b strings.Builder
	if mapping != "" {
		b.WriteString("mapping " + strconv.Quote(mapping))
	}
	if field != "" {
		if b.Len() > 0 {
			b.WriteString(": ")
		}
		b.WriteString("field " + strconv.Quote(field))
	}
	if where != "" {
		if b.Len() > 0 {
			b.WriteString(" (" + where + ")")
		} else {
			b.WriteString(where)
		}
	}
	if b.Len() > 0 {
		b.WriteString(": ")
	}
	return b.String()
}
