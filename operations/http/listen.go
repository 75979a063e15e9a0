package httpconn

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/atomrt/atom/operations"
)

// Acknowledgement modes of a webhook.
const (
	AckComplete = "complete" // answer once every run for the document finished
	AckAccepted = "accepted" // store the document, answer 202, process it later
)

// Properties of a webhook's document.
const (
	PropMethod       = "http.method"
	PropPath         = "http.path"
	PropQueryPrefix  = "http.query."  // + parameter name, first value
	PropHeaderPrefix = "http.header." // + lower-case header name
	PropInboxID      = "http.inboxId" // ack: accepted only; the 202 answer's id
)

// defaultHeaderProps are the request headers always copied into
// properties: harmless, and useful for routing and tracing.
var defaultHeaderProps = []string{"Content-Type", "User-Agent", "X-Request-Id", "X-Correlation-Id", "Idempotency-Key", "Traceparent"}

// startGrace is how long a request waits for a listener that is not
// running to start, so that a redeploy or a quick restart does not turn
// callers away; a paused listener answers 503 after it.
const startGrace = time.Second

// retryAfterSeconds is the Retry-After of a 503.
const retryAfterSeconds = "5"

type listenConfig struct {
	path        string
	method      string
	ack         string
	maxBody     int64
	timeout     time.Duration
	headerProps []string // canonical
}

func (a listenConfig) equal(b listenConfig) bool {
	return a.path == b.path && a.method == b.method && a.ack == b.ack && a.maxBody == b.maxBody &&
		a.timeout == b.timeout && slices.Equal(a.headerProps, b.headerProps)
}

func parseListen(s operations.Settings) (listenConfig, error) {
	cfg := listenConfig{
		path:    s.String("path"),
		method:  strings.ToUpper(stringOr(s, "method", http.MethodPost)),
		ack:     stringOr(s, "ack", AckComplete),
		maxBody: intOr(s, "maxBodyBytes", DefaultMaxBodyBytes),
		timeout: durationOr(s, "timeout", DefaultWebhookTimeout),
	}
	switch {
	case cfg.path == "" || cfg.path[0] != '/' || strings.ContainsAny(cfg.path, "?# \t\r\n"):
		return cfg, fmt.Errorf("path %q: want a path such as /hooks/orders (starting with /, no query)", cfg.path)
	case !validHeaderName(cfg.method):
		return cfg, fmt.Errorf("method %q: want an HTTP method such as POST", cfg.method)
	case cfg.ack != AckComplete && cfg.ack != AckAccepted:
		return cfg, fmt.Errorf("ack %q: want complete or accepted", cfg.ack)
	case cfg.maxBody <= 0:
		return cfg, fmt.Errorf("maxBodyBytes %d: want a positive size such as 1048576", cfg.maxBody)
	case cfg.timeout <= 0:
		return cfg, fmt.Errorf("timeout %s: want a positive duration such as 30s", cfg.timeout)
	}
	seen := map[string]bool{}
	for _, name := range append(slices.Clone(defaultHeaderProps), s.List("headerProps")...) {
		c := http.CanonicalHeaderKey(strings.TrimSpace(name))
		if !validHeaderName(c) {
			return cfg, fmt.Errorf("headerProps: %q is not a header name", name)
		}
		if sensitiveName(c) {
			return cfg, fmt.Errorf("headerProps: %s may carry a credential, and properties are stored and shown; leave it out", c)
		}
		if !seen[c] {
			seen[c] = true
			cfg.headerProps = append(cfg.headerProps, c)
		}
	}
	return cfg, nil
}

// listener is one Listen operation's handle on a webhook endpoint. Two
// operations on one method and path of a connection share the endpoint;
// its route goes when the last handle is closed.
type listener struct {
	ep   *endpoint
	conn *connection
	once sync.Once
}

// Key implements operations.Listener: "POST /hooks/orders".
func (l *listener) Key() string { return l.ep.key }

// Run implements operations.Listener. While it runs the webhook takes
// requests; before and after, callers get 503. With ack: accepted it
// delivers the documents queued in the inbox, oldest first.
func (l *listener) Run(ctx context.Context, s operations.Stream) error {
	if err := l.ep.begin(ctx, s); err != nil {
		return fmt.Errorf("webhook %s: %w", l.ep.key, err)
	}
	defer l.ep.end()
	s.SetState(operations.Running, nil)
	if l.ep.cfg.ack == AckAccepted {
		l.ep.pump(ctx, s)
		return nil
	}
	<-ctx.Done()
	return nil
}

// Close removes the webhook's route once no other operation uses it. The
// runtime calls it when it undeploys the listener.
func (l *listener) Close() error {
	l.once.Do(func() { l.conn.release(l.ep) })
	return nil
}

// listen makes a listener, registering the route for its method and path
// unless another operation of this connection already did.
func (c *connection) listen(op string, cfg listenConfig) (*listener, error) {
	key := cfg.method + " " + cfg.path
	if c.env.Webhooks == nil {
		return nil, fmt.Errorf("webhook %s: the atom serves no webhooks here (no HTTP server in the connector's environment)", key)
	}
	if cfg.ack == AckAccepted && c.env.Inbox == nil {
		return nil, fmt.Errorf("webhook %s: ack: accepted needs the atom's store to queue documents, and there is none here; use ack: complete", key)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, fmt.Errorf("webhook %s: connection %q: %w", key, c.name, ErrClosed)
	}
	if ep, ok := c.endpoints[key]; ok {
		if !ep.cfg.equal(cfg) {
			return nil, fmt.Errorf("webhook %s is already served by operation %q with other settings; give both operations the same settings, or use one", key, ep.op)
		}
		ep.refs++
		return &listener{ep: ep, conn: c}, nil
	}
	ep := &endpoint{
		op: op, key: key, cfg: cfg,
		inboxName: c.name + ":" + key, // the runtime's name for the listener
		inbox:     c.env.Inbox,
		log:       c.env.Log.With().Str("webhook", key).Logger(),
		grace:     startGrace,
		queueCap:  maxQueued,
		started:   make(chan struct{}),
		inflight:  map[uint64]struct{}{},
		wake:      make(chan struct{}, 1),
		refs:      1,
	}
	remove, err := c.env.Webhooks.Handle(cfg.method, cfg.path, ep)
	if err != nil {
		return nil, fmt.Errorf("webhook %s: %w", key, err)
	}
	ep.remove = remove
	c.endpoints[key] = ep
	ep.log.Debug().Str("ack", cfg.ack).Msg("webhook route registered")
	return &listener{ep: ep, conn: c}, nil
}

// release drops one handle on ep and removes its route after the last.
func (c *connection) release(ep *endpoint) {
	c.mu.Lock()
	ep.refs--
	last := ep.refs <= 0 && c.endpoints[ep.key] == ep
	if last {
		delete(c.endpoints, ep.key)
	}
	c.mu.Unlock()
	if last {
		ep.shut()
	}
}

// endpoint serves one webhook route.
type endpoint struct {
	op        string // the first operation that made it
	key       string
	inboxName string
	cfg       listenConfig
	inbox     operations.Inbox
	log       zerolog.Logger
	grace     time.Duration
	remove    func()
	refs      int // listener handles; guarded by connection.mu

	mu      sync.Mutex
	run     *runState     // nil while Run is not running
	started chan struct{} // closed when Run starts
	closed  bool

	// ack: accepted. putMu is held shared around Inbox.Put and its
	// enqueue, exclusively around reading Pending, so that a document is
	// either in what Pending returns or queued after it, never both.
	putMu    sync.RWMutex
	qmu      sync.Mutex
	queue    []operations.InboxItem
	queueCap int
	overflow bool // more were put than the queue holds: read the inbox
	inflight map[uint64]struct{}
	wake     chan struct{}
}

type runState struct {
	ctx    context.Context
	stream operations.Stream
}

func (e *endpoint) begin(ctx context.Context, s operations.Stream) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	switch {
	case e.closed:
		return ErrClosed
	case e.run != nil:
		return ErrAlreadyRunning
	}
	e.run = &runState{ctx: ctx, stream: s}
	close(e.started)
	return nil
}

func (e *endpoint) end() {
	e.mu.Lock()
	e.run = nil
	e.started = make(chan struct{})
	e.mu.Unlock()
}

func (e *endpoint) shut() {
	e.mu.Lock()
	was := e.closed
	e.closed = true
	e.mu.Unlock()
	if !was && e.remove != nil {
		e.remove()
		e.log.Debug().Msg("webhook route removed")
	}
}

// awaitRun returns the running Run, waiting up to the grace for one to
// start; nil when none did.
func (e *endpoint) awaitRun(ctx context.Context) *runState {
	e.mu.Lock()
	run, started, closed := e.run, e.started, e.closed
	e.mu.Unlock()
	if run != nil || closed || e.grace <= 0 {
		return run
	}
	t := time.NewTimer(e.grace)
	defer t.Stop()
	select {
	case <-started:
	case <-t.C:
	case <-ctx.Done():
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.run
}

// ServeHTTP answers one webhook request.
func (e *endpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	run := e.awaitRun(r.Context())
	if run == nil {
		w.Header().Set("Retry-After", retryAfterSeconds)
		writeError(w, http.StatusServiceUnavailable, "listener_paused",
			fmt.Sprintf("webhook %s is not taking requests: its listener is paused, restarting or stopping; retry later", e.key))
		return
	}
	body, ok := e.readBody(w, r, run)
	if !ok {
		return
	}
	doc := e.document(r, body)
	if e.cfg.ack == AckAccepted {
		e.accept(w, run, doc)
		return
	}
	e.complete(w, r, run, doc)
}

// complete delivers doc and answers with the outcome of its runs.
func (e *endpoint) complete(w http.ResponseWriter, r *http.Request, run *runState, doc operations.Document) {
	waitCtx, cancel := context.WithTimeout(r.Context(), e.cfg.timeout)
	defer cancel()
	// Deliver also gives up when the listener stops; waiting for the
	// outcome does not, since the runtime finishes runs in flight.
	deliverCtx, stopDeliver := context.WithCancel(waitCtx)
	defer stopDeliver()
	defer context.AfterFunc(run.ctx, stopDeliver)()

	done := make(chan operations.Outcome, 1)
	ev := operations.Event{Doc: doc, Done: func(o operations.Outcome) {
		select {
		case done <- o:
		default: // called twice: the first answer stands
		}
	}}
	if err := run.stream.Deliver(deliverCtx, ev); err != nil {
		switch {
		case r.Context().Err() != nil:
			// The caller left; nothing was delivered and nobody listens.
		case run.ctx.Err() != nil:
			w.Header().Set("Retry-After", retryAfterSeconds)
			writeError(w, http.StatusServiceUnavailable, "stopping", fmt.Sprintf("webhook %s is stopping; retry later", e.key))
		default:
			run.stream.Count("webhook_busy")
			w.Header().Set("Retry-After", retryAfterSeconds)
			writeError(w, http.StatusServiceUnavailable, "busy",
				fmt.Sprintf("webhook %s could not take the document within %s: the processes are busy; retry later", e.key, e.cfg.timeout))
		}
		return
	}
	select {
	case o := <-done:
		e.answer(w, run, o)
	case <-waitCtx.Done():
		if r.Context().Err() != nil {
			return // the caller left; the runs go on
		}
		run.stream.Count("webhook_timeouts")
		writeError(w, http.StatusGatewayTimeout, "timeout",
			fmt.Sprintf("processing did not finish within %s; it goes on, and sending the document again may process it twice", e.cfg.timeout))
	}
}

// answer writes what the runs for a document came to.
func (e *endpoint) answer(w http.ResponseWriter, run *runState, o operations.Outcome) {
	switch {
	case o.Err != nil:
		// The error itself stays in the atom (logs, execution history): it
		// may name internal systems the caller has no business knowing.
		if run.ctx.Err() != nil {
			w.Header().Set("Retry-After", retryAfterSeconds)
			writeError(w, http.StatusServiceUnavailable, "stopping", "processing stopped before it finished and the document was not kept; retry later")
			return
		}
		writeError(w, http.StatusInternalServerError, "process_failed", "processing failed and the document was not kept; retry")
	case o.DeadLettered > 0:
		writeJSON(w, http.StatusUnprocessableEntity, map[string]any{
			"error":        "processing failed and the document was kept as a dead letter; do not send it again",
			"code":         "dead_lettered",
			"deadLettered": o.DeadLettered,
		})
	case o.Reply != nil:
		writeJSON(w, http.StatusOK, o.Reply.Body)
	default:
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	}
}

// accept queues doc durably and answers 202 with its inbox ID.
func (e *endpoint) accept(w http.ResponseWriter, run *runState, doc operations.Document) {
	e.putMu.RLock()
	id, err := e.inbox.Put(e.inboxName, doc)
	if err == nil {
		e.enqueue(operations.InboxItem{ID: id, Doc: doc})
	}
	e.putMu.RUnlock()
	if err != nil {
		run.stream.Count("inbox_put_failed")
		log := run.stream.Log()
		log.Error().Err(err).Msg("queue webhook document")
		w.Header().Set("Retry-After", retryAfterSeconds)
		writeError(w, http.StatusServiceUnavailable, "store_failed", "the document could not be stored; retry later")
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"id": id, "status": "accepted"})
}

// document builds a webhook's document from its request.
func (e *endpoint) document(r *http.Request, body any) operations.Document {
	props := make(map[string]string, 4+len(e.cfg.headerProps))
	props[PropMethod] = r.Method
	props[PropPath] = r.URL.Path
	for name, vs := range r.URL.Query() {
		if len(vs) > 0 && !sensitiveName(name) {
			props[PropQueryPrefix+name] = vs[0]
		}
	}
	for _, name := range e.cfg.headerProps {
		if v := r.Header.Get(name); v != "" {
			props[PropHeaderPrefix+strings.ToLower(name)] = v
		}
	}
	return operations.Document{Body: body, Props: props}
}
