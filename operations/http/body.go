package httpconn

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
)

// readBody reads and decodes a webhook's JSON body, answering 413 or 400
// itself when it cannot.
func (e *endpoint) readBody(w http.ResponseWriter, r *http.Request, run *runState) (any, bool) {
	tooLarge := func() (any, bool) {
		run.stream.Count("webhook_too_large")
		writeError(w, http.StatusRequestEntityTooLarge, "body_too_large",
			fmt.Sprintf("the body is larger than %d bytes (maxBodyBytes)", e.cfg.maxBody))
		return nil, false
	}
	if r.ContentLength > e.cfg.maxBody {
		return tooLarge()
	}
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, e.cfg.maxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return tooLarge()
		}
		writeError(w, http.StatusBadRequest, "bad_body", "could not read the body: "+err.Error())
		return nil, false
	}
	if len(bytes.TrimSpace(data)) == 0 {
		run.stream.Count("webhook_bad_json")
		writeError(w, http.StatusBadRequest, "bad_json", "the body is empty; send a JSON document")
		return nil, false
	}
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		run.stream.Count("webhook_bad_json")
		writeError(w, http.StatusBadRequest, "bad_json", describeJSONError(data, err))
		return nil, false
	}
	return v, true
}

// describeJSONError says what is wrong with a body and where.
func describeJSONError(data []byte, err error) string {
	var se *json.SyntaxError
	if !errors.As(err, &se) {
		return "the body is not JSON: " + err.Error()
	}
	// Offset counts the bytes read up to and including the bad one, so it
	// is the bad byte's 1-based position.
	off := min(max(se.Offset-1, 0), int64(len(data)))
	line, col := 1, 1
	for _, b := range data[:off] {
		if b == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
	return fmt.Sprintf("the body is not JSON: %s, at byte %d (line %d, column %d)", se.Error(), se.Offset, line, col)
}

// writeJSON answers with v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b, _ = json.Marshal(map[string]string{"error": "the answer could not be encoded as JSON: " + err.Error(), "code": "bad_reply"})
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// writeError answers in the API's error shape.
func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, map[string]string{"error": msg, "code": code})
}
