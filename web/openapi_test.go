package web

import (
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"
	"github.com/rs/zerolog"

	"github.com/atomrt/atom/atom"
	"github.com/atomrt/atom/operations"
	"github.com/atomrt/atom/persistence"
)

func newRuntime(t *testing.T) *atom.Runtime {
	t.Helper()
	store, err := persistence.Open(filepath.Join(t.TempDir(), "atom.db"), persistence.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	rt, err := atom.New(atom.Options{Registry: operations.NewRegistry(), Store: store, Log: zerolog.New(io.Discard)})
	if err != nil {
		t.Fatal(err)
	}
	return rt
}

// TestOpenAPICoversEveryRoute walks the router and finds every route,
// with its method, in /api/openapi.json, and every $ref defined.
func TestOpenAPICoversEveryRoute(t *testing.T) {
	h := Handler(newRuntime(t), Options{}).(*handler)
	var doc struct {
		OpenAPI    string                                `json:"openapi"`
		Paths      map[string]map[string]json.RawMessage `json:"paths"`
		Components struct {
			Schemas map[string]json.RawMessage `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(h.api.openapi, &doc); err != nil {
		t.Fatalf("openapi.json is not JSON: %v", err)
	}
	if doc.OpenAPI != "3.1.0" {
		t.Errorf("openapi = %q", doc.OpenAPI)
	}
	routes := 0
	err := chi.Walk(h.Handler.(chi.Routes), func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		routes++
		if _, ok := doc.Paths[openAPIPath(route)][strings.ToLower(method)]; !ok {
			t.Errorf("%s %s is served but not in openapi.json", method, route)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if routes < 30 {
		t.Errorf("walked %d routes; the router looks incomplete", routes)
	}
	for _, ref := range refs(h.api.openapi) {
		if _, ok := doc.Components.Schemas[strings.TrimPrefix(ref, "#/components/schemas/")]; !ok {
			t.Errorf("$ref %s is not defined", ref)
		}
	}
}

func refs(doc []byte) []string {
	var out []string
	for _, part := range strings.Split(string(doc), `"$ref": "`)[1:] {
		out = append(out, part[:strings.IndexByte(part, '"')])
	}
	return out
}
