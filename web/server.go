package web

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"

	"github.com/atomrt/atom/atom"
)

// Handler returns the atom's HTTP handler: health checks and, for every
// other path, the deployment's webhooks.
func Handler(rt *atom.Runtime) http.Handler {
	r := chi.NewRouter()
	r.Use(middleware.Recoverer)
	r.Get("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	r.NotFound(rt.Webhooks().ServeHTTP)
	r.MethodNotAllowed(rt.Webhooks().ServeHTTP)
	return r
}

// NewServer returns an http.Server for h with timeouts set, so a slow or
// idle client cannot hold a connection for ever. WriteTimeout stays above
// a webhook's longest wait for its process run.
func NewServer(addr string, h http.Handler) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      120 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
