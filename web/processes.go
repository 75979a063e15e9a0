package web

import (
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/atomrt/atom/operations"
	"github.com/atomrt/atom/processes"
)

// processSummary is a process in the list.
type processSummary struct {
	Name        string `json:"name"`
	Listen      string `json:"listen"`   // its Listen operation; "" for a sub-process
	Listener    string `json:"listener"` // the listener it runs on; "" for a sub-process
	Concurrency int    `json:"concurrency"`
	Steps       int    `json:"steps"`  // top-level steps
	Called      bool   `json:"called"` // another process calls it
}

// processView is one process in full.
type processView struct {
	processSummary
	Track    []string      `json:"track"`
	YAML     string        `json:"yaml"` // the process's YAML document, literal secrets redacted
	File     string        `json:"file"` // file:line:col of the process
	Graph    graph         `json:"graph"`
	Mappings []mappingView `json:"mappings"`
}

func (a *api) listProcesses(w http.ResponseWriter, _ *http.Request) {
	set := a.rt.Set()
	out := []processSummary{}
	if set == nil {
		writeJSON(w, http.StatusOK, out)
		return
	}
	listeners, called := a.listenerOf(), calledProcesses(set)
	for _, p := range sortedProcesses(set) {
		out = append(out, summarise(p, listeners, called))
	}
	writeJSON(w, http.StatusOK, out)
}

func summarise(p *processes.Process, listeners map[string]string, called map[string]bool) processSummary {
	return processSummary{
		Name: p.Name, Listen: p.Listen, Listener: listeners[p.Name], Concurrency: p.Concurrency,
		Steps: len(p.Steps), Called: called[p.Name],
	}
}

// process finds a process of the running deployment.
func (a *api) process(r *http.Request) (*processes.Set, *processes.Process, error) {
	name := pathParam(r, "name")
	set := a.rt.Set()
	if set == nil {
		return nil, nil, errNotFound("no process " + strconv.Quote(name) + ": nothing is deployed")
	}
	p, ok := set.Processes[name]
	if !ok {
		return nil, nil, errNotFound("no process " + strconv.Quote(name) + " in the running deployment")
	}
	return set, p, nil
}

func (a *api) getProcess(w http.ResponseWriter, r *http.Request) {
	set, p, err := a.process(r)
	if err != nil {
		a.writeErr(w, r, err)
		return
	}
	view := processView{
		processSummary: summarise(p, a.listenerOf(), calledProcesses(set)),
		Track:          append([]string{}, p.Track...),
		YAML:           documentAt(set.RedactedFiles()[p.Pos.File], p.Pos.Line),
		File:           p.Pos.String(),
		Graph:          buildGraph(set, p),
		Mappings:       mappingsOf(set, p),
	}
	writeJSON(w, http.StatusOK, view)
}

// listenerOf maps each process to the listener it runs on.
func (a *api) listenerOf() map[string]string {
	m := map[string]string{}
	for _, st := range a.rt.Listeners() {
		for _, p := range st.Processes {
			m[p] = st.Name
		}
	}
	return m
}

func calledProcesses(set *processes.Set) map[string]bool {
	called := map[string]bool{}
	for _, p := range set.Processes {
		walkSteps(p.Steps, func(s *processes.Step) {
			for _, c := range s.Call {
				called[c] = true
			}
		})
	}
	return called
}

// walkSteps calls fn on every step, nested ones included, in order.
func walkSteps(steps []processes.Step, fn func(*processes.Step)) {
	for i := range steps {
		s := &steps[i]
		fn(s)
		if s.Route != nil {
			for _, c := range s.Route.Cases {
				walkSteps(c.Steps, fn)
			}
			walkSteps(s.Route.Otherwise, fn)
		}
		for _, b := range s.Branch {
			walkSteps(b, fn)
		}
		walkSteps(s.Try, fn)
		walkSteps(s.Catch, fn)
	}
}

func sortedProcesses(set *processes.Set) []*processes.Process {
	ps := make([]*processes.Process, 0, len(set.Processes))
	for _, p := range set.Processes {
		ps = append(ps, p)
	}
	sort.Slice(ps, func(i, j int) bool { return ps[i].Name < ps[j].Name })
	return ps
}

// documentAt returns the YAML document of src that holds line (from 1):
// the text between the "---" separators around it.
func documentAt(src []byte, line int) string {
	lines := strings.SplitAfter(string(src), "\n")
	start := 0
	for i, l := range lines {
		if !isSeparator(l) {
			continue
		}
		if line-1 < i {
			return trimDoc(lines[start:i])
		}
		start = i + 1
	}
	return trimDoc(lines[start:])
}

func isSeparator(l string) bool {
	l = strings.TrimRight(l, "\r\n")
	for _, mark := range []string{"---", "..."} {
		if l == mark || strings.HasPrefix(l, mark+" ") || strings.HasPrefix(l, mark+"\t") {
			return true
		}
	}
	return false
}

func trimDoc(lines []string) string {
	s := strings.Trim(strings.Join(lines, ""), "\n")
	if s == "" {
		return ""
	}
	return s + "\n"
}

// testRequest is a sample document for a test run.
type testRequest struct {
	Body  any               `json:"body"`
	Props map[string]string `json:"props,omitempty"`
}

// testResult is what a test run did.
type testResult struct {
	Execution  string                `json:"execution"` // its ID in the execution history
	Status     string                `json:"status"`
	Error      string                `json:"error,omitempty"`
	Reply      *operations.Document  `json:"reply"`
	Outputs    []operations.Document `json:"outputs"`
	Trace      processes.Trace       `json:"trace"`
	DurationMs float64               `json:"durationMs"`
}

func (a *api) testRun(w http.ResponseWriter, r *http.Request) {
	name := pathParam(r, "name")
	live, err := boolParam(r, "live")
	if err != nil {
		a.writeRequestErr(w, r, err)
		return
	}
	var req testRequest
	if err := decodeJSON(r, &req, false); err != nil {
		a.writeRequestErr(w, r, err)
		return
	}
	res, id, err := a.rt.TestRun(r.Context(), name, operations.NewDocument(req.Body, req.Props), live)
	if err != nil {
		a.writeErr(w, r, err)
		return
	}
	out := testResult{
		Execution: id, Status: res.Status, Reply: res.Reply, Outputs: res.Outputs,
		Trace: res.Trace, DurationMs: ms(res.Duration.Seconds()),
	}
	if res.Err != nil {
		out.Error = res.Err.Error()
	}
	if out.Outputs == nil {
		out.Outputs = []operations.Document{}
	}
	writeJSON(w, http.StatusOK, out)
}

func boolParam(r *http.Request, name string) (bool, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return false, nil
	}
	v, err := strconv.ParseBool(s)
	if err != nil {
		return false, badRequest("query parameter %s=%q: want true or false", name, s)
	}
	return v, nil
}

// ms turns seconds into milliseconds, to the microsecond.
func ms(seconds float64) float64 { return float64(int64(seconds*1e6)) / 1e3 }
