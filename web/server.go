package web

import (
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"github.com/rs/zerolog"

	"github.com/atomrt/atom/atom"
	"github.com/atomrt/atom/web/console"
)

// Body limits when Options.MaxBodyBytes is 0.
const (
	DefaultDeploymentBodyBytes = 4 << 20 // a deployment's YAML
	DefaultBodyBytes           = 1 << 20 // every other API request
)

// Options configure the HTTP handler.
type Options struct {
	// Token is the API token (see LoadOrCreateToken).
	Token string
	// RequireAuth makes every /api and /metrics request present Token.
	// Set it when the atom listens on an address that is not loopback
	// (see IsLoopback) or when a token was configured explicitly.
	RequireAuth bool
	// MaxBodyBytes bounds every API request body; 0 means
	// DefaultDeploymentBodyBytes for deployments and DefaultBodyBytes for
	// the rest. Webhook bodies have their own limit, per operation.
	MaxBodyBytes int64
	// Log receives access logs of requests that change state, and errors.
	Log zerolog.Logger
	// Addr is the listen address /api/info reports.
	Addr string
}

// api holds what the handlers share.
type api struct {
	rt      *atom.Runtime
	opts    Options
	log     zerolog.Logger
	openapi []byte
	console http.Handler

	// streams ends server-sent event streams on shutdown, which
	// http.Server.Shutdown would otherwise wait on for ever.
	stopOnce sync.Once
	streams  chan struct{}
	// every is how often the event stream sends listener status.
	every time.Duration
}

// handler is what Handler returns: the router, and a hook for NewServer.
type handler struct {
	http.Handler
	api *api
}

// stopStreams ends the event streams; NewServer calls it on Shutdown.
func (h *handler) stopStreams() { h.api.stopOnce.Do(func() { close(h.api.streams) }) }

// Handler returns the atom's HTTP handler: health checks, metrics, the
// management API under /api (see API.md and /api/openapi.json), the
// console under /console/, and, for every other path, the deployment's
// webhooks, which are never behind the API's token.
func Handler(rt *atom.Runtime, opts Options) http.Handler {
	a := &api{rt: rt, opts: opts, log: opts.Log, streams: make(chan struct{}), every: time.Second,
		console: console.Handler()}
	routes := a.routes()
	a.openapi = openAPI(routes)
	return &handler{Handler: a.router(routes), api: a}
}

func (a *api) router(routes []route) http.Handler {
	r := chi.NewRouter()
	r.Use(middleware.Recoverer, a.accessLog)
	protected := func(next http.Handler) http.Handler { return a.requireToken(csrf(next)) }
	for _, rt := range routes {
		h := http.Handler(rt.h)
		if rt.method != http.MethodGet {
			h = limitBody(h, a.bodyLimit(rt))
		}
		if !rt.public {
			h = protected(h)
		}
		r.Method(rt.method, rt.pattern, h)
	}
	webhooks := a.rt.Webhooks()
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		if reserved(r.URL.Path) {
			writeError(w, http.StatusNotFound, codeNotFound, "no such API path: "+r.URL.Path+" (see /api/openapi.json)")
			return
		}
		webhooks.ServeHTTP(w, r)
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		if reserved(r.URL.Path) {
			writeError(w, http.StatusMethodNotAllowed, codeMethodNotAllowed, r.Method+" is not allowed on "+r.URL.Path)
			return
		}
		webhooks.ServeHTTP(w, r)
	})
	return r
}

// reserved reports whether a path belongs to the atom itself; webhooks
// never serve there, so a deployment cannot shadow the API.
func reserved(path string) bool {
	switch path {
	case "/healthz", "/readyz", "/metrics", "/api", "/console":
		return true
	}
	return strings.HasPrefix(path, "/api/") || strings.HasPrefix(path, "/console/")
}

func (a *api) bodyLimit(rt route) int64 {
	switch {
	case a.opts.MaxBodyBytes > 0:
		return a.opts.MaxBodyBytes
	case rt.limit > 0:
		return rt.limit
	}
	return DefaultBodyBytes
}

// limitBody answers 413 to a body declared too large and caps what is
// read of the others, which then fail with *http.MaxBytesError.
func limitBody(next http.Handler, limit int64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > limit {
			writeError(w, http.StatusRequestEntityTooLarge, codeTooLarge,
				"request body is larger than "+itoa(limit)+" bytes")
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, limit)
		next.ServeHTTP(w, r)
	})
}

// accessLog logs API requests: those that change state at info level
// (they are decisions an operator made), the others at debug.
func (a *api) accessLog(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !reserved(r.URL.Path) {
			next.ServeHTTP(w, r) // webhooks log for themselves
			return
		}
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		ev := a.log.Debug()
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			ev = a.log.Info()
		}
		ev.Str("method", r.Method).Str("path", r.URL.Path).Int("status", rec.status).
			Str("who", who(r)).Dur("duration", time.Since(start)).Msg("api request")
	})
}

// statusRecorder notes the status a handler wrote.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the connection (flushes and
// deadlines of the event stream).
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// Flush passes flushes on, for the event stream.
func (s *statusRecorder) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// NewServer returns an http.Server for h with timeouts set, so a slow or
// idle client cannot hold a connection for ever. WriteTimeout stays above
// a webhook's longest wait for its process run. Shutdown ends the API's
// event streams, which would otherwise keep it waiting.
func NewServer(addr string, h http.Handler) *http.Server {
	srv := &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      120 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
	if s, ok := h.(interface{ stopStreams() }); ok {
		srv.RegisterOnShutdown(s.stopStreams)
	}
	return srv
}
