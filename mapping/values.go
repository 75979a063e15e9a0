package mapping

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"math/big"
	"reflect"
	"slices"
	"strconv"
	"time"
)

// normalize returns v as a decoded-JSON value: map[string]any, []any,
// string, float64, bool or nil. It copies on write: a map or slice is
// copied only when something inside it has to change, so a value that is
// already JSON-shaped comes back as it is, without allocating, and the
// caller's value is never written to (the executor shares bodies between
// goroutines).
func normalize(v any) (any, error) {
	out, _, err := norm(v)
	return out, err
}

// norm is normalize that also says whether the value changed.
func norm(v any) (any, bool, error) {
	switch t := v.(type) {
	case nil, string, bool:
		return v, false, nil
	case float64:
		if math.IsNaN(t) || math.IsInf(t, 0) {
			return nil, false, fmt.Errorf("%w: %v is not a JSON number", ErrNotJSON, t)
		}
		return v, false, nil
	case map[string]any:
		return normMap(t)
	case []any:
		return normSlice(t)
	case int:
		return float64(t), true, nil
	case int64:
		return float64(t), true, nil
	case json.Number:
		f, err := t.Float64()
		if err != nil {
			return nil, false, fmt.Errorf("%w: %q is not a number", ErrNotJSON, string(t))
		}
		return f, true, nil
	case *big.Int:
		f, _ := new(big.Float).SetInt(t).Float64()
		return f, true, nil
	case time.Time:
		return t.Format(time.RFC3339Nano), true, nil
	case time.Duration:
		return t.String(), true, nil
	case []byte:
		// As encoding/json writes it.
		return base64.StdEncoding.EncodeToString(t), true, nil
	}
	out, err := normReflect(reflect.ValueOf(v))
	return out, true, err
}

func normMap(m map[string]any) (any, bool, error) {
	var out map[string]any
	for k, x := range m {
		y, changed, err := norm(x)
		if err != nil {
			return nil, false, fmt.Errorf("%s: %w", k, err)
		}
		if changed && out == nil {
			out = maps.Clone(m)
		}
		if out != nil {
			out[k] = y
		}
	}
	if out == nil {
		return m, false, nil
	}
	return out, true, nil
}

func normSlice(s []any) (any, bool, error) {
	var out []any
	for i, x := range s {
		y, changed, err := norm(x)
		if err != nil {
			return nil, false, fmt.Errorf("[%d]: %w", i, err)
		}
		if changed && out == nil {
			out = slices.Clone(s)
		}
		if out != nil {
			out[i] = y
		}
	}
	if out == nil {
		return s, false, nil
	}
	return out, true, nil
}

// normReflect handles the rarer shapes that expr functions return:
// []string, map[string]string, named string types, pointers and so on.
func normReflect(rv reflect.Value) (any, error) {
	switch rv.Kind() {
	case reflect.Invalid:
		return nil, nil
	case reflect.Pointer, reflect.Interface:
		if rv.IsNil() {
			return nil, nil
		}
		return normalize(rv.Elem().Interface())
	case reflect.Bool:
		return rv.Bool(), nil
	case reflect.String:
		return rv.String(), nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return float64(rv.Int()), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return float64(rv.Uint()), nil
	case reflect.Float32, reflect.Float64:
		return normalize(rv.Float())
	case reflect.Slice, reflect.Array:
		if rv.Kind() == reflect.Slice && rv.IsNil() {
			return nil, nil
		}
		out := make([]any, rv.Len())
		for i := range out {
			x, err := normalize(rv.Index(i).Interface())
			if err != nil {
				return nil, fmt.Errorf("[%d]: %w", i, err)
			}
			out[i] = x
		}
		return out, nil
	case reflect.Map:
		if rv.Type().Key().Kind() != reflect.String {
			return nil, fmt.Errorf("%w: a map with %s keys (want string keys)", ErrNotJSON, rv.Type().Key())
		}
		if rv.IsNil() {
			return nil, nil
		}
		out := make(map[string]any, rv.Len())
		for it := rv.MapRange(); it.Next(); {
			x, err := normalize(it.Value().Interface())
			if err != nil {
				return nil, fmt.Errorf("%s: %w", it.Key().String(), err)
			}
			out[it.Key().String()] = x
		}
		return out, nil
	}
	return nil, fmt.Errorf("%w: a value of type %s", ErrNotJSON, rv.Type())
}

// cloneValue returns a deep copy of a JSON-shaped value.
func cloneValue(v any) any {
	switch t := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(t))
		for k, x := range t {
			m[k] = cloneValue(x)
		}
		return m
	case []any:
		s := make([]any, len(t))
		for i, x := range t {
			s[i] = cloneValue(x)
		}
		return s
	default:
		return v
	}
}

// toText turns a value into the text a property, a log line or a string
// function wants: strings as they are, null as "", numbers without
// exponent or trailing zeros, times as RFC 3339, objects and arrays as
// JSON.
func toText(v any) (string, error) {
	switch t := v.(type) {
	case nil:
		return "", nil
	case string:
		return t, nil
	case bool:
		return strconv.FormatBool(t), nil
	case float64:
		return formatFloat(t), nil
	case int:
		return strconv.Itoa(t), nil
	case time.Time:
		return t.Format(time.RFC3339Nano), nil
	case json.Number:
		return t.String(), nil
	}
	n, err := normalize(v)
	if err != nil {
		return "", err
	}
	switch n.(type) {
	case map[string]any, []any:
		b, err := json.Marshal(n)
		if err != nil {
			return "", fmt.Errorf("%w: %v", ErrNotJSON, err)
		}
		return string(b), nil
	}
	return toText(n)
}

func formatFloat(f float64) string {
	if f == math.Trunc(f) && math.Abs(f) < 1e21 {
		return strconv.FormatFloat(f, 'f', -1, 64)
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// toFloat reads any Go number (and json.Number) as a float64.
func toFloat(v any) (float64, bool) {
	switch t := v.(type) {
	case float64:
		return t, true
	case int:
		return float64(t), true
	case int64:
		return float64(t), true
	case int32:
		return float64(t), true
	case float32:
		return float64(t), true
	case uint:
		return float64(t), true
	case uint64:
		return float64(t), true
	case json.Number:
		f, err := t.Float64()
		return f, err == nil
	case *big.Int:
		f, _ := new(big.Float).SetInt(t).Float64()
		return f, true
	}
	return 0, false
}

// toInt reads a whole number; 2.0 is fine, 2.5 is not.
func toInt(v any) (int, bool) {
	if i, ok := v.(int); ok {
		return i, true
	}
	f, ok := toFloat(v)
	if !ok || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
		return 0, false
	}
	return int(f), true
}

// typeName names a value's type the way a mapping author thinks of it.
func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case bool:
		return "boolean"
	case map[string]any:
		return "object"
	case []any:
		return "array"
	case time.Time:
		return "time"
	}
	if _, ok := toFloat(v); ok {
		return "number"
	}
	return fmt.Sprintf("%T", v)
}
