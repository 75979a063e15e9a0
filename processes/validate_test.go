package processes

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// -update rewrites the golden files. Another test file of this package
// may define the flag too; whoever comes first defines it.
func init() {
	if flag.Lookup("update") == nil {
		flag.Bool("update", false, "rewrite golden files under testdata/")
	}
}

func goldenUpdate() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

// TestValidateGolden loads every file and folder under testdata/validate
// and compares the diagnostics with its .golden file.
func TestValidateGolden(t *testing.T) {
	t.Parallel()
	dir := filepath.Join("testdata", "validate")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		name := e.Name()
		if !e.IsDir() && !isYAML(name) {
			continue
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := loadTestPath(t, filepath.Join(dir, name))
			got := "ok\n"
			if err != nil {
				var ds Diagnostics
				if !errors.As(err, &ds) {
					t.Fatalf("err = %v (%T), want Diagnostics", err, err)
				}
				got = ds.Error() + "\n"
			}
			golden := filepath.Join(dir, strings.TrimSuffix(name, filepath.Ext(name))+".golden")
			if goldenUpdate() {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to write it)", err)
			}
			if got != string(want) {
				t.Errorf("diagnostics differ from %s (run with -update if the change is right):\n%s", golden, got)
			}
		})
	}
}
