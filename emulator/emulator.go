package emulator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
)

// Emulator is a running (or ready to run) emulated Salesforce org.
type Emulator struct {
	cfg        Config
	log        zerolog.Logger
	maxVersion float64
	types      map[string]*eventType // by lower-case name
	order      []*eventType
	publisher  string // user ID that Go-API publishes are created by
	bus        *bus
	auth       *authority
	limits     *limits
	comet      *cometServer

	callsMu sync.Mutex
	calls   map[string]int

	fail503 atomic.Int64
	latency atomic.Int64

	mu      sync.Mutex
	ln      *gateListener
	srv     *http.Server
	url     string
	conns   map[net.Conn]struct{}
	closed  bool
	closing chan struct{}
	done    chan struct{}
}

// New builds an emulator from a configuration (zero fields take their
// defaults; see Config) and loads the persisted bus, if any. It does not
// listen yet: call Listen or Start.
func New(cfg Config) (*Emulator, error) {
	cfg = withDefaults(cfg)
	if problems := validate(&cfg, nil); len(problems) > 0 {
		return nil, fmt.Errorf("%w:\n%s", ErrInvalidConfig, strings.Join(problems, "\n"))
	}
	log := zerolog.Nop()
	if cfg.Logger != nil {
		log = cfg.Logger.With().Str("component", "emulator").Logger()
	}
	e := &Emulator{
		cfg:     cfg,
		log:     log,
		types:   map[string]*eventType{},
		auth:    newAuthority(cfg),
		limits:  newLimits(cfg.Limits),
		calls:   map[string]int{},
		conns:   map[net.Conn]struct{}{},
		closing: make(chan struct{}),
		done:    make(chan struct{}),
	}
	e.maxVersion, _ = strconv.ParseFloat(cfg.APIVersion, 64)
	for _, def := range cfg.Events {
		et := compileEvent(def)
		e.types[strings.ToLower(et.name)] = et
		e.order = append(e.order, et)
	}
	e.bus = newBus(e.order, cfg.Retention)
	e.publisher = e.auth.users[strings.ToLower(cfg.Users[0].Username)].id
	e.comet = &cometServer{e: e, log: log, clients: map[string]*cometClient{}}
	if cfg.Persistence != "" {
		p, err := openPersist(cfg.Persistence, e.bus, log)
		if err != nil {
			return nil, fmt.Errorf("open emulator bus %s: %w", cfg.Persistence, err)
		}
		e.bus.persist = p
	}
	return e, nil
}

// Listen binds addr (host:port; port 0 picks a free one) and serves in the
// background until Close.
func (e *Emulator) Listen(addr string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return ErrClosed
	}
	if e.srv != nil {
		return fmt.Errorf("emulator already listening on %s", e.url)
	}
	inner, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("emulator listen on %s: %w", addr, err)
	}
	e.ln = &gateListener{Listener: inner}
	e.url = "http://" + inner.Addr().String()
	e.srv = &http.Server{
		Handler:           e.routes(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ConnState:         e.trackConn,
		ErrorLog:          nil,
	}
	go func() {
		if err := e.srv.Serve(e.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			e.log.Error().Err(err).Msg("emulator server stopped")
		}
	}()
	go e.housekeeping()
	e.log.Info().Str("url", e.url).Msg("salesforce emulator listening")
	return nil
}

// Start listens on the configured address (Config.Listen) and closes the
// emulator when ctx is cancelled.
func (e *Emulator) Start(ctx context.Context) error {
	if err := e.Listen(e.cfg.Listen); err != nil {
		return err
	}
	go func() {
		select {
		case <-ctx.Done():
			_ = e.Close()
		case <-e.closing:
		}
	}()
	return nil
}

// URL is the login and instance URL, e.g. http://127.0.0.1:43127; empty
// before Listen.
func (e *Emulator) URL() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.url
}

// Close stops serving, ends every held connect and closes the bus file.
func (e *Emulator) Close() error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil
	}
	e.closed = true
	close(e.closing)
	srv := e.srv
	e.mu.Unlock()
	var errs []error
	if srv != nil {
		errs = append(errs, srv.Close())
		<-e.done
	}
	if e.bus.persist != nil {
		e.bus.mu.Lock()
		errs = append(errs, e.bus.persist.close())
		e.bus.persist = nil
		e.bus.mu.Unlock()
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("close emulator: %w", err)
	}
	return nil
}

// housekeeping forgets idle CometD clients and trims expired events.
func (e *Emulator) housekeeping() {
	defer close(e.done)
	every := e.cfg.CometD.MaxInterval / 4
	if every > time.Second {
		every = time.Second
	}
	if every < 10*time.Millisecond {
		every = 10 * time.Millisecond
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-e.closing:
			return
		case now := <-tick.C:
			e.comet.sweep(now)
			e.bus.trimAll()
		}
	}
}

func (e *Emulator) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/services/oauth2/token", e.handleToken)
	mux.HandleFunc("/services/oauth2/revoke", e.handleRevoke)
	mux.HandleFunc("/id/", e.handleIdentity)
	mux.HandleFunc("/services/data", e.handleData)
	mux.HandleFunc("/services/data/", e.handleData)
	mux.HandleFunc("/cometd/", e.handleCometD)
	mux.HandleFunc("/__emulator/", e.handleAdmin)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeREST(w, http.StatusNotFound, notFound())
	})
	return mux
}

// trackConn remembers open connections so faults can cut them.
func (e *Emulator) trackConn(c net.Conn, state http.ConnState) {
	e.mu.Lock()
	defer e.mu.Unlock()
	switch state {
	case http.StateNew:
		e.conns[c] = struct{}{}
	case http.StateClosed, http.StateHijacked:
		delete(e.conns, c)
	}
}

func (e *Emulator) closeConns() {
	e.mu.Lock()
	conns := make([]net.Conn, 0, len(e.conns))
	for c := range e.conns {
		conns = append(conns, c)
	}
	e.mu.Unlock()
	for _, c := range conns {
		_ = c.Close()
	}
}

// gateListener accepts and at once resets connections while refusing.
type gateListener struct {
	net.Listener
	refuse atomic.Bool
}

func (l *gateListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if !l.refuse.Load() {
			return c, nil
		}
		if tcp, ok := c.(*net.TCPConn); ok {
			_ = tcp.SetLinger(0) // reset rather than a clean close
		}
		_ = c.Close()
	}
}

// count records one API call of a kind.
func (e *Emulator) count(kind string) {
	e.callsMu.Lock()
	e.calls[kind]++
	e.callsMu.Unlock()
}

// delay applies the injected latency; false means the client gave up.
func (e *Emulator) delay(ctx context.Context) bool {
	d := time.Duration(e.latency.Load())
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	case <-e.closing:
		return false
	}
}

// take503 consumes one injected 503, if any is left.
func (e *Emulator) take503() bool {
	for {
		n := e.fail503.Load()
		if n <= 0 {
			return false
		}
		if e.fail503.CompareAndSwap(n, n-1) {
			return true
		}
	}
}

type unavailableWriter func(w http.ResponseWriter)

func rest503(w http.ResponseWriter) {
	writeREST(w, http.StatusServiceUnavailable, restError{Message: "Server temporarily unavailable. Try again later.", ErrorCode: "SERVER_UNAVAILABLE"})
}

func oauth503(w http.ResponseWriter) {
	writeJSON(w, http.StatusServiceUnavailable, oauthError{"temporarily_unavailable", "service temporarily unavailable, try again later"})
}

// begin counts a call and applies latency and injected 503s; false means
// the request was answered (or abandoned) already.
func (e *Emulator) begin(w http.ResponseWriter, r *http.Request, kind string, unavailable unavailableWriter) bool {
	e.count(kind)
	if !e.delay(r.Context()) {
		return false
	}
	if e.take503() {
		unavailable(w)
		return false
	}
	return true
}

// baseURL is the URL a client reached us at: the login and instance URL.
func baseURL(r *http.Request) string {
	return "http://" + r.Host
}

// handleToken serves the OAuth 2.0 token endpoint.
func (e *Emulator) handleToken(w http.ResponseWriter, r *http.Request) {
	if !e.begin(w, r, "token", oauth503) {
		return
	}
	w.Header().Set("Cache-Control", "no-cache,must-revalidate,max-age=0,no-store,private")
	if r.Method != http.MethodPost {
		writeJSON(w, http.StatusBadRequest, oauthError{"invalid_request", "must use HTTP POST"})
		return
	}
	resp, oe := e.auth.grant(r, baseURL(r))
	if oe != nil {
		e.log.Info().Str("grant_type", r.PostForm.Get("grant_type")).Str("error", oe.Error).Str("reason", oe.Description).Msg("token refused")
		writeJSON(w, http.StatusBadRequest, oe)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

// handleRevoke serves the token revocation endpoint.
func (e *Emulator) handleRevoke(w http.ResponseWriter, r *http.Request) {
	if !e.begin(w, r, "revoke", oauth503) {
		return
	}
	token := r.URL.Query().Get("token")
	if r.Method == http.MethodPost {
		if err := r.ParseForm(); err == nil && r.PostForm.Get("token") != "" {
			token = r.PostForm.Get("token")
		}
	}
	if token == "" {
		writeJSON(w, http.StatusBadRequest, oauthError{"unsupported_token_type", "this token type is not supported"})
		return
	}
	e.auth.revoke(token)
	w.WriteHeader(http.StatusOK)
}

// handleIdentity serves the identity URL (the id of a token response).
func (e *Emulator) handleIdentity(w http.ResponseWriter, r *http.Request) {
	if !e.begin(w, r, "identity", rest503) {
		return
	}
	sess := e.auth.check(r)
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	if sess == nil {
		writeJSON(w, http.StatusForbidden, "Bad_OAuth_Token")
		return
	}
	if len(parts) != 3 || parts[1] != e.cfg.OrgID || parts[2] != sess.user.id {
		writeJSON(w, http.StatusForbidden, "Bad_Id")
		return
	}
	base := baseURL(r)
	writeJSON(w, http.StatusOK, map[string]any{
		"id": base + r.URL.Path, "user_id": sess.user.id, "organization_id": e.cfg.OrgID,
		"username": sess.user.username, "display_name": sess.user.name, "active": true, "user_type": "STANDARD",
		"urls": map[string]string{
			"rest":     base + "/services/data/v{version}/",
			"sobjects": base + "/services/data/v{version}/sobjects/",
			"limits":   base + "/services/data/v{version}/limits/",
			"profile":  base + "/" + sess.user.id,
		},
	})
}

// eventType finds an event definition by API name (case-insensitive).
func (e *Emulator) eventType(name string) *eventType {
	return e.types[strings.ToLower(name)]
}

// channelType finds the event of a channel /event/Name__e.
func (e *Emulator) channelType(channel string) *eventType {
	name, ok := strings.CutPrefix(channel, "/event/")
	if !ok {
		return nil
	}
	return e.eventType(name)
}

// lookupType accepts an event name or its channel.
func (e *Emulator) lookupType(nameOrChannel string) *eventType {
	if et := e.channelType(nameOrChannel); et != nil {
		return et
	}
	return e.eventType(nameOrChannel)
}

// Publish publishes an event as the first configured user, validated as a
// REST publish is, and returns its replay ID. It counts no API call and no
// limit. event is the API name (Order_Placed__e) or the channel.
func (e *Emulator) Publish(event string, fields map[string]any) (int64, error) {
	et := e.lookupType(event)
	if et == nil {
		return 0, fmt.Errorf("publish %s: %w (defined: %s)", event, ErrUnknownEvent, e.eventNames())
	}
	body, err := json.Marshal(fields)
	if err != nil {
		return 0, fmt.Errorf("publish %s: %w: %v", et.name, ErrInvalidEvent, err)
	}
	raw, apiErr := decodeRecord(body, et.name)
	if apiErr == nil {
		var values recordValues
		values, apiErr = et.validateRecord(raw, body)
		if apiErr == nil {
			res, err := e.bus.publish(et, []recordValues{values}, e.publisher)
			if err != nil {
				return 0, fmt.Errorf("publish %s: %w", et.name, err)
			}
			return res[0].replayID, nil
		}
	}
	return 0, fmt.Errorf("publish %s: %w: %s %s", et.name, ErrInvalidEvent, apiErr.code, apiErr.message)
}

func (e *Emulator) eventNames() string {
	names := make([]string, len(e.order))
	for i, et := range e.order {
		names[i] = et.name
	}
	return strings.Join(names, ", ")
}

// Events returns the retained events of a channel (its name or
// /event/Name), oldest first; nil for an unknown one.
func (e *Emulator) Events(channel string) []Event {
	et := e.lookupType(channel)
	if et == nil {
		return nil
	}
	return e.bus.snapshot(e.bus.logs[et.name])
}

// Subscribers returns how many CometD clients are subscribed to a channel
// (its name or /event/Name).
func (e *Emulator) Subscribers(channel string) int {
	et := e.lookupType(channel)
	if et == nil {
		return 0
	}
	return e.comet.subscribers(et)
}

// Calls returns how many API calls were made, by kind: token, revoke,
// identity, versions, resources, limits, global_describe, sobject,
// describe, publish, composite, rest_other, handshake, connect, subscribe,
// unsubscribe, disconnect, cometd_other. Failed and faulted calls count too.
func (e *Emulator) Calls() map[string]int {
	e.callsMu.Lock()
	defer e.callsMu.Unlock()
	out := make(map[string]int, len(e.calls))
	for k, v := range e.calls {
		out[k] = v
	}
	return out
}

// ResetCalls sets every call count back to zero.
func (e *Emulator) ResetCalls() {
	e.callsMu.Lock()
	clear(e.calls)
	e.callsMu.Unlock()
}

// DropClients makes the server forget every CometD client: held connects
// and later requests answer 403::Unknown client with advice to handshake.
func (e *Emulator) DropClients() int {
	n := e.comet.dropAll("fault")
	e.log.Info().Int("clients", n).Msg("fault: dropped cometd clients")
	return n
}

// ExpireTokens invalidates every access token (refresh tokens stay good):
// REST answers 401 INVALID_SESSION_ID and CometD 401::Authentication
// invalid. Held connects end at once so the next one sees it.
func (e *Emulator) ExpireTokens() int {
	n := e.auth.expireAll()
	e.comet.endPolls()
	e.log.Info().Int("sessions", n).Msg("fault: expired access tokens")
	return n
}

// Fail503 makes the next n API requests (token, REST, CometD) answer 503;
// a CometD subscribe gets it in-band, in ext.sfdc.failureReason.
func (e *Emulator) Fail503(n int) {
	e.fail503.Store(int64(n))
}

// SetLatency delays every API request by d (0 turns it off).
func (e *Emulator) SetLatency(d time.Duration) {
	e.latency.Store(int64(d))
}

// SetRetention changes how long events are kept. Shrinking it makes older
// events unreplayable: a subscribe from one of their replay IDs fails with
// the invalid replay ID error.
func (e *Emulator) SetRetention(d time.Duration) {
	e.bus.retention.Store(int64(d))
	e.bus.trimAll()
}

// RefuseConnections, while true, resets every new TCP connection and cuts
// the open ones (so the admin endpoints are out of reach too).
func (e *Emulator) RefuseConnections(refuse bool) {
	e.mu.Lock()
	ln := e.ln
	e.mu.Unlock()
	if ln == nil {
		return
	}
	ln.refuse.Store(refuse)
	if refuse {
		e.closeConns()
	}
}

// Restart simulates a server restart: every connection is cut and every
// CometD client forgotten (clients must handshake again and get new client
// IDs); sessions and the bus are kept.
func (e *Emulator) Restart() error {
	e.mu.Lock()
	closed := e.closed
	e.mu.Unlock()
	if closed {
		return ErrClosed
	}
	n := e.comet.dropAll("restart")
	e.closeConns()
	e.log.Info().Int("clients", n).Msg("fault: restarted")
	return nil
}

// NewSession issues an access token for a user through the first app,
// without the OAuth round trip.
func (e *Emulator) NewSession(username string) (string, error) {
	u := e.auth.users[strings.ToLower(username)]
	if u == nil {
		return "", fmt.Errorf("new session for %q: %w", username, ErrUnknownUser)
	}
	return e.auth.newSession(u, e.auth.apps[e.cfg.Apps[0].ClientID]), nil
}

// IssueRefreshToken issues a refresh token for a user and app, as the web
// server flow would.
func (e *Emulator) IssueRefreshToken(clientID, username string) (string, error) {
	ap := e.auth.apps[clientID]
	if ap == nil {
		return "", fmt.Errorf("issue refresh token for app %q: %w", clientID, ErrUnknownApp)
	}
	u := e.auth.users[strings.ToLower(username)]
	if u == nil {
		return "", fmt.Errorf("issue refresh token for %q: %w", username, ErrUnknownUser)
	}
	return e.auth.newRefreshToken(u, ap), nil
}

// Config returns the effective configuration (defaults applied).
func (e *Emulator) Config() Config {
	return e.cfg
}

// State is a snapshot of the emulator for tests and the admin endpoint.
type State struct {
	// URL is the login and instance URL.
	URL string `json:"url"`
	// Channels describes each event channel, by /event/Name__e.
	Channels map[string]ChannelState `json:"channels"`
	// Clients is how many CometD clients the server knows.
	Clients int `json:"clients"`
	// Calls counts API calls by kind, as Calls does.
	Calls map[string]int `json:"calls"`
	// Limits is what /limits reports now.
	Limits map[string]Limit `json:"limits"`
	// Faults shows the injected faults in force.
	Faults FaultState `json:"faults"`
}

// FaultState shows the faults in force.
type FaultState struct {
	// Fail503Remaining is how many requests will still answer 503.
	Fail503Remaining int `json:"fail503Remaining"`
	// Latency is the delay added to every API request.
	Latency string `json:"latency"`
	// Retention is how long events are kept now.
	Retention string `json:"retention"`
	// RefuseConnections is true while connections are refused.
	RefuseConnections bool `json:"refuseConnections"`
}

// State returns a snapshot of channels, clients, calls, limits and faults.
func (e *Emulator) State() State {
	clients := e.comet.count()
	st := State{
		URL:      e.URL(),
		Channels: e.bus.state(),
		Clients:  clients,
		Calls:    e.Calls(),
		Limits:   e.limits.report(clients),
		Faults: FaultState{
			Fail503Remaining: int(e.fail503.Load()),
			Latency:          time.Duration(e.latency.Load()).String(),
			Retention:        time.Duration(e.bus.retention.Load()).String(),
		},
	}
	e.mu.Lock()
	if e.ln != nil {
		st.Faults.RefuseConnections = e.ln.refuse.Load()
	}
	e.mu.Unlock()
	return st
}
