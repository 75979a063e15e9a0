package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/atomrt/atom/processes"
)

// deployCmd sends component YAML to a running atom's API, which validates
// it and replaces its deployment as a whole, or answers every problem.
func deployCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("deploy", flag.ContinueOnError)
	fs.SetOutput(stderr)
	atomURL := fs.String("atom", "http://127.0.0.1:8080", "URL of the running atom")
	token := fs.String("token", os.Getenv("ATOM_API_TOKEN"), "API token (default $ATOM_API_TOKEN)")
	note := fs.String("note", "", "a note kept with the deployed version")
	path, rest := splitFirst(args)
	if err := fs.Parse(rest); err != nil {
		return err
	}
	if path == "" && fs.NArg() == 1 {
		path = fs.Arg(0)
	} else if fs.NArg() > 0 {
		path = "" // more than one path: say how it is used
	}
	if path == "" {
		fmt.Fprintln(stderr, "usage: atom deploy FILE|DIR [--atom URL] [--token TOKEN] [--note TEXT]")
		return exitError(2)
	}
	files, err := processes.ReadPath(path)
	if err != nil {
		return err
	}
	v, err := postDeployment(ctx, *atomURL, *token, *note, files)
	if err != nil {
		var de *deployError
		if errors.As(err, &de) {
			for _, line := range de.lines() {
				fmt.Fprintln(stderr, line)
			}
			return exitError(1)
		}
		return err
	}
	fmt.Fprintf(stdout, "deployed version %d (%d file(s)) to %s\n", v, len(files), *atomURL)
	return nil
}

// deployError is the API's refusal of a deployment.
type deployError struct {
	Status  int
	Message string                 `json:"error"`
	Code    string                 `json:"code"`
	Details []processes.Diagnostic `json:"details"`
}

func (e *deployError) Error() string {
	return fmt.Sprintf("deploy refused (%d %s): %s", e.Status, e.Code, e.Message)
}

// lines are what the user reads: one diagnostic a line, as
// `file:line:col: path: msg (hint)`, or the API's message with a hint.
func (e *deployError) lines() []string {
	if e.Code == "invalid_components" && len(e.Details) > 0 {
		out := make([]string, 0, len(e.Details)+1)
		for _, d := range e.Details {
			out = append(out, d.Error())
		}
		return append(out, fmt.Sprintf("atom deploy: refused: %d problem(s); nothing was deployed", len(e.Details)))
	}
	msg := "atom deploy: " + e.Message
	if e.Status == http.StatusUnauthorized {
		msg += " (pass --token or set ATOM_API_TOKEN)"
	}
	return []string{msg}
}

// postDeployment posts files as {"files": {...}, "note": ...} and returns
// the version deployed.
func postDeployment(ctx context.Context, atomURL, token, note string, files []processes.File) (int, error) {
	u, err := url.Parse(strings.TrimRight(atomURL, "/"))
	if err != nil || u.Scheme == "" || u.Host == "" {
		return 0, fmt.Errorf("--atom %q: want a URL such as http://127.0.0.1:8080", atomURL)
	}
	req := struct {
		Files map[string]string `json:"files"`
		Note  string            `json:"note,omitempty"`
	}{Files: map[string]string{}, Note: note}
	for _, f := range files {
		req.Files[f.Name] = string(f.Data)
	}
	body, err := json.Marshal(req)
	if err != nil {
		return 0, err
	}
	// A deploy waits for the old listeners to drain: allow for it.
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String()+"/api/deployments", bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	hreq.Header.Set("Content-Type", "application/json")
	if token != "" {
		hreq.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(hreq)
	if err != nil {
		return 0, fmt.Errorf("deploy to %s: %w (is the atom running? see --atom)", u, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return 0, fmt.Errorf("deploy to %s: read answer: %w", u, err)
	}
	if resp.StatusCode != http.StatusCreated {
		de := &deployError{Status: resp.StatusCode}
		if json.Unmarshal(data, de) != nil || de.Message == "" {
			de.Message = fmt.Sprintf("%s answered %s: %.200s", u, resp.Status, data)
		}
		return 0, de
	}
	var d struct {
		Version int `json:"version"`
	}
	if err := json.Unmarshal(data, &d); err != nil {
		return 0, fmt.Errorf("deploy to %s: answer is not a deployment: %w", u, err)
	}
	return d.Version, nil
}
