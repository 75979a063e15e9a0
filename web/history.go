package web

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/atomrt/atom/atom"
	"github.com/atomrt/atom/persistence"
)

// Page sizes of the execution and dead-letter lists.
const (
	defaultPage = 50
	maxPage     = 1000
)

// executionView is a run, with its duration also in milliseconds.
type executionView struct {
	persistence.Execution
	DurationMs float64 `json:"durationMs"`
}

type executionPage struct {
	Items []executionView `json:"items"`
	Next  string          `json:"next"` // pass as before= for the next page; "" at the end
}

type deadLetterPage struct {
	Items []persistence.DeadLetter `json:"items"`
	Next  string                   `json:"next"`
}

func viewExecution(e persistence.Execution) executionView {
	return executionView{Execution: e, DurationMs: ms(e.Duration.Seconds())}
}

func (a *api) listExecutions(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	eq := persistence.ExecQuery{
		Process: q.Get("process"), Listener: q.Get("listener"), Status: q.Get("status"),
		PropKey: q.Get("prop"), PropValue: q.Get("value"), Before: q.Get("before"),
	}
	var err error
	if eq.Since, err = timeParam(r, "since"); err == nil {
		eq.Until, err = timeParam(r, "until")
	}
	if err == nil {
		eq.Limit, err = limitParam(r)
	}
	if err != nil {
		a.writeRequestErr(w, r, err)
		return
	}
	es, err := a.rt.Executions(eq)
	if err != nil {
		a.writeErr(w, r, err)
		return
	}
	page := executionPage{Items: make([]executionView, 0, len(es))}
	for _, e := range es {
		page.Items = append(page.Items, viewExecution(e))
	}
	if len(es) == eq.Limit {
		page.Next = es[len(es)-1].ID
	}
	writeJSON(w, http.StatusOK, page)
}

func (a *api) getExecution(w http.ResponseWriter, r *http.Request) {
	id := pathParam(r, "id")
	e, err := a.rt.Execution(id)
	if err != nil {
		a.writeErr(w, r, notFoundIfInvalid(err, "no execution "+strconv.Quote(id)))
		return
	}
	writeJSON(w, http.StatusOK, viewExecution(e))
}

// notFoundIfInvalid turns a malformed ID in a path into 404: no record
// has it.
func notFoundIfInvalid(err error, msg string) error {
	if errors.Is(err, persistence.ErrInvalid) {
		return errNotFound(msg + " (IDs are 16 hex digits)")
	}
	return err
}

func (a *api) listDeadLetters(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	dq := persistence.DeadLetterQuery{Process: q.Get("process"), Before: q.Get("before")}
	var err error
	if dq.Limit, err = limitParam(r); err != nil {
		a.writeRequestErr(w, r, err)
		return
	}
	dls, err := a.rt.DeadLetters(dq)
	if err != nil {
		a.writeErr(w, r, err)
		return
	}
	page := deadLetterPage{Items: dls}
	if page.Items == nil {
		page.Items = []persistence.DeadLetter{}
	}
	if len(dls) == dq.Limit {
		page.Next = dls[len(dls)-1].ID
	}
	writeJSON(w, http.StatusOK, page)
}

func (a *api) getDeadLetter(w http.ResponseWriter, r *http.Request) {
	id := pathParam(r, "id")
	dl, err := a.rt.DeadLetter(id)
	if err != nil {
		a.writeErr(w, r, notFoundIfInvalid(err, "no dead letter "+strconv.Quote(id)))
		return
	}
	writeJSON(w, http.StatusOK, dl)
}

// retryView is what became of a retried dead letter.
type retryView struct {
	Status     string                  `json:"status"` // ok (removed) or failed (kept)
	Error      string                  `json:"error,omitempty"`
	DeadLetter *persistence.DeadLetter `json:"deadLetter,omitempty"` // as kept, one more attempt
}

type retryAllView struct {
	OK     int `json:"ok"`
	Failed int `json:"failed"`
}

func (a *api) retryDeadLetter(w http.ResponseWriter, r *http.Request) {
	id := pathParam(r, "id")
	// The run goes on if the client leaves: the dead letter must end up
	// either removed or updated, not half-retried.
	ctx := context.WithoutCancel(r.Context())
	dl, err := a.rt.RetryDeadLetter(ctx, id)
	switch {
	case err == nil:
		writeJSON(w, http.StatusOK, retryView{Status: "ok"})
	case errors.Is(err, persistence.ErrNotFound), errors.Is(err, persistence.ErrInvalid):
		a.writeErr(w, r, notFoundIfInvalid(err, "no dead letter "+strconv.Quote(id)))
	case errors.Is(err, atom.ErrUnknownProcess), errors.Is(err, atom.ErrNoDeployment):
		writeError(w, http.StatusConflict, codeConflict, "cannot retry: "+err.Error())
	default:
		writeJSON(w, http.StatusOK, retryView{Status: "failed", Error: err.Error(), DeadLetter: &dl})
	}
}

func (a *api) retryAll(w http.ResponseWriter, r *http.Request) {
	ok, failed, err := a.rt.RetryAll(context.WithoutCancel(r.Context()), r.URL.Query().Get("process"))
	if err != nil {
		a.writeErr(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, retryAllView{OK: ok, Failed: failed})
}

func (a *api) discardDeadLetter(w http.ResponseWriter, r *http.Request) {
	id := pathParam(r, "id")
	if _, err := a.rt.DeadLetter(id); err != nil {
		a.writeErr(w, r, notFoundIfInvalid(err, "no dead letter "+strconv.Quote(id)))
		return
	}
	if err := a.rt.DiscardDeadLetter(id); err != nil {
		a.writeErr(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func timeParam(r *http.Request, name string) (time.Time, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, badRequest("query parameter %s=%q: want an RFC 3339 time such as 2025-01-02T15:04:05Z", name, s)
	}
	return t, nil
}

func limitParam(r *http.Request) (int, error) {
	s := r.URL.Query().Get("limit")
	if s == "" {
		return defaultPage, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > maxPage {
		return 0, badRequest("query parameter limit=%q: want a number from 1 to %d", s, maxPage)
	}
	return n, nil
}
