package httpconn

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/atomrt/atom/operations"
)

// Body kinds of a Send operation.
const (
	BodyDocument = "document"
	BodyTemplate = "template"
	BodyNone     = "none"
)

// Properties of a Send's answer document.
const (
	PropStatus      = "http.status"
	PropContentType = "http.header.content-type"
	PropDryRun      = "http.dryRun"
)

// maxResponseBytes bounds what is read of an answer: a larger one fails
// the send rather than exhaust memory.
const maxResponseBytes = 16 << 20

// snippetBytes is how much of an error answer an error message quotes.
const snippetBytes = 256

// sender makes one HTTP request per document.
type sender struct {
	conn    *connection
	op      string
	method  string
	url     textTemplate
	headers []headerTemplate
	body    string
	tmpl    *template.Template

	timeout    time.Duration
	maxRetry   time.Duration
	initial    time.Duration
	maxBackoff time.Duration
	success    []codeRange
}

type headerTemplate struct {
	name  string // canonical
	value textTemplate
}

// codeRange is a range of statuses, [lo, hi].
type codeRange struct{ lo, hi int }

func newSender(c *connection, op string, s operations.Settings) (*sender, error) {
	snd := &sender{
		conn:       c,
		op:         op,
		method:     strings.ToUpper(stringOr(s, "method", http.MethodPost)),
		body:       stringOr(s, "body", BodyDocument),
		timeout:    durationOr(s, "timeout", DefaultSendTimeout),
		maxRetry:   durationOr(s, "maxRetryTime", DefaultMaxRetryTime),
		initial:    durationOr(s, "retryInitial", DefaultRetryInitial),
		maxBackoff: durationOr(s, "retryMax", DefaultRetryMax),
	}
	if !validHeaderName(snd.method) {
		return nil, fmt.Errorf("method %q: want an HTTP method such as POST", snd.method)
	}
	if err := snd.parseURL(s.String("url")); err != nil {
		return nil, err
	}
	if err := snd.parseHeaders(s.Map("headers")); err != nil {
		return nil, err
	}
	if err := snd.parseBody(s.String("template")); err != nil {
		return nil, err
	}
	if err := snd.checkDurations(); err != nil {
		return nil, err
	}
	codes := s.List("successCodes")
	if !s.Has("successCodes") {
		codes = []string{"2xx"}
	}
	var err error
	if snd.success, err = parseCodes(codes); err != nil {
		return nil, err
	}
	return snd, nil
}

func (s *sender) parseURL(raw string) error {
	if raw == "" {
		return errors.New("url is not set (an absolute URL, or a path under the connection's baseUrl)")
	}
	t, err := parseText(raw, true)
	if err != nil {
		return fmt.Errorf("url: %w", err)
	}
	s.url = t
	prefix := strings.ToLower(t.literalPrefix())
	absolute := strings.HasPrefix(prefix, "http://") || strings.HasPrefix(prefix, "https://")
	if !absolute && otherScheme.MatchString(prefix) {
		return fmt.Errorf("url %q: only http and https URLs can be sent to", redactURLText(raw))
	}
	// A URL that starts with a placeholder may become absolute when sent.
	if !absolute && s.conn.cfg.baseURL == nil && t.literalPrefix() != "" {
		return fmt.Errorf("url %q is relative but the connection has no baseUrl: give an absolute URL or set baseUrl", redactURLText(raw))
	}
	return nil
}

func (s *sender) parseHeaders(own map[string]string) error {
	merged := s.conn.cfg.headers.Clone()
	opHeaders, err := headerSet("headers", own)
	if err != nil {
		return err
	}
	for name, vs := range opHeaders {
		merged[name] = vs
	}
	for name, vs := range merged {
		t, err := parseText(vs[0], false)
		if err != nil {
			return fmt.Errorf("headers: %s: %w", name, err)
		}
		s.headers = append(s.headers, headerTemplate{name: name, value: t})
	}
	return nil
}

func (s *sender) parseBody(text string) error {
	switch s.body {
	case BodyDocument, BodyNone:
		if text != "" {
			return fmt.Errorf("template is set but body is %q: set body: template to use it", s.body)
		}
	case BodyTemplate:
		if text == "" {
			return errors.New("body is template but template is not set")
		}
		t, err := template.New("body").Option("missingkey=error").Funcs(template.FuncMap{"json": toJSON}).Parse(text)
		if err != nil {
			return fmt.Errorf("template: %w", err)
		}
		s.tmpl = t
	default:
		return fmt.Errorf("body %q: want document, template or none", s.body)
	}
	return nil
}

func (s *sender) checkDurations() error {
	switch {
	case s.timeout <= 0:
		return fmt.Errorf("timeout %s: want a positive duration such as 10s", s.timeout)
	case s.maxRetry < 0:
		return fmt.Errorf("maxRetryTime %s: want 0 (no retries) or more", s.maxRetry)
	case s.initial <= 0:
		return fmt.Errorf("retryInitial %s: want a positive duration such as 200ms", s.initial)
	case s.maxBackoff < s.initial:
		return fmt.Errorf("retryMax %s is below retryInitial %s", s.maxBackoff, s.initial)
	}
	return nil
}

// parseCodes reads successCodes: "200", "2xx".
func parseCodes(list []string) ([]codeRange, error) {
	if len(list) == 0 {
		return nil, errors.New("successCodes is empty: list codes such as 200 or classes such as 2xx")
	}
	out := make([]codeRange, 0, len(list))
	for _, c := range list {
		c = strings.ToLower(strings.TrimSpace(c))
		if len(c) == 3 && strings.HasSuffix(c, "xx") && c[0] >= '1' && c[0] <= '5' {
			lo := int(c[0]-'0') * 100
			out = append(out, codeRange{lo, lo + 99})
			continue
		}
		n, err := strconv.Atoi(c)
		if err != nil || n < 100 || n > 599 {
			return nil, fmt.Errorf("successCodes: %q is not a status such as 200 or a class such as 2xx", c)
		}
		out = append(out, codeRange{n, n})
	}
	return out, nil
}

func (s *sender) succeeded(code int) bool {
	for _, r := range s.success {
		if code >= r.lo && code <= r.hi {
			return true
		}
	}
	return false
}

func toJSON(v any) (string, error) {
	b, err := json.Marshal(v)
	return string(b), err
}

// otherScheme matches a URL that starts with a scheme.
var otherScheme = regexp.MustCompile(`^[a-z][a-z0-9+.-]*://`)

// request is what one document sends, ready for every attempt.
type request struct {
	url    *url.URL
	header http.Header
	body   []byte
}

// prepare builds the request for doc. Its errors are permanent: the same
// document would fail the same way again.
func (s *sender) prepare(doc operations.Document) (request, error) {
	var r request
	raw, err := s.url.expand(doc, escapeURLValue)
	if err != nil {
		return r, err
	}
	if r.url, err = s.resolve(raw); err != nil {
		return r, err
	}
	r.header = make(http.Header, len(s.headers)+2)
	for _, h := range s.headers {
		v, err := h.value.expand(doc, nil)
		if err != nil {
			return r, fmt.Errorf("header %s: %w", h.name, err)
		}
		if strings.ContainsAny(v, "\r\n\x00") {
			return r, fmt.Errorf("header %s: the value holds a line break or a NUL", h.name)
		}
		r.header[h.name] = []string{v}
	}
	if r.body, err = s.render(doc); err != nil {
		return r, err
	}
	if r.body != nil && r.header.Get("Content-Type") == "" {
		r.header.Set("Content-Type", "application/json")
	}
	switch s.conn.cfg.auth {
	case AuthBasic:
		cred := s.conn.cfg.username + ":" + s.conn.cfg.password.Reveal()
		r.header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(cred)))
	case AuthBearer:
		r.header.Set("Authorization", "Bearer "+s.conn.cfg.token.Reveal())
	}
	return r, nil
}

func escapeURLValue(v string, query bool) string {
	if query {
		return url.QueryEscape(v)
	}
	return url.PathEscape(v)
}

// resolve makes raw absolute: a relative URL is appended to baseUrl.
func (s *sender) resolve(raw string) (*url.URL, error) {
	lower := strings.ToLower(raw)
	if !strings.HasPrefix(lower, "http://") && !strings.HasPrefix(lower, "https://") {
		base := s.conn.cfg.baseURL
		if base == nil {
			return nil, fmt.Errorf("url %q is relative and the connection has no baseUrl", redactURLText(raw))
		}
		raw = strings.TrimRight(base.String(), "/") + "/" + strings.TrimLeft(raw, "/")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("url %q: %w", redactURLText(raw), withoutURL(err))
	}
	if u.Host == "" {
		return nil, fmt.Errorf("url %q has no host", safeURL(u))
	}
	return u, nil
}

// render returns the body to send, nil for none.
func (s *sender) render(doc operations.Document) ([]byte, error) {
	switch s.body {
	case BodyNone:
		return nil, nil
	case BodyTemplate:
		var b bytes.Buffer
		if err := s.tmpl.Execute(&b, map[string]any{"Body": doc.Body, "Props": doc.Props}); err != nil {
			return nil, fmt.Errorf("body template: %w", err)
		}
		return b.Bytes(), nil
	}
	if s.method == http.MethodGet || s.method == http.MethodHead {
		return nil, nil
	}
	b, err := json.Marshal(doc.Body)
	if err != nil {
		return nil, fmt.Errorf("encode body as JSON: %w", err)
	}
	return b, nil
}

// String names the operation without its settings, which hold secrets.
func (s *sender) String() string { return fmt.Sprintf("http send %q", s.op) }

// GoString is String, so that %#v cannot print the secrets either.
func (s *sender) GoString() string { return s.String() }
