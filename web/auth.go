package web

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
)

// TokenFile is the name of the file, in the atom's data folder, that keeps
// a generated API token across restarts.
const TokenFile = "api-token"

// LoadOrCreateToken returns the API token: configured when it is set (a
// flag or an environment variable wins), else the one stored in
// dataDir/api-token, else a new random one (32 bytes, base64url) which it
// stores there, readable by the owner only. created reports that a new
// token was made, so that the caller prints it once.
func LoadOrCreateToken(dataDir, configured string) (token string, created bool, err error) {
	if configured != "" {
		return configured, false, nil
	}
	path := filepath.Join(dataDir, TokenFile)
	if tok, err := readToken(path); err == nil {
		return tok, false, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", false, err
	}
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", false, fmt.Errorf("generate api token: %w", err)
	}
	tok := base64.RawURLEncoding.EncodeToString(b[:])
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return "", false, fmt.Errorf("store api token: %w", err)
	}
	// O_EXCL: if another atom on the same folder wrote one first, use it.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		tok, err := readToken(path)
		return tok, false, err
	}
	if err != nil {
		return "", false, fmt.Errorf("store api token: %w", err)
	}
	if _, err := f.WriteString(tok + "\n"); err != nil {
		f.Close()
		return "", false, fmt.Errorf("store api token in %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return "", false, fmt.Errorf("store api token in %s: %w", path, err)
	}
	return tok, true, nil
}

func readToken(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read api token: %w", err)
	}
	tok := strings.TrimSpace(string(data))
	if tok == "" {
		return "", fmt.Errorf("read api token: %s is empty (delete it and a new token is made)", path)
	}
	return tok, nil
}

// IsLoopback reports whether a listen address ("127.0.0.1:8080",
// "[::1]:80", "localhost:8080") only accepts connections from this
// machine. An empty host (":8080") listens on every interface: false.
func IsLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = strings.Trim(addr, "[]")
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// requireToken refuses requests that do not carry the token, as a bearer
// token or as a basic-auth password (any user name). Tokens are compared
// as SHA-256 digests in constant time, so neither their content nor their
// length leaks through timing.
func (a *api) requireToken(next http.Handler) http.Handler {
	if !a.opts.RequireAuth {
		return next
	}
	want := sha256.Sum256([]byte(a.opts.Token))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a.opts.Token == "" {
			writeError(w, http.StatusInternalServerError, codeInternal,
				"the API requires a token but the atom has none configured (see web.LoadOrCreateToken)")
			return
		}
		got, ok := credential(r)
		sum := sha256.Sum256([]byte(got))
		if !ok || subtle.ConstantTimeCompare(sum[:], want[:]) != 1 {
			// Bearer only: a Basic challenge would make browsers pop up
			// their own login box over the console's token prompt.
			w.Header().Set("WWW-Authenticate", `Bearer realm="atom"`)
			msg := "this atom needs its API token: send Authorization: Bearer TOKEN (or basic auth with the token as password)"
			if ok {
				msg = "wrong API token"
			}
			writeError(w, http.StatusUnauthorized, codeUnauthorized, msg)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// credential returns the token a request presents.
func credential(r *http.Request) (string, bool) {
	if _, pass, ok := r.BasicAuth(); ok {
		return pass, true
	}
	h := r.Header.Get("Authorization")
	if scheme, tok, ok := strings.Cut(h, " "); ok && strings.EqualFold(scheme, "Bearer") {
		return strings.TrimSpace(tok), true
	}
	return "", false
}

// who names the caller in audit records (deployments, offset changes):
// the basic-auth user name, or "api", and the client's address.
func who(r *http.Request) string {
	name := "api"
	if user, _, ok := r.BasicAuth(); ok && user != "" {
		name = user
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	return name + "@" + host
}

// csrf refuses cross-origin browser requests that change state (net/http's
// CrossOriginProtection: Sec-Fetch-Site, or Origin against Host). Tools
// such as curl and `atom deploy` send neither header and pass.
func csrf(next http.Handler) http.Handler {
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusForbidden, codeForbidden,
			"cross-origin request refused: the API changes state only for same-origin pages and non-browser clients")
	}))
	return cop.Handler(next)
}
