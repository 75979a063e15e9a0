package mapping

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestExprBool(t *testing.T) {
	body := orderEvent(t)
	tests := []struct {
		src  string
		want bool
	}{
		{`body.Total_Amount__c > 1000`, true},
		{`body.Status__c == "Placed" && !body.Is_Rush__c`, true},
		{`props.channel endsWith "Order_Placed__e"`, true},
		{`body.Promo_Code__c == nil`, true},
		{`lookup("countries", body.Shipping_Country__c) == "France"`, true},
		{`body.Contact__c.Email matches "@example\\.com$"`, true},
		{`body.Missing?.Field ?? false`, false},
		{`"Web" in ["Web", "Partner"]`, true},
	}
	for _, tt := range tests {
		e, err := CompileExpr(tt.src, countries)
		if err != nil {
			t.Errorf("%s: %v", tt.src, err)
			continue
		}
		got, err := e.Bool(body, orderProps)
		if err != nil || got != tt.want {
			t.Errorf("%s = %v, %v; want %v", tt.src, got, err, tt.want)
		}
	}
}

func TestExprBoolWantsABool(t *testing.T) {
	for src, want := range map[string]string{
		`body.Status__c`:     `condition "body.Status__c" gave string, want true or false`,
		`body.Promo_Code__c`: `condition "body.Promo_Code__c" gave null, want true or false (use x ?? false for a fallback)`,
	} {
		e, err := CompileExpr(src, nil)
		if err != nil {
			t.Fatal(err)
		}
		_, err = e.Bool(orderEvent(t), nil)
		var re *RunError
		if !errors.As(err, &re) || !errors.Is(err, ErrType) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want a *RunError (ErrType) containing %q", src, err, want)
		}
	}
}

func TestExprString(t *testing.T) {
	body := orderEvent(t)
	tests := []struct{ src, want string }{
		{`body.Order_Number__c`, "00012345"},
		{`body.Item_Count__c`, "3"},
		{`body.Total_Amount__c`, "1249.5"},
		{`body.Is_Rush__c`, "false"},
		{`body.Promo_Code__c`, ""},
		{`body.Contact__c`, `{"Email":"ada@example.com","Name":"Ada Lovelace","Phone":"+44 20 7946 0958"}`},
		{`parseDate("2024-05-01")`, "2024-05-01T00:00:00Z"},
		{`"order " + body.Order_Number__c + " from " + props.channel`, "order 00012345 from /event/Order_Placed__e"},
		{`split("a,b", ",")`, `["a","b"]`},
		{`1 + 2`, "3"},
	}
	for _, tt := range tests {
		e, err := CompileExpr(tt.src, nil)
		if err != nil {
			t.Errorf("%s: %v", tt.src, err)
			continue
		}
		got, err := e.String(body, orderProps)
		if err != nil || got != tt.want {
			t.Errorf("%s = %q, %v; want %q", tt.src, got, err, tt.want)
		}
		if e.Source() != tt.src {
			t.Errorf("Source() = %q, want %q", e.Source(), tt.src)
		}
	}
}

func TestExprEvalIsJSON(t *testing.T) {
	e, err := CompileExpr(`{"n": 1, "l": split("a b", " "), "p": props}`, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := e.Eval(nil, map[string]string{"k": "v"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"n": 1.0, "l": []any{"a", "b"}, "p": map[string]any{"k": "v"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %#v, want %#v", got, want)
	}
}

func TestExprErrors(t *testing.T) {
	tests := []struct {
		src, body string
		path      string // RunError.Path
		want      string // the whole message
	}{
		{"body.Contact__c.Phone", `{}`, "body.Contact__c", "body.Contact__c: cannot fetch Phone from <nil>"},
		{"body?.Contact__c.Phone", `{}`, "body?.Contact__c", "body?.Contact__c: cannot fetch Phone from <nil>"},
		{`"+" + body["Contact__c"].Phone`, `{}`, `body["Contact__c"]`, `body["Contact__c"]: cannot fetch Phone from <nil>`},
		{"body.a.b[2].c", `{"a":{"b":[]}}`, "body.a.b", "body.a.b: index out of range: 2 (array length is 0)"},
		{"body.a[0].b.c", `{"a":[{"b":null}]}`, "body.a[0].b", "body.a[0].b: cannot fetch c from <nil>"},
		{"len(body.a)", `{}`, "len(body.a)", "len(body.a): invalid argument for len (type <nil>)"},
		{"lower(body.a) + upper(body.b)", `{"a":"x","b":3}`, "upper(body.b)", "upper(body.b): got number, want string"},
		{"body.a +\n  body.b * 2", `{"a":1,"b":"x"}`, "", "invalid operation: string * int (line 2, column 10 of the expression)"},
	}
	for _, tt := range tests {
		e, err := CompileExpr(tt.src, nil)
		if err != nil {
			t.Errorf("%s: %v", tt.src, err)
			continue
		}
		_, err = e.Eval(decode(t, tt.body), nil)
		var re *RunError
		if !errors.As(err, &re) {
			t.Errorf("%s: error %v (%T), want a *RunError", tt.src, err, err)
			continue
		}
		if re.Path != tt.path || err.Error() != tt.want {
			t.Errorf("%s: path %q, error\n  %v\nwant path %q, error\n  %s", tt.src, re.Path, err, tt.path, tt.want)
		}
	}
}

func TestCompileExprErrors(t *testing.T) {
	for src, want := range map[string]string{
		"":                     "empty expression",
		"bdy.x":                `unknown name bdy (column 1 of "bdy.x")`,
		"body.x +":             "unexpected token EOF",
		`lookup("nope", 1)`:    `no lookup table "nope" (the mapping defines no lookups)`,
		"formatDate(body.x)":   "formatDate takes 2 to 3 arguments, got 1 (formatDate(t, layout[, tz]))",
		"uuid(1)":              "uuid takes no arguments, got 1 (uuid())",
		"body.x ==\n  (1 +":    "line 2",
		`padLeft("a", "3")`:    "argument 2 of padLeft is string, want a whole number (padLeft(v, width[, pad]))",
		"env()":                "unknown name env",
		`parseDate(1, "2006")`: "argument 1 of parseDate is int, want a string (parseDate(s[, layout[, tz]]))",
	} {
		_, err := CompileExpr(src, nil)
		var ce *CompileError
		if !errors.As(err, &ce) || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want a *CompileError containing %q", src, err, want)
		}
	}
}
