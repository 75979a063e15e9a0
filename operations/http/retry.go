package httpconn

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/atomrt/atom/operations"
)

// Send implements operations.Sender.
func (s *sender) Send(ctx context.Context, doc operations.Document) (operations.Document, error) {
	r, err := s.prepare(doc)
	if err != nil {
		return operations.Document{}, fmt.Errorf("send %q: %w: %w", s.op, err, operations.ErrPermanent)
	}
	start := time.Now()
	deadline := start.Add(s.maxRetry)
	for attempt := 1; ; attempt++ {
		out, fail := s.attempt(ctx, r)
		if fail == nil {
			return out, nil
		}
		if ctx.Err() != nil {
			return operations.Document{}, fmt.Errorf("send %q: %s %s: stopped after %d attempt(s): %w", s.op, s.method, safeURL(r.url), attempt, ctx.Err())
		}
		if !fail.retry {
			return operations.Document{}, fmt.Errorf("send %q: %s %s: %w: %w", s.op, s.method, safeURL(r.url), fail, operations.ErrPermanent)
		}
		now := time.Now()
		if !now.Before(deadline) {
			return operations.Document{}, fmt.Errorf("send %q: %s %s: %w after %d attempt(s) in %s (maxRetryTime %s); last: %w",
				s.op, s.method, safeURL(r.url), ErrGaveUp, attempt, now.Sub(start).Round(time.Millisecond), s.maxRetry, fail)
		}
		wait := fail.after
		if wait < 0 {
			wait = s.backoff(attempt)
		}
		wait = min(wait, deadline.Sub(now))
		operations.MeterOf(s.conn.env).Count("retries", 1)
		if err := sleep(ctx, wait); err != nil {
			return operations.Document{}, fmt.Errorf("send %q: %s %s: stopped after %d attempt(s): %w", s.op, s.method, safeURL(r.url), attempt, err)
		}
	}
}

// backoff is the wait before attempt+1: full jitter over an exponential
// bound, so that many senders that failed together do not retry together.
func (s *sender) backoff(attempt int) time.Duration {
	bound := s.initial
	for i := 1; i < attempt && bound < s.maxBackoff; i++ {
		bound *= 2
	}
	bound = min(bound, s.maxBackoff)
	if bound <= 0 {
		return 0
	}
	return rand.N(bound + 1)
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// failure is why one attempt failed.
type failure struct {
	msg   string
	retry bool
	after time.Duration // Retry-After; -1 when the server did not say
}

func (f *failure) Error() string { return f.msg }

// attempt sends r once.
func (s *sender) attempt(ctx context.Context, r request) (operations.Document, *failure) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, s.method, r.url.String(), nil)
	if err != nil {
		return operations.Document{}, &failure{msg: "make request: " + withoutURL(err).Error(), after: -1}
	}
	req.Header = r.header // the client copies before it changes a request's headers
	if r.body != nil {
		req.Body = io.NopCloser(bytes.NewReader(r.body))
		req.ContentLength = int64(len(r.body))
		body := r.body
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	}
	resp, err := s.conn.client.Do(req)
	if err != nil {
		return operations.Document{}, networkFailure(ctx, err, s.timeout)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes+1))
	if err != nil {
		return operations.Document{}, networkFailure(ctx, fmt.Errorf("read answer: %w", err), s.timeout)
	}
	if len(data) > maxResponseBytes {
		return operations.Document{}, &failure{msg: fmt.Sprintf("%s: the answer is larger than %d bytes", resp.Status, maxResponseBytes), after: -1}
	}
	if s.succeeded(resp.StatusCode) {
		return answer(resp, data), nil
	}
	return operations.Document{}, statusFailure(resp, data)
}

// networkFailure describes an error of the transport. All of them are
// retried except certificate errors, which retrying cannot fix.
func networkFailure(ctx context.Context, err error, timeout time.Duration) *failure {
	err = withoutURL(err)
	var certErr *tls.CertificateVerificationError
	if errors.As(err, &certErr) {
		return &failure{msg: "TLS certificate not trusted: " + certErr.Err.Error() + " (fix the server's certificate, or for tests only set tlsInsecureSkipVerify)", after: -1}
	}
	if ctx.Err() == context.DeadlineExceeded {
		return &failure{msg: fmt.Sprintf("no answer within timeout %s", timeout), retry: true, after: -1}
	}
	return &failure{msg: err.Error(), retry: true, after: -1}
}

// withoutURL strips the *url.Error around err: its text repeats the URL,
// which may hold secrets.
func withoutURL(err error) error {
	var uerr *url.Error
	if errors.As(err, &uerr) && uerr.Err != nil {
		return uerr.Err
	}
	return err
}

// statusFailure describes an answer outside successCodes: 5xx and 429 are
// retried, the rest are final.
func statusFailure(resp *http.Response, data []byte) *failure {
	f := &failure{msg: resp.Status, after: -1}
	if resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests {
		f.retry = true
		if d, ok := retryAfter(resp.Header.Get("Retry-After"), time.Now()); ok {
			f.after = d
		}
	}
	if sn := snippet(data, snippetBytes); sn != "" {
		f.msg += ": " + sn
	}
	switch resp.StatusCode {
	case http.StatusUnauthorized, http.StatusForbidden:
		f.msg += " (check the connection's credentials)"
	case http.StatusNotFound:
		f.msg += " (check the operation's url)"
	}
	return f
}

// retryAfter reads a Retry-After header: seconds or an HTTP date.
func retryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n < 0 {
			return 0, false
		}
		return time.Duration(min(n, int64(24*time.Hour/time.Second))) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return max(t.Sub(now), 0), true
}

// answer turns a successful response into a document.
func answer(resp *http.Response, data []byte) operations.Document {
	ct := resp.Header.Get("Content-Type")
	doc := operations.Document{Props: map[string]string{PropStatus: strconv.Itoa(resp.StatusCode)}}
	if ct != "" {
		doc.Props[PropContentType] = ct
	}
	doc.Body = decodeBody(ct, data)
	return doc
}

// decodeBody decodes JSON answers and keeps others as text; empty is nil.
func decodeBody(contentType string, data []byte) any {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil
	}
	if isJSON(contentType) {
		var v any
		if json.Unmarshal(data, &v) == nil {
			return v
		}
	}
	return string(data)
}

func isJSON(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	return mt == "application/json" || strings.HasSuffix(mt, "+json")
}

// DryRun implements operations.DryRunner: it describes the request a
// document would make, with every header value that may be a secret
// redacted, and sends nothing.
func (s *sender) DryRun(doc operations.Document) (operations.Document, error) {
	r, err := s.prepare(doc)
	if err != nil {
		return operations.Document{}, fmt.Errorf("send %q: %w: %w", s.op, err, operations.ErrPermanent)
	}
	desc := map[string]any{
		"method":  s.method,
		"url":     safeURL(r.url),
		"headers": shownHeaderValues(r.header),
	}
	if r.body != nil {
		desc["body"] = decodeBody(r.header.Get("Content-Type"), r.body)
	}
	return operations.Document{Body: desc, Props: map[string]string{PropDryRun: "true"}}, nil
}
