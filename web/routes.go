package web

import (
	"net/http"
	"reflect"
	"runtime/debug"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/atomrt/atom/atom"
	"github.com/atomrt/atom/persistence"
	"github.com/atomrt/atom/web/console"
)

// route is one endpoint: how it is served and how /api/openapi.json
// describes it. Every endpoint is in this one table, so the router and
// the document cannot drift apart.
type route struct {
	method, pattern string
	id, summary     string
	tag             string
	public          bool // served without the API token (probes)
	query           []param
	body            reflect.Type // JSON request body, nil for none
	bodyTypes       []string     // other request content types accepted
	status          int          // success status
	resp            reflect.Type // JSON response, nil for none
	ctype           string       // non-JSON response content type
	errors          []int
	limit           int64 // body limit when Options.MaxBodyBytes is 0
	h               http.HandlerFunc
}

// param is a documented query parameter.
type param struct{ name, typ, doc string }

func typeOf[T any]() reflect.Type { return reflect.TypeFor[T]() }

func (a *api) routes() []route {
	nf := []int{http.StatusNotFound}
	return []route{
		{method: "GET", pattern: "/healthz", id: "health", summary: "The atom is up.", tag: "health", public: true,
			status: 200, resp: typeOf[healthView](), h: a.health},
		{method: "GET", pattern: "/readyz", id: "ready", summary: "Every listener has subscribed (or is paused on purpose); 503 with the reason otherwise.", tag: "health", public: true,
			status: 200, resp: typeOf[readyView](), errors: []int{503}, h: a.ready},
		{method: "GET", pattern: "/metrics", id: "metrics", summary: "Prometheus metrics of the runtime.", tag: "health",
			status: 200, ctype: "text/plain", h: promhttp.HandlerFor(a.rt.Metrics(), promhttp.HandlerOpts{}).ServeHTTP},
		{method: "GET", pattern: "/", id: "root", summary: "Redirects to the console.", tag: "console", public: true,
			status: 302, h: redirectToConsole},
		{method: "GET", pattern: "/console", id: "consoleRoot", summary: "Redirects to /console/.", tag: "console", public: true,
			status: 301, h: a.console.ServeHTTP},
		{method: "GET", pattern: "/console/*", id: "console", tag: "console", public: true,
			summary: "The console's page and assets. They hold no data and are served without the token; the page asks for it when the API answers 401.",
			status:  200, ctype: "text/html", errors: []int{404}, h: a.console.ServeHTTP},
		{method: "GET", pattern: "/api/openapi.json", id: "openapi", summary: "This document.", tag: "meta",
			status: 200, ctype: "application/json", h: a.serveOpenAPI},
		{method: "GET", pattern: "/api/info", id: "info", summary: "Version, listen address, whether auth is required, and the active deployment.", tag: "meta",
			status: 200, resp: typeOf[infoView](), h: a.info},

		{method: "POST", pattern: "/api/deployments", id: "deploy", tag: "deployments",
			summary: "Validate and deploy components; the new set replaces the running one as a whole, or not at all.",
			query:   []param{{"note", "string", "a note kept with the version"}},
			body:    typeOf[deployRequest](), bodyTypes: []string{"application/yaml", "text/yaml"},
			status: 201, resp: typeOf[deploymentView](), errors: []int{400, 413, 422}, limit: DefaultDeploymentBodyBytes, h: a.deploy},
		{method: "GET", pattern: "/api/deployments", id: "listDeployments", summary: "Every saved version, newest first.", tag: "deployments",
			status: 200, resp: typeOf[[]deploymentView](), h: a.listDeployments},
		{method: "GET", pattern: "/api/deployments/{version}", id: "getDeployment", tag: "deployments",
			summary: "One version with its files, literal secrets redacted; {version} may be \"active\".",
			status:  200, resp: typeOf[deploymentView](), errors: nf, h: a.getDeployment},
		{method: "POST", pattern: "/api/deployments/{version}/rollback", id: "rollback", summary: "Run an earlier version again.", tag: "deployments",
			status: 200, resp: typeOf[deploymentView](), errors: []int{404, 422}, h: a.rollback},
		{method: "DELETE", pattern: "/api/deployments/active", id: "undeploy", summary: "Stop every listener and leave nothing deployed.", tag: "deployments",
			status: 204, h: a.undeploy},

		{method: "GET", pattern: "/api/processes", id: "listProcesses", summary: "The deployment's processes.", tag: "processes",
			status: 200, resp: typeOf[[]processSummary](), h: a.listProcesses},
		{method: "GET", pattern: "/api/processes/{name}", id: "getProcess", tag: "processes",
			summary: "One process: its YAML (redacted), its steps as a graph, its mappings as source → target pairs.",
			status:  200, resp: typeOf[processView](), errors: nf, h: a.getProcess},
		{method: "POST", pattern: "/api/processes/{name}/test", id: "testProcess", tag: "processes",
			summary: "Run one document through the process and return every step; sends are dry runs unless live=true. No position moves.",
			query:   []param{{"live", "boolean", "make real sends"}},
			body:    typeOf[testRequest](), status: 200, resp: typeOf[testResult](), errors: []int{400, 404, 413}, h: a.testRun},

		{method: "GET", pattern: "/api/listeners", id: "listListeners", summary: "Every listener with its state, position and counts.", tag: "listeners",
			status: 200, resp: typeOf[[]atom.ListenerStatus](), h: a.listListeners},
		{method: "POST", pattern: "/api/listeners/pause-all", id: "pauseAll", summary: "Pause every listener.", tag: "listeners",
			status: 200, resp: typeOf[[]atom.ListenerStatus](), h: a.pauseAll},
		{method: "POST", pattern: "/api/listeners/resume-all", id: "resumeAll", summary: "Resume every listener.", tag: "listeners",
			status: 200, resp: typeOf[[]atom.ListenerStatus](), h: a.resumeAll},
		{method: "GET", pattern: "/api/listeners/{name}", id: "getListener", summary: "One listener (its name URL-escaped).", tag: "listeners",
			status: 200, resp: typeOf[atom.ListenerStatus](), errors: nf, h: a.getListener},
		{method: "POST", pattern: "/api/listeners/{name}/pause", id: "pause", summary: "Pause a listener after its runs in flight; its position stays.", tag: "listeners",
			status: 200, resp: typeOf[atom.ListenerStatus](), errors: nf, h: a.pause},
		{method: "POST", pattern: "/api/listeners/{name}/resume", id: "resume", summary: "Resume a listener from its committed position.", tag: "listeners",
			status: 200, resp: typeOf[atom.ListenerStatus](), errors: nf, h: a.resume},
		{method: "GET", pattern: "/api/listeners/{name}/offset", id: "getOffset", summary: "A listener's committed position and tracked properties.", tag: "offsets",
			status: 200, resp: typeOf[offsetView](), errors: nf, h: a.getOffset},
		{method: "PUT", pattern: "/api/listeners/{name}/offset", id: "setOffset", summary: "Set a paused listener's position (recorded with who and the previous value).", tag: "offsets",
			body: typeOf[offsetRequest](), status: 200, resp: typeOf[offsetChangeView](), errors: []int{400, 404, 409}, h: a.setOffset},
		{method: "DELETE", pattern: "/api/listeners/{name}/offset", id: "resetOffset", summary: "Reset a paused listener's position: it starts from its operation's configured start.", tag: "offsets",
			status: 200, resp: typeOf[offsetChangeView](), errors: []int{404, 409}, h: a.resetOffset},
		{method: "GET", pattern: "/api/listeners/{name}/offset/history", id: "offsetHistory", summary: "Every operator change of a listener's position, newest first.", tag: "offsets",
			status: 200, resp: typeOf[[]persistence.OffsetChange](), errors: nf, h: a.offsetHistory},
		{method: "GET", pattern: "/api/events", id: "events", summary: "Server-sent events: the listeners' status (an array of ListenerStatus) every second.", tag: "listeners",
			status: 200, ctype: "text/event-stream", h: a.events},

		{method: "GET", pattern: "/api/executions", id: "listExecutions", summary: "Process runs, newest first, without traces.", tag: "executions",
			query: []param{
				{"process", "string", "runs of this process"}, {"listener", "string", "runs of this listener's events"},
				{"status", "string", "ok, failed, filtered, stopped or test"},
				{"prop", "string", "runs that tracked this property"}, {"value", "string", "with this value (needs prop)"},
				{"since", "date-time", "started at or after (RFC 3339)"}, {"until", "date-time", "started before (RFC 3339)"},
				{"limit", "integer", "at most this many (default 50, at most 1000)"}, {"before", "string", "runs older than this ID: the previous page's next"},
			},
			status: 200, resp: typeOf[executionPage](), errors: []int{400}, h: a.listExecutions},
		{method: "GET", pattern: "/api/executions/{id}", id: "getExecution", summary: "One run with its trace (kept for failed and test runs).", tag: "executions",
			status: 200, resp: typeOf[executionView](), errors: nf, h: a.getExecution},

		{method: "GET", pattern: "/api/dead-letters", id: "listDeadLetters", summary: "Documents that failed for good, newest first.", tag: "dead letters",
			query: []param{
				{"process", "string", "of this process"}, {"limit", "integer", "at most this many (default 50, at most 1000)"},
				{"before", "string", "older than this ID: the previous page's next"},
			},
			status: 200, resp: typeOf[deadLetterPage](), errors: []int{400}, h: a.listDeadLetters},
		{method: "POST", pattern: "/api/dead-letters/retry", id: "retryAll", summary: "Retry every dead letter (of one process) through its process.", tag: "dead letters",
			query:  []param{{"process", "string", "only this process's"}},
			status: 200, resp: typeOf[retryAllView](), h: a.retryAll},
		{method: "GET", pattern: "/api/dead-letters/{id}", id: "getDeadLetter", summary: "One dead letter.", tag: "dead letters",
			status: 200, resp: typeOf[persistence.DeadLetter](), errors: nf, h: a.getDeadLetter},
		{method: "POST", pattern: "/api/dead-letters/{id}/retry", id: "retryDeadLetter", tag: "dead letters",
			summary: "Run a dead letter through its process again: removed when it succeeds, kept with one more attempt when it fails.",
			status:  200, resp: typeOf[retryView](), errors: []int{404, 409}, h: a.retryDeadLetter},
		{method: "DELETE", pattern: "/api/dead-letters/{id}", id: "discardDeadLetter", summary: "Discard a dead letter for good.", tag: "dead letters",
			status: 204, errors: nf, h: a.discardDeadLetter},
	}
}

func redirectToConsole(w http.ResponseWriter, r *http.Request) {
	http.Redirect(w, r, console.Prefix, http.StatusFound)
}

type healthView struct {
	Status string `json:"status"`
}

type readyView struct {
	Ready  bool   `json:"ready"`
	Reason string `json:"reason,omitempty"`
}

type infoView struct {
	Version      string `json:"version"`
	Listen       string `json:"listen"`
	AuthRequired bool   `json:"authRequired"`
	Deployment   *int   `json:"deployment"` // the active version, null when none
}

func (a *api) health(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, healthView{Status: "ok"})
}

func (a *api) ready(w http.ResponseWriter, _ *http.Request) {
	ok, reason := a.rt.Ready()
	if !ok {
		writeJSON(w, http.StatusServiceUnavailable, readyView{Reason: reason})
		return
	}
	writeJSON(w, http.StatusOK, readyView{Ready: true})
}

func (a *api) serveOpenAPI(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(a.openapi)
}

func (a *api) info(w http.ResponseWriter, r *http.Request) {
	v := infoView{Version: version(), Listen: a.opts.Addr, AuthRequired: a.opts.RequireAuth}
	ds, err := a.rt.Deployments()
	if err != nil {
		a.writeErr(w, r, err)
		return
	}
	for _, d := range ds {
		if d.Active {
			v.Deployment = &d.Version
			break
		}
	}
	writeJSON(w, http.StatusOK, v)
}

// version is the atom's module version as built, "(devel)" from a work tree.
func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}
