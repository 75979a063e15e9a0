package processes

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSecretReferences(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "keys"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "keys", "sf.txt"), []byte("from-file\r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	src := `kind: Connection
name: c
type: fake
settings:
  url: https://${env:HOST}/api${env:UNSET_PATH:-/v1}${env:EMPTY:-/x}${env:HOST_SUFFIX:-}
  token: ${file:keys/sf.txt}
  headers: {Authorization: 'Bearer ${env:FAKE_TOKEN}', X-Literal: 'cost: $${env:none}'}
  scopes: ['${env:FAKE_TOKEN}', plain]
  retries: ${env:RETRIES}
`
	env := func(name string) (string, bool) {
		v, ok := map[string]string{"HOST": "crm.test", "FAKE_TOKEN": "env-token", "RETRIES": "7", "EMPTY": ""}[name]
		return v, ok
	}
	name := filepath.Join(dir, "c.yaml")
	set, err := LoadWith(loadTestRegistry(t), []File{{Name: name, Data: []byte(src)}}, LoadOptions{LookupEnv: env})
	if err != nil {
		t.Fatal(err)
	}
	s := set.Connections["c"].Settings
	checks := map[string][2]string{
		"url":       {s.String("url"), "https://crm.test/api/v1/x"},
		"token":     {s.Secret("token").Reveal(), "from-file"},
		"header":    {s.Map("headers")["Authorization"], "Bearer env-token"},
		"escaped":   {s.Map("headers")["X-Literal"], "cost: ${env:none}"},
		"list item": {s.List("scopes")[0], "env-token"},
	}
	for what, c := range checks {
		if c[0] != c[1] {
			t.Errorf("%s = %q, want %q", what, c[0], c[1])
		}
	}
	if s.Int("retries") != 7 {
		t.Errorf("retries = %d, want 7 from the environment", s.Int("retries"))
	}
	// References are not secrets: the YAML shown keeps them as written.
	if got := string(set.RedactedFiles()[name]); got != src {
		t.Errorf("redaction changed a file without literal secrets:\n%s", got)
	}
}

// TestSecretFromProcessEnvironment uses the real environment, the default.
func TestSecretFromProcessEnvironment(t *testing.T) {
	t.Setenv("ATOM_TEST_SECRET", "real-env")
	src := "kind: Connection\nname: c\ntype: fake\nsettings: {url: x, token: '${env:ATOM_TEST_SECRET}'}\n"
	set, err := Load(loadTestRegistry(t), []File{{Name: "c.yaml", Data: []byte(src)}})
	if err != nil {
		t.Fatal(err)
	}
	if got := set.Connections["c"].Settings.Secret("token").Reveal(); got != "real-env" {
		t.Errorf("token = %q", got)
	}
}

func TestSecretFileErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	src := "kind: Connection\nname: c\ntype: fake\nsettings:\n  url: x\n  token: ${file:nope.txt}\n  headers: {a: '${file:" + dir + "}'}\n"
	_, err := LoadWith(loadTestRegistry(t), []File{{Name: filepath.Join(dir, "c.yaml"), Data: []byte(src)}}, LoadOptions{LookupEnv: loadTestEnv})
	var ds Diagnostics
	if !errors.As(err, &ds) || len(ds) != 2 {
		t.Fatalf("err = %v, want two diagnostics", err)
	}
	if ds[0].Pos.Line != 6 || !strings.Contains(ds[0].Msg, "cannot read ${file:nope.txt}") {
		t.Errorf("missing file: %v", ds[0])
	}
	if ds[1].Pos.Line != 7 || !strings.Contains(ds[1].Msg, "is not a regular file") {
		t.Errorf("folder: %v", ds[1])
	}
}

// TestSecretRedaction writes literal secrets in every YAML style and
// checks that RedactedFiles hides them, keeps every line where it was, and
// still parses to the same components.
func TestSecretRedaction(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		settings string // the settings block, indented by two
		secrets  []string
	}{
		{"plain", "  url: x\n  token: s3cr3t-plain\n", []string{"s3cr3t-plain"}},
		{"plain with comment", "  token: s3cr3t # the token\n  url: x\n", []string{"s3cr3t"}},
		{"double quoted", "  url: x\n  token: \"s3c\\\"r3t\"\n", []string{`s3c\"r3t`, "r3t"}},
		{"single quoted", "  url: x\n  token: 's3c''r3t'\n", []string{"s3c''r3t", "r3t"}},
		{"flow", "  {url: \"é\", token: s3cr3t, mode: fast}\n", []string{"s3cr3t"}},
		{"flow quoted", "  {url: x, token: 's3cr3t', mode: fast}\n", []string{"s3cr3t"}},
		{"plain on two lines", "  url: x\n  token: s3cr3tA\n    s3cr3tB\n  mode: fast\n", []string{"s3cr3tA", "s3cr3tB"}},
		{"double quoted on two lines", "  url: x\n  token: \"s3cr3tA\n    s3cr3tB\"\n  mode: fast\n", []string{"s3cr3tA", "s3cr3tB"}},
		{"literal block", "  url: x\n  token: |\n    -----BEGIN KEY-----\n    s3cr3tA\n\n    s3cr3tB\n    -----END KEY-----\n  mode: fast\n", []string{"s3cr3tA", "s3cr3tB", "BEGIN KEY"}},
		{"folded block", "  url: x\n  token: >-\n    s3cr3tA\n    s3cr3tB\n", []string{"s3cr3tA", "s3cr3tB"}},
		{"tagged", "  url: x\n  token: !!str s3cr3t\n", []string{"s3cr3t"}},
		{"anchored", "  url: x\n  token: &t s3cr3t\n", []string{"s3cr3t"}},
		{"literal around a reference", "  url: x\n  token: 's3cr3t-${env:FAKE_TOKEN}'\n", []string{"s3cr3t"}},
		{"number", "  url: x\n  token: 123456789\n", []string{"123456789"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			src := "kind: Connection\nname: c\ntype: fake\nsettings:\n" + tt.settings +
				"---\nkind: Mapping\nname: after\njq: .\n"
			set, err := LoadWith(loadTestRegistry(t), []File{{Name: "s.yaml", Data: []byte(src)}}, LoadOptions{LookupEnv: loadTestEnv})
			if err != nil {
				t.Fatal(err)
			}
			if string(set.Files["s.yaml"]) != src {
				t.Error("Files must keep the source as deployed")
			}
			red := string(set.RedactedFiles()["s.yaml"])
			for _, s := range tt.secrets {
				if strings.Contains(red, s) {
					t.Errorf("redacted YAML still holds %q:\n%s", s, red)
				}
			}
			if !strings.Contains(red, "[redacted]") {
				t.Errorf("no [redacted] marker:\n%s", red)
			}
			if strings.Count(red, "\n") != strings.Count(src, "\n") {
				t.Errorf("line count changed:\n%s", red)
			}
			again, err := LoadWith(loadTestRegistry(t), []File{{Name: "s.yaml", Data: []byte(red)}}, LoadOptions{LookupEnv: loadTestEnv})
			if err != nil {
				t.Fatalf("redacted YAML does not load: %v\n%s", err, red)
			}
			if got := strings.TrimSpace(again.Connections["c"].Settings.Secret("token").Reveal()); got != "[redacted]" {
				t.Errorf("token after redaction = %q\n%s", got, red)
			}
			if again.Mappings["after"].Pos != set.Mappings["after"].Pos {
				t.Errorf("positions moved: %v, was %v", again.Mappings["after"].Pos, set.Mappings["after"].Pos)
			}
			if s := fmt.Sprintf("%v %+v %#v", set.Connections["c"], set.Connections["c"].Settings, set.Connections["c"].Settings); strings.Contains(s, tt.secrets[0]) {
				t.Errorf("settings print the secret: %s", s)
			}
		})
	}
}

// TestSecretNeverInDiagnostics loads secrets written wrong, next to other
// problems, and looks for any piece of them in the diagnostics.
func TestSecretNeverInDiagnostics(t *testing.T) {
	t.Parallel()
	_, err := loadTestPath(t, filepath.Join("testdata", "validate", "secrets.yaml"))
	if err == nil {
		t.Fatal("secrets.yaml loaded")
	}
	if strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), "bogus") {
		t.Errorf("a secret leaked into the diagnostics:\n%v", err)
	}
	src := "kind: Connection\nname: c\ntype: fake\nsettings: {url: [x], token: hunter2, retries: x}\n"
	_, err = Load(loadTestRegistry(t), []File{{Name: "c.yaml", Data: []byte(src)}})
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("err = %v", err)
	}
}

func TestLiteralCredentialHeadersAreRedacted(t *testing.T) {
	src := "kind: Connection\nname: c\ntype: fake\nsettings:\n  url: x\n  headers:\n    X-Api-Key: abc123secret\n    Authorization: Bearer tok-456\n    Idempotency-Key: '{prop:id}'\n    Accept: application/json\n"
	set, err := Load(loadTestRegistry(t), []File{{Name: "c.yaml", Data: []byte(src)}})
	if err != nil {
		t.Fatal(err)
	}
	shown := string(set.RedactedFiles()["c.yaml"])
	for _, secret := range []string{"abc123secret", "tok-456"} {
		if strings.Contains(shown, secret) {
			t.Errorf("literal credential %q shown:\n%s", secret, shown)
		}
	}
	for _, kept := range []string{"{prop:id}", "application/json"} {
		if !strings.Contains(shown, kept) {
			t.Errorf("harmless header value %q redacted:\n%s", kept, shown)
		}
	}
	if got := set.Connections["c"].Settings.Map("headers")["X-Api-Key"]; got != "abc123secret" {
		t.Errorf("the setting itself lost its value: %q", got)
	}
}
