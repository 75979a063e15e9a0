package salesforce

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
	"golang.org/x/oauth2/jwt"
	"software.sslmate.com/src/go-pkcs12"

	"github.com/atomrt/atom/operations"
)

// session is what one token response gives: the token and where to use it.
type session struct {
	token       operations.SecretValue // never printed, by construction
	instanceURL string
	orgID       string
	userID      string
}

// auth holds a connection's current session and fetches a new one when a
// call is refused with 401. Concurrent refusals of one token make one fetch
// (the first caller fetches, the others take its result), and fetches that
// follow each other without a successful call in between are spaced out
// with backoff, so a broken connected app does not hammer the token
// endpoint.
type auth struct {
	cfg    *connConfig
	client *http.Client
	log    zerolog.Logger

	lock chan struct{} // held while fetching; a channel so waiting honours ctx

	mu        sync.Mutex
	cur       *session
	failures  int       // fetches since the last call that a token made work
	lastFetch time.Time // when the last fetch ended
	refresh   string    // the refresh token, rotated if Salesforce sends a new one
	bo        backoff
}

func newAuth(cfg *connConfig, client *http.Client, log zerolog.Logger) *auth {
	return &auth{
		cfg:     cfg,
		client:  client,
		log:     log,
		lock:    make(chan struct{}, 1),
		refresh: cfg.refreshToken.Reveal(),
		bo:      backoff{initial: time.Second, max: time.Minute},
	}
}

// session returns the current session, authenticating if there is none.
func (a *auth) session(ctx context.Context) (*session, error) {
	a.mu.Lock()
	s := a.cur
	a.mu.Unlock()
	if s != nil {
		return s, nil
	}
	return a.renew(ctx, nil)
}

// renew replaces stale, the session a call was refused with, by a new one.
// When another caller has renewed it already, it returns that session.
func (a *auth) renew(ctx context.Context, stale *session) (*session, error) {
	select {
	case a.lock <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-a.lock }()
	a.mu.Lock()
	cur, failures := a.cur, a.failures
	if cur != nil && cur != stale {
		a.mu.Unlock()
		return cur, nil
	}
	var wait time.Duration
	if failures > 0 {
		// The last token fetched was refused too (or the fetch failed):
		// wait before asking again.
		wait = a.bo.next() - time.Since(a.lastFetch)
	}
	a.mu.Unlock()
	if wait > 0 {
		a.log.Warn().Int("attempt", failures+1).Dur("wait", wait).Msg("salesforce authentication keeps failing; waiting before trying again")
		if !sleep(ctx, wait) {
			return nil, ctx.Err()
		}
	}
	s, err := a.fetch(ctx)
	a.mu.Lock()
	defer a.mu.Unlock()
	a.failures++
	a.lastFetch = time.Now()
	if err != nil {
		return nil, err
	}
	a.cur = s
	a.log.Info().Str("grant", a.cfg.grant).Str("instance_url", s.instanceURL).Str("org_id", s.orgID).Msg("salesforce authenticated")
	return s, nil
}

// good records that a call made with s succeeded, so the next refusal is
// answered at once rather than after a backoff.
func (a *auth) good(s *session) {
	a.mu.Lock()
	if a.cur == s && a.failures != 0 {
		a.failures = 0
		a.bo.reset()
	}
	a.mu.Unlock()
}

// current returns the session in use, nil when there is none; for tests.
func (a *auth) current() *session {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.cur
}

// fetch asks the token endpoint for a new token with the configured grant.
func (a *auth) fetch(ctx context.Context) (*session, error) {
	ctx = context.WithValue(ctx, oauth2.HTTPClient, a.client)
	tokenURL := a.cfg.loginURL + "/services/oauth2/token"
	endpoint := oauth2.Endpoint{TokenURL: tokenURL, AuthStyle: oauth2.AuthStyleInParams}
	var (
		tok *oauth2.Token
		err error
	)
	switch a.cfg.grant {
	case GrantClientCredentials:
		cc := clientcredentials.Config{ClientID: a.cfg.clientID, ClientSecret: a.cfg.clientSecret.Reveal(),
			TokenURL: tokenURL, AuthStyle: oauth2.AuthStyleInParams}
		tok, err = cc.Token(ctx)
	case GrantPassword:
		pc := oauth2.Config{ClientID: a.cfg.clientID, ClientSecret: a.cfg.clientSecret.Reveal(), Endpoint: endpoint}
		tok, err = pc.PasswordCredentialsToken(ctx, a.cfg.username, a.cfg.password.Reveal()+a.cfg.securityToken.Reveal())
	case GrantJWT:
		var key []byte
		if key, err = loadKey(*a.cfg); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrSettings, err)
		}
		jc := jwt.Config{Email: a.cfg.clientID, Subject: a.cfg.username, PrivateKey: key, TokenURL: tokenURL,
			Audience: a.cfg.audience, Expires: 2 * time.Minute} // Salesforce wants exp within 3 minutes
		tok, err = jc.TokenSource(ctx).Token()
	case GrantRefreshToken:
		rc := oauth2.Config{ClientID: a.cfg.clientID, ClientSecret: a.cfg.clientSecret.Reveal(), Endpoint: endpoint}
		a.mu.Lock()
		refresh := a.refresh
		a.mu.Unlock()
		tok, err = rc.TokenSource(ctx, &oauth2.Token{RefreshToken: refresh}).Token()
		if err == nil && tok.RefreshToken != "" {
			a.mu.Lock()
			a.refresh = tok.RefreshToken
			a.mu.Unlock()
		}
	default:
		return nil, fmt.Errorf("%w: unknown grant %q", ErrSettings, a.cfg.grant)
	}
	if err != nil {
		return nil, a.explain(err)
	}
	return newSession(tok)
}

// newSession reads the token response's instance_url and id.
func newSession(tok *oauth2.Token) (*session, error) {
	s := &session{token: operations.NewSecret(tok.AccessToken)}
	s.instanceURL, _ = tok.Extra("instance_url").(string)
	s.instanceURL = strings.TrimRight(s.instanceURL, "/")
	if tok.AccessToken == "" || s.instanceURL == "" {
		return nil, errors.New("authenticate: the token response lacks access_token or instance_url")
	}
	// id is https://login.salesforce.com/id/{orgId}/{userId}.
	if id, _ := tok.Extra("id").(string); id != "" {
		if u, err := url.Parse(id); err == nil {
			parts := strings.Split(strings.Trim(u.Path, "/"), "/")
			if len(parts) >= 3 && parts[len(parts)-3] == "id" {
				s.orgID, s.userID = parts[len(parts)-2], parts[len(parts)-1]
			}
		}
	}
	return s, nil
}

// explain turns a token endpoint failure into an error that says what to
// fix, without echoing anything the server sent beyond its error code and
// description. A refusal (4xx) wraps ErrAuth; anything else is transient.
func (a *auth) explain(err error) error {
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.Response == nil {
		return fmt.Errorf("authenticate with grant %s at %s: %w", a.cfg.grant, a.cfg.loginURL, err)
	}
	code, desc := re.ErrorCode, re.ErrorDescription
	if code == "" {
		var body struct {
			Error       string `json:"error"`
			Description string `json:"error_description"`
		}
		if json.Unmarshal(re.Body, &body) == nil {
			code, desc = body.Error, body.Description
		}
	}
	status := re.Response.StatusCode
	what := fmt.Sprintf("authenticate with grant %s at %s: HTTP %d %s %s", a.cfg.grant, a.cfg.loginURL, status, code, desc)
	if status >= 400 && status < 500 && status != http.StatusTooManyRequests {
		return fmt.Errorf("%s (check the connection's clientId, secrets, user and loginUrl): %w", strings.TrimSpace(what), ErrAuth)
	}
	return errors.New(strings.TrimSpace(what))
}

// loadKey reads the JWT signing key and returns it as PEM, which is what
// golang.org/x/oauth2/jwt takes.
func loadKey(cfg connConfig) ([]byte, error) {
	if cfg.keystoreFile != "" {
		data, err := os.ReadFile(cfg.keystoreFile)
		if err != nil {
			return nil, fmt.Errorf("keystoreFile: %w", err)
		}
		key, _, _, err := pkcs12.DecodeChain(data, cfg.keystorePassword.Reveal())
		if err != nil {
			return nil, fmt.Errorf("keystoreFile %s: %w (check keystorePassword)", cfg.keystoreFile, err)
		}
		rsaKey, ok := key.(*rsa.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("keystoreFile %s: the key is a %T; Salesforce signs with RS256 and needs an RSA key", cfg.keystoreFile, key)
		}
		der, err := x509.MarshalPKCS8PrivateKey(rsaKey)
		if err != nil {
			return nil, fmt.Errorf("keystoreFile %s: %w", cfg.keystoreFile, err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
	}
	data, err := os.ReadFile(cfg.privateKeyFile)
	if err != nil {
		return nil, fmt.Errorf("privateKeyFile: %w", err)
	}
	if err := checkPEMKey(data); err != nil {
		return nil, fmt.Errorf("privateKeyFile %s: %w", cfg.privateKeyFile, err)
	}
	return data, nil
}

// checkPEMKey accepts an unencrypted RSA key in PKCS#1 or PKCS#8 PEM.
func checkPEMKey(data []byte) error {
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return errors.New("no PEM private key found (want -----BEGIN PRIVATE KEY----- or -----BEGIN RSA PRIVATE KEY-----, unencrypted)")
		}
		switch block.Type {
		case "RSA PRIVATE KEY":
			_, err := x509.ParsePKCS1PrivateKey(block.Bytes)
			return err
		case "PRIVATE KEY":
			key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
			if err != nil {
				return err
			}
			if _, ok := key.(*rsa.PrivateKey); !ok {
				return fmt.Errorf("the key is a %T; Salesforce signs with RS256 and needs an RSA key", key)
			}
			return nil
		case "ENCRYPTED PRIVATE KEY":
			return errors.New("the key is encrypted; decrypt it (openssl pkey -in key.pem -out plain.pem) or use a PKCS#12 keystoreFile with keystorePassword")
		}
	}
}
