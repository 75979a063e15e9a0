package emulator

import (
	"context"
	"errors"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// Bayeux errors exactly as Salesforce words them.
const (
	errUnknownClient   = "403::Unknown client"
	errAuthInvalid     = "401::Authentication invalid"
	errHandshakeDenied = "403::Handshake denied"
	errNoSuchChannel   = "400::The channel you requested to subscribe to doesn't exist"
	errUnavailable     = "503::Service Unavailable"
	errPublishDenied   = "403::Publish denied"
	errUnknownMeta     = "400::Unknown channel"
	errConnectionType  = "400::Unsupported connection type"
	errNotSubscribed   = "400::The subscription was not found"
	cookieBrowser      = "BAYEUX_BROWSER"
)

func errReplayNotInMap(channel string) string {
	return "400::The replayId for channel " + channel + " wasn't found using the provided replay ID map"
}

// cometClient is one handshaken CometD client.
type cometClient struct {
	id      string
	browser string
	version float64
	wake    chan struct{} // cap 1: events or subscriptions changed
	gone    chan struct{} // closed when the server forgets the client

	mu       sync.Mutex
	dropped  bool
	subs     []*clientSub // sorted by channel
	rr       int          // first sub to read next, for fairness
	lastSeen time.Time
	active   int           // requests in progress
	poll     chan struct{} // closed to end the held connect early
	connects int
}

// clientSub is a subscription: a channel and the next position to read.
type clientSub struct {
	log  *channelLog
	next uint64
}

// signal wakes the client's held connect, if any; it never blocks.
func (c *cometClient) signal() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// endPoll answers the held connect now (with no events).
func (c *cometClient) endPoll() {
	c.mu.Lock()
	if c.poll != nil {
		close(c.poll)
		c.poll = nil
	}
	c.mu.Unlock()
}

// cometServer is the Streaming API endpoint.
type cometServer struct {
	e   *Emulator
	log zerolog.Logger

	mu      sync.Mutex
	clients map[string]*cometClient
}

// begin finds a live client and marks a request in progress; it forgets a
// client idle past max_interval, as Salesforce does.
func (s *cometServer) begin(id string, now time.Time) *cometClient {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.clients[id]
	if c == nil {
		return nil
	}
	c.mu.Lock()
	idle := c.active == 0 && now.Sub(c.lastSeen) > s.e.cfg.CometD.MaxInterval
	if !idle {
		c.active++
	}
	c.mu.Unlock()
	if idle {
		s.dropLocked(c, "idle")
		return nil
	}
	return c
}

func (s *cometServer) end(c *cometClient, now time.Time) {
	c.mu.Lock()
	c.active--
	c.lastSeen = now
	c.mu.Unlock()
}

// dropLocked forgets a client; s.mu is held.
func (s *cometServer) dropLocked(c *cometClient, why string) {
	delete(s.clients, c.id)
	c.mu.Lock()
	if !c.dropped {
		c.dropped = true
		close(c.gone)
		for _, sub := range c.subs {
			s.e.bus.removeWaiter(sub.log, c)
		}
		c.subs = nil
	}
	c.mu.Unlock()
	s.log.Debug().Str("client_id", c.id).Str("reason", why).Msg("cometd client dropped")
}

// dropAll forgets every client and returns how many there were.
func (s *cometServer) dropAll(why string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := len(s.clients)
	for _, c := range s.clients {
		s.dropLocked(c, why)
	}
	return n
}

// endPolls answers every held connect now.
func (s *cometServer) endPolls() {
	s.mu.Lock()
	clients := make([]*cometClient, 0, len(s.clients))
	for _, c := range s.clients {
		clients = append(clients, c)
	}
	s.mu.Unlock()
	for _, c := range clients {
		c.endPoll()
	}
}

// sweep forgets clients idle past max_interval.
func (s *cometServer) sweep(now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.clients {
		c.mu.Lock()
		idle := c.active == 0 && now.Sub(c.lastSeen) > s.e.cfg.CometD.MaxInterval
		c.mu.Unlock()
		if idle {
			s.dropLocked(c, "idle")
		}
	}
}

func (s *cometServer) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.clients)
}

// cometdVersion reads the API version from /cometd/62.0[/...].
func (e *Emulator) cometdVersion(path string) (float64, bool) {
	rest := strings.TrimPrefix(path, "/cometd/")
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		rest = rest[:i]
	}
	if !versionRE.MatchString(rest) {
		return 0, false
	}
	v, _ := strconv.ParseFloat(rest, 64)
	return v, v >= minCometDVersion && v <= e.maxVersion
}

// handleCometD serves one Bayeux long-polling request.
func (e *Emulator) handleCometD(w http.ResponseWriter, r *http.Request) {
	version, ok := e.cometdVersion(r.URL.Path)
	if !ok {
		writeREST(w, http.StatusNotFound, notFound())
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		http.Error(w, "the Streaming API takes POST requests (long-polling)", http.StatusMethodNotAllowed)
		return
	}
	if r.ContentLength > maxCometDBody {
		http.Error(w, "Request body too large", http.StatusRequestEntityTooLarge)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxCometDBody))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			http.Error(w, "Request body too large", http.StatusRequestEntityTooLarge)
			return
		}
		return // the client went away
	}
	msgs, err := decodeRequest(body)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, []reply{{Channel: "/meta/unknown", Successful: false, Error: "400::" + err.Error()}})
		return
	}
	onlySubscribes := true
	for _, m := range msgs {
		e.count(cometdKind(m.channel))
		onlySubscribes = onlySubscribes && m.channel == "/meta/subscribe"
	}
	if !e.delay(r.Context()) {
		return
	}
	unavailable := e.take503()
	if unavailable && !onlySubscribes {
		http.Error(w, "Service Unavailable", http.StatusServiceUnavailable)
		return
	}
	sess := e.auth.check(r)
	buf := getBuffer()
	defer putBuffer(buf)
	out := append((*buf)[:0], '[')
	for i, m := range msgs {
		if i > 0 {
			out = append(out, ',')
		}
		out = e.comet.serve(r.Context(), w, r, m, sess, version, unavailable, out)
	}
	out = append(out, ']')
	*buf = out
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(out)))
	_, _ = w.Write(out)
}

func cometdKind(channel string) string {
	switch channel {
	case "/meta/handshake":
		return "handshake"
	case "/meta/connect":
		return "connect"
	case "/meta/subscribe":
		return "subscribe"
	case "/meta/unsubscribe":
		return "unsubscribe"
	case "/meta/disconnect":
		return "disconnect"
	}
	return "cometd_other"
}

// serve handles one message and appends its reply (and, for a connect,
// the events before it) to out.
func (s *cometServer) serve(ctx context.Context, w http.ResponseWriter, r *http.Request, m request, sess *session, version float64, unavailable bool, out []byte) []byte {
	if m.channel == "/meta/handshake" {
		return appendReply(out, s.handshake(w, r, m, sess, version))
	}
	rep := &reply{Channel: m.channel, ClientID: m.clientID, ID: m.id}
	if !strings.HasPrefix(m.channel, "/meta/") {
		rep.Error = errPublishDenied
		return appendReply(out, rep)
	}
	switch m.channel {
	case "/meta/connect", "/meta/subscribe", "/meta/unsubscribe", "/meta/disconnect":
	default:
		rep.Error = errUnknownMeta
		return appendReply(out, rep)
	}
	if m.channel == "/meta/subscribe" || m.channel == "/meta/unsubscribe" {
		rep.Subscription = m.subscription
	}
	if sess == nil {
		rep.Error = errAuthInvalid
		rep.Advice = &advice{Reconnect: "none"}
		return appendReply(out, rep)
	}
	now := time.Now()
	c := s.begin(m.clientID, now)
	if c != nil && !s.cookieMatches(r, c) {
		s.log.Warn().Str("client_id", c.id).Msg("cometd request without the BAYEUX_BROWSER cookie set at handshake; answering 403::Unknown client")
		s.end(c, now)
		c = nil
	}
	if c == nil {
		rep.Error = errUnknownClient
		rep.Advice = &advice{Reconnect: "handshake", Interval: 0}
		return appendReply(out, rep)
	}
	defer func() { s.end(c, time.Now()) }()
	switch m.channel {
	case "/meta/connect":
		return s.connect(ctx, c, m, rep, out)
	case "/meta/subscribe":
		s.subscribe(c, m, rep, unavailable)
	case "/meta/unsubscribe":
		s.unsubscribe(c, m, rep)
	case "/meta/disconnect":
		s.mu.Lock()
		s.dropLocked(c, "disconnect")
		s.mu.Unlock()
		rep.Successful = true
	}
	return appendReply(out, rep)
}

func (s *cometServer) cookieMatches(r *http.Request, c *cometClient) bool {
	ck, err := r.Cookie(cookieBrowser)
	return err == nil && ck.Value == c.browser
}

func (s *cometServer) handshake(w http.ResponseWriter, r *http.Request, m request, sess *session, version float64) *reply {
	rep := &reply{Channel: "/meta/handshake", ID: m.id}
	if sess == nil {
		rep.Error = errHandshakeDenied
		rep.Advice = &advice{Reconnect: "none"}
		rep.Ext = &replyExt{Replay: &yes, SFDC: &sfdcExt{FailureReason: errAuthInvalid}}
		return rep
	}
	if !contains(m.connTypes, "long-polling") {
		rep.Error = errConnectionType
		rep.SupportedConnectionTypes = []string{"long-polling"}
		rep.Advice = &advice{Reconnect: "none"}
		return rep
	}
	browser := ""
	if ck, err := r.Cookie(cookieBrowser); err == nil && ck.Value != "" {
		browser = ck.Value
	} else {
		browser = randomToken(26, lowerAlnum)
		http.SetCookie(w, &http.Cookie{Name: cookieBrowser, Value: browser, Path: "/", HttpOnly: true})
	}
	c := &cometClient{
		id:       randomToken(28, lowerAlnum),
		browser:  browser,
		version:  version,
		wake:     make(chan struct{}, 1),
		gone:     make(chan struct{}),
		lastSeen: time.Now(),
	}
	s.mu.Lock()
	s.clients[c.id] = c
	s.mu.Unlock()
	s.log.Debug().Str("client_id", c.id).Str("user", sess.user.username).Msg("cometd handshake")
	rep.ClientID = c.id
	rep.Successful = true
	rep.Version = "1.0"
	rep.MinimumVersion = "1.0"
	rep.SupportedConnectionTypes = []string{"long-polling"}
	rep.Advice = s.retryAdvice()
	rep.Ext = &replyExt{Replay: &yes, PayloadFormat: &yes}
	return rep
}

func (s *cometServer) retryAdvice() *advice {
	return &advice{Reconnect: "retry", Interval: 0, Timeout: s.e.cfg.CometD.Timeout.Milliseconds()}
}

func contains(list []string, want string) bool {
	for _, s := range list {
		if s == want {
			return true
		}
	}
	return false
}

// subscribe resolves the channel and replay option and records the
// subscription; the held connect (if any) is woken to deliver replays.
func (s *cometServer) subscribe(c *cometClient, m request, rep *reply, unavailable bool) {
	if unavailable {
		rep.Error = errUnavailable
		rep.Ext = &replyExt{SFDC: &sfdcExt{FailureReason: errUnavailable}}
		return
	}
	et := s.e.channelType(m.subscription)
	if m.badSub || et == nil {
		rep.Error = errNoSuchChannel
		return
	}
	rep.Subscription = et.channel
	replay := int64(-1)
	if m.replay != nil {
		raw, ok := m.replay[m.subscription]
		if !ok {
			rep.Error = errReplayNotInMap(m.subscription)
			return
		}
		n, ok := replayOption(raw)
		if !ok {
			rep.Error = "400::The replayId {" + string(raw) + "} you provided was invalid.  Please provide a valid ID, -2 to replay all events, or -1 to replay only new events."
			return
		}
		replay = n
	}
	cl := s.e.bus.logs[et.name]
	next, err := s.e.bus.position(cl, replay)
	if err != nil {
		rep.Error = err.Error()
		s.log.Info().Str("client_id", c.id).Str("channel", et.channel).Int64("replay_id", replay).Msg("subscribe refused: replay ID outside retention")
		return
	}
	c.mu.Lock()
	if c.dropped {
		c.mu.Unlock()
		rep.Error = errUnknownClient
		rep.Advice = &advice{Reconnect: "handshake"}
		return
	}
	found := false
	for _, sub := range c.subs {
		if sub.log == cl {
			sub.next, found = next, true
		}
	}
	if !found {
		c.subs = append(c.subs, &clientSub{log: cl, next: next})
		sort.Slice(c.subs, func(i, j int) bool { return c.subs[i].log.et.name < c.subs[j].log.et.name })
		s.e.bus.addWaiter(cl, c)
	}
	c.mu.Unlock()
	c.signal()
	rep.Successful = true
}

func (s *cometServer) unsubscribe(c *cometClient, m request, rep *reply) {
	et := s.e.channelType(m.subscription)
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, sub := range c.subs {
		if et != nil && sub.log.et == et {
			c.subs = append(c.subs[:i], c.subs[i+1:]...)
			s.e.bus.removeWaiter(sub.log, c)
			rep.Successful = true
			return
		}
	}
	rep.Error = errNotSubscribed
}

// connect holds the request until events arrive, the advice timeout
// passes, or something ends it early; then it answers with the events
// (several per response, bounded) followed by the connect reply.
func (s *cometServer) connect(ctx context.Context, c *cometClient, m request, rep *reply, out []byte) []byte {
	c.mu.Lock()
	if c.poll != nil {
		close(c.poll) // a newer connect supersedes the held one
	}
	poll := make(chan struct{})
	c.poll = poll
	first := c.connects == 0
	c.connects++
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		if c.poll == poll {
			c.poll = nil
		}
		c.mu.Unlock()
	}()

	timer := time.NewTimer(s.e.cfg.CometD.Timeout)
	defer timer.Stop()
	var events []storedEvent
	for {
		select {
		case <-c.gone:
			rep.Error = errUnknownClient
			rep.Advice = &advice{Reconnect: "handshake", Interval: 0}
			return appendReply(out, rep)
		default:
		}
		events = s.collect(c, events[:0])
		// The first connect after a handshake answers at once, as CometD
		// servers do, so the client learns the advice.
		if len(events) > 0 || first {
			break
		}
		select {
		case <-c.wake:
			continue
		case <-poll:
		case <-c.gone:
			continue
		case <-timer.C:
		case <-ctx.Done():
		case <-s.e.closing:
		}
		break
	}
	for i := range events {
		out = events[i].appendMsg(out, c.version)
		out = append(out, ',')
	}
	if len(events) > 0 {
		s.e.limits.addDelivered(len(events))
	}
	rep.Successful = true
	rep.Advice = s.retryAdvice()
	return appendReply(out, rep)
}

// collect reads pending events from the client's subscriptions, up to the
// per-response caps, rotating which subscription goes first.
func (s *cometServer) collect(c *cometClient, dst []storedEvent) []storedEvent {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := len(c.subs)
	if n == 0 {
		return dst
	}
	maxEvents, maxBytes := s.e.cfg.CometD.MaxBatch, s.e.cfg.CometD.MaxResponseBytes
	c.rr = (c.rr + 1) % n
	size := 0
	for k := 0; k < n && len(dst) < maxEvents && size < maxBytes; k++ {
		sub := c.subs[(c.rr+k)%n]
		before := len(dst)
		dst, sub.next = s.e.bus.read(sub.log, sub.next, maxEvents-len(dst), maxBytes-size, dst)
		for i := before; i < len(dst); i++ {
			size += len(dst[i].msg) + 1
		}
	}
	return dst
}

// subscribers counts the clients subscribed to a channel.
func (s *cometServer) subscribers(et *eventType) int {
	return s.e.bus.waiterCount(s.e.bus.logs[et.name])
}

var bufferPool = sync.Pool{New: func() any { b := make([]byte, 0, 64<<10); return &b }}

func getBuffer() *[]byte { return bufferPool.Get().(*[]byte) }

func putBuffer(b *[]byte) {
	if cap(*b) > 4<<20 {
		return // don't keep huge buffers around
	}
	*b = (*b)[:0]
	bufferPool.Put(b)
}
