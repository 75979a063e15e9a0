// Package console is the atom's web console: plain HTML, CSS and
// JavaScript modules embedded in the binary and served under /console/.
//
// The console is a client of the management API (/api/...) and nothing
// else: it shows listeners with live counts and pause and resume buttons,
// draws each process's flow and mappings, test-runs a process with a
// sample event, searches executions and retries dead letters. There is no
// build step and nothing is fetched from elsewhere at run time.
//
// Auth lives in the API: when a call answers 401 the console asks for the
// atom's token, keeps it in the tab's sessionStorage and sends it as
// "Authorization: Bearer" on every call. It never uses cookies, so a page
// of another site cannot make the browser act with the operator's rights.
//
// This package serves files only; it is not the API (see package web) and
// it holds no state.
package console

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"
)

// Prefix is where the console is served; Handler also accepts paths with
// the prefix already stripped.
const Prefix = "/console/"

//go:embed assets
var assets embed.FS

// contentTypes are set by hand so that a module script is always served
// as JavaScript, whatever the machine's MIME tables say.
var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".svg":  "image/svg+xml",
	".png":  "image/png",
	".json": "application/json",
}

// csp allows the console's own files and calls to its own origin only:
// no inline script or style, no frames, nothing from another host.
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

type file struct {
	data  []byte
	ctype string
	etag  string
}

// Handler serves the console's files: /console/ is the page, the rest are
// its scripts, styles and icon. Every answer carries a strict Content
// Security Policy; files are revalidated with an ETag so that a new atom
// binary's console is picked up at once.
func Handler() http.Handler {
	files := load()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		p := r.URL.Path
		if p == strings.TrimSuffix(Prefix, "/") {
			http.Redirect(w, r, Prefix, http.StatusMovedPermanently)
			return
		}
		name := strings.TrimPrefix(strings.TrimPrefix(p, strings.TrimSuffix(Prefix, "/")), "/")
		if name == "" {
			name = "index.html"
		}
		f, ok := files[path.Clean(name)]
		if !ok {
			http.NotFound(w, r)
			return
		}
		h := w.Header()
		h.Set("Content-Type", f.ctype)
		h.Set("Content-Security-Policy", csp)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Cache-Control", "no-cache")
		h.Set("ETag", f.etag)
		http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(f.data))
	})
}

// load reads every embedded file once, with its type and ETag.
func load() map[string]file {
	files := map[string]file{}
	root, err := fs.Sub(assets, "assets")
	if err != nil {
		return files // cannot happen: the folder is embedded
	}
	_ = fs.WalkDir(root, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(root, name)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(data)
		ctype, ok := contentTypes[path.Ext(name)]
		if !ok {
			ctype = "application/octet-stream"
		}
		files[name] = file{data: data, ctype: ctype, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
		return nil
	})
	return files
}
