package mapping

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/itchyny/gojq"
)

// jqProgram is a compiled jq mapping.
type jqProgram struct {
	code *gojq.Code
	// usesProps is false when the program never names $props, so a run
	// need not copy the properties into the map[string]any jq wants.
	usesProps bool
	lookups   map[string]any // $lookups
}

// jqVariables are the variables every jq program gets, in the order Run
// passes their values.
var jqVariables = []string{"$props", "$lookups"}

func compileJQ(src string, t tables) (*jqProgram, error) {
	if strings.TrimSpace(src) == "" {
		return nil, errors.New("jq: empty program")
	}
	q, err := gojq.Parse(src)
	if err != nil {
		var pe *gojq.ParseError
		if errors.As(err, &pe) {
			line, col := lineCol(src, pe.Offset)
			return nil, fmt.Errorf("jq: %w (line %d, column %d of the program)", err, line, col)
		}
		return nil, fmt.Errorf("jq: %w", err)
	}
	opts := append(jqFunctions(t), gojq.WithVariables(jqVariables))
	code, err := gojq.Compile(q, opts...)
	if err != nil {
		return nil, fmt.Errorf("jq: %w", err)
	}
	return &jqProgram{
		code:      code,
		usesProps: strings.Contains(src, "$props"),
		lookups:   t.asMap(),
	}, nil
}

// lineCol turns a byte offset into a 1-based line and column.
func lineCol(src string, offset int) (int, int) {
	offset = min(max(offset, 0), len(src))
	head := src[:offset]
	line := strings.Count(head, "\n") + 1
	col := offset - strings.LastIndexByte(head, '\n')
	return line, col
}

// run runs the program on body and returns its one value.
func (p *jqProgram) run(ctx context.Context, body any, props map[string]string) (out any, err error) {
	// gojq panics on Go values it does not know (int64, map[string]string);
	// normalize prevents that for bodies, and this keeps an unforeseen
	// case from taking the atom down.
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, fmt.Errorf("%w: %v", ErrPanic, r)
		}
	}()
	in, err := normalize(body)
	if err != nil {
		return nil, fmt.Errorf("input: %w", err)
	}
	var pv any
	if p.usesProps {
		m := make(map[string]any, len(props))
		for k, v := range props {
			m[k] = v
		}
		pv = m
	}
	iter := p.code.RunWithContext(ctx, in, pv, p.lookups)
	v, ok := iter.Next()
	if !ok {
		return nil, ErrNoValue
	}
	if err, ok := v.(error); ok {
		return nil, jqError(err)
	}
	if w, ok := iter.Next(); ok {
		if err, ok := w.(error); ok {
			return nil, jqError(err)
		}
		return nil, ErrManyValues
	}
	return normalize(v)
}

// jqError words a jq error: error("text") gives just the text.
func jqError(err error) error {
	var he *gojq.HaltError
	if errors.As(err, &he) && he.Value() == nil {
		return errors.New("jq: halt (a mapping must produce one value)")
	}
	var ve gojq.ValueError
	if errors.As(err, &ve) {
		if s, ok := ve.Value().(string); ok {
			return &failure{msg: "jq: error: " + s, err: err}
		}
	}
	return fmt.Errorf("jq: %w", err)
}

// jqFunctions are the custom jq functions; each works on its input (.)
// like jq's own.
func jqFunctions(t tables) []gojq.CompilerOption {
	return []gojq.CompilerOption{
		gojq.WithFunction("lookup", 2, 3, func(_ any, a []any) any {
			name, err := argString(a[0], "the table name")
			if err != nil {
				return err
			}
			v, err := t.lookup(name, a[1], jqArg(a, 2), len(a) == 3)
			return orError(v, err)
		}),
		gojq.WithFunction("uuid", 0, 0, func(any, []any) any { return newUUID() }),
		gojq.WithFunction("formatDate", 1, 2, func(v any, a []any) any {
			l, err := argString(a[0], "the layout")
			if err != nil {
				return err
			}
			tz, err := optString(a, 1, "the time zone")
			if err != nil {
				return err
			}
			return orError(formatDate(v, l, tz))
		}),
		gojq.WithFunction("parseDate", 0, 2, func(v any, a []any) any {
			s, err := argString(v, "the date")
			if err != nil {
				return err
			}
			l, err := optString(a, 0, "the layout")
			if err != nil {
				return err
			}
			tz, err := optString(a, 1, "the time zone")
			if err != nil {
				return err
			}
			d, err := parseDate(s, l, tz)
			if err != nil {
				return err
			}
			return float64(d.UnixMilli())
		}),
		gojq.WithFunction("round", 1, 1, func(v any, a []any) any {
			return orError(exprRound(v, a[0]))
		}),
		gojq.WithFunction("padLeft", 1, 2, func(v any, a []any) any {
			return orError(exprPad(append([]any{v}, a...), true))
		}),
		gojq.WithFunction("padRight", 1, 2, func(v any, a []any) any {
			return orError(exprPad(append([]any{v}, a...), false))
		}),
		gojq.WithFunction("substr", 1, 2, func(v any, a []any) any {
			return orError(exprSubstr(append([]any{v}, a...)...))
		}),
		gojq.WithFunction("formatNumber", 1, 1, func(v any, a []any) any {
			return orError(exprFormatNumber(v, a[0]))
		}),
		gojq.WithFunction("default", 1, 1, func(v any, a []any) any {
			if isEmpty(v) {
				return a[0]
			}
			return v
		}),
		gojq.WithFunction("upper", 0, 0, func(v any, _ []any) any {
			s, err := argString(v, "the input")
			return orError(strings.ToUpper(s), err)
		}),
		gojq.WithFunction("lower", 0, 0, func(v any, _ []any) any {
			s, err := argString(v, "the input")
			return orError(strings.ToLower(s), err)
		}),
	}
}

func jqArg(a []any, i int) any {
	if i < len(a) {
		return a[i]
	}
	return nil
}

// orError is what a gojq function returns: the error if there is one.
func orError[T any](v T, err error) any {
	if err != nil {
		return err
	}
	return v
}
