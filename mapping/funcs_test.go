package mapping

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

// Each function, called from an expression.
func TestExprFunctions(t *testing.T) {
	body := decode(t, `{
		"d": "2024-05-01T09:29:58.000+0000", "ms": 1714555798000, "day": "01/05/2024",
		"s": "héllo wörld", "n": 42, "x": 1234.5678, "neg": -1234.5, "empty": "", "null": null,
		"num": " 12.5 ", "c": "FR", "code": 7}`)
	tests := []struct {
		expr string
		want any
	}{
		{`formatDate(body.d, "RFC3339")`, "2024-05-01T09:29:58Z"},
		{`formatDate(body.d, "Salesforce")`, "2024-05-01T09:29:58.000+0000"},
		{`formatDate(body.ms, "DateTime")`, "2024-05-01 09:29:58"},
		{`formatDate(body.d, "2006-01-02")`, "2024-05-01"},
		{`formatDate(body.d, "15:04 MST", "Europe/Paris")`, "11:29 CEST"},
		{`formatDate(now(), "2006") >= "2024"`, true},
		{`formatDate(parseDate(body.day, "02/01/2006"), "DateOnly")`, "2024-05-01"},
		{`formatDate(parseDate("01/05/2024 10:00", "02/01/2006 15:04", "Europe/Paris"), "RFC3339")`, "2024-05-01T10:00:00+02:00"},
		{`parseDate("2024-05-01 10:00:00").Hour()`, 10.0},
		{`parseDate("2024-05-01T10:00:00Z").Unix()`, 1714557600.0},
		{`len(uuid())`, 36.0},
		{`uuid() != uuid()`, true},
		{`substr(body.s, 1, 4)`, "éllo"},
		{`substr(body.s, -5)`, "wörld"},
		{`substr(body.s, 50)`, ""},
		{`substr(body.s, 0, 0)`, ""},
		{`substr(body.n, 0, 1)`, "4"},
		{`padLeft(body.n, 6, "0")`, "000042"},
		{`padLeft("abc", 2)`, "abc"},
		{`padRight("ab", 4, ".")`, "ab.."},
		{`padLeft("é", 3)`, "  é"},
		{`default(body.null, "x")`, "x"},
		{`default(body.missing, 1)`, 1.0},
		{`default(body.empty, "x")`, "x"},
		{`default(body.n, 0)`, 42.0},
		{`round(body.x, 2)`, 1234.57},
		{`round(body.x)`, 1235.0},
		{`round(body.neg)`, -1235.0},
		{`round(2.5)`, 3.0},
		{`round(body.x, -2)`, 1200.0},
		{`round(body.n, 1)`, 42.0},
		{`toNumber(body.num)`, 12.5},
		{`toNumber(body.n)`, 42.0},
		{`toNumber("1e3")`, 1000.0},
		{`toString(body.n)`, "42"},
		{`toString(body.x)`, "1234.5678"},
		{`toString(body.null)`, ""},
		{`toString(true)`, "true"},
		{`toString({"a": [1, "b"]})`, `{"a":[1,"b"]}`},
		{`toString(1e21)`, "1e+21"},
		{`formatNumber(body.x, "#,##0.00")`, "1,234.57"},
		{`formatNumber(body.neg, "#,##0.00")`, "-1,234.50"},
		{`formatNumber(body.x, "0")`, "1235"},
		{`formatNumber(body.x, "0.#")`, "1234.6"},
		{`formatNumber(body.n, "0.##")`, "42"},
		{`formatNumber(0.5, "#.00")`, ".50"},
		{`formatNumber(7, "000")`, "007"},
		{`formatNumber(1234567, "$#,##0 USD")`, "$1,234,567 USD"},
		{`formatNumber("12.5", "0.00")`, "12.50"},
		{`lookup("countries", body.c)`, "France"},
		{`lookup("codes", body.code)`, "seven"},
		{`lookup("countries", "XX", "unknown")`, "unknown"},
		{`lookup("countries", "XX", nil)`, nil},
		// expr-lang's own, not shadowed.
		{`upper(body.s)`, "HÉLLO WÖRLD"},
		{`trim("  a ")`, "a"},
		{`join(split("a,b", ","), "+")`, "a+b"},
		{`replace("a-b-c", "-", "")`, "abc"},
	}
	lookups := map[string]map[string]any{"countries": countries["countries"], "codes": {"7": "seven"}}
	for _, tt := range tests {
		e, err := CompileExpr(tt.expr, lookups)
		if err != nil {
			t.Errorf("%s: %v", tt.expr, err)
			continue
		}
		got, err := e.Eval(body, nil)
		if err != nil {
			t.Errorf("%s: %v", tt.expr, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s = %#v, want %#v", tt.expr, got, tt.want)
		}
	}
}

func TestExprFunctionErrors(t *testing.T) {
	body := decode(t, `{"s":"x","null":null,"obj":{}}`)
	tests := []struct {
		expr string
		is   error
		want string
	}{
		{`formatDate(body.s, "RFC3339")`, nil, `formatDate(body.s, "RFC3339"): cannot read "x" as a date`},
		{`formatDate(body.null, "RFC3339")`, ErrType, `got null, want a date`},
		{`formatDate(body.obj, "RFC3339")`, ErrType, `got object, want a date`},
		{`formatDate("2024-05-01", "RFC3339", "Mars/Olympus")`, nil, `unknown time zone "Mars/Olympus"`},
		{`parseDate("2024-13-01", "2006-01-02")`, nil, `date "2024-13-01" does not match layout "2006-01-02"`},
		{`parseDate(body.null)`, ErrType, `the date is null, want a string`},
		{`substr(body.null, 1)`, ErrType, `the string is null`},
		{`substr("abc", body.s)`, ErrType, `substr("abc", body.s): wrong type: the start is string, want a whole number`},
		{`padLeft("a", 3, "ab")`, ErrType, `pad must be one character, got "ab"`},
		{`padLeft("a", 1000000000, "0")`, ErrType, `width 1000000000 is too large`},
		{`round(body.s)`, ErrType, `round(body.s): wrong type: got string, want a number`},
		{`round(1.5, 40)`, ErrType, `places 40 out of range`},
		{`toNumber(body.null)`, ErrType, `got null, want a number (use default(x, 0) for a fallback)`},
		{`toNumber(body.obj)`, ErrType, `got object, want a number`},
		{`formatNumber(1, "abc")`, ErrType, `number pattern "abc" has no digits`},
		{`formatNumber(1, "0.0.0")`, ErrType, `number pattern "0.0.0" is malformed`},
		{`lookup("countries", "XX")`, ErrLookup, `no key "XX" in lookup table "countries"`},
		{`lookup(body.s, "FR")`, ErrLookup, `no lookup table "x" (have "countries", "priority")`},
		{`lookup("countries", body.obj)`, ErrLookup, `no key "{}"`},
	}
	for _, tt := range tests {
		e, err := CompileExpr(tt.expr, countries)
		if err != nil {
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("%s: compile error %v, want one containing %q", tt.expr, err, tt.want)
			}
			continue
		}
		_, err = e.Eval(body, nil)
		var re *RunError
		if !errors.As(err, &re) {
			t.Errorf("%s: error %v (%T), want a *RunError", tt.expr, err, err)
			continue
		}
		if tt.is != nil && !errors.Is(err, tt.is) {
			t.Errorf("%s: error is not %v: %v", tt.expr, tt.is, err)
		}
		if !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error\n  %v\nwant one containing\n  %s", tt.expr, err, tt.want)
		}
	}
}

func TestFormatNumberPatterns(t *testing.T) {
	tests := []struct {
		x       float64
		pattern string
		want    string
	}{
		{0, "0.00", "0.00"},
		{0, "#", "0"},
		{999.995, "#,##0.00", "1,000.00"},
		{1e15, "#,##0", "1,000,000,000,000,000"},
		{-0.4, "0", "0"},
		{12.3, "0.0 %", "12.3 %"},
		{1.005, "0.###", "1.005"},
	}
	for _, tt := range tests {
		got, err := formatNumber(tt.x, tt.pattern)
		if err != nil || got != tt.want {
			t.Errorf("formatNumber(%v, %q) = %q, %v; want %q", tt.x, tt.pattern, got, err, tt.want)
		}
	}
}

func TestToTime(t *testing.T) {
	want := time.Date(2024, 5, 1, 9, 29, 58, 0, time.UTC)
	for _, in := range []any{
		"2024-05-01T09:29:58Z", "2024-05-01T09:29:58.000+0000", "2024-05-01T11:29:58+02:00",
		"2024-05-01T09:29:58", "2024-05-01 09:29:58", 1714555798000.0, want,
	} {
		got, err := toTime(in)
		if err != nil || !got.Equal(want) {
			t.Errorf("toTime(%v) = %v, %v; want %v", in, got, err, want)
		}
	}
}

func TestNormalize(t *testing.T) {
	in := map[string]any{
		"a": []any{1, int64(2), float32(1.5)},
		"b": map[string]string{"x": "y"},
		"c": []string{"p"},
		"d": time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC),
		"e": map[string]any{"kept": "as is"},
		"f": []byte("hi"),
		"g": (*int)(nil),
		"h": time.Second,
	}
	inner := in["e"]
	got, err := normalize(in)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"a": []any{1.0, 2.0, 1.5},
		"b": map[string]any{"x": "y"},
		"c": []any{"p"},
		"d": "2024-05-01T00:00:00Z",
		"e": map[string]any{"kept": "as is"},
		"f": "aGk=",
		"g": nil,
		"h": "1s",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %#v\nwant %#v", got, want)
	}
	if _, ok := in["a"].([]any)[0].(int); !ok {
		t.Error("the input was changed")
	}
	if reflect.ValueOf(got.(map[string]any)["e"]).UnsafePointer() != reflect.ValueOf(inner).UnsafePointer() {
		t.Error("an unchanged inner map was copied")
	}
	for _, bad := range []any{struct{}{}, map[int]any{1: 1}, []any{func() {}}} {
		if _, err := normalize(bad); !errors.Is(err, ErrNotJSON) {
			t.Errorf("normalize(%T): %v, want ErrNotJSON", bad, err)
		}
	}
}

// A body that is already decoded JSON is normalized without allocating.
func TestNormalizeDoesNotAllocate(t *testing.T) {
	body := orderEvent(t)
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := normalize(body); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations, want 0", allocs)
	}
}
