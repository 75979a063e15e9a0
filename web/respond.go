package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/atomrt/atom/atom"
	"github.com/atomrt/atom/persistence"
	"github.com/atomrt/atom/processes"
)

// Stable error codes of the API's one error shape. Clients branch on them;
// the message is for people.
const (
	codeBadRequest        = "bad_request"
	codeUnauthorized      = "unauthorized"
	codeForbidden         = "forbidden"
	codeNotFound          = "not_found"
	codeMethodNotAllowed  = "method_not_allowed"
	codeConflict          = "conflict"
	codeNotPaused         = "not_paused"
	codeInvalidComponents = "invalid_components"
	codeTooLarge          = "too_large"
	codeInternal          = "internal"
)

// apiError is the one error shape of the API.
type apiError struct {
	Error   string `json:"error"`
	Code    string `json:"code"`
	Details []any  `json:"details,omitempty"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, code, msg string, details ...any) {
	writeJSON(w, status, apiError{Error: msg, Code: code, Details: details})
}

// writeErr answers err with the status its kind calls for: unknown names
// are 404, an offset change on a running listener 409, invalid components
// 422, and anything unforeseen 500 (logged, since the caller cannot fix it).
func (a *api) writeErr(w http.ResponseWriter, r *http.Request, err error) {
	var ds processes.Diagnostics
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		writeError(w, http.StatusRequestEntityTooLarge, codeTooLarge,
			fmt.Sprintf("request body is larger than %d bytes", tooBig.Limit))
	case errors.As(err, &ds):
		details := make([]any, len(ds))
		for i, d := range ds {
			details[i] = d
		}
		writeError(w, http.StatusUnprocessableEntity, codeInvalidComponents,
			fmt.Sprintf("the components are not valid: %d problem(s)", len(ds)), details...)
	case errors.Is(err, atom.ErrUnknownListener), errors.Is(err, atom.ErrUnknownProcess),
		errors.Is(err, atom.ErrNoDeployment), errors.Is(err, persistence.ErrNotFound):
		writeError(w, http.StatusNotFound, codeNotFound, err.Error())
	case errors.Is(err, atom.ErrNotPaused):
		writeError(w, http.StatusConflict, codeNotPaused, err.Error())
	case errors.Is(err, persistence.ErrInvalid):
		writeError(w, http.StatusBadRequest, codeBadRequest, err.Error())
	default:
		a.log.Error().Err(err).Str("method", r.Method).Str("path", r.URL.Path).Msg("api request failed")
		writeError(w, http.StatusInternalServerError, codeInternal, err.Error())
	}
}

// errBadRequest marks a request the client got wrong (bad JSON, a bad
// query parameter); writeErr answers it with 400.
type errBadRequest struct{ msg string }

func (e errBadRequest) Error() string { return e.msg }

func badRequest(format string, args ...any) error { return errBadRequest{fmt.Sprintf(format, args...)} }

// writeRequestErr answers an error found while reading a request.
func (a *api) writeRequestErr(w http.ResponseWriter, r *http.Request, err error) {
	var bad errBadRequest
	if errors.As(err, &bad) {
		writeError(w, http.StatusBadRequest, codeBadRequest, bad.msg)
		return
	}
	a.writeErr(w, r, err)
}

// decodeJSON reads a JSON body into v. An empty body is allowed when
// emptyOK, leaving v as it was.
func decodeJSON(r *http.Request, v any, emptyOK bool) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
			return badRequest("Content-Type %q: want application/json", ct)
		}
	}
	data, err := io.ReadAll(r.Body)
	if err != nil {
		return err
	}
	if len(data) == 0 {
		if emptyOK {
			return nil
		}
		return badRequest("request body is empty: want JSON")
	}
	return decodeBytes(data, v)
}

func decodeBytes(data []byte, v any) error {
	if err := json.Unmarshal(data, v); err != nil {
		return badRequest("request body is not valid JSON: %v", err)
	}
	return nil
}

// notFound is an error for something the API looked up and did not find;
// writeErr answers it with 404.
type notFound struct{ msg string }

func (e notFound) Error() string        { return e.msg }
func (e notFound) Is(target error) bool { return target == persistence.ErrNotFound }

func errNotFound(msg string) error { return notFound{msg} }

// firstLine is the first line of a multi-line message.
func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i] + " (and more)"
	}
	return s
}

// pathParam returns a path parameter, unescaped. Listener names hold "/"
// and ":", so clients escape them (encodeURIComponent); chi then routes on
// the escaped path and hands the parameter over still escaped.
func pathParam(r *http.Request, key string) string {
	v := chi.URLParam(r, key)
	if r.URL.RawPath == "" {
		return v // nothing was escaped: v is the decoded text
	}
	if u, err := url.PathUnescape(v); err == nil {
		return u
	}
	return v
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
