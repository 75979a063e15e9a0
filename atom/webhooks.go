package atom

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
)

// Webhooks routes requests to the webhook listeners of the running
// deployment. It implements operations.Webhooks and http.Handler. A route
// registered again replaces the old one, so a new deployment can take over
// a path before the old one lets go of it; removing one restores the route
// it had replaced, so a deployment that fails to build leaves the old one
// serving.
type Webhooks struct {
	mu     sync.RWMutex
	routes map[string][]*route // newest last
}

type route struct{ h http.Handler }

// NewWebhooks returns an empty router.
func NewWebhooks() *Webhooks { return &Webhooks{routes: map[string][]*route{}} }

// Handle implements operations.Webhooks.
func (w *Webhooks) Handle(method, path string, h http.Handler) (func(), error) {
	if method == "" || len(path) == 0 || path[0] != '/' {
		return nil, fmt.Errorf("webhook %s %q: want a method and a path starting with /", method, path)
	}
	key := method + " " + path
	r := &route{h: h}
	w.mu.Lock()
	w.routes[key] = append(w.routes[key], r)
	w.mu.Unlock()
	return func() {
		w.mu.Lock()
		rs := w.routes[key]
		for i, x := range rs {
			if x == r {
				rs = append(rs[:i:i], rs[i+1:]...)
				break
			}
		}
		if len(rs) == 0 {
			delete(w.routes, key)
		} else {
			w.routes[key] = rs
		}
		w.mu.Unlock()
	}, nil
}

// Match returns the handler for a request, if a webhook serves it.
func (w *Webhooks) Match(req *http.Request) (http.Handler, bool) {
	w.mu.RLock()
	defer w.mu.RUnlock()
	rs := w.routes[req.Method+" "+req.URL.Path]
	if len(rs) == 0 {
		return nil, false
	}
	return rs[len(rs)-1].h, true
}

// ServeHTTP serves a webhook or answers 404 in the API's error shape.
func (w *Webhooks) ServeHTTP(rw http.ResponseWriter, req *http.Request) {
	if h, ok := w.Match(req); ok {
		h.ServeHTTP(rw, req)
		return
	}
	rw.Header().Set("Content-Type", "application/json")
	rw.WriteHeader(http.StatusNotFound)
	_ = json.NewEncoder(rw).Encode(map[string]string{
		"error": fmt.Sprintf("no webhook serves %s %s", req.Method, req.URL.Path),
		"code":  "not_found",
	})
}
