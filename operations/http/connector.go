package httpconn

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/atomrt/atom/operations"
)

// Name is the connector's name, as written in a Connection's type.
const Name = "http"

// Authentication kinds of the connection's auth setting.
const (
	AuthNone   = "none"
	AuthBasic  = "basic"
	AuthBearer = "bearer"
)

// Defaults of the settings.
const (
	DefaultConnectTimeout = 30 * time.Second
	DefaultMaxBodyBytes   = 1 << 20
	DefaultWebhookTimeout = 30 * time.Second
	DefaultSendTimeout    = 10 * time.Second
	DefaultMaxRetryTime   = 2 * time.Minute
	DefaultRetryInitial   = 200 * time.Millisecond
	DefaultRetryMax       = 30 * time.Second
)

// Register adds the HTTP connector to reg.
func Register(reg *operations.Registry) error {
	return reg.Register(&operations.Connector{
		Name:       Name,
		Summary:    "HTTP: receive webhooks on the atom's server and send requests to HTTP APIs.",
		Connection: connectionSpec,
		Listen:     &listenSpec,
		Send:       &sendSpec,
		Open:       Open,
	})
}

var connectionSpec = operations.Spec{
	Summary: "An HTTP system: its base URL, the headers and credentials every request carries.",
	Fields: []operations.Field{
		{Name: "baseUrl", Type: operations.String, Doc: "URL that relative send URLs are appended to, such as https://api.example.com/v1.", Example: "https://api.example.com/v1"},
		{Name: "headers", Type: operations.Map, Doc: "Headers sent with every request. Their values are treated as secrets and never shown.", Example: map[string]string{"X-Api-Key": "${env:ORDERS_API_KEY}"}},
		{Name: "auth", Type: operations.Enum, Enum: []string{AuthNone, AuthBasic, AuthBearer}, Default: AuthNone, Doc: "How requests authenticate: none, basic (username and password) or bearer (token)."},
		{Name: "username", Type: operations.String, Doc: "User name for auth: basic."},
		{Name: "password", Type: operations.Secret, Doc: "Password for auth: basic.", Example: "${env:ORDERS_API_PASSWORD}"},
		{Name: "token", Type: operations.Secret, Doc: "Token for auth: bearer, sent as Authorization: Bearer TOKEN.", Example: "${env:ORDERS_API_TOKEN}"},
		{Name: "timeout", Type: operations.Duration, Default: DefaultConnectTimeout, Doc: "How long to wait to connect to the server (TCP and TLS handshake)."},
		{Name: "tlsInsecureSkipVerify", Type: operations.Bool, Default: false, Doc: "Accept any TLS certificate. For tests against self-signed servers only: it lets anyone in the middle read the traffic."},
	},
	Examples: []string{`kind: Connection
name: orders-api
type: http
settings:
  baseUrl: https://api.example.com/v1
  auth: bearer
  token: ${env:ORDERS_API_TOKEN}
`, `kind: Connection
name: orders-in
type: http
`},
}

var listenSpec = operations.Spec{
	Tracked: []string{PropHeaderPrefix + "x-request-id", PropHeaderPrefix + "idempotency-key"},
	Summary: "A webhook served by the atom: each JSON request becomes a document.",
	Fields: []operations.Field{
		{Name: "path", Type: operations.String, Required: true, Doc: "Path served on the atom's HTTP server, starting with /.", Example: "/hooks/orders"},
		{Name: "method", Type: operations.Enum, Enum: []string{"POST", "PUT", "PATCH"}, Default: "POST", Doc: "HTTP method served."},
		{Name: "ack", Type: operations.Enum, Enum: []string{AckComplete, AckAccepted}, Default: AckComplete, Doc: "complete: answer once every run finished (200 with the reply, 5xx to retry, 422 when dead-lettered). accepted: store the document durably, answer 202, then process it at least once."},
		{Name: "maxBodyBytes", Type: operations.Int, Default: int64(DefaultMaxBodyBytes), Doc: "Largest body accepted; larger ones get 413."},
		{Name: "timeout", Type: operations.Duration, Default: DefaultWebhookTimeout, Doc: "With ack: complete, how long a caller waits for the runs to finish before getting 504 (the runs go on)."},
		{Name: "headerProps", Type: operations.List, Doc: "More request headers to copy into properties as http.header.<lowercase name>, besides Content-Type, User-Agent, X-Request-Id, X-Correlation-Id, Idempotency-Key and Traceparent. Credential-like headers are refused.", Example: []string{"X-GitHub-Event"}},
	},
	Examples: []string{`kind: Operation
name: orders-hook
connection: orders-in
action: listen
settings:
  path: /hooks/orders
  ack: accepted
`},
}

var sendSpec = operations.Spec{
	Summary: "An HTTP request per document, retried on network errors, 5xx and 429.",
	Fields: []operations.Field{
		{Name: "url", Type: operations.String, Required: true, Doc: "Absolute URL, or a path appended to the connection's baseUrl. {prop:NAME} and {body:a.b} are replaced by a property or a body field, escaped.", Example: "/orders/{prop:orderId}"},
		{Name: "method", Type: operations.Enum, Enum: []string{"POST", "PUT", "PATCH", "DELETE", "GET"}, Default: "POST", Doc: "HTTP method."},
		{Name: "headers", Type: operations.Map, Doc: "Headers of this operation, over the connection's. Values may hold {prop:NAME} and {body:a.b}; they are treated as secrets and never shown.", Example: map[string]string{"Idempotency-Key": "{prop:eventUuid}"}},
		{Name: "body", Type: operations.Enum, Enum: []string{BodyDocument, BodyTemplate, BodyNone}, Default: BodyDocument, Doc: "document: the document's body as JSON (none for GET). template: the template setting's text. none: no body."},
		{Name: "template", Type: operations.String, Doc: "With body: template, a Go text/template over .Body and .Props; {{json .Body.items}} writes a value as JSON. A missing field fails the send (use {{index .Body \"x\"}} for optional ones). Sent as application/json unless headers set Content-Type.", Example: `{"id": {{json .Props.orderId}}, "total": {{.Body.total}}}`},
		{Name: "timeout", Type: operations.Duration, Default: DefaultSendTimeout, Doc: "How long one attempt may take."},
		{Name: "maxRetryTime", Type: operations.Duration, Default: DefaultMaxRetryTime, Doc: "How long to keep retrying network errors, 5xx and 429 before failing (0: never retry). A Retry-After longer than what remains is cut to it, for one last attempt."},
		{Name: "retryInitial", Type: operations.Duration, Default: DefaultRetryInitial, Doc: "Upper bound of the first wait between attempts; it doubles after each one."},
		{Name: "retryMax", Type: operations.Duration, Default: DefaultRetryMax, Doc: "Largest upper bound of a wait between attempts."},
		{Name: "successCodes", Type: operations.List, Default: []string{"2xx"}, Doc: "Statuses that mean success: codes such as 200 or classes such as 2xx.", Example: []string{"2xx", "404"}},
	},
	Examples: []string{`kind: Operation
name: post-order
connection: orders-api
action: send
settings:
  url: /orders/{prop:orderId}
  method: PUT
  headers:
    Idempotency-Key: "{prop:eventUuid}"
  maxRetryTime: 1m
`},
}

// connection is an opened HTTP connection component.
type connection struct {
	name   string
	env    operations.Env
	cfg    connConfig
	client *http.Client
	own    bool // the client is ours to close

	mu        sync.Mutex
	endpoints map[string]*endpoint // webhook routes, by key
	closed    bool
}

type connConfig struct {
	baseURL  *url.URL // nil when not set
	headers  http.Header
	auth     string
	username string
	password operations.SecretValue
	token    operations.SecretValue
	connect  time.Duration
	insecure bool
}

// Open implements operations.Connector.Open: it checks the settings and
// prepares a client, without I/O.
func Open(name string, s operations.Settings, env operations.Env) (operations.Connection, error) {
	cfg, err := parseConnection(s)
	if err != nil {
		return nil, err
	}
	c := &connection{name: name, env: env, cfg: cfg, client: env.Client, endpoints: map[string]*endpoint{}}
	if c.client == nil {
		c.client, c.own = newClient(cfg), true
	}
	return c, nil
}

func parseConnection(s operations.Settings) (connConfig, error) {
	cfg := connConfig{
		auth:     stringOr(s, "auth", AuthNone),
		username: s.String("username"),
		password: s.Secret("password"),
		token:    s.Secret("token"),
		connect:  durationOr(s, "timeout", DefaultConnectTimeout),
		insecure: s.Bool("tlsInsecureSkipVerify"),
	}
	if raw := s.String("baseUrl"); raw != "" {
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return cfg, fmt.Errorf("baseUrl %q: want an absolute http or https URL, such as https://api.example.com/v1", redactURLText(raw))
		}
		cfg.baseURL = u
	}
	var err error
	if cfg.headers, err = headerSet("headers", s.Map("headers")); err != nil {
		return cfg, err
	}
	switch cfg.auth {
	case AuthNone:
	case AuthBasic:
		if cfg.username == "" {
			return cfg, fmt.Errorf("auth basic: username is not set (set username and password)")
		}
	case AuthBearer:
		if cfg.token.IsZero() {
			return cfg, fmt.Errorf("auth bearer: token is not set (set token, for example to ${env:API_TOKEN})")
		}
	default:
		return cfg, fmt.Errorf("auth %q: want none, basic or bearer", cfg.auth)
	}
	if cfg.connect <= 0 {
		return cfg, fmt.Errorf("timeout %s: want a positive duration such as 30s", cfg.connect)
	}
	return cfg, nil
}

// headerSet checks header names and returns them canonicalised.
func headerSet(field string, m map[string]string) (http.Header, error) {
	h := make(http.Header, len(m))
	for name, v := range m {
		if !validHeaderName(name) {
			return nil, fmt.Errorf("%s: %q is not a valid header name (letters, digits and -)", field, name)
		}
		h.Set(name, v)
	}
	return h, nil
}

func validHeaderName(name string) bool {
	if name == "" {
		return false
	}
	for _, r := range name {
		// RFC 9110 token characters.
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("!#$%&'*+-.^_`|~", r)) {
			return false
		}
	}
	return true
}

// newClient makes the connection's one client. Its transport keeps many
// idle connections per host, since a busy process sends thousands of
// requests a second to one API.
func newClient(cfg connConfig) *http.Client {
	dialer := &net.Dialer{Timeout: cfg.connect, KeepAlive: 30 * time.Second}
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           dialer.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   512,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   cfg.connect,
		ExpectContinueTimeout: time.Second,
	}
	if cfg.insecure {
		tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // documented as test-only
	}
	return &http.Client{Transport: tr}
}

// Listener implements operations.Connection.
func (c *connection) Listener(op string, s operations.Settings) (operations.Listener, error) {
	cfg, err := parseListen(s)
	if err != nil {
		return nil, err
	}
	return c.listen(op, cfg)
}

// Sender implements operations.Connection.
func (c *connection) Sender(op string, s operations.Settings) (operations.Sender, error) {
	c.mu.Lock()
	closed := c.closed
	c.mu.Unlock()
	if closed {
		return nil, fmt.Errorf("connection %q: %w", c.name, ErrClosed)
	}
	return newSender(c, op, s)
}

// Close implements operations.Connection: it removes the webhook routes
// still registered and closes idle sockets.
func (c *connection) Close() error {
	c.mu.Lock()
	eps := c.endpoints
	c.endpoints = map[string]*endpoint{}
	c.closed = true
	c.mu.Unlock()
	for _, ep := range eps {
		ep.shut()
	}
	if c.own {
		c.client.CloseIdleConnections()
	}
	return nil
}

func stringOr(s operations.Settings, name, def string) string {
	if v := s.String(name); v != "" {
		return v
	}
	return def
}

func durationOr(s operations.Settings, name string, def time.Duration) time.Duration {
	if !s.Has(name) {
		return def
	}
	return s.Duration(name)
}

func intOr(s operations.Settings, name string, def int64) int64 {
	if !s.Has(name) {
		return def
	}
	return s.Int(name)
}

// String names the connection without its settings, which hold secrets.
func (c *connection) String() string { return fmt.Sprintf("http connection %q", c.name) }

// GoString is String, so that %#v cannot print the secrets either.
func (c *connection) GoString() string { return c.String() }
