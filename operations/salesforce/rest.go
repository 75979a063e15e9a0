package salesforce

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// maxResponse bounds what is read of a REST answer (200 SaveResults are a
// few tens of kilobytes).
const maxResponse = 8 << 20

// restError is one entry of Salesforce's error array, or of a SaveResult's
// errors.
type restError struct {
	StatusCode string   `json:"statusCode"` // in SaveResults
	ErrorCode  string   `json:"errorCode"`  // in error answers
	Message    string   `json:"message"`
	Fields     []string `json:"fields"`
}

func (e restError) code() string {
	if e.StatusCode != "" {
		return e.StatusCode
	}
	return e.ErrorCode
}

// callREST makes one authenticated REST request against the data API
// (path below /services/data/vXX.X). On 401 it authenticates again, once,
// and repeats the request; a second 401 is returned as the answer.
func (c *conn) callREST(ctx context.Context, method, path string, body []byte) (int, []byte, error) {
	sess, err := c.auth.session(ctx)
	if err != nil {
		return 0, nil, err
	}
	status, answer, err := c.doREST(ctx, sess, method, path, body)
	if err != nil || status != http.StatusUnauthorized {
		if err == nil && status < 300 {
			c.auth.good(sess)
		}
		return status, answer, err
	}
	c.log.Info().Str("path", path).Msg("salesforce refused the session (401); authenticating again")
	if sess, err = c.auth.renew(ctx, sess); err != nil {
		return 0, nil, err
	}
	status, answer, err = c.doREST(ctx, sess, method, path, body)
	if err == nil && status < 300 {
		c.auth.good(sess)
	}
	return status, answer, err
}

func (c *conn) doREST(ctx context.Context, sess *session, method, path string, body []byte) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.dataURL(sess)+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	req.Header.Set("Authorization", "Bearer "+sess.token.Reveal())
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := c.rest.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return 0, nil, fmt.Errorf("%s %s: read answer: %w", method, path, err)
	}
	return resp.StatusCode, answer, nil
}

// restErrors decodes an error answer: [{"message","errorCode"}], or a
// single such object; it falls back to the start of the text.
func restErrors(status int, body []byte) []restError {
	var list []restError
	if json.Unmarshal(body, &list) == nil && len(list) > 0 {
		return list
	}
	var one restError
	if json.Unmarshal(body, &one) == nil && one.code() != "" {
		return []restError{one}
	}
	text := strings.TrimSpace(string(body))
	if len(text) > 200 {
		text = text[:200] + "…"
	}
	return []restError{{ErrorCode: http.StatusText(status), Message: text}}
}

// describe joins errors as "CODE: message (fields a, b)".
func describe(errs []restError) string {
	parts := make([]string, 0, len(errs))
	for _, e := range errs {
		p := e.code() + ": " + e.Message
		if len(e.Fields) > 0 {
			p += " (fields " + strings.Join(e.Fields, ", ") + ")"
		}
		parts = append(parts, p)
	}
	return strings.Join(parts, "; ")
}
