package optest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// Sink is an HTTP server that records every JSON body posted to it, by
// path. It refuses bodies with "poison": true (400, a final failure), and
// every body while refusing.
type Sink struct {
	URL    string
	mu     sync.Mutex
	got    map[string][]map[string]any
	auth   []string
	refuse bool
	delay  time.Duration
}

// NewSink starts a sink that closes with the test.
func NewSink(t testing.TB) *Sink {
	s := &Sink{got: map[string][]map[string]any{}}
	srv := httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(srv.Close)
	s.URL = srv.URL
	return s
}

func (s *Sink) serve(w http.ResponseWriter, r *http.Request) {
	var body map[string]any
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		http.Error(w, "not json", http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	refuse, delay := s.refuse, s.delay
	s.mu.Unlock()
	if body["poison"] == true || refuse {
		http.Error(w, `{"error":"poison"}`, http.StatusBadRequest)
		return
	}
	time.Sleep(delay)
	s.mu.Lock()
	s.got[r.URL.Path] = append(s.got[r.URL.Path], body)
	s.auth = append(s.auth, r.Header.Get("Authorization"))
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.WriteString(w, `{"ok":true}`)
}

// SetRefuse makes the sink answer 400 to everything, or stop doing so.
func (s *Sink) SetRefuse(v bool) { s.mu.Lock(); s.refuse = v; s.mu.Unlock() }

// SetDelay makes every accepted request take d.
func (s *Sink) SetDelay(d time.Duration) { s.mu.Lock(); s.delay = d; s.mu.Unlock() }

// NS returns the "n" field of every body received at path, in order.
func (s *Sink) NS(path string) []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []int
	for _, b := range s.got[path] {
		n, _ := b["n"].(float64)
		out = append(out, int(n))
	}
	return out
}

// Count returns how many bodies path received.
func (s *Sink) Count(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.got[path])
}

// Auth returns the Authorization header of every accepted request.
func (s *Sink) Auth() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.auth...)
}
