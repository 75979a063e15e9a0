package mapping

import (
	"fmt"
	"reflect"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/builtin"
	"github.com/expr-lang/expr/conf"
)

// A function's signature, checked when an expression is compiled so that
// a wrong argument count or a constant of the wrong type is reported at
// deployment, with the function's usage.
type signature struct {
	name   string
	usage  string // "padLeft(v, width[, pad])"
	params []kind // every parameter; the first min are required
	min    int
	ret    reflect.Type
	fn     func(...any) (any, error)
}

// kind is what a parameter accepts, as far as the compiler can tell.
type kind int

const (
	anyKind kind = iota
	stringKind
	intKind
)

var (
	anyType    = reflect.TypeFor[any]()
	stringType = reflect.TypeFor[string]()
	floatType  = reflect.TypeFor[float64]()
	timeType   = reflect.TypeFor[time.Time]()
)

// staticSignatures are the functions every expression gets besides
// expr-lang's own; lookup is added per mapping, as it closes over the
// mapping's tables.
var staticSignatures = []signature{
	{"formatDate", "formatDate(t, layout[, tz])", []kind{anyKind, stringKind, stringKind}, 2, stringType, exprFormatDate},
	{"parseDate", "parseDate(s[, layout[, tz]])", []kind{stringKind, stringKind, stringKind}, 1, timeType, exprParseDate},
	{"uuid", "uuid()", nil, 0, stringType, func(...any) (any, error) { return newUUID(), nil }},
	{"substr", "substr(s, start[, length])", []kind{anyKind, intKind, intKind}, 2, stringType, exprSubstr},
	{"padLeft", "padLeft(v, width[, pad])", []kind{anyKind, intKind, stringKind}, 2, stringType,
		func(p ...any) (any, error) { return exprPad(p, true) }},
	{"padRight", "padRight(v, width[, pad])", []kind{anyKind, intKind, stringKind}, 2, stringType,
		func(p ...any) (any, error) { return exprPad(p, false) }},
	{"default", "default(v, fallback)", []kind{anyKind, anyKind}, 2, anyType, exprDefault},
	// round shadows expr's round(x) to add round(x, places).
	{"round", "round(x[, places])", []kind{anyKind, intKind}, 1, floatType, exprRound},
	{"toNumber", "toNumber(v)", []kind{anyKind}, 1, floatType, func(p ...any) (any, error) { return toNumber(p[0]) }},
	{"toString", "toString(v)", []kind{anyKind}, 1, stringType, func(p ...any) (any, error) { return toText(p[0]) }},
	{"formatNumber", "formatNumber(x, pattern)", []kind{anyKind, stringKind}, 2, stringType, exprFormatNumber},
}

// option registers the function with expr. expr.Function would check
// overloads one by one and report only the last mismatch ("not enough
// arguments" for a wrong type), so this sets a Validate of our own.
func (s signature) option() expr.Option {
	return func(c *conf.Config) {
		c.Functions[s.name] = &builtin.Function{Name: s.name, Func: s.fn, Validate: s.validate}
	}
}

func (s signature) validate(args []reflect.Type) (reflect.Type, error) {
	if len(args) < s.min || len(args) > len(s.params) {
		return nil, fmt.Errorf("%s takes %s, got %d (%s)", s.name, s.arity(), len(args), s.usage)
	}
	for i, a := range args {
		if a == nil || a.Kind() == reflect.Interface {
			continue // known only when it runs
		}
		switch s.params[i] {
		case stringKind:
			if a.Kind() != reflect.String {
				return nil, fmt.Errorf("argument %d of %s is %s, want a string (%s)", i+1, s.name, a, s.usage)
			}
		case intKind:
			if !isIntKind(a.Kind()) {
				return nil, fmt.Errorf("argument %d of %s is %s, want a whole number (%s)", i+1, s.name, a, s.usage)
			}
		}
	}
	return s.ret, nil
}

func (s signature) arity() string {
	switch {
	case len(s.params) == 0:
		return "no arguments"
	case s.min == len(s.params) && s.min == 1:
		return "1 argument"
	case s.min == len(s.params):
		return fmt.Sprintf("%d arguments", s.min)
	default:
		return fmt.Sprintf("%d to %d arguments", s.min, len(s.params))
	}
}

func isIntKind(k reflect.Kind) bool {
	return reflect.Int <= k && k <= reflect.Uint64
}

// staticOptions are staticSignatures as expr options, made once.
var staticOptions = func() []expr.Option {
	opts := make([]expr.Option, len(staticSignatures))
	for i, s := range staticSignatures {
		opts[i] = s.option()
	}
	return opts
}()

// exprFunctions returns the function options for expressions of a mapping
// with these lookup tables.
func exprFunctions(t tables) []expr.Option {
	lookup := signature{"lookup", "lookup(table, key[, default])", []kind{stringKind, anyKind, anyKind}, 2, anyType,
		func(p ...any) (any, error) {
			name, err := argString(p[0], "the table name")
			if err != nil {
				return nil, err
			}
			if len(p) == 3 {
				return t.lookup(name, p[1], p[2], true)
			}
			return t.lookup(name, p[1], nil, false)
		}}
	opts := make([]expr.Option, 0, len(staticOptions)+2)
	opts = append(opts, staticOptions...)
	return append(opts, lookup.option())
}

func argString(v any, what string) (string, error) {
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("%w: %s is %s, want a string", ErrType, what, typeName(v))
	}
	return s, nil
}

func argInt(v any, what string) (int, error) {
	i, ok := toInt(v)
	if !ok {
		return 0, fmt.Errorf("%w: %s is %s, want a whole number", ErrType, what, typeName(v))
	}
	return i, nil
}

// argText reads a string or a number as text; null is an error.
func argText(v any, what string) (string, error) {
	switch v.(type) {
	case nil:
		return "", fmt.Errorf("%w: %s is null (use default(x, \"\") for a fallback)", ErrType, what)
	case map[string]any, []any:
		return "", fmt.Errorf("%w: %s is %s, want a string", ErrType, what, typeName(v))
	}
	return toText(v)
}

// optString returns the i-th argument as a string, or "" when absent.
func optString(p []any, i int, what string) (string, error) {
	if len(p) <= i {
		return "", nil
	}
	return argString(p[i], what)
}

func exprFormatDate(p ...any) (any, error) {
	l, err := argString(p[1], "the layout")
	if err != nil {
		return nil, err
	}
	tz, err := optString(p, 2, "the time zone")
	if err != nil {
		return nil, err
	}
	return formatDate(p[0], l, tz)
}

func exprParseDate(p ...any) (any, error) {
	s, err := argString(p[0], "the date")
	if err != nil {
		return nil, err
	}
	l, err := optString(p, 1, "the layout")
	if err != nil {
		return nil, err
	}
	tz, err := optString(p, 2, "the time zone")
	if err != nil {
		return nil, err
	}
	return parseDate(s, l, tz)
}

func exprSubstr(p ...any) (any, error) {
	s, err := argText(p[0], "the string")
	if err != nil {
		return nil, err
	}
	start, err := argInt(p[1], "the start")
	if err != nil {
		return nil, err
	}
	length := len(s)
	if len(p) == 3 {
		if length, err = argInt(p[2], "the length"); err != nil {
			return nil, err
		}
	}
	return substr(s, start, length), nil
}

func exprPad(p []any, left bool) (any, error) {
	s, err := argText(p[0], "the value")
	if err != nil {
		return nil, err
	}
	width, err := argInt(p[1], "the width")
	if err != nil {
		return nil, err
	}
	with := " "
	if len(p) == 3 {
		if with, err = argString(p[2], "the pad"); err != nil {
			return nil, err
		}
	}
	return pad(s, width, with, left)
}

func exprDefault(p ...any) (any, error) {
	if isEmpty(p[0]) {
		return p[1], nil
	}
	return p[0], nil
}

func exprRound(p ...any) (any, error) {
	x, ok := toFloat(p[0])
	if !ok {
		return nil, fmt.Errorf("%w: got %s, want a number", ErrType, typeName(p[0]))
	}
	places := 0
	if len(p) == 2 {
		var err error
		if places, err = argInt(p[1], "places"); err != nil {
			return nil, err
		}
	}
	return round(x, places)
}

func exprFormatNumber(p ...any) (any, error) {
	x, err := toNumber(p[0])
	if err != nil {
		return nil, err
	}
	pattern, err := argString(p[1], "the pattern")
	if err != nil {
		return nil, err
	}
	return formatNumber(x, pattern)
}
