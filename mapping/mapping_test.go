package mapping

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"
)

func TestOrderTransformEachKind(t *testing.T) {
	want := decode(t, orderWant)
	for _, s := range orderSpecs() {
		t.Run(s.Name, func(t *testing.T) {
			m := mustCompile(t, s)
			body := orderEvent(t)
			before := cloneValue(body)
			got, err := m.Run(context.Background(), body, orderProps)
			if err != nil {
				t.Fatal(err)
			}
			checkJSONShape(t, got)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("got  %s\nwant %s", mustJSON(t, got), mustJSON(t, want))
			}
			if !reflect.DeepEqual(body, before) {
				t.Errorf("the input body was changed")
			}
		})
	}
}

func TestKind(t *testing.T) {
	for _, s := range orderSpecs() {
		m := mustCompile(t, s)
		if m.Name() != s.Name || !strings.HasSuffix(s.Name, m.Kind()) {
			t.Errorf("%s: Name %q Kind %q", s.Name, m.Name(), m.Kind())
		}
	}
}

func TestJQ(t *testing.T) {
	tests := []struct {
		name, jq, body string
		props          map[string]string
		want           string
	}{
		{"identity", ".", `{"a":1}`, nil, `{"a":1}`},
		{"ints become float64", `{n: (.a | length), s: (1 + 2)}`, `{"a":[1,2]}`, nil, `{"n":2,"s":3}`},
		{"props", `{id: $props.replayId, missing: $props.nope}`, `{}`, map[string]string{"replayId": "42"}, `{"id":"42","missing":null}`},
		{"nil props", `$props`, `{}`, nil, `{}`},
		{"lookups variable", `$lookups.countries[.c]`, `{"c":"DE"}`, nil, `"Germany"`},
		{"lookup function", `lookup("countries"; .c)`, `{"c":"GB"}`, nil, `"United Kingdom"`},
		{"lookup default", `lookup("countries"; .c; "?")`, `{"c":"XX"}`, nil, `"?"`},
		{"lookup number key", `lookup("codes"; .n)`, `{"n":7}`, nil, `"seven"`},
		{"collect into array", `[.[] | . * 2]`, `[1,2,3]`, nil, `[2,4,6]`},
		{"scalar body", `. + 1`, `41`, nil, `42`},
		{"null body", `. // "none"`, `null`, nil, `"none"`},
		{"fromjson", `.j | fromjson`, `{"j":"{\"x\":[1,{\"y\":true}]}"}`, nil, `{"x":[1,{"y":true}]}`},
		{"upper lower", `[(.s|upper), (.s|lower)]`, `{"s":"Ünïcode"}`, nil, `["ÜNÏCODE","ünïcode"]`},
		{"round places", `[(.x | round(2)), (.x | round)]`, `{"x":2.345}`, nil, `[2.35, 2]`},
		{"padLeft", `[(.n | padLeft(5; "0")), (.s | padRight(4))]`, `{"n":42,"s":"ab"}`, nil, `["00042","ab  "]`},
		{"substr", `[(.s | substr(2)), (.s | substr(0; 3)), (.s | substr(-2; 5))]`, `{"s":"abcdef"}`, nil, `["cdef","abc","ef"]`},
		{"formatNumber", `.x | formatNumber("#,##0.00")`, `{"x":1234567.891}`, nil, `"1,234,567.89"`},
		{"default", `[(.a | default(1)), (.b | default(2)), (.c | default(3))]`, `{"a":"","b":null,"c":"x"}`, nil, `[1,2,"x"]`},
		{"formatDate from text", `.d | formatDate("2006-01-02 15:04")`, `{"d":"2024-05-01T09:29:58.000+0000"}`, nil, `"2024-05-01 09:29"`},
		{"formatDate from millis", `.d | formatDate("RFC3339")`, `{"d":1714555798000}`, nil, `"2024-05-01T09:29:58Z"`},
		{"formatDate in zone", `.d | formatDate("15:04"; "Europe/Paris")`, `{"d":"2024-05-01T09:29:58Z"}`, nil, `"11:29"`},
		{"parseDate", `[(.d | parseDate("02/01/2006")), (.e | parseDate)]`, `{"d":"01/05/2024","e":"2024-05-01T00:00:00Z"}`, nil, `[1714521600000, 1714521600000]`},
		{"parse then format", `.d | parseDate("02/01/2006") | formatDate("DateOnly")`, `{"d":"01/05/2024"}`, nil, `"2024-05-01"`},
		{"env is empty", `$ENV | length`, `{}`, nil, `0`},
	}
	lookups := map[string]map[string]any{"countries": countries["countries"], "codes": {"7": "seven"}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := mustCompile(t, Spec{Name: "t", JQ: tt.jq, Lookups: lookups})
			got, err := m.Run(context.Background(), decode(t, tt.body), tt.props)
			if err != nil {
				t.Fatal(err)
			}
			checkJSONShape(t, got)
			if want := decode(t, tt.want); !reflect.DeepEqual(got, want) {
				t.Errorf("got %s, want %s", mustJSON(t, got), mustJSON(t, want))
			}
		})
	}
}

func TestJQUUID(t *testing.T) {
	m := mustCompile(t, Spec{Name: "t", JQ: `[uuid, uuid]`})
	got, err := m.Run(context.Background(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ids := got.([]any)
	a, b := ids[0].(string), ids[1].(string)
	if len(a) != 36 || a[14] != '4' || a == b {
		t.Errorf("uuids %q %q: want two different version 4 UUIDs", a, b)
	}
}

func TestExprMapping(t *testing.T) {
	tests := []struct {
		name, expr, body string
		props            map[string]string
		want             string
	}{
		{"field", "body.a", `{"a":{"b":[1,2]}}`, nil, `{"b":[1,2]}`},
		{"ints become float64", `{"n": len(body.a), "s": 1 + 2}`, `{"a":[1,2]}`, nil, `{"n":2,"s":3}`},
		{"props", `{"id": props.replayId, "missing": props.nope}`, `{}`, map[string]string{"replayId": "42"}, `{"id":"42","missing":""}`},
		{"lookups variable", `lookups.countries[body.c]`, `{"c":"DE"}`, nil, `"Germany"`},
		{"lookup", `lookup("countries", body.c)`, `{"c":"FR"}`, nil, `"France"`},
		{"lookup default", `lookup("countries", body.c, "?")`, `{"c":"XX"}`, nil, `"?"`},
		{"split gives []any", `split(body.s, ",")`, `{"s":"a,b"}`, nil, `["a","b"]`},
		{"props map", `props`, `{}`, map[string]string{"a": "1"}, `{"a":"1"}`},
		{"time becomes text", `date("2024-05-01", "2006-01-02")`, `{}`, nil, `"2024-05-01T00:00:00Z"`},
		{"map over array", `map(body.items, .qty * 2)`, `{"items":[{"qty":1},{"qty":2.5}]}`, nil, `[2,5]`},
		{"nil safe", `body?.a?.b ?? "none"`, `{}`, nil, `"none"`},
		{"conditional", `body.total > 1000 ? "big" : "small"`, `{"total":1249.5}`, nil, `"big"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := mustCompile(t, Spec{Name: "t", Expr: tt.expr, Lookups: countries})
			got, err := m.Run(context.Background(), decode(t, tt.body), tt.props)
			if err != nil {
				t.Fatal(err)
			}
			checkJSONShape(t, got)
			if want := decode(t, tt.want); !reflect.DeepEqual(got, want) {
				t.Errorf("got %s, want %s", mustJSON(t, got), mustJSON(t, want))
			}
		})
	}
}

func TestCompileErrors(t *testing.T) {
	tests := []struct {
		name string
		spec Spec
		is   error
		want []string // each must appear in the message
	}{
		{"no kind", Spec{Name: "m", Where: "a.yaml:1:1"}, ErrKind,
			[]string{`mapping "m" (a.yaml:1:1): a mapping needs exactly one of jq, expr and fields (found none)`}},
		{"two kinds", Spec{Name: "m", JQ: ".", Expr: "body"}, ErrKind,
			[]string{`mapping "m": `, "found jq and expr"}},
		{"jq parse", Spec{Name: "m", JQ: "{a: .x,\n  b: | .y}", Where: "a.yaml:3:5"}, nil,
			[]string{`mapping "m" (a.yaml:3:5): jq: unexpected token "|" (line 2, column`}},
		{"jq unknown function", Spec{Name: "m", JQ: "nosuch(1)"}, nil,
			[]string{`mapping "m": jq: function not defined: nosuch/1`}},
		{"expr unknown name", Spec{Name: "m", Expr: "bdy.Name"}, nil,
			[]string{`mapping "m": unknown name bdy (column 1 of "bdy.Name")`}},
		{"expr wrong argument count", Spec{Name: "m", Expr: "substr(body.s)"}, nil,
			[]string{`mapping "m": substr takes 2 to 3 arguments, got 1 (substr(s, start[, length])) (column 1 of "substr(body.s)")`}},
		{"lookup of a missing table", Spec{Name: "m", Expr: `lookup("nations", body.c)`, Lookups: countries}, ErrLookup,
			[]string{`no lookup table "nations" (have "countries", "priority")`}},
		{"field expression", Spec{Name: "m", Fields: []Field{
			{Target: "a", Expr: "body.a", Where: "f.yaml:4:3"},
			{Target: "b", Expr: "body.b +", Where: "f.yaml:5:3"},
		}}, nil, []string{`mapping "m": field "b" (f.yaml:5:3): unexpected token EOF`}},
		{"bad target", Spec{Name: "m", Fields: []Field{{Target: "a..b", Expr: "1", Where: "f.yaml:4:3"}}}, ErrTarget,
			[]string{`mapping "m": field "a..b" (f.yaml:4:3): bad target: "a..b" has an empty or space-padded name at column 3`}},
		{"bad index", Spec{Name: "m", Fields: []Field{{Target: "a[x]", Expr: "1"}}}, ErrTarget,
			[]string{`bad index [x] (want [N], [] to append, [-1] for the last element, or ["key"])`}},
		{"duplicate target", Spec{Name: "m", Fields: []Field{
			{Target: "a.b", Expr: "1", Where: "f.yaml:4:3"},
			{Target: "a.b", Expr: "2", Where: "f.yaml:5:3"},
		}}, ErrTarget, []string{`field "a.b" (f.yaml:5:3): bad target: set twice (first at f.yaml:4:3)`}},
		{"every field error at once", Spec{Name: "m", Fields: []Field{
			{Target: "a", Expr: "nope", Where: "f.yaml:4:3"},
			{Target: "b", Expr: "body.b", Where: "f.yaml:5:3"},
			{Target: "c[", Expr: "1", Where: "f.yaml:6:3"},
		}}, nil, []string{`field "a" (f.yaml:4:3): unknown name nope`, `field "c[" (f.yaml:6:3): bad target`}},
		{"empty expression", Spec{Name: "m", Fields: []Field{{Target: "a", Expr: " "}}}, nil,
			[]string{`field "a": empty expression`}},
		{"bad lookup value", Spec{Name: "m", JQ: ".", Lookups: map[string]map[string]any{"t": {"k": struct{}{}}}}, ErrNotJSON,
			[]string{`lookup table "t": key "k": not a JSON value: a value of type struct {}`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := Compile(tt.spec)
			if err == nil {
				t.Fatalf("compiled (%s), want an error", m.Kind())
			}
			var ce *CompileError
			if !errors.As(err, &ce) || ce.Mapping != tt.spec.Name {
				t.Errorf("error %T does not hold a *CompileError for %q: %v", err, tt.spec.Name, err)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("error is not %v: %v", tt.is, err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error\n  %v\ndoes not contain\n  %s", err, w)
				}
			}
		})
	}
}

func TestRunErrors(t *testing.T) {
	tests := []struct {
		name string
		spec Spec
		body string
		is   error
		want string // the whole message
	}{
		{"field reads through null", Spec{Name: "order-to-sms", Fields: []Field{
			{Target: "to", Expr: `"sms"`, Where: "orders.yaml:13:7"},
			{Target: "customer.phone", Expr: "body.Contact__c.Phone", Where: "orders.yaml:14:7"},
		}}, `{"Name":"x"}`, nil,
			`mapping "order-to-sms": field "customer.phone" (orders.yaml:14:7): body.Contact__c: cannot fetch Phone from <nil>`},
		{"index out of range", Spec{Name: "m", Fields: []Field{{Target: "sku", Expr: "body.Items[3].Sku", Where: "f.yaml:2:3"}}},
			`{"Items":[{"Sku":"a"}]}`, nil,
			`mapping "m": field "sku" (f.yaml:2:3): body.Items: index out of range: 3 (array length is 1)`},
		{"function gets null", Spec{Name: "m", Fields: []Field{{Target: "name", Expr: "upper(body.Name__c)", Where: "f.yaml:2:3"}}},
			`{}`, ErrType,
			`mapping "m": field "name" (f.yaml:2:3): upper(body.Name__c): got null, want string (use default(x, fallback) or x ?? fallback)`},
		{"our function fails", Spec{Name: "m", Fields: []Field{{Target: "n", Expr: "toNumber(body.n)", Where: "f.yaml:2:3"}}},
			`{"n":"12x"}`, ErrType,
			`mapping "m": field "n" (f.yaml:2:3): toNumber(body.n): wrong type: "12x" is not a number`},
		{"operator", Spec{Name: "m", Expr: "body.a * 2", Where: "m.yaml:1:1"},
			`{"a":"x"}`, nil,
			`mapping "m" (m.yaml:1:1): invalid operation: string * int (column 8 of "body.a * 2")`},
		{"missing lookup key", Spec{Name: "m", Expr: `lookup("countries", body.c)`, Lookups: countries},
			`{"c":"XX"}`, ErrLookup,
			`mapping "m": lookup("countries", body.c): lookup failed: no key "XX" in lookup table "countries" (add it, or give a default: lookup("countries", key, default))`},
		{"jq many values", Spec{Name: "m", JQ: ".[]", Where: "m.yaml:1:1"}, `[1,2]`, ErrManyValues,
			`mapping "m" (m.yaml:1:1): jq program produced more than one value (a mapping must produce exactly one; collect them into an array with [ ... ])`},
		{"jq no value", Spec{Name: "m", JQ: "empty"}, `{}`, ErrNoValue,
			`mapping "m": jq program produced no value (a mapping must produce exactly one; use a filter step to drop a document)`},
		{"jq error", Spec{Name: "m", JQ: `error("bad order")`}, `{}`, nil, `mapping "m": jq: error: bad order`},
		{"jq type error", Spec{Name: "m", JQ: `.a.b`}, `{"a":"x"}`, nil, `mapping "m": jq: expected an object but got: string ("x")`},
		{"jq error after a value", Spec{Name: "m", JQ: `1, error("late")`}, `{}`, nil, `mapping "m": jq: error: late`},
		{"jq lookup", Spec{Name: "m", JQ: `lookup("countries"; .c)`, Lookups: countries}, `{"c":"XX"}`, ErrLookup,
			`mapping "m": jq: lookup failed: no key "XX" in lookup table "countries" (add it, or give a default: lookup("countries", key, default))`},
		{"jq halt", Spec{Name: "m", JQ: `halt`}, `{}`, nil, `mapping "m": jq: halt (a mapping must produce one value)`},
		{"jq infinity", Spec{Name: "m", JQ: `infinite`}, `{}`, ErrNotJSON, `mapping "m": not a JSON value: +Inf is not a JSON number`},
		{"target conflict", Spec{Name: "m", Fields: []Field{
			{Target: "a", Expr: `"x"`, Where: "f.yaml:2:3"},
			{Target: "a.b", Expr: "1", Where: "f.yaml:3:3"},
		}}, `{}`, ErrTarget, `mapping "m": field "a.b" (f.yaml:3:3): bad target: cannot set "b" in string (want an object)`},
		{"last of empty", Spec{Name: "m", Fields: []Field{{Target: "a[-1].b", Expr: "1"}}}, `{}`, ErrTarget,
			`mapping "m": field "a[-1].b": bad target: [-1] of an empty array (append with [] first)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := mustCompile(t, tt.spec)
			_, err := m.Run(context.Background(), decode(t, tt.body), nil)
			if err == nil {
				t.Fatal("ran, want an error")
			}
			var re *RunError
			if !errors.As(err, &re) || re.Mapping != tt.spec.Name {
				t.Errorf("error %T is not a *RunError for %q", err, tt.spec.Name)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("error is not %v: %v", tt.is, err)
			}
			if err.Error() != tt.want {
				t.Errorf("error\n  %v\nwant\n  %s", err, tt.want)
			}
		})
	}
}

func TestRunErrorParts(t *testing.T) {
	m := mustCompile(t, Spec{Name: "order-to-sms", Fields: []Field{
		{Target: "customer.phone", Expr: "body.Contact__c.Phone", Where: "orders.yaml:14:7"},
	}})
	_, err := m.Run(context.Background(), map[string]any{}, nil)
	var re *RunError
	if !errors.As(err, &re) {
		t.Fatalf("error %T, want *RunError", err)
	}
	want := RunError{Mapping: "order-to-sms", Field: "customer.phone", Where: "orders.yaml:14:7", Path: "body.Contact__c"}
	if re.Mapping != want.Mapping || re.Field != want.Field || re.Where != want.Where || re.Path != want.Path {
		t.Errorf("got %+v, want %+v", *re, want)
	}
}

func TestRunCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, s := range orderSpecs() {
		m := mustCompile(t, s)
		_, err := m.Run(ctx, orderEvent(t), orderProps)
		var re *RunError
		if !errors.Is(err, context.Canceled) || !errors.As(err, &re) || re.Mapping != s.Name {
			t.Errorf("%s: error %v, want a *RunError wrapping context.Canceled", s.Name, err)
		}
	}
}

// A jq program that never ends stops when the run's context is cancelled.
func TestJQStopsOnCancel(t *testing.T) {
	m := mustCompile(t, Spec{Name: "forever", JQ: `last(range(1e18))`})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := m.Run(ctx, nil, nil)
		done <- err
	}()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("error %v, want context.Canceled", err)
	}
}

// Bodies that are not plain decoded JSON (a connector decoding with
// UseNumber, a Go map of strings) still map, and are not changed.
func TestJQOddInputTypes(t *testing.T) {
	m := mustCompile(t, Spec{Name: "t", JQ: `{a: (.a + 1), b: .b.x, c: .c}`})
	body := map[string]any{"a": int64(1), "b": map[string]string{"x": "y"}, "c": []string{"p"}}
	got, err := m.Run(context.Background(), body, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"a": 2.0, "b": "y", "c": []any{"p"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	if _, ok := body["a"].(int64); !ok {
		t.Error("the input body was changed")
	}
}

// Many goroutines run the same compiled mappings on one shared body; run
// with -race.
func TestConcurrentRuns(t *testing.T) {
	want := decode(t, orderWant)
	body := orderEvent(t)
	before := cloneValue(body)
	var ms []*Mapping
	for _, s := range orderSpecs() {
		ms = append(ms, mustCompile(t, s))
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Go(func() {
			for i := range 50 {
				m := ms[(g+i)%len(ms)]
				got, err := m.Run(context.Background(), body, orderProps)
				if err != nil {
					errs <- err
					return
				}
				if !reflect.DeepEqual(got, want) {
					errs <- errors.New(m.Name() + ": wrong output " + mustJSON(t, got))
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if !reflect.DeepEqual(body, before) {
		t.Error("the shared body was changed")
	}
}
