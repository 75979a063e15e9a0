package emulator

import (
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// user is a compiled org user.
type user struct {
	username string
	password string
	token    string
	name     string
	id       string
}

// app is a compiled connected app.
type app struct {
	name     string
	clientID string
	secret   string
	key      *rsa.PublicKey
	runAs    *user
}

// session is what an access token stands for.
type session struct {
	user    *user
	app     *app
	expires time.Time
}

type refreshGrant struct {
	user *user
	app  *app
}

// authority issues and checks tokens.
type authority struct {
	orgID   string
	timeout time.Duration
	users   map[string]*user // by lower-case username
	apps    map[string]*app  // by client ID
	now     func() time.Time

	mu       sync.Mutex
	sessions map[string]*session
	refresh  map[string]refreshGrant
}

func newAuthority(cfg Config) *authority {
	a := &authority{
		orgID:    cfg.OrgID,
		timeout:  cfg.SessionTimeout,
		users:    map[string]*user{},
		apps:     map[string]*app{},
		now:      time.Now,
		sessions: map[string]*session{},
		refresh:  map[string]refreshGrant{},
	}
	for i, u := range cfg.Users {
		id := u.ID
		if id == "" {
			id = makeID("005", i+1)
		}
		name := u.Name
		if name == "" {
			name = u.Username
		}
		a.users[strings.ToLower(u.Username)] = &user{username: u.Username, password: u.Password, token: u.SecurityToken, name: name, id: id}
	}
	for _, c := range cfg.Apps {
		ap := &app{name: c.Name, clientID: c.ClientID, secret: c.ClientSecret}
		if c.Certificate != "" {
			ap.key, _ = parsePublicKey(c.Certificate) // validated already
		}
		if c.RunAs != "" {
			ap.runAs = a.users[strings.ToLower(c.RunAs)]
		}
		a.apps[c.ClientID] = ap
		for _, rt := range c.RefreshTokens {
			a.refresh[rt.Token] = refreshGrant{user: a.users[strings.ToLower(rt.Username)], app: ap}
		}
	}
	return a
}

// newSession issues an access token.
func (a *authority) newSession(u *user, ap *app) string {
	token := a.orgID[:15] + "!" + randomToken(96, tokenChars)
	a.mu.Lock()
	a.sessions[token] = &session{user: u, app: ap, expires: a.now().Add(a.timeout)}
	a.mu.Unlock()
	return token
}

// newRefreshToken issues a refresh token.
func (a *authority) newRefreshToken(u *user, ap *app) string {
	token := "5Aep861" + randomToken(80, tokenChars[:62])
	a.mu.Lock()
	a.refresh[token] = refreshGrant{user: u, app: ap}
	a.mu.Unlock()
	return token
}

// bearer extracts the token of an Authorization header; Salesforce takes
// both "Bearer" and "OAuth" (which jsforce sends).
func bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	for _, scheme := range []string{"Bearer ", "OAuth "} {
		if len(h) > len(scheme) && strings.EqualFold(h[:len(scheme)], scheme) {
			return strings.TrimSpace(h[len(scheme):])
		}
	}
	return ""
}

// check returns the session of a request's token, extending it: like
// Salesforce, a session times out after a period without use.
func (a *authority) check(r *http.Request) *session {
	token := bearer(r)
	if token == "" {
		return nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	s := a.sessions[token]
	if s == nil {
		return nil
	}
	now := a.now()
	if now.After(s.expires) {
		delete(a.sessions, token)
		return nil
	}
	s.expires = now.Add(a.timeout)
	return s
}

// live reports whether a token is valid, without extending it.
func (a *authority) live(token string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	s := a.sessions[token]
	return s != nil && !a.now().After(s.expires)
}

// expireAll invalidates every access token (refresh tokens stay valid).
func (a *authority) expireAll() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	n := len(a.sessions)
	clear(a.sessions)
	return n
}

// oauthError is the token endpoint's error body.
type oauthError struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
}

var (
	errGrantUnsupported = oauthError{"unsupported_grant_type", "grant type not supported"}
	errClientID         = oauthError{"invalid_client_id", "client identifier invalid"}
	errClientSecret     = oauthError{"invalid_client", "invalid client credentials"}
	errAuthFailure      = oauthError{"invalid_grant", "authentication failure"}
	errNoCCUser         = oauthError{"invalid_grant", "no client credentials user enabled"}
	errRefresh          = oauthError{"invalid_grant", "expired access/refresh token"}
	errAssertion        = oauthError{"invalid_grant", "invalid assertion"}
	errAudience         = oauthError{"invalid_grant", "audience is invalid"}
	errJWTExpired       = oauthError{"invalid_grant", "expired authorization code"}
	errNotApproved      = oauthError{"invalid_grant", "user hasn't approved this consumer"}
)

// tokenResponse is the token endpoint's success body.
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token,omitempty"`
	Signature    string `json:"signature,omitempty"`
	Scope        string `json:"scope"`
	InstanceURL  string `json:"instance_url"`
	ID           string `json:"id"`
	TokenType    string `json:"token_type"`
	IssuedAt     string `json:"issued_at,omitempty"`
}

// grant runs one token request and returns the response or an OAuth error.
func (a *authority) grant(r *http.Request, baseURL string) (*tokenResponse, *oauthError) {
	if err := r.ParseForm(); err != nil {
		return nil, &oauthError{"invalid_request", "malformed request body"}
	}
	form := r.PostForm
	clientID, secret := form.Get("client_id"), form.Get("client_secret")
	if id, sec, ok := r.BasicAuth(); ok {
		// RFC 6749 form-encodes the credentials inside the Basic header.
		clientID, secret = unescape(id), unescape(sec)
	}
	switch gt := form.Get("grant_type"); gt {
	case "password":
		ap, oe := a.client(clientID, secret, true)
		if oe != nil {
			return nil, oe
		}
		u := a.users[strings.ToLower(form.Get("username"))]
		if u == nil || form.Get("password") != u.password+u.token {
			return nil, &errAuthFailure
		}
		return a.respond(u, ap, baseURL, true), nil
	case "client_credentials":
		ap, oe := a.client(clientID, secret, true)
		if oe != nil {
			return nil, oe
		}
		if ap.runAs == nil {
			return nil, &errNoCCUser
		}
		return a.respond(ap.runAs, ap, baseURL, true), nil
	case "refresh_token":
		ap, oe := a.client(clientID, secret, false)
		if oe != nil {
			return nil, oe
		}
		a.mu.Lock()
		rg, ok := a.refresh[form.Get("refresh_token")]
		a.mu.Unlock()
		if !ok || rg.app != ap || rg.user == nil {
			return nil, &errRefresh
		}
		return a.respond(rg.user, ap, baseURL, true), nil
	case "urn:ietf:params:oauth:grant-type:jwt-bearer":
		return a.jwtBearer(form.Get("assertion"), baseURL)
	default:
		return nil, &errGrantUnsupported
	}
}

// client finds the app and checks its secret (optional for the refresh
// grant, where Salesforce lets an app not require it).
func (a *authority) client(clientID, secret string, secretRequired bool) (*app, *oauthError) {
	ap := a.apps[clientID]
	if ap == nil {
		return nil, &errClientID
	}
	if (secretRequired || secret != "") && !hmac.Equal([]byte(secret), []byte(ap.secret)) {
		return nil, &errClientSecret
	}
	return ap, nil
}

func unescape(s string) string {
	if u, err := url.QueryUnescape(s); err == nil {
		return u
	}
	return s
}

// revoke invalidates an access or refresh token; unknown tokens are fine,
// as RFC 7009 asks.
func (a *authority) revoke(token string) {
	a.mu.Lock()
	delete(a.sessions, token)
	delete(a.refresh, token)
	a.mu.Unlock()
}

var (
	errUnknownIssuer = errors.New("unknown issuer")
	errNoKey         = errors.New("app has no certificate")
)

// jwtBearer checks an RS256 assertion: signature against the app's
// certificate, iss = client ID, sub = username, aud = the login URL, exp.
func (a *authority) jwtBearer(assertion, baseURL string) (*tokenResponse, *oauthError) {
	claims := &jwt.RegisteredClaims{}
	var ap *app
	_, err := jwt.ParseWithClaims(assertion, claims, func(t *jwt.Token) (any, error) {
		ap = a.apps[claims.Issuer]
		if ap == nil {
			return nil, errUnknownIssuer
		}
		if ap.key == nil {
			return nil, errNoKey
		}
		return ap.key, nil
	}, jwt.WithValidMethods([]string{"RS256"}), jwt.WithExpirationRequired(), jwt.WithLeeway(5*time.Second), jwt.WithTimeFunc(a.now))
	switch {
	case errors.Is(err, errUnknownIssuer):
		return nil, &errClientID
	case errors.Is(err, errNoKey):
		return nil, &errClientSecret
	case errors.Is(err, jwt.ErrTokenExpired), errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return nil, &errJWTExpired
	case err != nil:
		return nil, &errAssertion
	}
	if !audienceOK(claims.Audience, baseURL) {
		return nil, &errAudience
	}
	u := a.users[strings.ToLower(claims.Subject)]
	if u == nil {
		return nil, &errNotApproved
	}
	resp := a.respond(u, ap, baseURL, false)
	resp.Signature, resp.IssuedAt = "", ""
	return resp, nil
}

func audienceOK(aud jwt.ClaimStrings, baseURL string) bool {
	for _, v := range aud {
		v = strings.TrimSuffix(v, "/")
		if v == baseURL || v == "https://login.salesforce.com" || v == "https://test.salesforce.com" {
			return true
		}
	}
	return false
}

// respond issues a token for a user through an app.
func (a *authority) respond(u *user, ap *app, baseURL string, sign bool) *tokenResponse {
	issued := strconv.FormatInt(a.now().UnixMilli(), 10)
	id := fmt.Sprintf("%s/id/%s/%s", baseURL, a.orgID, u.id)
	resp := &tokenResponse{
		AccessToken: a.newSession(u, ap),
		Scope:       "api",
		InstanceURL: baseURL,
		ID:          id,
		TokenType:   "Bearer",
		IssuedAt:    issued,
	}
	if sign {
		// Salesforce signs id + issued_at with the consumer secret.
		mac := hmac.New(sha256.New, []byte(ap.secret))
		mac.Write([]byte(id + issued))
		resp.Signature = base64.StdEncoding.EncodeToString(mac.Sum(nil))
	}
	return resp
}
