package processes

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"gopkg.in/yaml.v3"
)

// compileSchema compiles Schema's output, which also checks it against
// the draft 2020-12 meta-schema.
func compileSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	raw, err := Schema(loadTestRegistry(t))
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("schema is not JSON: %v", err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("components.json", doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile("components.json")
	if err != nil {
		t.Fatalf("schema does not compile: %v", err)
	}
	return sch
}

// yamlDocs decodes every document of a YAML text into JSON values.
func yamlDocs(t *testing.T, src []byte) []any {
	t.Helper()
	var out []any
	dec := yaml.NewDecoder(bytes.NewReader(src))
	for {
		var v any
		err := dec.Decode(&v)
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		if v == nil {
			continue
		}
		j, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(j))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, inst)
	}
}

func TestSchemaShape(t *testing.T) {
	t.Parallel()
	raw, err := Schema(loadTestRegistry(t))
	if err != nil {
		t.Fatal(err)
	}
	var s struct {
		Schema string                    `json:"$schema"`
		OneOf  []map[string]string       `json:"oneOf"`
		Defs   map[string]map[string]any `json:"$defs"`
	}
	if err := json.Unmarshal(raw, &s); err != nil {
		t.Fatal(err)
	}
	if s.Schema != "https://json-schema.org/draft/2020-12/schema" || len(s.OneOf) != 5 {
		t.Errorf("schema head = %q, %d kinds", s.Schema, len(s.OneOf))
	}
	conn := s.Defs["settings.fake.connection"]["properties"].(map[string]any)
	timeout := conn["timeout"].(map[string]any)
	if timeout["default"] != "30s" || timeout["description"] != "Request timeout." {
		t.Errorf("timeout = %v", timeout)
	}
	if _, ok := s.Defs["settings.inbound.send"]; ok {
		t.Error("inbound cannot send, but has send settings")
	}
	steps := s.Defs["step"]["oneOf"].([]any)
	if len(steps) != len(stepKinds) {
		t.Errorf("step kinds in schema = %d, want %d", len(steps), len(stepKinds))
	}
	again, _ := Schema(loadTestRegistry(t))
	if !bytes.Equal(raw, again) {
		t.Error("schema is not stable from one call to the next")
	}
}

// TestSchemaAcceptsExamples validates every example component against the
// schema, and some broken ones that it must refuse.
func TestSchemaAcceptsExamples(t *testing.T) {
	t.Parallel()
	sch := compileSchema(t)
	files, err := ReadPath(filepath.Join("testdata", "components"))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, f := range files {
		for i, doc := range yamlDocs(t, f.Data) {
			n++
			if err := sch.Validate(doc); err != nil {
				t.Errorf("%s document %d: %v", f.Name, i+1, err)
			}
		}
	}
	if n != 11 {
		t.Errorf("validated %d documents, want 11", n)
	}

	bad := map[string]string{
		"misspelt step":     "kind: Process\nname: p\nsteps: [{rout: {cases: []}}]\n",
		"misspelt field":    "kind: Connection\nname: c\ntype: fake\nsetings: {url: x}\n",
		"unknown type":      "kind: Connection\nname: c\ntype: nope\n",
		"missing required":  "kind: Connection\nname: c\ntype: fake\nsettings: {mode: fast}\n",
		"bad enum":          "kind: Connection\nname: c\ntype: fake\nsettings: {url: x, mode: turbo}\n",
		"bad duration":      "kind: Connection\nname: c\ntype: fake\nsettings: {url: x, timeout: soon}\n",
		"two mapping kinds": "kind: Mapping\nname: m\njq: .\nexpr: body\n",
		"two step kinds":    "kind: Process\nname: p\nsteps: [{map: m, send: s}]\n",
		"unknown setting":   "kind: Operation\nname: o\nconnection: c\naction: listen\nsettings: {chanel: x}\n",
		"no kind":           "name: x\n",
		"concurrency 0":     "kind: Process\nname: p\nconcurrency: 0\nsteps: [{log: x}]\n",
	}
	for name, src := range bad {
		if err := sch.Validate(yamlDocs(t, []byte(src))[0]); err == nil {
			t.Errorf("%s: the schema accepted\n%s", name, src)
		}
	}
	good := "kind: Connection\nname: c\ntype: fake\nsettings: {url: x, retries: '${env:N}', timeout: '${env:T}'}\n"
	if err := sch.Validate(yamlDocs(t, []byte(good))[0]); err != nil {
		t.Errorf("references refused: %v", err)
	}
}

// TestSchemaFileIsCurrent keeps testdata/components.schema.json, the
// schema of the test registry, for a look at what editors get.
func TestSchemaFileIsCurrent(t *testing.T) {
	t.Parallel()
	raw, err := Schema(loadTestRegistry(t))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", "components.schema.json")
	if goldenUpdate() {
		if err := os.WriteFile(path, append(raw, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to write it)", err)
	}
	if strings.TrimSpace(string(want)) != string(raw) {
		t.Errorf("%s is out of date (run with -update)", path)
	}
}
