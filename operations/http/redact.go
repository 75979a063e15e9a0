package httpconn

import (
	"net/http"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"
)

const redacted = "[redacted]"

// sensitiveWords mark a header or query parameter name as credential-like.
var sensitiveWords = []string{"auth", "token", "secret", "password", "passwd", "key", "signature", "sig", "cookie", "session", "hmac", "credential"}

// notSecret are names that look credential-like but are not.
var notSecret = map[string]bool{"idempotency-key": true, "idempotency_key": true, "idempotencykey": true}

// sensitiveName reports whether a header or parameter name looks like it
// carries a credential. It errs on the side of hiding.
func sensitiveName(name string) bool {
	n := strings.ToLower(name)
	if notSecret[n] {
		return false
	}
	for _, w := range sensitiveWords {
		if strings.Contains(n, w) {
			return true
		}
	}
	return false
}

// shownHeaders are request headers whose values are safe to show in a dry
// run. Every other value is redacted: a connection's headers often hold an
// API key resolved from ${env:...}, and nothing says which ones do.
var shownHeaders = map[string]bool{
	"Accept":           true,
	"Accept-Encoding":  true,
	"Accept-Language":  true,
	"Content-Encoding": true,
	"Content-Type":     true,
	"User-Agent":       true,
	"X-Request-Id":     true,
	"X-Correlation-Id": true,
	"Idempotency-Key":  true,
	"Traceparent":      true,
}

// shownHeaderValues returns the headers with the values of all but the
// known-harmless ones replaced by [redacted].
func shownHeaderValues(h http.Header) map[string]any {
	out := make(map[string]any, len(h))
	for name, vs := range h {
		if shownHeaders[http.CanonicalHeaderKey(name)] && len(vs) > 0 {
			out[name] = vs[0]
			continue
		}
		out[name] = redacted
	}
	return out
}

// safeURL writes u for errors and dry runs: without user information and
// with the values of credential-like query parameters redacted.
func safeURL(u *url.URL) string {
	if u == nil {
		return ""
	}
	c := *u
	c.User = nil
	if c.RawQuery != "" {
		q := c.Query()
		changed := false
		for name := range q {
			if sensitiveName(name) {
				q[name] = []string{redacted}
				changed = true
			}
		}
		if changed {
			// Encode escapes the brackets; keep the marker readable.
			c.RawQuery = strings.ReplaceAll(q.Encode(), url.QueryEscape(redacted), redacted)
		}
	}
	return c.String()
}

// redactURLText is safeURL for text that may not parse as a URL.
func redactURLText(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return redacted
	}
	return safeURL(u)
}

// snippet returns the start of a response body for an error message: at
// most max bytes of valid UTF-8, control characters turned into spaces.
func snippet(body []byte, max int) string {
	cut := len(body) > max
	if cut {
		body = body[:max]
	}
	var b strings.Builder
	for len(body) > 0 {
		r, size := utf8.DecodeRune(body)
		body = body[size:]
		if r == utf8.RuneError && size <= 1 {
			if len(body) == 0 && cut {
				break // a rune cut in half at the end
			}
			r = '?'
		}
		if unicode.IsControl(r) {
			r = ' '
		}
		b.WriteRune(r)
	}
	s := strings.TrimSpace(b.String())
	if cut {
		s += "…"
	}
	return s
}
