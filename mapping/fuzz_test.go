package mapping

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"testing"
)

// fuzzSpecs are the order transforms plus mappings that reach into
// arrays, iterate, and build on the body itself.
func fuzzSpecs() []Spec {
	return append(orderSpecs(),
		Spec{Name: "jq-iterate", JQ: `{first: (.[]? // null), all: [.. | numbers], keys: (if type == "object" then keys else [] end), s: tostring}`},
		Spec{Name: "jq-each", JQ: `.[]?`},
		Spec{Name: "expr-reach", Expr: `{"a": body?.a?.b, "t": toString(body), "n": toNumber(body?.n ?? 0), "d": formatDate(body?.d ?? 0, "RFC3339")}`},
		Spec{Name: "fields-extend", Fields: []Field{
			{Target: ".", Expr: "body", Where: "f.yaml:1:1"},
			{Target: "added.list[]", Expr: "body?.a", Where: "f.yaml:2:1"},
			{Target: "added.list[-1]", Expr: "substr(toString(body), 0, 10)", Where: "f.yaml:3:1"},
			{Target: "items[2].x", Expr: "upper(body?.s ?? \"\")", Where: "f.yaml:4:1"},
		}},
	)
}

// FuzzMappings feeds arbitrary JSON bodies to every kind of mapping: none
// may panic, change its input, or return anything but a JSON value or a
// *RunError naming the mapping.
func FuzzMappings(f *testing.F) {
	sample, err := os.ReadFile("testdata/order_event.json")
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{
		string(sample), `{}`, `[]`, `null`, `1`, `"s"`, `[1,[2,{"a":3}]]`,
		`{"Contact__c":null}`, `{"Line_Items_JSON__c":"not json"}`, `{"Total_Amount__c":"12"}`,
		`{"a":{"b":1e308},"n":"7","d":"2024-05-01","s":"x"}`, `{"Priority__c":"High","Shipping_Country__c":"DE"}`,
	} {
		f.Add([]byte(seed))
	}
	var ms []*Mapping
	for _, s := range fuzzSpecs() {
		ms = append(ms, mustCompile(f, s))
	}
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, data []byte) {
		var body any
		if json.Unmarshal(data, &body) != nil {
			return
		}
		before, _ := json.Marshal(body)
		for _, m := range ms {
			got, err := m.Run(ctx, body, orderProps)
			if err != nil {
				var re *RunError
				if !errors.As(err, &re) || re.Mapping != m.Name() {
					t.Fatalf("%s: error %T %v, want a *RunError naming the mapping", m.Name(), err, err)
				}
				continue
			}
			checkJSONShape(t, got)
			if _, err := json.Marshal(got); err != nil {
				t.Fatalf("%s: result does not marshal: %v", m.Name(), err)
			}
		}
		if after, _ := json.Marshal(body); string(after) != string(before) {
			t.Fatalf("the body was changed:\n%s\n%s", before, after)
		}
	})
}
