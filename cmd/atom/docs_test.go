package main

import (
	"bytes"
	"flag"
	"os"
	"testing"
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
