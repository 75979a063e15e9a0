package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/atomrt/atom/operations/standard"
	"github.com/atomrt/atom/processes"
)

var update = flag.Bool("update", false, "rewrite docs/reference.md and docs/atom.schema.json from the code")

// The committed reference and schema are what the code generates: a change
// to a connector's spec or the component model that is not regenerated
// (`go test ./cmd/atom -run Docs -update`) fails here.
func TestDocsMatchTheCode(t *testing.T) {
	for _, d := range []struct{ file, cmd string }{
		{"../../docs/reference.md", "reference"},
		{"../../docs/atom.schema.json", "schema"},
	} {
		out, errOut, err := run(t, d.cmd)
		if err != nil {
			t.Fatalf("atom %s: %v\n%s", d.cmd, err, errOut)
		}
		if *update {
			if err := os.WriteFile(d.file, []byte(out), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		committed, err := os.ReadFile(d.file)
		if err != nil {
			t.Fatalf("%v (generate it: go test ./cmd/atom -run Docs -update)", err)
		}
		if !bytes.Equal(committed, []byte(out)) {
			t.Errorf("%s is stale: regenerate it with go test ./cmd/atom -run Docs -update", d.file)
		}
	}
}

var yamlBlock = regexp.MustCompile("(?s)```yaml\n(.*?)```")

// Every YAML example in the docs is a valid deployment: in the README each
// block on its own; in the reference, the examples of one connector
// together (its operation examples use its connection example). Variables
// the examples reference need not be set.
func TestDocExamplesValidate(t *testing.T) {
	reg, err := standard.Registry()
	if err != nil {
		t.Fatal(err)
	}
	anyEnv := func(name string) (string, bool) {
		if v, ok := os.LookupEnv(name); ok {
			return v, true
		}
		return "example-" + name, true
	}
	for _, d := range []struct {
		file    string
		section string // blocks under one heading of this level are one deployment; "" each alone
	}{
		{"../../README.md", ""},
		{"../../emulator/README.md", ""},
		{"../../docs/reference.md", "\n### "},
	} {
		data, err := os.ReadFile(d.file)
		if err != nil {
			t.Fatal(err)
		}
		for i, dep := range deployments(data, d.section) {
			name := fmt.Sprintf("%s#%d", d.file, i+1)
			_, err := processes.LoadWith(reg, []processes.File{{Name: name, Data: dep}}, processes.LoadOptions{LookupEnv: anyEnv})
			if err != nil {
				t.Errorf("%s does not validate:\n%v", name, err)
			}
		}
	}
}

// deployments returns the component YAML blocks of a Markdown file, joined
// per section when section is a heading's prefix; blocks without a kind
// (an emulator configuration, say) are left out.
func deployments(md []byte, section string) [][]byte {
	sections := []string{string(md)}
	if section != "" {
		sections = strings.Split(string(md), section)
	}
	var out [][]byte
	for _, sec := range sections {
		var joined [][]byte
		for _, b := range yamlBlock.FindAllStringSubmatch(sec, -1) {
			if !strings.Contains(b[1], "kind:") {
				continue
			}
			if section == "" {
				out = append(out, []byte(b[1]))
				continue
			}
			joined = append(joined, []byte(b[1]))
		}
		if len(joined) > 0 {
			out = append(out, bytes.Join(joined, []byte("---\n")))
		}
	}
	return out
}
