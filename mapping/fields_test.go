package mapping

import (
	"context"
	"errors"
	"reflect"
	"testing"
)

func TestParseTarget(t *testing.T) {
	key := func(k string) segment { return segment{kind: segKey, key: k} }
	idx := func(i int) segment { return segment{kind: segIndex, index: i} }
	tests := []struct {
		in   string
		want []segment
	}{
		{".", nil},
		{"a", []segment{key("a")}},
		{".a.b", []segment{key("a"), key("b")}},
		{"customer.address.city", []segment{key("customer"), key("address"), key("city")}},
		{"items[0].sku", []segment{key("items"), idx(0), key("sku")}},
		{"tags[]", []segment{key("tags"), {kind: segAppend}}},
		{"items[-1].qty", []segment{key("items"), {kind: segLast}, key("qty")}},
		{"m[2][3]", []segment{key("m"), idx(2), idx(3)}},
		{`a["odd.key"].b`, []segment{key("a"), key("odd.key"), key("b")}},
		{`a['x]y']`, []segment{key("a"), key("x]y")}},
		{`["top"]`, []segment{key("top")}},
		{"Name__c", []segment{key("Name__c")}},
	}
	for _, tt := range tests {
		got, err := parseTarget(tt.in)
		if err != nil {
			t.Errorf("%q: %v", tt.in, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%q: got %+v, want %+v", tt.in, got, tt.want)
		}
	}
	for _, bad := range []string{"", " ", "a.", "a..b", "a[", "a[x]", "a[-2]", "a[99999999]", "a]", "a. b", `a["x]`, "a[0]b"} {
		if segs, err := parseTarget(bad); !errors.Is(err, ErrTarget) {
			t.Errorf("%q: got %+v, %v; want ErrTarget", bad, segs, err)
		}
	}
}

func TestFieldMaps(t *testing.T) {
	tests := []struct {
		name   string
		fields []Field
		body   string
		want   string
	}{
		{"nested objects", []Field{
			{Target: "customer.name", Expr: "body.Name__c"},
			{Target: "customer.address.city", Expr: "body.City__c"},
			{Target: "customer.address.zip", Expr: "body.Zip__c"},
		}, `{"Name__c":"Ada","City__c":"Paris","Zip__c":"75001"}`,
			`{"customer":{"name":"Ada","address":{"city":"Paris","zip":"75001"}}}`},
		{"indexed array", []Field{
			{Target: "items[1].sku", Expr: `"B"`},
			{Target: "items[0].sku", Expr: `"A"`},
			{Target: "items[0].qty", Expr: "2"},
		}, `{}`, `{"items":[{"sku":"A","qty":2},{"sku":"B"}]}`},
		{"gap is null", []Field{{Target: "a[2]", Expr: "true"}}, `{}`, `{"a":[null,null,true]}`},
		{"append", []Field{
			{Target: "tags[]", Expr: `"x"`},
			{Target: "tags[]", Expr: `body.t`},
			{Target: "tags[]", Expr: `nil`},
		}, `{"t":"y"}`, `{"tags":["x","y",null]}`},
		{"append then fill the last", []Field{
			{Target: "lines[].sku", Expr: `"A"`},
			{Target: "lines[-1].qty", Expr: "1"},
			{Target: "lines[].sku", Expr: `"B"`},
			{Target: "lines[-1].qty", Expr: "3"},
		}, `{}`, `{"lines":[{"sku":"A","qty":1},{"sku":"B","qty":3}]}`},
		{"nested arrays", []Field{{Target: "m[1][0]", Expr: "5"}}, `{}`, `{"m":[null,[5]]}`},
		{"quoted key", []Field{{Target: `attrs["a.b"]`, Expr: "1"}}, `{}`, `{"attrs":{"a.b":1}}`},
		{"copy then extend", []Field{
			{Target: ".", Expr: "body"},
			{Target: "extra", Expr: `"x"`},
			{Target: "nested.added", Expr: "true"},
		}, `{"a":1,"nested":{"kept":2}}`, `{"a":1,"extra":"x","nested":{"kept":2,"added":true}}`},
		{"whole value then inside it", []Field{
			{Target: "contact", Expr: "body.Contact__c"},
			{Target: "contact.source", Expr: `"sf"`},
			{Target: "list", Expr: "body.List"},
			{Target: "list[]", Expr: "3"},
			{Target: "list[0]", Expr: "0"},
		}, `{"Contact__c":{"Name":"Ada"},"List":[1,2]}`,
			`{"contact":{"Name":"Ada","source":"sf"},"list":[0,2,3]}`},
		{"root scalar", []Field{{Target: ".", Expr: "body.n"}}, `{"n":5}`, `5`},
		{"later entry replaces", []Field{
			{Target: "a.b", Expr: "1"},
			{Target: "a", Expr: "2"},
		}, `{}`, `{"a":2}`},
		{"values are normalized", []Field{
			{Target: "n", Expr: "len(body.s)"},
			{Target: "parts", Expr: `split(body.s, "")`},
			{Target: "when", Expr: `parseDate("2024-05-01")`},
		}, `{"s":"ab"}`, `{"n":2,"parts":["a","b"],"when":"2024-05-01T00:00:00Z"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := mustCompile(t, Spec{Name: "t", Fields: tt.fields})
			body := decode(t, tt.body)
			before := cloneValue(body)
			got, err := m.Run(context.Background(), body, nil)
			if err != nil {
				t.Fatal(err)
			}
			checkJSONShape(t, got)
			if want := decode(t, tt.want); !reflect.DeepEqual(got, want) {
				t.Errorf("got %s, want %s", mustJSON(t, got), mustJSON(t, want))
			}
			if !reflect.DeepEqual(body, before) {
				t.Errorf("the input body was changed: %s", mustJSON(t, body))
			}
		})
	}
}

// Appending to a slice taken from the input must not write into the
// input's backing array, even when it has spare capacity.
func TestFieldMapDoesNotAppendIntoInput(t *testing.T) {
	list := make([]any, 1, 8)
	list[0] = 1.0
	body := map[string]any{"List": list}
	m := mustCompile(t, Spec{Name: "t", Fields: []Field{
		{Target: "l", Expr: "body.List"},
		{Target: "l[]", Expr: "2"},
	}})
	if _, err := m.Run(context.Background(), body, nil); err != nil {
		t.Fatal(err)
	}
	if spare := list[:2]; spare[1] != nil {
		t.Errorf("the input's backing array was written: %v", spare)
	}
}

func TestFieldsClonePlan(t *testing.T) {
	m := mustCompile(t, Spec{Name: "t", Fields: []Field{
		{Target: "a", Expr: "body.a"},     // later a.x writes inside: clone
		{Target: "b", Expr: "body.b"},     // nothing writes inside
		{Target: "a.x", Expr: "1"},        // a leaf
		{Target: "c[]", Expr: "body.c"},   // c[-1].y writes inside: clone
		{Target: "c[-1].y", Expr: "true"}, // a leaf
	}})
	var got []bool
	for _, f := range m.fields {
		got = append(got, f.clone)
	}
	if want := []bool{true, false, false, true, false}; !reflect.DeepEqual(got, want) {
		t.Errorf("clone plan %v, want %v", got, want)
	}
}
