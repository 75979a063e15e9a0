package emulator

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// adminError is the project's API error shape.
type adminError struct {
	Error   string   `json:"error"`
	Code    string   `json:"code"`
	Details []string `json:"details,omitempty"`
}

func adminFail(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, adminError{Error: msg, Code: code})
}

// handleAdmin serves /__emulator/: inspection and fault injection for
// tests and demos. It counts no API call and no fault applies to it
// (except refused connections, which cut every socket).
//
//	GET  /__emulator/state                          State as JSON
//	GET  /__emulator/events/{Name__e}               retained events
//	POST /__emulator/events/{Name__e}               publish (body: the fields)
//	POST /__emulator/calls/reset                    zero the call counts
//	POST /__emulator/faults/drop-clients            forget every CometD client
//	POST /__emulator/faults/expire-tokens           invalidate every access token
//	POST /__emulator/faults/fail-503?count=N        503 for the next N requests
//	POST /__emulator/faults/latency?duration=D      delay every request (0 = off)
//	POST /__emulator/faults/retention?duration=D    set retention
//	POST /__emulator/faults/refuse-connections?duration=D   refuse for D (default 5s)
//	POST /__emulator/faults/restart                 cut connections, forget clients
//	POST /__emulator/faults/clear                   no 503s, no latency, accept connections
func (e *Emulator) handleAdmin(w http.ResponseWriter, r *http.Request) {
	path := strings.Trim(strings.TrimPrefix(r.URL.Path, "/__emulator"), "/")
	parts := strings.Split(path, "/")
	switch {
	case path == "state" && r.Method == http.MethodGet:
		writeJSON(w, http.StatusOK, e.State())
	case len(parts) == 2 && parts[0] == "events" && r.Method == http.MethodGet:
		events := e.Events(parts[1])
		if events == nil {
			if e.lookupType(parts[1]) == nil {
				adminFail(w, http.StatusNotFound, "unknown_event", fmt.Sprintf("no event %q (defined: %s)", parts[1], e.eventNames()))
				return
			}
			events = []Event{}
		}
		writeJSON(w, http.StatusOK, events)
	case len(parts) == 2 && parts[0] == "events" && r.Method == http.MethodPost:
		e.adminPublish(w, r, parts[1])
	case path == "calls/reset" && r.Method == http.MethodPost:
		e.ResetCalls()
		writeJSON(w, http.StatusOK, map[string]any{"ok": true})
	case len(parts) == 2 && parts[0] == "faults" && r.Method == http.MethodPost:
		e.adminFault(w, r, parts[1])
	default:
		adminFail(w, http.StatusNotFound, "not_found", "no admin endpoint "+r.Method+" "+r.URL.Path+" (see the emulator README)")
	}
}

func (e *Emulator) adminPublish(w http.ResponseWriter, r *http.Request, name string) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxRESTBody))
	if err != nil {
		adminFail(w, http.StatusBadRequest, "bad_body", "read body: "+err.Error())
		return
	}
	var fields map[string]any
	if err := json.Unmarshal(body, &fields); err != nil {
		adminFail(w, http.StatusBadRequest, "bad_json", "the body must be a JSON object of event fields: "+err.Error())
		return
	}
	id, err := e.Publish(name, fields)
	switch {
	case errors.Is(err, ErrUnknownEvent):
		adminFail(w, http.StatusNotFound, "unknown_event", err.Error())
	case err != nil:
		adminFail(w, http.StatusBadRequest, "invalid_event", err.Error())
	default:
		writeJSON(w, http.StatusOK, map[string]any{"replayId": id})
	}
}

func (e *Emulator) adminFault(w http.ResponseWriter, r *http.Request, fault string) {
	q := r.URL.Query()
	duration := func(def time.Duration) (time.Duration, bool) {
		s := q.Get("duration")
		if s == "" {
			return def, true
		}
		d, err := time.ParseDuration(s)
		if err != nil || d < 0 {
			adminFail(w, http.StatusBadRequest, "bad_duration", fmt.Sprintf("duration %q is not a duration like 250ms or 5s", s))
			return 0, false
		}
		return d, true
	}
	switch fault {
	case "drop-clients":
		writeJSON(w, http.StatusOK, map[string]any{"dropped": e.DropClients()})
	case "expire-tokens":
		writeJSON(w, http.StatusOK, map[string]any{"expired": e.ExpireTokens()})
	case "fail-503":
		n, err := strconv.Atoi(q.Get("count"))
		if q.Get("count") == "" {
			n, err = 1, nil
		}
		if err != nil || n < 0 {
			adminFail(w, http.StatusBadRequest, "bad_count", fmt.Sprintf("count %q is not a number of requests", q.Get("count")))
			return
		}
		e.Fail503(n)
		writeJSON(w, http.StatusOK, map[string]any{"fail503": n})
	case "latency":
		d, ok := duration(0)
		if !ok {
			return
		}
		e.SetLatency(d)
		writeJSON(w, http.StatusOK, map[string]any{"latency": d.String()})
	case "retention":
		if q.Get("duration") == "" {
			adminFail(w, http.StatusBadRequest, "bad_duration", "retention needs ?duration=D, like 1s")
			return
		}
		d, ok := duration(0)
		if !ok {
			return
		}
		e.SetRetention(d)
		writeJSON(w, http.StatusOK, map[string]any{"retention": d.String()})
	case "refuse-connections":
		d, ok := duration(5 * time.Second)
		if !ok {
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"refusing": d.String()})
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}
		// Refuse after answering, and stop refusing after d: the admin
		// endpoint is out of reach meanwhile.
		go func() {
			time.Sleep(10 * time.Millisecond)
			e.RefuseConnections(true)
			t := time.NewTimer(d)
			defer t.Stop()
			select {
			case <-t.C:
			case <-e.closing:
			}
			e.RefuseConnections(false)
		}()
	case "restart":
		writeJSON(w, http.StatusOK, map[string]any{"restarted": true})
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}
		go func() {
			time.Sleep(10 * time.Millisecond)
			_ = e.Restart()
		}()
	case "clear":
		e.Fail503(0)
		e.SetLatency(0)
		e.RefuseConnections(false)
		writeJSON(w, http.StatusOK, map[string]any{"cleared": true})
	default:
		adminFail(w, http.StatusNotFound, "unknown_fault", fmt.Sprintf("no fault %q (want drop-clients, expire-tokens, fail-503, latency, retention, refuse-connections, restart or clear)", fault))
	}
}
