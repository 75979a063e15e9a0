package devkit

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// Received is one request the sink got.
type Received struct {
	At     time.Time       `json:"at"`
	Method string          `json:"method"`
	Path   string          `json:"path"`
	Body   json.RawMessage `json:"body"`
}

// Sink is an HTTP server that accepts whatever the atom sends, logs a line
// for each request and keeps the latest ones, shown at GET /.
type Sink struct {
	mu     sync.Mutex
	recent []Received
	total  int
	log    zerolog.Logger
	srv    *http.Server
	ln     net.Listener
}

const keep = 200

// StartSink listens on addr (port 0 for any) and serves until Close.
func StartSink(addr string, log zerolog.Logger) (*Sink, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	s := &Sink{log: log, ln: ln}
	s.srv = &http.Server{Handler: s, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error().Err(err).Msg("sink stopped")
		}
	}()
	return s, nil
}

// URL is the sink's base URL.
func (s *Sink) URL() string { return "http://" + s.ln.Addr().String() }

// Close stops the sink.
func (s *Sink) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return s.srv.Shutdown(ctx)
}

// Recent returns the latest requests, oldest first, and how many in all.
func (s *Sink) Recent() ([]Received, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Received(nil), s.recent...), s.total
}

func (s *Sink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet && r.URL.Path == "/" {
		recent, total := s.Recent()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"total": total, "recent": recent})
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if !json.Valid(body) {
		body, _ = json.Marshal(string(body))
	}
	rec := Received{At: time.Now().UTC(), Method: r.Method, Path: r.URL.Path, Body: body}
	s.mu.Lock()
	s.total++
	s.recent = append(s.recent, rec)
	if len(s.recent) > keep {
		s.recent = s.recent[len(s.recent)-keep:]
	}
	s.mu.Unlock()
	s.log.Info().Str("path", r.URL.Path).RawJSON("body", body).Msg("sink received")
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{"received":true}`))
}
