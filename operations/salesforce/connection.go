package salesforce

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/atomrt/atom/operations"
)

// connConfig is a connection's validated settings.
type connConfig struct {
	loginURL         string
	apiVersion       string
	grant            string
	clientID         string
	clientSecret     operations.SecretValue
	username         string
	password         operations.SecretValue
	securityToken    operations.SecretValue
	privateKeyFile   string
	keystoreFile     string
	keystorePassword operations.SecretValue
	refreshToken     operations.SecretValue
	audience         string
}

// conn is an opened Salesforce connection: one token shared by every
// listener and sender made from it.
type conn struct {
	name      string
	cfg       connConfig
	log       zerolog.Logger
	transport http.RoundTripper
	ownsTr    bool         // the transport is ours to close
	rest      *http.Client // REST calls; no cookies
	auth      *auth
	meter     operations.Meter // retries, batch sizes

	// ctx bounds the goroutines the connection owns (the senders'
	// batchers); Close cancels it.
	ctx    context.Context
	cancel context.CancelFunc
}

var apiVersionPattern = regexp.MustCompile(`^[0-9]{2,3}\.0$`)

// open implements operations.Connector.Open. It reads the JWT key, if any,
// so that a wrong path or password is reported at deployment, but does no
// network I/O.
func open(name string, s operations.Settings, env operations.Env) (operations.Connection, error) {
	cfg, err := parseConnConfig(withDefaults(connectionSpec, s))
	if err != nil {
		return nil, err
	}
	if cfg.grant == GrantJWT {
		if _, err := loadKey(cfg); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrSettings, err)
		}
	}
	transport, owns := http.RoundTripper(nil), false
	if env.Client != nil && env.Client.Transport != nil {
		transport = env.Client.Transport
	} else {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConnsPerHost = 32
		transport, owns = t, true
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &conn{
		name:      name,
		cfg:       cfg,
		log:       env.Log,
		meter:     operations.MeterOf(env),
		transport: transport,
		ownsTr:    owns,
		rest:      &http.Client{Transport: transport, Timeout: 2 * time.Minute},
		ctx:       ctx,
		cancel:    cancel,
	}
	c.auth = newAuth(&c.cfg, &http.Client{Transport: transport, Timeout: 30 * time.Second}, env.Log)
	return c, nil
}

// parseConnConfig checks every setting and reports all problems at once.
func parseConnConfig(s operations.Settings) (connConfig, error) {
	cfg := connConfig{
		loginURL:         strings.TrimRight(s.String("loginUrl"), "/"),
		apiVersion:       s.String("apiVersion"),
		grant:            s.String("grant"),
		clientID:         s.String("clientId"),
		clientSecret:     s.Secret("clientSecret"),
		username:         s.String("username"),
		password:         s.Secret("password"),
		securityToken:    s.Secret("securityToken"),
		privateKeyFile:   s.String("privateKeyFile"),
		keystoreFile:     s.String("keystoreFile"),
		keystorePassword: s.Secret("keystorePassword"),
		refreshToken:     s.Secret("refreshToken"),
		audience:         strings.TrimRight(s.String("audience"), "/"),
	}
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	if u, err := url.Parse(cfg.loginURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		bad("loginUrl %q is not an http(s) URL (want e.g. https://login.salesforce.com or the org's My Domain URL)", cfg.loginURL)
	}
	if !apiVersionPattern.MatchString(cfg.apiVersion) {
		bad("apiVersion %q is not a version like \"62.0\"", cfg.apiVersion)
	} else if v, _ := strconv.ParseFloat(cfg.apiVersion, 64); v < minAPIVersion {
		bad("apiVersion %s is too old: durable replay needs 37.0 or later", cfg.apiVersion)
	}
	if cfg.clientID == "" {
		bad("clientId is required (the connected app's consumer key)")
	}
	need := func(ok bool, what string) {
		if !ok {
			bad("grant %s needs %s", cfg.grant, what)
		}
	}
	switch cfg.grant {
	case GrantClientCredentials:
		need(!cfg.clientSecret.IsZero(), "clientSecret (the connected app's consumer secret)")
	case GrantPassword:
		need(!cfg.clientSecret.IsZero(), "clientSecret (the connected app's consumer secret)")
		need(cfg.username != "", "username")
		need(!cfg.password.IsZero(), "password")
	case GrantJWT:
		need(cfg.username != "", "username (the jwt's sub)")
		if (cfg.privateKeyFile == "") == (cfg.keystoreFile == "") {
			bad("grant jwt needs exactly one of privateKeyFile (PEM) and keystoreFile (PKCS#12)")
		}
	case GrantRefreshToken:
		need(!cfg.refreshToken.IsZero(), "refreshToken")
	default:
		bad("grant %q is unknown (want client_credentials, password, jwt or refresh_token)", cfg.grant)
	}
	if cfg.audience == "" {
		cfg.audience = cfg.loginURL
	}
	if len(problems) > 0 {
		return cfg, fmt.Errorf("%w: %s", ErrSettings, strings.Join(problems, "; "))
	}
	return cfg, nil
}

// withDefaults returns s with the spec's defaults for the settings it lacks.
func withDefaults(spec operations.Spec, s operations.Settings) operations.Settings {
	out := make(operations.Settings, len(spec.Fields))
	for k, v := range s {
		out[k] = v
	}
	for _, f := range spec.Fields {
		if _, ok := out[f.Name]; !ok && f.Default != nil {
			out[f.Name] = f.Default
		}
	}
	return out
}

// Listener implements operations.Connection.
func (c *conn) Listener(op string, s operations.Settings) (operations.Listener, error) {
	cfg, err := parseListenConfig(withDefaults(listenSpec, s))
	if err != nil {
		return nil, err
	}
	return newListener(c, op, cfg), nil
}

// Sender implements operations.Connection.
func (c *conn) Sender(op string, s operations.Settings) (operations.Sender, error) {
	cfg, err := parseSendConfig(withDefaults(sendSpec, s))
	if err != nil {
		return nil, err
	}
	return newSender(c, op, cfg), nil
}

// Close implements operations.Connection: it stops the senders' batchers
// (their pending sends fail) and drops idle sockets.
func (c *conn) Close() error {
	c.cancel()
	if t, ok := c.transport.(interface{ CloseIdleConnections() }); ok && c.ownsTr {
		t.CloseIdleConnections()
	}
	return nil
}

// dataURL is the REST base for the session's instance.
func (c *conn) dataURL(sess *session) string {
	return sess.instanceURL + "/services/data/v" + c.cfg.apiVersion
}
