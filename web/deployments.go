package web

import (
	"bytes"
	"context"
	"errors"
	"io"
	"mime"
	"net/http"
	"sort"
	"strconv"
	"time"

	"github.com/atomrt/atom/persistence"
	"github.com/atomrt/atom/processes"
)

// deployRequest is the JSON form of a deployment: YAML files by name.
type deployRequest struct {
	Files map[string]string `json:"files"`
	Note  string            `json:"note,omitempty"`
}

// deploymentView is a saved version as the API shows it. Files, when
// present, have every literal secret redacted.
type deploymentView struct {
	Version int               `json:"version"`
	At      time.Time         `json:"at"`
	Who     string            `json:"who"`
	Note    string            `json:"note"`
	Active  bool              `json:"active"`
	Files   map[string]string `json:"files,omitempty"`
	// FilesHidden says why files are left out: a version that no longer
	// loads cannot have its secrets found, so it is not shown at all.
	FilesHidden string `json:"filesHidden,omitempty"`
}

func viewOf(d persistence.Deployment) deploymentView {
	return deploymentView{Version: d.Version, At: d.At, Who: d.Who, Note: d.Note, Active: d.Active}
}

func (a *api) deploy(w http.ResponseWriter, r *http.Request) {
	files, note, err := readDeployment(r)
	if err != nil {
		a.writeRequestErr(w, r, err)
		return
	}
	d, err := a.rt.Deploy(files, who(r), note)
	if err != nil {
		a.deployErr(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, viewOf(d))
}

// readDeployment reads a deployment: YAML (one file, deployment.yaml) or
// JSON {"files": {...}, "note": "..."}. Without a Content-Type, a body
// that starts with "{" is taken for JSON.
func readDeployment(r *http.Request) ([]processes.File, string, error) {
	data, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, "", err
	}
	note := r.URL.Query().Get("note")
	mt := ""
	if ct := r.Header.Get("Content-Type"); ct != "" {
		if mt, _, err = mime.ParseMediaType(ct); err != nil {
			return nil, "", badRequest("Content-Type %q: %v", ct, err)
		}
	}
	switch mt {
	case "application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml":
	case "application/json":
		return jsonDeployment(data, note)
	case "", "text/plain", "application/octet-stream":
		if t := bytes.TrimSpace(data); len(t) > 0 && t[0] == '{' {
			return jsonDeployment(data, note)
		}
	default:
		return nil, "", badRequest("Content-Type %q: want application/yaml or application/json", mt)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, "", badRequest("request body is empty: want component YAML")
	}
	return []processes.File{{Name: "deployment.yaml", Data: data}}, note, nil
}

func jsonDeployment(data []byte, note string) ([]processes.File, string, error) {
	var req deployRequest
	if err := decodeBytes(data, &req); err != nil {
		return nil, "", err
	}
	if len(req.Files) == 0 {
		return nil, "", badRequest(`no files: want {"files": {"name.yaml": "...yaml..."}}`)
	}
	files := make([]processes.File, 0, len(req.Files))
	for name, text := range req.Files {
		if name == "" {
			return nil, "", badRequest("a file has an empty name")
		}
		files = append(files, processes.File{Name: name, Data: []byte(text)})
	}
	sort.Slice(files, func(i, j int) bool { return files[i].Name < files[j].Name })
	if req.Note != "" {
		note = req.Note
	}
	return files, note, nil
}

// deployErr answers a failed deploy or rollback. Invalid components are
// 422 with every diagnostic; so is a deployment that validates but cannot
// be built (two operations on one channel with other settings, a
// connection that cannot open), as a single detail without a position.
func (a *api) deployErr(w http.ResponseWriter, r *http.Request, err error) {
	var ds processes.Diagnostics
	switch {
	case errors.As(err, &ds), errors.Is(err, persistence.ErrNotFound), errors.Is(err, persistence.ErrClosed):
		a.writeErr(w, r, err)
	default:
		writeError(w, http.StatusUnprocessableEntity, codeInvalidComponents, err.Error(),
			processes.Diagnostic{Msg: err.Error()})
	}
}

func (a *api) listDeployments(w http.ResponseWriter, r *http.Request) {
	ds, err := a.rt.Deployments()
	if err != nil {
		a.writeErr(w, r, err)
		return
	}
	out := make([]deploymentView, 0, len(ds))
	for _, d := range ds {
		out = append(out, viewOf(d))
	}
	writeJSON(w, http.StatusOK, out)
}

// version reads the {version} parameter; "active" is the active one.
func (a *api) version(r *http.Request) (int, error) {
	s := pathParam(r, "version")
	if s == "active" {
		ds, err := a.rt.Deployments()
		if err != nil {
			return 0, err
		}
		for _, d := range ds {
			if d.Active {
				return d.Version, nil
			}
		}
		return 0, errNotFound("no deployment is active")
	}
	v, err := strconv.Atoi(s)
	if err != nil || v <= 0 {
		return 0, errNotFound("no deployment version " + strconv.Quote(s) + " (versions are numbers from 1)")
	}
	return v, nil
}

func (a *api) getDeployment(w http.ResponseWriter, r *http.Request) {
	v, err := a.version(r)
	if err != nil {
		a.writeErr(w, r, err)
		return
	}
	d, err := a.rt.Deployment(v)
	if err != nil {
		a.writeErr(w, r, err)
		return
	}
	view := viewOf(d)
	view.Files, view.FilesHidden = a.redactedFiles(d)
	writeJSON(w, http.StatusOK, view)
}

// redactedFiles returns a version's files with literal secrets redacted.
// Finding them takes loading the files; the running set already has.
func (a *api) redactedFiles(d persistence.Deployment) (map[string]string, string) {
	set := a.rt.Set()
	if set == nil || !d.Active || !sameFiles(set.Files, d.Files) {
		var err error
		if set, err = a.rt.Validate(filesOf(d.Files)); err != nil {
			return nil, "this version no longer loads here, so its literal secrets cannot be found to redact them: " + firstLine(err.Error())
		}
	}
	out := map[string]string{}
	for name, data := range set.RedactedFiles() {
		out[name] = string(data)
	}
	return out, ""
}

func sameFiles(a, b map[string][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for name, data := range a {
		if other, ok := b[name]; !ok || !bytes.Equal(data, other) {
			return false
		}
	}
	return true
}

func filesOf(m map[string][]byte) []processes.File {
	files := make([]processes.File, 0, len(m))
	for name, data := range m {
		files = append(files, processes.File{Name: name, Data: data})
	}
	sort.Slice(files, func(i, j int) bool { return files[i].Name < files[j].Name })
	return files
}

func (a *api) rollback(w http.ResponseWriter, r *http.Request) {
	v, err := a.version(r)
	if err != nil {
		a.writeErr(w, r, err)
		return
	}
	d, err := a.rt.Rollback(v)
	if err != nil {
		a.deployErr(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, viewOf(d))
}

func (a *api) undeploy(w http.ResponseWriter, r *http.Request) {
	if err := a.rt.Undeploy(context.WithoutCancel(r.Context())); err != nil {
		a.writeErr(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
