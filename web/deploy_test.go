package web_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/atomrt/atom/web"
)

// components is a deployment: a topic listener whose process maps,
// routes (13 fails for good), calls a sub-process and sends; and a webhook
// whose process maps with a field map, sends and replies. The outbound
// connection's token is a literal secret.
const components = `
kind: Connection
name: bus
type: topic
---
kind: Connection
name: inbound
type: http
---
kind: Connection
name: out
type: http
settings:
  baseUrl: SINK
  auth: bearer
  token: "tok-literal-secret-123"
---
kind: Operation
name: orders
connection: bus
action: listen
settings: {channel: /event/Order__e}
---
kind: Operation
name: hook
connection: inbound
action: listen
settings: {path: /hooks/orders}
---
kind: Operation
name: to-a
connection: out
action: send
settings: {url: /a, maxRetryTime: 0s}
---
kind: Mapping
name: shape
jq: '{n: .n, orderId: .id, customer: .customer.name}'
---
kind: Process
name: from-bus
listen: orders
track: [eventUuid, position]
steps:
  - map: shape
  - route:
      cases:
        - when: 'body.n == 13'
          steps: [{stop: {fail: '"unlucky " + string(body.n)'}}]
  - call: [notify]
  - send: to-a
---
kind: Process
name: notify
steps:
  - log: '"n=" + string(body.n)'
---
kind: Process
name: from-hook
listen: hook
steps:
  - map: {fields: {orderId: body.id, n: body.n}}
  - send: to-a
  - reply: {expr: '{"orderId": body.orderId, "ok": true}'}
`

const secret = "tok-literal-secret-123"

// hook posts to the webhook and returns the status and body.
func (e *env) hook(body string) (int, string) {
	e.t.Helper()
	resp, err := http.Post(e.srv.URL+"/hooks/orders", "application/json", strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(data)
}

type deployment struct {
	Version     int               `json:"version"`
	Who         string            `json:"who"`
	Note        string            `json:"note"`
	Active      bool              `json:"active"`
	Files       map[string]string `json:"files"`
	FilesHidden string            `json:"filesHidden"`
}

func TestDeployReplacesAsAWholeOrNotAtAll(t *testing.T) {
	e := newEnv(t, web.Options{})
	var list []deployment
	e.must("GET", "/api/deployments", nil, 200, &list)
	if len(list) != 0 {
		t.Fatalf("deployments before any = %+v", list)
	}
	var info struct {
		Deployment *int `json:"deployment"`
		Listen     string
	}
	e.must("GET", "/api/info", nil, 200, &info)
	if info.Deployment != nil {
		t.Fatalf("info.deployment = %d before any deployment", *info.Deployment)
	}

	var d deployment
	e.must("POST", "/api/deployments?note=first", e.yaml(components), 201, &d)
	if d.Version != 1 || !d.Active || d.Note != "first" || !strings.HasPrefix(d.Who, "api@127.0.0.1") || d.Files != nil {
		t.Fatalf("deploy answered %+v", d)
	}
	if st, body := e.hook(`{"id":"o-1","n":1}`); st != 200 || !strings.Contains(body, `"orderId":"o-1"`) {
		t.Fatalf("webhook after deploy: %d %s", st, body)
	}

	// Invalid components: 422 with every problem at its file:line:col,
	// nothing saved, the old deployment still serving.
	bad := strings.Replace(components, "  - map: shape", "  - mapp: shape", 1)
	bad = strings.Replace(bad, "listen: hook", "listen: hookk", 1)
	ae := e.apiErr("POST", "/api/deployments", e.yaml(bad), 422, "invalid_components")
	if len(ae.Details) < 2 {
		t.Fatalf("422 details = %s, want both problems", ae.Details)
	}
	var diag struct {
		Pos struct {
			File      string
			Line, Col int
		}
		Path, Msg, Hint string
	}
	if err := json.Unmarshal(ae.Details[0], &diag); err != nil {
		t.Fatal(err)
	}
	if diag.Pos.File != "deployment.yaml" || diag.Pos.Line == 0 || diag.Pos.Col == 0 || diag.Msg == "" || diag.Path == "" {
		t.Fatalf("diagnostic %+v lacks file:line:col, path or message", diag)
	}
	e.must("GET", "/api/deployments", nil, 200, &list)
	if len(list) != 1 || list[0].Version != 1 || !list[0].Active {
		t.Fatalf("after a refused deploy, deployments = %+v", list)
	}
	if st, _ := e.hook(`{"id":"o-2","n":2}`); st != 200 {
		t.Fatalf("old deployment stopped serving after a refused deploy: %d", st)
	}
	if got := e.sink.Count("/a"); got != 2 {
		t.Fatalf("sink received %d documents, want 2", got)
	}

	// JSON form, with a note, as `atom deploy` sends it.
	v2 := strings.Replace(components, "path: /hooks/orders", "path: /hooks/v2", 1)
	e.must("POST", "/api/deployments", map[string]any{"files": map[string]string{"v2.yaml": e.yaml(v2)}, "note": "second"}, 201, &d)
	if d.Version != 2 || d.Note != "second" {
		t.Fatalf("second deploy answered %+v", d)
	}
	if st, _ := e.hook(`{"id":"o-3"}`); st != 404 {
		t.Fatalf("old webhook path after v2: status %d, want 404", st)
	}

	e.must("POST", "/api/deployments/1/rollback", nil, 200, &d)
	if d.Version != 1 || !d.Active {
		t.Fatalf("rollback answered %+v", d)
	}
	e.must("GET", "/api/info", nil, 200, &info)
	if info.Deployment == nil || *info.Deployment != 1 {
		t.Fatalf("info after rollback = %+v", info)
	}
	if st, _ := e.hook(`{"id":"o-4","n":4}`); st != 200 {
		t.Fatalf("webhook after rollback: %d", st)
	}
	e.must("GET", "/api/deployments", nil, 200, &list)
	if len(list) != 2 || list[0].Version != 2 || list[0].Active || !list[1].Active {
		t.Fatalf("deployments after rollback = %+v, want v2 then v1 (active)", list)
	}

	e.apiErr("POST", "/api/deployments/99/rollback", nil, 404, "not_found")
	e.apiErr("GET", "/api/deployments/99", nil, 404, "not_found")
	e.apiErr("GET", "/api/deployments/x", nil, 404, "not_found")
	e.apiErr("POST", "/api/deployments", `{"files": `, 400, "bad_request")
	e.apiErr("POST", "/api/deployments", `{"files": {}}`, 400, "bad_request")
	e.apiErr("POST", "/api/deployments", "", 400, "bad_request")

	// Undeploy: nothing runs, the webhook is gone, the versions stay.
	if st, body := e.call("DELETE", "/api/deployments/active", nil); st != 204 {
		t.Fatalf("undeploy: %d %s", st, body)
	}
	var ls []any
	e.must("GET", "/api/listeners", nil, 200, &ls)
	e.must("GET", "/api/processes", nil, 200, &list)
	if len(ls) != 0 || len(list) != 0 {
		t.Fatalf("after undeploy: listeners %v, processes %v", ls, list)
	}
	if st, _ := e.hook(`{"id":"o-5"}`); st != 404 {
		t.Fatalf("webhook after undeploy: status %d, want 404", st)
	}
	e.apiErr("GET", "/api/deployments/active", nil, 404, "not_found")
	e.must("GET", "/api/deployments", nil, 200, &list)
	if len(list) != 2 || list[0].Active || list[1].Active {
		t.Fatalf("deployments after undeploy = %+v", list)
	}
}

func TestDeployThatCannotBeBuiltKeepsTheOldOne(t *testing.T) {
	e := newEnv(t, web.Options{})
	e.deploy(components)
	// Two listen operations on one channel with other settings validate
	// but cannot share one subscription.
	// A second webhook operation on the same path with other settings
	// validates, but one subscription cannot serve both.
	clash := components + `
---
kind: Operation
name: hook-too
connection: inbound
action: listen
settings: {path: /hooks/orders, timeout: 3s}
---
kind: Process
name: also
listen: hook-too
steps: [{log: '"x"'}]
`
	st, body := e.call("POST", "/api/deployments", e.yaml(clash))
	if st != 422 || !strings.Contains(string(body), "invalid_components") {
		t.Fatalf("deploy of a clash: %d %s", st, body)
	}
	var list []deployment
	e.must("GET", "/api/deployments", nil, 200, &list)
	if len(list) != 1 || !list[0].Active {
		t.Fatalf("deployments = %+v, want only v1, active", list)
	}
	if st, _ := e.hook(`{"id":"o-1","n":1}`); st != 200 {
		// The failed build registered the same webhook route, replacing the
		// old one, then removed it on cleanup: atom.Webhooks must restore
		// the route a removed registration had replaced.
		t.Fatalf("old deployment's webhook answers %d after a refused deploy, want 200", st)
	}
}

func TestDeploymentBodyLimit(t *testing.T) {
	e := newEnv(t, web.Options{MaxBodyBytes: 1024})
	big := components + "\n# " + strings.Repeat("x", 2048) + "\n"
	e.apiErr("POST", "/api/deployments", e.yaml(big), 413, "too_large")
	// Without a Content-Length the limit holds as the body is read.
	req, err := http.NewRequest("POST", e.srv.URL+"/api/deployments", io.MultiReader(strings.NewReader(big)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/yaml")
	req.ContentLength = -1
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 413 || !bytes.Contains(data, []byte(`"too_large"`)) {
		t.Fatalf("chunked large body: %d %s", resp.StatusCode, data)
	}
	var list []deployment
	e.must("GET", "/api/deployments", nil, 200, &list)
	if len(list) != 0 {
		t.Fatalf("a refused body was deployed: %+v", list)
	}
	// Other requests share the limit.
	e.apiErr("POST", "/api/processes/x/test", map[string]any{"body": strings.Repeat("y", 2048)}, 413, "too_large")
}
