package salesforce

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"software.sslmate.com/src/go-pkcs12"

	"github.com/atomrt/atom/emulator"
	"github.com/atomrt/atom/operations"
)

// jwtKeys makes an RSA key and a self-signed certificate for it, and
// writes the key as PKCS#1 PEM, PKCS#8 PEM and a PKCS#12 keystore.
type jwtKeys struct {
	certPEM                string
	pkcs1, pkcs8, keystore string // file paths
	password               string
}

func makeJWTKeys(t *testing.T) jwtKeys {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "atom-test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	k := jwtKeys{
		certPEM:  string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		pkcs1:    filepath.Join(dir, "key-pkcs1.pem"),
		pkcs8:    filepath.Join(dir, "key-pkcs8.pem"),
		keystore: filepath.Join(dir, "keystore.p12"),
		password: "keystore-secret",
	}
	write := func(path string, data []byte) {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(k.pkcs1, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}))
	p8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	write(k.pkcs8, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: p8}))
	p12, err := pkcs12.Modern.Encode(key, cert, nil, k.password)
	if err != nil {
		t.Fatal(err)
	}
	write(k.keystore, p12)
	return k
}

const jwtClientID = "atom-jwt-app"

func TestGrants(t *testing.T) {
	keys := makeJWTKeys(t)
	e := startEmulator(t, func(cfg *emulator.Config) {
		cfg.Apps = append(cfg.Apps, emulator.App{Name: "Atom JWT", ClientID: jwtClientID, ClientSecret: "jwt-app-secret", Certificate: keys.certPEM})
	})
	jwt := func(extra operations.Settings) operations.Settings {
		s := operations.Settings{"loginUrl": e.URL(), "grant": GrantJWT, "clientId": jwtClientID, "username": emuUser}
		for k, v := range extra {
			s[k] = v
		}
		return s
	}
	tests := []struct {
		name string
		s    operations.Settings
	}{
		{"client credentials", emuSettings(e, GrantClientCredentials)},
		{"password with security token", emuSettings(e, GrantPassword)},
		{"refresh token", emuSettings(e, GrantRefreshToken)},
		{"jwt, PKCS#1 PEM", jwt(operations.Settings{"privateKeyFile": keys.pkcs1})},
		{"jwt, PKCS#8 PEM", jwt(operations.Settings{"privateKeyFile": keys.pkcs8})},
		{"jwt, PKCS#12 keystore", jwt(operations.Settings{"keystoreFile": keys.keystore, "keystorePassword": operations.NewSecret(keys.password)})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := openConn(t, tt.s, zerolog.Nop())
			snd := newTestSender(t, c, operations.Settings{"batchSize": int64(1)})
			if _, err := snd.Send(t.Context(), order(1)); err != nil {
				t.Fatalf("send: %v", err)
			}
			sess := c.auth.current()
			if sess.instanceURL != e.URL() || sess.orgID != e.Config().OrgID || !strings.HasPrefix(sess.userID, "005") {
				t.Errorf("session: instance %q org %q user %q; want %q %q 005...", sess.instanceURL, sess.orgID, sess.userID, e.URL(), e.Config().OrgID)
			}
			// A token that expires is renewed with the same grant.
			e.ExpireTokens()
			if _, err := snd.Send(t.Context(), order(2)); err != nil {
				t.Fatalf("send after expiry: %v", err)
			}
		})
	}
}

func TestGrantRefusals(t *testing.T) {
	keys := makeJWTKeys(t)
	other := makeJWTKeys(t)
	e := startEmulator(t, func(cfg *emulator.Config) {
		cfg.Apps = append(cfg.Apps, emulator.App{Name: "Atom JWT", ClientID: jwtClientID, ClientSecret: "jwt-app-secret", Certificate: keys.certPEM})
	})
	wrong := func(grant, name string, v any) operations.Settings {
		s := emuSettings(e, grant)
		s[name] = v
		return s
	}
	tests := []struct {
		name string
		s    operations.Settings
	}{
		{"wrong client secret", wrong(GrantClientCredentials, "clientSecret", operations.NewSecret("not-the-secret"))},
		{"wrong password", wrong(GrantPassword, "password", operations.NewSecret("not-the-password"))},
		{"missing security token", wrong(GrantPassword, "securityToken", operations.NewSecret(""))},
		{"unknown refresh token", wrong(GrantRefreshToken, "refreshToken", operations.NewSecret("not-a-refresh-token"))},
		{"jwt signed by another key", operations.Settings{"loginUrl": e.URL(), "grant": GrantJWT, "clientId": jwtClientID,
			"username": emuUser, "privateKeyFile": other.pkcs8}},
		{"jwt for the wrong audience", operations.Settings{"loginUrl": e.URL(), "grant": GrantJWT, "clientId": jwtClientID,
			"username": emuUser, "privateKeyFile": keys.pkcs8, "audience": "https://example.com"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := openConn(t, tt.s, zerolog.Nop())
			snd := newTestSender(t, c, operations.Settings{"batchSize": int64(1)})
			_, err := snd.Send(t.Context(), order(1))
			if !errors.Is(err, ErrAuth) {
				t.Fatalf("send: %v, want ErrAuth", err)
			}
			for _, secret := range []string{"not-the-secret", "not-the-password", "not-a-refresh-token"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("the error shows a secret: %v", err)
				}
			}
		})
	}
	if n := len(e.Events(orderChannel)); n != 0 {
		t.Errorf("%d events published without credentials", n)
	}
}

func TestKeystoreWrongPassword(t *testing.T) {
	keys := makeJWTKeys(t)
	_, err := open("sf", operations.Settings{"grant": GrantJWT, "clientId": "x", "username": "u",
		"keystoreFile": keys.keystore, "keystorePassword": operations.NewSecret("wrong")}, operations.Env{Log: zerolog.Nop()})
	if !errors.Is(err, ErrSettings) || !strings.Contains(err.Error(), "keystorePassword") {
		t.Fatalf("open: %v, want ErrSettings naming keystorePassword", err)
	}
}

// TestReauthIsOncePerFailureWithBackoff refuses sessions: concurrent
// refusals of one token make one fetch; a new token refused before any
// call succeeded with it is renewed only after a backoff; a success resets
// that.
func TestReauthIsOncePerFailureWithBackoff(t *testing.T) {
	e := startEmulator(t, nil)
	c := emuConn(t, e)
	first, err := c.auth.session(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	c.auth.good(first)

	var wg sync.WaitGroup
	renewed := make([]*session, 10)
	for i := range renewed {
		wg.Add(1)
		go func() {
			defer wg.Done()
			renewed[i], _ = c.auth.renew(t.Context(), first)
		}()
	}
	wg.Wait()
	for _, s := range renewed {
		if s == nil || s != renewed[0] || s == first {
			t.Fatalf("concurrent renewals returned different sessions")
		}
	}
	if n := e.Calls()["token"]; n != 2 {
		t.Fatalf("%d token requests, want 2: ten refusals of one token make one renewal", n)
	}

	// The new token is refused before anything succeeded with it: the
	// next renewal waits (at least half a second) before asking again.
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if _, err := c.auth.renew(ctx, renewed[0]); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("renew right after a renewal: %v, want to be still waiting", err)
	}
	if n := e.Calls()["token"]; n != 2 {
		t.Fatalf("%d token requests, want still 2", n)
	}

	// Once a call succeeds with it, a refusal is answered at once.
	c.auth.good(renewed[0])
	ctx2, cancel2 := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel2()
	if _, err := c.auth.renew(ctx2, renewed[0]); err != nil {
		t.Fatalf("renew after a success: %v", err)
	}
	if n := e.Calls()["token"]; n != 3 {
		t.Fatalf("%d token requests, want 3", n)
	}
}
