package web

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/atomrt/atom/atom"
	"github.com/atomrt/atom/persistence"
)

func (a *api) listeners() []atom.ListenerStatus {
	if ls := a.rt.Listeners(); ls != nil {
		return ls
	}
	return []atom.ListenerStatus{}
}

func (a *api) listListeners(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, a.listeners())
}

func (a *api) getListener(w http.ResponseWriter, r *http.Request) {
	st, err := a.rt.Listener(pathParam(r, "name"))
	if err != nil {
		a.writeErr(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

func (a *api) pause(w http.ResponseWriter, r *http.Request)  { a.steer(w, r, a.rt.Pause) }
func (a *api) resume(w http.ResponseWriter, r *http.Request) { a.steer(w, r, a.rt.Resume) }

// steer pauses or resumes one listener and answers its new status.
func (a *api) steer(w http.ResponseWriter, r *http.Request, do func(string) error) {
	name := pathParam(r, "name")
	if err := do(name); err != nil {
		a.writeErr(w, r, err)
		return
	}
	st, err := a.rt.Listener(name)
	if err != nil {
		a.writeErr(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

func (a *api) pauseAll(w http.ResponseWriter, r *http.Request)  { a.steerAll(w, r, a.rt.Pause) }
func (a *api) resumeAll(w http.ResponseWriter, r *http.Request) { a.steerAll(w, r, a.rt.Resume) }

// steerAll pauses or resumes every listener. One that a concurrent
// redeploy removed is skipped: there is nothing left to steer.
func (a *api) steerAll(w http.ResponseWriter, r *http.Request, do func(string) error) {
	for _, st := range a.rt.Listeners() {
		if err := do(st.Name); err != nil && !errors.Is(err, atom.ErrUnknownListener) && !errors.Is(err, atom.ErrNoDeployment) {
			a.writeErr(w, r, err)
			return
		}
	}
	writeJSON(w, http.StatusOK, a.listeners())
}

// offsetView is a listener's committed position and the tracked
// properties committed with it.
type offsetView struct {
	Position   string            `json:"position"`
	Properties map[string]string `json:"properties"`
}

// offsetRequest sets a position.
type offsetRequest struct {
	Position string `json:"position"`
}

// offsetChangeView is the result of an offset change.
type offsetChangeView struct {
	Previous map[string]string `json:"previous"`
	Position string            `json:"position"`
}

func (a *api) getOffset(w http.ResponseWriter, r *http.Request) {
	props, err := a.rt.Offset(pathParam(r, "name"))
	if err != nil {
		a.writeErr(w, r, err)
		return
	}
	if props == nil {
		props = map[string]string{}
	}
	writeJSON(w, http.StatusOK, offsetView{Position: props[atom.PositionKey], Properties: props})
}

func (a *api) setOffset(w http.ResponseWriter, r *http.Request) {
	var req offsetRequest
	if err := decodeJSON(r, &req, false); err != nil {
		a.writeRequestErr(w, r, err)
		return
	}
	if req.Position == "" {
		a.writeRequestErr(w, r, badRequest(`position is empty: want {"position": "123"}, or DELETE the offset to reset it`))
		return
	}
	a.changeOffset(w, r, req.Position)
}

func (a *api) resetOffset(w http.ResponseWriter, r *http.Request) { a.changeOffset(w, r, "") }

func (a *api) changeOffset(w http.ResponseWriter, r *http.Request, position string) {
	// The change waits for the runs in flight of a just-paused listener;
	// a client that gives up must not cut that wait short.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), time.Minute)
	defer cancel()
	prev, err := a.rt.SetOffset(ctx, pathParam(r, "name"), position, who(r))
	if err != nil {
		a.writeErr(w, r, err)
		return
	}
	if prev == nil {
		prev = map[string]string{}
	}
	writeJSON(w, http.StatusOK, offsetChangeView{Previous: prev, Position: position})
}

func (a *api) offsetHistory(w http.ResponseWriter, r *http.Request) {
	changes, err := a.rt.OffsetChanges(pathParam(r, "name"))
	if err != nil {
		a.writeErr(w, r, err)
		return
	}
	if changes == nil {
		changes = []persistence.OffsetChange{}
	}
	writeJSON(w, http.StatusOK, changes)
}

// events streams the listeners' status as server-sent events: one
// unnamed event a second whose data is the JSON array of ListenerStatus,
// until the client leaves or the server shuts down.
func (a *api) events(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	// The server's write timeout would cut a long stream; lift it here.
	_ = rc.SetWriteDeadline(time.Time{})
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	if _, err := w.Write([]byte("retry: 2000\n\n")); err != nil {
		return
	}
	tick := time.NewTicker(a.every)
	defer tick.Stop()
	for {
		data, err := json.Marshal(a.listeners())
		if err != nil {
			return
		}
		if _, err := w.Write([]byte("data: " + string(data) + "\n\n")); err != nil {
			return
		}
		if err := rc.Flush(); err != nil {
			return
		}
		select {
		case <-r.Context().Done():
			return
		case <-a.streams:
			return
		case <-tick.C:
		}
	}
}
