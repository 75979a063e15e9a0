package processes

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/atomrt/atom/operations"
)

// loadTestRegistry registers two small connectors for the loader tests:
// "fake" (listen and send, with a setting of every type) and "inbound"
// (listen only). Their Open is never called: loading does no I/O.
func loadTestRegistry(t testing.TB) *operations.Registry {
	t.Helper()
	open := func(string, operations.Settings, operations.Env) (operations.Connection, error) {
		return nil, errors.New("loader tests do not open connections")
	}
	reg := operations.NewRegistry()
	fake := &operations.Connector{
		Name:    "fake",
		Summary: "A test connector with a setting of every type.",
		Connection: operations.Spec{Summary: "Where the fake system is.", Fields: []operations.Field{
			{Name: "url", Type: operations.String, Required: true, Doc: "Base URL.", Example: "https://example.test"},
			{Name: "token", Type: operations.Secret, Doc: "API token."},
			{Name: "timeout", Type: operations.Duration, Default: 30 * time.Second, Doc: "Request timeout."},
			{Name: "retries", Type: operations.Int, Default: 3, Doc: "Retries."},
			{Name: "ratio", Type: operations.Float, Doc: "A ratio."},
			{Name: "verbose", Type: operations.Bool, Doc: "Log more."},
			{Name: "mode", Type: operations.Enum, Enum: []string{"fast", "safe"}, Default: "safe", Doc: "Mode."},
			{Name: "headers", Type: operations.Map, Doc: "Extra headers."},
			{Name: "scopes", Type: operations.List, Doc: "OAuth scopes."},
		}},
		Listen: &operations.Spec{Summary: "Subscribe to a channel.", Fields: []operations.Field{
			{Name: "channel", Type: operations.String, Required: true, Doc: "The channel.", Example: "/event/Order__e"},
			{Name: "replay", Type: operations.Enum, Enum: []string{"latest", "all", "stored"}, Default: "latest", Doc: "Where to start."},
			{Name: "batchSize", Type: operations.Int, Default: int64(100), Doc: "Events a fetch."},
		}},
		Send: &operations.Spec{Summary: "Post a document.", Fields: []operations.Field{
			{Name: "path", Type: operations.String, Required: true, Doc: "Path below the URL."},
			{Name: "method", Type: operations.Enum, Enum: []string{"GET", "POST", "PUT"}, Default: "POST", Doc: "HTTP method."},
		}},
		Open: open,
	}
	inbound := &operations.Connector{
		Name:       "inbound",
		Summary:    "Listen only.",
		Connection: operations.Spec{Fields: []operations.Field{{Name: "port", Type: operations.Int, Doc: "Port."}}},
		Listen:     &operations.Spec{Fields: []operations.Field{{Name: "path", Type: operations.String, Required: true}}},
		Open:       open,
	}
	for _, c := range []*operations.Connector{fake, inbound} {
		if err := reg.Register(c); err != nil {
			t.Fatal(err)
		}
	}
	return reg
}

// loadTestEnv is the environment the loader tests see.
func loadTestEnv(name string) (string, bool) {
	v, ok := map[string]string{"FAKE_TOKEN": "env-token", "EMPTY": ""}[name]
	return v, ok
}

func loadTestPath(t *testing.T, path string) (*Set, error) {
	t.Helper()
	files, err := ReadPath(path)
	if err != nil {
		t.Fatal(err)
	}
	return LoadWith(loadTestRegistry(t), files, LoadOptions{LookupEnv: loadTestEnv})
}

func TestLoadComponents(t *testing.T) {
	t.Parallel()
	set, err := loadTestPath(t, filepath.Join("testdata", "components"))
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	if got := len(set.Connections) + len(set.Operations) + len(set.Mappings) + len(set.Processes); got != 11 {
		t.Errorf("components = %d, want 11", got)
	}

	crm := set.Connections["crm"]
	if crm.Type != "fake" || crm.Pos != (Pos{File: "testdata/components/orders.yaml", Line: 3, Col: 1}) {
		t.Errorf("crm = %+v", crm)
	}
	s := crm.Settings
	if s.Secret("token").Reveal() != "env-token" {
		t.Errorf("token not resolved from the environment")
	}
	if s.Duration("timeout") != 10*time.Second || s.Int("retries") != 3 || s.String("mode") != "safe" {
		t.Errorf("settings or defaults wrong: %v", s)
	}
	if got := s.Map("headers")["Authorization"]; got != "Bearer file-token" {
		t.Errorf("header = %q, want the file reference resolved", got)
	}
	if !reflect.DeepEqual(s.List("scopes"), []string{"api", "refresh_token"}) {
		t.Errorf("scopes = %v", s.List("scopes"))
	}
	if set.Connections["sms"].Settings.Secret("token").Reveal() != "file-token" {
		t.Errorf("token not resolved from the file")
	}
	if op := set.Operations["order-events"]; op.Action != Listen || op.Settings.Int("batchSize") != 100 || op.Settings.String("replay") != "stored" {
		t.Errorf("order-events = %+v", op)
	}
	if op := set.Operations["sms-webhook"]; op.Action != Send || op.Settings.String("method") != "POST" {
		t.Errorf("sms-webhook = %+v", op)
	}

	m := set.Mappings["order-summary"]
	if len(m.Fields) != 3 || m.Fields[1].Target != "items[0].sku" || m.Lookups["region"]["FR"] != "Europe" {
		t.Errorf("order-summary = %+v", m)
	}

	p := set.Processes["orders"]
	if p.Listen != "order-events" || p.Concurrency != 2 || !reflect.DeepEqual(p.Track, []string{"replayId", "eventUuid"}) {
		t.Errorf("orders = %+v", p)
	}
	var kinds []string
	for _, st := range p.Steps {
		kinds = append(kinds, st.Kind)
	}
	want := []string{StepSet, StepFilter, StepRoute, StepBranch, StepTry, StepMap, StepLog, StepStop}
	if !reflect.DeepEqual(kinds, want) {
		t.Fatalf("step kinds = %v, want %v", kinds, want)
	}
	if p.Steps[0].Name != "priority" || p.Steps[0].Set[0].Prop != "priority" {
		t.Errorf("set step = %+v", p.Steps[0])
	}
	r := p.Steps[2].Route
	if r.Mode != RouteFirst || len(r.Cases) != 1 || r.Cases[0].Steps[0].Call[0] != "vip" || r.Otherwise[0].Log.Message != `"normal order"` {
		t.Errorf("route = %+v", r)
	}
	br := p.Steps[3].Branch
	if len(br) != 2 || br[0][1].Send.Operation != "sms-webhook" || br[1][0].Map.Inline == nil || !reflect.DeepEqual(br[1][1].Call, []string{"audit", "notify"}) {
		t.Errorf("branch = %+v", br)
	}
	if got := br[1][0].Map.Inline.Name; got != "orders.steps[3].branch[1][0].map" {
		t.Errorf("inline mapping name = %q", got)
	}
	try := p.Steps[4]
	if !try.Try[0].Send.Response || try.Catch[0].Log.Level != "warn" || try.Catch[1].Stop.Fail == "" {
		t.Errorf("try = %+v", try)
	}
	if p.Steps[6].Log.Message != "" || p.Steps[6].Log.Level != "info" {
		t.Errorf("empty log = %+v", p.Steps[6].Log)
	}
	if rep := set.Processes["notify"].Steps[1].Reply; rep == nil || rep.Name != "" || rep.Inline != nil {
		t.Errorf("reply {} = %+v", rep)
	}
	if rep := set.Processes["audit"].Steps[0]; rep.Reply.Name != "order-summary" || rep.Name != "answer" {
		t.Errorf("reply by name = %+v", rep)
	}
	if set.Processes["echo"].Steps[0].Reply.Inline.JQ == "" {
		t.Errorf("inline reply missing")
	}
	if len(set.Files) != 2 {
		t.Errorf("files = %d, want 2", len(set.Files))
	}
}

func TestLoadManyDocumentsAndEmptyOnes(t *testing.T) {
	t.Parallel()
	src := "---\n# nothing here\n---\nkind: Mapping\nname: a\nexpr: body\n---\n---\nkind: Mapping\nname: b\njq: .\n...\n"
	set, err := LoadWith(loadTestRegistry(t), []File{{Name: "m.yaml", Data: []byte(src)}}, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(set.Mappings) != 2 || set.Mappings["b"].Pos.Line != 9 {
		t.Errorf("mappings = %+v", set.Mappings)
	}
}

// TestLoadEveryProblemInOnePass proves that one load reports every
// problem of a file full of them, not the first one only.
func TestLoadEveryProblemInOnePass(t *testing.T) {
	t.Parallel()
	_, err := loadTestPath(t, filepath.Join("testdata", "validate", "many.yaml"))
	var ds Diagnostics
	if !errors.As(err, &ds) {
		t.Fatalf("err = %v, want Diagnostics", err)
	}
	wants := []string{
		`unknown field "setings" (did you mean "settings"?)`,
		`unknown connector type "fak" (did you mean "fake"? registered: fake, inbound)`,
		`missing required setting "url"`,
		`want a duration such as 30s or 5m, got "soon"`,
		`unknown setting "chanel" (did you mean "channel"?)`,
		`unknown connection "crmm" (did you mean "crm"?)`,
		`mapping has jq and expr; it needs exactly one`,
		`mapping has none of jq, expr and fields`,
		`concurrency must be at least 1, got 0`,
		`processes.orders.steps[1]: unknown step "rout" (did you mean "route"?)`,
		`route has no cases`,
		`try has no steps`,
		`unknown mapping "order-to-sm" (did you mean "order-to-sms"?)`,
		`operation "sms" is a send operation`,
		`operation "events" is a listen operation`,
		`process "other" listens to "events" and cannot be called`,
		`call cycle: a → b → a`,
		`process "a" defined twice: first at testdata/validate/many.yaml:`,
		`document has no kind`,
		`environment variable MISSING_VAR is not set`,
		`invalid expression:`,
		`invalid jq program:`,
	}
	text := ds.Error()
	for _, w := range wants {
		if !strings.Contains(text, w) {
			t.Errorf("missing diagnostic %q", w)
		}
	}
	if len(ds) < len(wants) {
		t.Errorf("got %d diagnostics, want at least %d:\n%s", len(ds), len(wants), text)
	}
	for i := 1; i < len(ds); i++ {
		if ds[i].Pos.Line < ds[i-1].Pos.Line {
			t.Errorf("diagnostics not in line order: %v before %v", ds[i-1], ds[i])
		}
	}
	for _, d := range ds {
		if d.Pos.File == "" || d.Pos.Line == 0 || d.Pos.Col == 0 {
			t.Errorf("diagnostic without a full position: %v", d)
		}
	}
}

func TestLoadPathFileAndFolder(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, text string) {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("b.yml", "kind: Mapping\nname: b\njq: .\n")
	write("a/a.yaml", "kind: Mapping\nname: a\njq: .\n")
	write("notes.txt", "not yaml: [")
	set, err := LoadDir(loadTestRegistry(t), dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(set.Mappings) != 2 || set.Mappings["a"].Pos.File != filepath.Join(dir, "a", "a.yaml") {
		t.Errorf("mappings = %+v", set.Mappings)
	}
	set, err = LoadPath(loadTestRegistry(t), filepath.Join(dir, "b.yml"))
	if err != nil || len(set.Mappings) != 1 {
		t.Errorf("load one file: %v, %+v", err, set)
	}
	if _, err := LoadPath(loadTestRegistry(t), filepath.Join(dir, "missing")); err == nil {
		t.Error("loading a missing path succeeded")
	}
}

func TestSuggest(t *testing.T) {
	t.Parallel()
	steps := fieldNames(stepKinds)
	tests := []struct {
		word  string
		cands []string
		want  string
	}{
		{"rout", steps, "route"},
		{"rotue", steps, "route"},
		{"branh", steps, "branch"},
		{"Filter", steps, "filter"},
		{"setings", []string{"kind", "name", "type", "settings"}, "settings"},
		{"Proces", kinds, "Process"},
		{"conection", []string{"connection", "action", "settings"}, "connection"},
		{"order-to-sm", []string{"order-summary", "order-to-sms"}, "order-to-sms"},
		{"xyz", steps, ""},
		{"jq", []string{"if"}, ""},
		{"", steps, ""},
	}
	for _, tt := range tests {
		if got := suggest(tt.word, tt.cands); got != tt.want {
			t.Errorf("suggest(%q) = %q, want %q", tt.word, got, tt.want)
		}
	}
	dist := []struct {
		a, b string
		want int
	}{
		{"", "abc", 3}, {"abc", "abc", 0}, {"abc", "acb", 1}, {"kitten", "sitting", 3}, {"héllo", "hello", 1},
	}
	for _, d := range dist {
		if got := editDistance(d.a, d.b); got != d.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", d.a, d.b, got, d.want)
		}
	}
}

func TestDiagnosticFormat(t *testing.T) {
	t.Parallel()
	d := Diagnostic{Pos: Pos{File: "orders.yaml", Line: 14, Col: 7}, Path: "processes.orders.steps[2]", Msg: `unknown step "rout"`, Hint: `did you mean "route"?`}
	if got, want := d.Error(), `orders.yaml:14:7: processes.orders.steps[2]: unknown step "rout" (did you mean "route"?)`; got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	d = Diagnostic{Pos: Pos{File: "x.yaml", Line: 3}, Msg: "invalid YAML: bad"}
	if got := d.Error(); got != "x.yaml:3: invalid YAML: bad" {
		t.Errorf("no column: %s", got)
	}
}

// FuzzLoad feeds arbitrary bytes to the loader: it must answer with a Set
// or with Diagnostics, never panic; and a Set's redacted YAML must load
// too, or redaction broke the file.
func FuzzLoad(f *testing.F) {
	for _, dir := range []string{filepath.Join("testdata", "validate"), filepath.Join("testdata", "components")} {
		files, err := ReadPath(dir)
		if err != nil {
			f.Fatal(err)
		}
		for _, file := range files {
			f.Add(file.Data)
		}
	}
	f.Add([]byte("kind: Connection\nname: c\ntype: fake\nsettings: {url: x, token: 'a''b'}\n"))
	f.Add([]byte("kind: Connection\nname: c\ntype: fake\nsettings:\n  url: x\n  token: |\n    a\n    b\n"))
	f.Add([]byte("{kind: Process, name: p, steps: [{route: {cases: [{when: 'true', steps: [{call: p}]}]}}]}"))
	reg := loadTestRegistry(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		opts := LoadOptions{LookupEnv: loadTestEnv}
		set, err := LoadWith(reg, []File{{Name: "fuzz/f.yaml", Data: data}}, opts)
		if err != nil {
			var ds Diagnostics
			if !errors.As(err, &ds) || len(ds) == 0 {
				t.Fatalf("err = %v (%T), want Diagnostics", err, err)
			}
			_ = ds.Error()
			return
		}
		if set == nil {
			t.Fatal("no Set and no error")
		}
		red := set.RedactedFiles()["fuzz/f.yaml"]
		if _, err := LoadWith(reg, []File{{Name: "fuzz/f.yaml", Data: red}}, opts); err != nil {
			t.Fatalf("redacted YAML does not load: %v\n%s", err, red)
		}
	})
}

// BenchmarkLoad loads the example deployment: parse, validate, resolve
// references and compile-check every mapping and expression.
func BenchmarkLoad(b *testing.B) {
	files, err := ReadPath(filepath.Join("testdata", "components"))
	if err != nil {
		b.Fatal(err)
	}
	reg := loadTestRegistry(b)
	opts := LoadOptions{LookupEnv: loadTestEnv}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := LoadWith(reg, files, opts); err != nil {
			b.Fatal(err)
		}
	}
}
