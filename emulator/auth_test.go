package emulator

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/oauth2/clientcredentials"
)

func TestPasswordGrant(t *testing.T) {
	e := start(t, testConfig())
	res := postForm(t, e, url.Values{
		"grant_type": {"password"}, "client_id": {demoClient}, "client_secret": {demoSecret},
		"username": {"ATOM@example.com"}, "password": {demoPassword + demoToken},
	})
	if res.status != 200 {
		t.Fatalf("status %d: %v", res.status, res.body)
	}
	b := res.body
	wantID := e.URL() + "/id/" + e.cfg.OrgID + "/" + e.auth.users[demoUser].id
	if b["instance_url"] != e.URL() || b["id"] != wantID || b["token_type"] != "Bearer" {
		t.Errorf("response %v", b)
	}
	token, _ := b["access_token"].(string)
	if !strings.HasPrefix(token, e.cfg.OrgID[:15]+"!") {
		t.Errorf("access_token %q does not look like a Salesforce session ID", token)
	}
	mac := hmac.New(sha256.New, []byte(demoSecret))
	mac.Write([]byte(b["id"].(string) + b["issued_at"].(string)))
	if b["signature"] != base64.StdEncoding.EncodeToString(mac.Sum(nil)) {
		t.Errorf("signature %v does not verify", b["signature"])
	}
	if _, ok := b["refresh_token"]; ok {
		t.Error("password grant returned a refresh token")
	}
	if status, _ := call(t, e, token, http.MethodGet, "/services/data/v62.0/limits", nil); status != 200 {
		t.Errorf("token not accepted by REST: %d", status)
	}
}

func TestClientCredentialsGrant(t *testing.T) {
	e := start(t, testConfig())
	res := postForm(t, e, url.Values{"grant_type": {"client_credentials"}, "client_id": {demoClient}, "client_secret": {demoSecret}})
	if res.status != 200 || !strings.HasSuffix(res.body["id"].(string), e.auth.users[demoUser].id) {
		t.Fatalf("client credentials: %d %v", res.status, res.body)
	}
	// Client authentication in a Basic header works too.
	req, _ := http.NewRequest(http.MethodPost, e.URL()+"/services/oauth2/token", strings.NewReader("grant_type=client_credentials"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(demoClient, demoSecret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("basic auth: status %d", resp.StatusCode)
	}
}

func TestRefreshTokenGrant(t *testing.T) {
	e := start(t, testConfig())
	issued, err := e.IssueRefreshToken(demoClient, demoUser)
	if err != nil {
		t.Fatal(err)
	}
	for _, rt := range []string{demoRefresh, issued} {
		res := postForm(t, e, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {demoClient}, "client_secret": {demoSecret}})
		if res.status != 200 || res.body["access_token"] == nil {
			t.Fatalf("refresh %s: %d %v", rt, res.status, res.body)
		}
		if _, ok := res.body["refresh_token"]; ok {
			t.Error("refresh grant returned a new refresh token")
		}
	}
	// Refresh tokens survive ExpireTokens; access tokens do not.
	token := login(t, e)
	e.ExpireTokens()
	if status, _ := call(t, e, token, http.MethodGet, "/services/data/v62.0/limits", nil); status != 401 {
		t.Fatalf("expired token: status %d", status)
	}
	if res := postForm(t, e, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {demoRefresh}, "client_id": {demoClient}}); res.status != 200 {
		t.Fatalf("refresh after expiry: %v", res.body)
	}
}

// jwtApp makes a key pair and a config whose second app trusts it.
func jwtApp(t *testing.T, publicKeyPEM bool) (Config, *rsa.PrivateKey) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	var block *pem.Block
	if publicKeyPEM {
		der, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
		block = &pem.Block{Type: "PUBLIC KEY", Bytes: der}
	} else {
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "atom-jwt"},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		if err != nil {
			t.Fatal(err)
		}
		block = &pem.Block{Type: "CERTIFICATE", Bytes: der}
	}
	cfg := testConfig()
	cfg.Apps = append(cfg.Apps, App{Name: "JWT", ClientID: "jwt-client", ClientSecret: "unused", Certificate: string(pem.EncodeToMemory(block))})
	return cfg, key
}

func sign(t *testing.T, key any, method jwt.SigningMethod, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(method, claims).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestJWTBearerGrant(t *testing.T) {
	for _, publicKey := range []bool{false, true} {
		cfg, key := jwtApp(t, publicKey)
		e := start(t, cfg)
		other, _ := rsa.GenerateKey(rand.Reader, 2048)
		exp := time.Now().Add(3 * time.Minute).Unix()
		good := jwt.MapClaims{"iss": "jwt-client", "sub": demoUser, "aud": e.URL(), "exp": exp}
		with := func(k string, v any) jwt.MapClaims {
			c := jwt.MapClaims{}
			for kk, vv := range good {
				c[kk] = vv
			}
			if v == nil {
				delete(c, k)
			} else {
				c[k] = v
			}
			return c
		}
		tests := []struct {
			name      string
			assertion string
			wantError string
			wantDesc  string
		}{
			{"valid, aud = emulator URL", sign(t, key, jwt.SigningMethodRS256, good), "", ""},
			{"valid, aud = login.salesforce.com", sign(t, key, jwt.SigningMethodRS256, with("aud", "https://login.salesforce.com")), "", ""},
			{"valid, aud = test.salesforce.com list", sign(t, key, jwt.SigningMethodRS256, with("aud", []string{"https://test.salesforce.com"})), "", ""},
			{"signed by another key", sign(t, other, jwt.SigningMethodRS256, good), "invalid_grant", "invalid assertion"},
			{"HS256", sign(t, []byte("secret"), jwt.SigningMethodHS256, good), "invalid_grant", "invalid assertion"},
			{"garbage", "not.a.jwt", "invalid_grant", "invalid assertion"},
			{"unknown issuer", sign(t, key, jwt.SigningMethodRS256, with("iss", "nobody")), "invalid_client_id", "client identifier invalid"},
			{"app without certificate", sign(t, key, jwt.SigningMethodRS256, with("iss", demoClient)), "invalid_client", "invalid client credentials"},
			{"wrong audience", sign(t, key, jwt.SigningMethodRS256, with("aud", "https://example.com")), "invalid_grant", "audience is invalid"},
			{"expired", sign(t, key, jwt.SigningMethodRS256, with("exp", time.Now().Add(-time.Minute).Unix())), "invalid_grant", "expired authorization code"},
			{"no exp", sign(t, key, jwt.SigningMethodRS256, with("exp", nil)), "invalid_grant", "expired authorization code"},
			{"unknown user", sign(t, key, jwt.SigningMethodRS256, with("sub", "nobody@example.com")), "invalid_grant", "user hasn't approved this consumer"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				res := postForm(t, e, url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:jwt-bearer"}, "assertion": {tt.assertion}})
				if tt.wantError == "" {
					if res.status != 200 || res.body["access_token"] == nil || res.body["instance_url"] != e.URL() || res.body["scope"] == nil {
						t.Fatalf("status %d: %v", res.status, res.body)
					}
					if _, ok := res.body["refresh_token"]; ok {
						t.Error("JWT grant returned a refresh token")
					}
					return
				}
				if res.status != 400 || res.body["error"] != tt.wantError || res.body["error_description"] != tt.wantDesc {
					t.Fatalf("got %d %v, want %s: %s", res.status, res.body, tt.wantError, tt.wantDesc)
				}
			})
		}
	}
}

func TestTokenErrors(t *testing.T) {
	cfg := testConfig()
	cfg.Apps = append(cfg.Apps, App{Name: "No user", ClientID: "no-user", ClientSecret: "s"})
	e := start(t, cfg)
	tests := []struct {
		name string
		form url.Values
		want oauthError
	}{
		{"unsupported grant", url.Values{"grant_type": {"implicit"}}, errGrantUnsupported},
		{"unknown client", url.Values{"grant_type": {"client_credentials"}, "client_id": {"x"}, "client_secret": {"y"}}, errClientID},
		{"wrong secret", url.Values{"grant_type": {"client_credentials"}, "client_id": {demoClient}, "client_secret": {"y"}}, errClientSecret},
		{"password without security token", url.Values{"grant_type": {"password"}, "client_id": {demoClient}, "client_secret": {demoSecret},
			"username": {demoUser}, "password": {demoPassword}}, errAuthFailure},
		{"unknown user", url.Values{"grant_type": {"password"}, "client_id": {demoClient}, "client_secret": {demoSecret},
			"username": {"nobody@example.com"}, "password": {"x"}}, errAuthFailure},
		{"client credentials without run-as user", url.Values{"grant_type": {"client_credentials"}, "client_id": {"no-user"}, "client_secret": {"s"}}, errNoCCUser},
		{"unknown refresh token", url.Values{"grant_type": {"refresh_token"}, "client_id": {demoClient}, "refresh_token": {"nope"}}, errRefresh},
		{"refresh token of another app", url.Values{"grant_type": {"refresh_token"}, "client_id": {"no-user"}, "refresh_token": {demoRefresh}}, errRefresh},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := postForm(t, e, tt.form)
			if res.status != 400 || res.body["error"] != tt.want.Error || res.body["error_description"] != tt.want.Description {
				t.Fatalf("got %d %v, want %v", res.status, res.body, tt.want)
			}
		})
	}
	resp, err := http.Get(e.URL() + "/services/oauth2/token")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Errorf("GET token endpoint: %d", resp.StatusCode)
	}
	if got := e.Calls()["token"]; got != len(tests)+1 {
		t.Errorf("token calls = %d, want %d", got, len(tests)+1)
	}
}

func TestSessionTimesOutWhenUnused(t *testing.T) {
	cfg := testConfig()
	cfg.SessionTimeout = 50 * time.Millisecond
	e := start(t, cfg)
	token := login(t, e)
	b := newBayeux(t, e, token)
	b.handshake()
	eventually(t, "the session to time out", func() bool { return !e.auth.live(token) })
	status, body := call(t, e, token, http.MethodGet, "/services/data/v62.0/limits", nil)
	if status != 401 || errorCode(t, body) != "INVALID_SESSION_ID" || body.([]any)[0].(map[string]any)["message"] != "Session expired or invalid" {
		t.Fatalf("expired session: %d %v", status, body)
	}
	if _, rep := b.connect(); rep["error"] != "401::Authentication invalid" || rep["advice"].(map[string]any)["reconnect"] != "none" {
		t.Fatalf("connect with expired session: %v", rep)
	}
}

func TestExpireTokensEndsHeldConnectAndRefusesTheNext(t *testing.T) {
	cfg := testConfig()
	cfg.CometD.Timeout = 30 * time.Second
	e := start(t, cfg)
	b := newBayeux(t, e, login(t, e))
	b.handshake()
	b.subscribe("/event/Order_Placed__e", -1)
	b.connect()
	done := make(chan map[string]any, 1)
	go func() { _, rep := b.connect(); done <- rep }()
	eventually(t, "the connect to be held", func() bool { return e.Calls()["connect"] == 2 })
	if n := e.ExpireTokens(); n != 1 {
		t.Errorf("expired %d sessions, want 1", n)
	}
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("held connect not ended by ExpireTokens")
	}
	_, rep := b.connect()
	if rep["error"] != "401::Authentication invalid" {
		t.Fatalf("connect after ExpireTokens: %v", rep)
	}
	rep = b.subscribe("/event/Order_Placed__e", -1)
	if rep["error"] != "401::Authentication invalid" {
		t.Fatalf("subscribe after ExpireTokens: %v", rep)
	}
	// A new token lets the same client go on.
	b.token = login(t, e)
	if rep := b.subscribe("/event/Order_Placed__e", -1); rep["successful"] != true {
		t.Fatalf("subscribe with a new token: %v", rep)
	}
	id, _ := e.Publish("Order_Placed__e", order(1))
	if got := replayIDs(b.receive(1)); got[0] != id {
		t.Fatalf("received %v, want %d", got, id)
	}
}

func TestIdentityAndRevoke(t *testing.T) {
	e := start(t, testConfig())
	res := postForm(t, e, url.Values{"grant_type": {"client_credentials"}, "client_id": {demoClient}, "client_secret": {demoSecret}})
	token, idURL := res.body["access_token"].(string), res.body["id"].(string)
	status, body := call(t, e, token, http.MethodGet, strings.TrimPrefix(idURL, e.URL()), nil)
	id, _ := body.(map[string]any)
	if status != 200 || id["username"] != demoUser || id["organization_id"] != e.cfg.OrgID || id["user_id"] != e.auth.users[demoUser].id {
		t.Fatalf("identity: %d %v", status, body)
	}
	if status, _ := call(t, e, "", http.MethodGet, strings.TrimPrefix(idURL, e.URL()), nil); status != 403 {
		t.Errorf("identity without a token: %d", status)
	}
	resp, err := http.PostForm(e.URL()+"/services/oauth2/revoke", url.Values{"token": {token}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("revoke: %d", resp.StatusCode)
	}
	if status, _ := call(t, e, token, http.MethodGet, "/services/data/v62.0/limits", nil); status != 401 {
		t.Fatalf("revoked token still works: %d", status)
	}
	if c := e.Calls(); c["revoke"] != 1 || c["identity"] != 2 {
		t.Errorf("calls %v", c)
	}
}

func TestGoOAuth2ClientCredentials(t *testing.T) {
	e := start(t, testConfig())
	cc := clientcredentials.Config{ClientID: demoClient, ClientSecret: demoSecret, TokenURL: e.URL() + "/services/oauth2/token"}
	tok, err := cc.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if tok.AccessToken == "" || tok.Extra("instance_url") != e.URL() {
		t.Fatalf("token %+v", tok)
	}
	if status, _ := call(t, e, tok.AccessToken, http.MethodGet, "/services/data/v62.0/limits", nil); status != 200 {
		t.Fatalf("token from golang.org/x/oauth2 refused: %d", status)
	}
}
