package console_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/atomrt/atom/web/console"
)

func TestHandlerServesTheEmbeddedConsole(t *testing.T) {
	srv := httptest.NewServer(console.Handler())
	t.Cleanup(srv.Close)
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

	for _, tc := range []struct {
		path, ctype, contains string
	}{
		{"/console/", "text/html; charset=utf-8", `<script type="module" src="js/app.js">`},
		{"/console/index.html", "text/html; charset=utf-8", "<title>Atom console</title>"},
		{"/console/js/app.js", "text/javascript; charset=utf-8", "import"},
		{"/console/js/pages/listeners.js", "text/javascript; charset=utf-8", "/api/listeners"},
		{"/console/style.css", "text/css; charset=utf-8", ":root"},
		{"/console/favicon.svg", "image/svg+xml", "<svg"},
		{"/js/flow.js", "text/javascript; charset=utf-8", "export function layout"}, // prefix already stripped
	} {
		t.Run(tc.path, func(t *testing.T) {
			resp, body := get(t, noRedirect, srv.URL+tc.path, nil)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d, want 200", resp.StatusCode)
			}
			if got := resp.Header.Get("Content-Type"); got != tc.ctype {
				t.Errorf("Content-Type %q, want %q", got, tc.ctype)
			}
			if !strings.Contains(body, tc.contains) {
				t.Errorf("body does not contain %q", tc.contains)
			}
			csp := resp.Header.Get("Content-Security-Policy")
			for _, want := range []string{"default-src 'none'", "script-src 'self'", "connect-src 'self'", "frame-ancestors 'none'"} {
				if !strings.Contains(csp, want) {
					t.Errorf("Content-Security-Policy %q lacks %q", csp, want)
				}
			}
			if resp.Header.Get("X-Content-Type-Options") != "nosniff" || resp.Header.Get("ETag") == "" {
				t.Errorf("headers = %v, want nosniff and an ETag", resp.Header)
			}
		})
	}
}

func TestHandlerRedirectsRefusesAndRevalidates(t *testing.T) {
	srv := httptest.NewServer(console.Handler())
	t.Cleanup(srv.Close)
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

	resp, _ := get(t, c, srv.URL+"/console", nil)
	if resp.StatusCode != http.StatusMovedPermanently || resp.Header.Get("Location") != console.Prefix {
		t.Errorf("/console: status %d to %q, want 301 to %s", resp.StatusCode, resp.Header.Get("Location"), console.Prefix)
	}
	for _, p := range []string{"/console/nope.js", "/console/../console.go", "/console/assets/index.html"} {
		if resp, _ := get(t, c, srv.URL+p, nil); resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s: status %d, want 404", p, resp.StatusCode)
		}
	}
	post, err := c.Post(srv.URL+"/console/", "text/plain", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	post.Body.Close()
	if post.StatusCode != http.StatusMethodNotAllowed || post.Header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST: status %d, Allow %q; want 405 with GET, HEAD", post.StatusCode, post.Header.Get("Allow"))
	}

	first, _ := get(t, c, srv.URL+"/console/style.css", nil)
	again, body := get(t, c, srv.URL+"/console/style.css", map[string]string{"If-None-Match": first.Header.Get("ETag")})
	if again.StatusCode != http.StatusNotModified || body != "" {
		t.Errorf("revalidation: status %d with %d bytes, want 304 and no body", again.StatusCode, len(body))
	}
}

func get(t *testing.T, c *http.Client, url string, header map[string]string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(body)
}
