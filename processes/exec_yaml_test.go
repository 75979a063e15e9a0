package processes

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/atomrt/atom/operations"
)

// hookRegistry registers "hook", a test connector whose connection has a
// url and whose operations have a path. Loading does no I/O, so Open is
// never called; the test makes the senders itself from the settings.
func hookRegistry(t testing.TB) *operations.Registry {
	t.Helper()
	reg := operations.NewRegistry()
	path := []operations.Field{{Name: "path", Type: operations.String, Required: true, Doc: "Path below the URL."}}
	err := reg.Register(&operations.Connector{
		Name:       "hook",
		Summary:    "Posts JSON to a test server.",
		Connection: operations.Spec{Fields: []operations.Field{{Name: "url", Type: operations.String, Required: true, Doc: "Base URL."}}},
		Listen:     &operations.Spec{Fields: path},
		Send:       &operations.Spec{Fields: path},
		Open: func(string, operations.Settings, operations.Env) (operations.Connection, error) {
			return nil, errors.New("not opened in tests")
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return reg
}

// loadHookDeployment loads testdata/exec/NAME with HOOK_URL pointing at
// srv and returns it compiled, with a postSender for every Send operation.
func loadHookDeployment(t *testing.T, name string, srv *hookServer) (*Set, *Executor) {
	t.Helper()
	path := filepath.Join("testdata", "exec", name)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	data = []byte(strings.ReplaceAll(string(data), "HOOK_URL", srv.URL))
	set, err := Load(hookRegistry(t), []File{{Name: path, Data: data}})
	if err != nil {
		t.Fatalf("load %s: %v", path, err)
	}
	senders := map[string]operations.Sender{}
	for opName, op := range set.Operations {
		if op.Action != Send {
			continue
		}
		url := set.Connections[op.Connection].Settings.String("url") + op.Settings.String("path")
		senders[opName] = postSender{url: url, client: srv.Client()}
	}
	return set, mustCompile(t, set, senders)
}

func TestRunYAMLDeployment(t *testing.T) {
	order := func(country, status string) operations.Document {
		d := orderEvent()
		body := d.Body.(map[string]any)
		body["Country__c"], body["Status__c"], body["Tax__c"] = country, status, 1000.0
		return d
	}
	cases := []struct {
		name   string
		doc    operations.Document
		status string
		paths  []string // requests the server got, in order
		reply  any
		err    string
	}{
		{
			name: "EU order goes to the EU ERP, is audited and answered", doc: order("DE", "New"),
			status: StatusOK, paths: []string{"/eu", "/audit", "/audit/fail"},
			reply: map[string]any{"accepted": "O-1001", "erp": "rec-1"},
		},
		{
			name: "US order goes to the US ERP", doc: order("US", "New"),
			status: StatusOK, paths: []string{"/us", "/audit", "/audit/fail"},
			reply: map[string]any{"accepted": "O-1001", "erp": "none"},
		},
		{
			name: "a draft is filtered out", doc: order("DE", "Draft"),
			status: StatusFiltered,
		},
		{
			name: "a bad amount fails the mapping, named with its field", doc: func() operations.Document {
				d := order("DE", "New")
				d.Body.(map[string]any)["Amount__c"] = "lots"
				return d
			}(),
			status: StatusFailed, err: `orders.yaml:55:5: process "orders": steps[1] map "to order": mapping "to-order": field "order.total" (testdata/exec/orders.yaml:43:3)`,
		},
		{
			name: "an unknown country fails in the route's otherwise", doc: order("JP", "New"),
			status: StatusFailed, err: `steps[3].route.otherwise[0] stop: no region for country`,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := newHookServer(t)
			set, e := loadHookDeployment(t, "orders.yaml", srv)
			res := e.Run(context.Background(), "orders", tc.doc, RunOptions{Trace: true})
			if res.Status != tc.status {
				t.Fatalf("status %s, want %s (err %v)", res.Status, tc.status, res.Err)
			}
			if tc.err != "" && (res.Err == nil || !strings.Contains(res.Err.Error(), tc.err)) {
				t.Errorf("err %v, want it to contain %q", res.Err, tc.err)
			}
			if res.Err != nil {
				// Positions are the YAML's.
				var se *StepError
				if !errors.As(res.Err, &se) || !strings.HasSuffix(se.Pos.File, "orders.yaml") || se.Pos.Line == 0 {
					t.Errorf("step error %+v has no YAML position", se)
				}
			}
			var paths []string
			for _, r := range srv.requests() {
				paths = append(paths, r.Path)
				if r.Props["replayId"] != "42" || r.Props["eventUuid"] != "uuid-1" {
					t.Errorf("%s got props %v, want the event's", r.Path, r.Props)
				}
			}
			if strings.Join(paths, " ") != strings.Join(tc.paths, " ") {
				t.Errorf("server got %v, want %v", paths, tc.paths)
			}
			if tc.reply != nil {
				if res.Reply == nil || !jsonEq(t, res.Reply.Body, tc.reply) {
					t.Errorf("reply %s, want %s", mustJSON(res.Reply), mustJSON(tc.reply))
				}
			}
			if tc.status == StatusOK {
				// What the ERP got is the mapped order.
				got := srv.requests()[0].Body
				want := map[string]any{"order": map[string]any{"number": "O-1001", "total": 1250.5, "region": set.Mappings["to-order"].Lookups["region"][tc.doc.Body.(map[string]any)["Country__c"].(string)]}, "source": map[string]any{"replayId": "42"}}
				if !jsonEq(t, got, want) {
					t.Errorf("ERP got %s, want %s", mustJSON(got), mustJSON(want))
				}
			}
		})
	}
}
