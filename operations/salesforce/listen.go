package salesforce

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/atomrt/atom/operations"
)

// listenConfig is a Listen operation's validated settings.
type listenConfig struct {
	channel      string
	replay       string // stored, latest, all, or a replay ID (replayID)
	replayID     int64
	initial      string
	onInvalid    string
	buffer       int
	retryInitial time.Duration
	retryMax     time.Duration
}

var (
	// An API name: letters, digits and single underscores, an optional
	// namespace prefix, and the __e suffix.
	eventPattern   = regexp.MustCompile(`^([A-Za-z][A-Za-z0-9]*(_[A-Za-z0-9]+)*__)?[A-Za-z][A-Za-z0-9]*(_[A-Za-z0-9]+)*__e$`)
	channelPattern = regexp.MustCompile(`^/(event|data)/[A-Za-z][A-Za-z0-9_]*$`)
)

func parseListenConfig(s operations.Settings) (listenConfig, error) {
	cfg := listenConfig{
		replay:       strings.TrimSpace(s.String("replay")),
		initial:      s.String("initial"),
		onInvalid:    s.String("onInvalidReplay"),
		buffer:       int(s.Int("bufferSize")),
		retryInitial: s.Duration("retryInitial"),
		retryMax:     s.Duration("retryMax"),
	}
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	event, channel := s.String("event"), s.String("channel")
	switch {
	case event != "" && channel != "":
		bad("give event or channel, not both")
	case event != "":
		if !eventPattern.MatchString(event) {
			bad("event %q is not a platform event API name (want e.g. Order__e)", event)
		}
		cfg.channel = "/event/" + event
	case channel != "":
		if !channelPattern.MatchString(channel) {
			bad("channel %q is not a channel path (want e.g. /event/Order__e or /data/AccountChangeEvent)", channel)
		}
		cfg.channel = channel
	default:
		bad("event or channel is required (e.g. event: Order__e)")
	}
	switch cfg.replay {
	case ReplayStored, ReplayLatest, ReplayAll:
	default:
		id, err := strconv.ParseInt(cfg.replay, 10, 64)
		if err != nil || id < 0 {
			bad("replay %q is unknown (want stored, latest, all or a replay ID)", cfg.replay)
		}
		cfg.replayID = id
	}
	if cfg.initial != ReplayLatest && cfg.initial != ReplayAll {
		bad("initial %q is unknown (want latest or all)", cfg.initial)
	}
	switch cfg.onInvalid {
	case ReplayAll, ReplayLatest, ReplayFail:
	default:
		bad("onInvalidReplay %q is unknown (want all, latest or fail)", cfg.onInvalid)
	}
	if cfg.buffer < 1 {
		bad("bufferSize %d must be at least 1", cfg.buffer)
	}
	if cfg.retryInitial <= 0 || cfg.retryMax < cfg.retryInitial {
		bad("retryInitial (%s) must be positive and at most retryMax (%s)", cfg.retryInitial, cfg.retryMax)
	}
	if len(problems) > 0 {
		return cfg, fmt.Errorf("%w: %s", ErrSettings, strings.Join(problems, "; "))
	}
	return cfg, nil
}

// listener is a Listen operation: one channel, one CometD session at a
// time.
type listener struct {
	c   *conn
	op  string
	cfg listenConfig

	// requestTimeout bounds a handshake or a subscribe; margin is added to
	// the advice timeout to bound a connect (the watchdog); 0 means
	// adviceTimeout/10 + 2s.
	requestTimeout time.Duration
	margin         time.Duration

	// read counts the events put into the read-ahead buffer, over every
	// run: with what the runtime received, it shows how far reading ran
	// ahead of processing.
	read atomic.Int64
}

func newListener(c *conn, op string, cfg listenConfig) *listener {
	return &listener{c: c, op: op, cfg: cfg, requestTimeout: 30 * time.Second}
}

// Key implements operations.Listener: the channel path.
func (l *listener) Key() string { return l.cfg.channel }

// watchdog is how long a connect may go without an answer.
func (l *listener) watchdog(advice time.Duration) time.Duration {
	if l.margin > 0 {
		return advice + l.margin
	}
	return advice + advice/10 + 2*time.Second
}

// Run implements operations.Listener. It keeps a CometD session going
// until ctx ends, and returns an error only for what retrying cannot fix:
// a channel that does not exist, credentials Salesforce refuses, a replay
// ID refused under onInvalidReplay: fail.
func (l *listener) Run(ctx context.Context, s operations.Stream) error {
	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	r := &run{
		l:   l,
		s:   s,
		log: s.Log().With().Str("channel", l.cfg.channel).Logger(),
		out: make(chan operations.Event, l.cfg.buffer),
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		r.deliver(ctx, cancel)
	}()
	err := r.loop(ctx) // nil when ctx ended, else what retrying cannot fix
	cancel()
	wg.Wait()
	switch {
	case err != nil:
		// Reported even when the listener is being stopped meanwhile: the
		// failure came first.
		return err
	case parent.Err() != nil:
		return nil
	}
	return r.deliverErr
}

// sincePrefix marks a position that is a time, not a replay ID: "every
// event published since", committed when a listener subscribes to new
// events before any has come (see markStart).
const sincePrefix = "since:"

func parseSince(pos string) (time.Time, bool) {
	rest, ok := strings.CutPrefix(pos, sincePrefix)
	if !ok {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339, rest)
	return t, err == nil
}

// markStart commits, as the listener's position, when it subscribed to
// new events (by Salesforce's clock, a second early for the Date header's
// rounding), so that a resubscribe or restart before the first event
// replays from there instead of from "new" again, which would skip the
// events published in between.
func (r *run) markStart(b *bayeux) {
	at := b.serverTime
	if at.IsZero() {
		at = time.Now().Add(-5 * time.Second) // no Date header: allow for clock skew
	}
	r.s.Mark(sincePrefix + at.Add(-time.Second).UTC().Format(time.RFC3339))
}

// beforeStart reports whether an event, replayed from a "since" position,
// was published before that time: the listener had not subscribed yet. A
// missing or unreadable CreatedDate is delivered, never dropped.
func (r *run) beforeStart(data *eventData) bool {
	if r.floor.IsZero() {
		return false
	}
	if p, ok := data.Payload.(map[string]any); ok {
		if v, ok := p["CreatedDate"].(string); ok {
			if t, err := time.Parse(time.RFC3339Nano, v); err == nil && t.Before(r.floor) {
				return true
			}
		}
	}
	r.floor = time.Time{} // events come in order: the rest are newer
	return false
}

// run is the state of one Run.
type run struct {
	l          *listener
	s          operations.Stream
	log        zerolog.Logger
	out        chan operations.Event // the read-ahead buffer
	deliverErr error

	// lastRead is the replay ID of the last event put into out: after a
	// resubscribe, events up to it are already on their way and are
	// skipped, by comparing IDs (they are ordered within a channel).
	lastRead int64
	haveRead bool

	// refused is a replay ID Salesforce refused during this run, and
	// fallback the replay value the policy chose instead.
	refused     string
	fallback    int64
	hasFallback bool

	// floor, after replaying from a "since" position, is the time before
	// which replayed events are passed over.
	floor time.Time
}

// fatalError ends Run: retrying cannot fix it.
type fatalError struct{ err error }

func (e *fatalError) Error() string { return e.err.Error() }
func (e *fatalError) Unwrap() error { return e.err }

// retryNow is a failure already dealt with (a new token was fetched): the
// next session starts without waiting.
type retryNow struct{ err error }

func (e *retryNow) Error() string { return e.err.Error() }
func (e *retryNow) Unwrap() error { return e.err }

// deliver hands buffered events to the runtime, one at a time, in order.
func (r *run) deliver(ctx context.Context, cancel context.CancelFunc) {
	for {
		select {
		case ev := <-r.out:
			if err := r.s.Deliver(ctx, ev); err != nil {
				if ctx.Err() == nil {
					r.deliverErr = fmt.Errorf("deliver: %w", err)
					cancel()
				}
				return
			}
		case <-ctx.Done():
			return
		}
	}
}

// loop runs sessions until ctx ends or one fails for good.
func (r *run) loop(ctx context.Context) error {
	bo := backoff{initial: r.l.cfg.retryInitial, max: r.l.cfg.retryMax}
	var lastQuick time.Time // the last retry made without waiting
	for {
		live, err := r.session(ctx)
		if ctx.Err() != nil {
			return nil
		}
		var fatal *fatalError
		if errors.As(err, &fatal) {
			r.s.SetState(operations.Failed, fatal.err)
			r.log.Error().Err(fatal.err).Msg("salesforce listener stopped")
			return fatal.err
		}
		if live {
			bo.reset()
		}
		wait := bo.next()
		var now *retryNow
		if (live || errors.As(err, &now)) && time.Since(lastQuick) > r.l.cfg.retryMax {
			// The session worked until now, or the cause is dealt with:
			// try again at once, but not twice in a row, so that a server
			// that fails every session quickly is not hammered.
			wait, lastQuick = 0, time.Now()
		}
		r.s.Count("reconnects")
		r.s.SetState(operations.Reconnecting, err)
		r.log.Warn().Err(err).Dur("retry_in", wait).Msg("salesforce stream interrupted; reconnecting")
		if !sleep(ctx, wait) {
			return nil
		}
	}
}

// session handshakes, subscribes and polls until something fails. live
// reports whether at least one connect succeeded.
func (r *run) session(ctx context.Context) (live bool, err error) {
	b := newBayeux(r.l.c)
	if err := r.handshake(ctx, b); err != nil {
		return false, err
	}
	if err := r.subscribe(ctx, b); err != nil {
		return false, err
	}
	defer func() {
		if ctx.Err() != nil { // stopped or paused: let the server forget us now
			b.disconnect()
		}
	}()
	r.s.SetState(operations.Running, nil)
	for {
		wait := r.l.watchdog(b.adviceTimeout())
		replies, err := b.connect(ctx, wait)
		if err != nil {
			return live, r.connectError(ctx, b, err)
		}
		var rep *reply
		for i := range replies {
			m := &replies[i]
			switch {
			case m.Channel == metaConnect:
				rep = m
			case strings.EqualFold(m.Channel, r.l.cfg.channel): // API names are case-insensitive
				if err := r.push(ctx, m); err != nil {
					return live, err
				}
			default:
				r.log.Warn().Str("message_channel", m.Channel).Msg("ignoring a message for another channel")
			}
		}
		if rep != nil && !rep.Successful {
			return live, r.connectRefused(ctx, b, rep)
		}
		live = true
		r.l.c.auth.good(b.sess)
		switch b.advice.Reconnect {
		case "handshake":
			return live, errors.New("salesforce advised a new handshake")
		case "none":
			return live, errors.New("salesforce advised not to reconnect")
		}
		if b.advice.Interval > 0 && !sleep(ctx, time.Duration(b.advice.Interval)*time.Millisecond) {
			return live, ctx.Err()
		}
	}
}

// handshake opens b, authenticating again once if the token is refused.
func (r *run) handshake(ctx context.Context, b *bayeux) error {
	sess, err := r.l.c.auth.session(ctx)
	if err != nil {
		return authError(err)
	}
	for attempt := 0; ; attempt++ {
		rep, err := b.handshake(ctx, sess, r.l.requestTimeout)
		var unauthorized *errUnauthorized
		denied := errors.As(err, &unauthorized) || (err == nil && !rep.Successful && rep.code() == "401")
		if denied && attempt == 0 {
			if sess, err = r.reauth(ctx, sess, "handshake denied"); err != nil {
				return err
			}
			continue
		}
		switch {
		case err != nil:
			return fmt.Errorf("handshake: %w", err)
		case !rep.Successful:
			return fmt.Errorf("handshake refused: %s", rep.reason())
		case !replayEnabled(rep):
			return &fatalError{fmt.Errorf("%w: the handshake answer lacks ext.replay true (check apiVersion is 37.0 or later)", ErrNoReplay)}
		}
		return nil
	}
}

// reauth fetches a new token after Salesforce refused sess.
func (r *run) reauth(ctx context.Context, sess *session, why string) (*session, error) {
	r.s.Count("reauth")
	r.log.Info().Str("reason", why).Msg("salesforce refused the session; authenticating again")
	next, err := r.l.c.auth.renew(ctx, sess)
	if err != nil {
		return nil, authError(err)
	}
	return next, nil
}

// authError makes a refusal of the credentials fatal: retrying cannot fix
// it, and the runtime shows it and restarts the listener with its backoff.
func authError(err error) error {
	if errors.Is(err, ErrAuth) || errors.Is(err, ErrSettings) {
		return &fatalError{err}
	}
	return err
}

// subscribe subscribes b to the channel from the position the run must
// resume from, applying the invalid-replay policy if Salesforce refuses it.
func (r *run) subscribe(ctx context.Context, b *bayeux) error {
	channel := r.l.cfg.channel
	from, source, err := r.position()
	if err != nil {
		return err
	}
	for attempt := 0; attempt < 4; attempt++ {
		rep, err := b.subscribe(ctx, channel, from, r.l.requestTimeout)
		var unauthorized *errUnauthorized
		if errors.As(err, &unauthorized) || (err == nil && !rep.Successful && rep.code() == "401") {
			// A new token needs a new handshake.
			if _, err := r.reauth(ctx, b.sess, "subscribe refused"); err != nil {
				return err
			}
			return &retryNow{errors.New("subscribe: session expired (401); handshaking again with a new token")}
		}
		if err != nil {
			return fmt.Errorf("subscribe %s: %w", channel, err)
		}
		if rep.Successful {
			r.log.Info().Int64("replay_from", from).Str("replay_source", source).Msg("salesforce subscribed")
			if from == replayNew && !r.haveRead {
				r.markStart(b)
			}
			return nil
		}
		reason := rep.reason()
		switch {
		case invalidReplay(reason):
			if from, err = r.invalidReplay(from, reason); err != nil {
				return err
			}
			source = "onInvalidReplay " + r.l.cfg.onInvalid
		case strings.Contains(reason, "doesn't exist") || strings.Contains(reason, "does not exist"):
			return &fatalError{fmt.Errorf("%w: subscribe %s: %s (check the event's API name and that the user may read it)", ErrUnknownChannel, channel, reason)}
		default:
			return fmt.Errorf("subscribe %s refused: %s", channel, reason)
		}
	}
	return fmt.Errorf("subscribe %s: refused again and again", channel)
}

// invalidReplay reports a refused replay ID as "400::The replayId {X} you
// provided was invalid...", and not the client bug "The replayId for
// channel ... wasn't found using the provided replay ID map".
func invalidReplay(reason string) bool {
	return strings.Contains(reason, "replayId") && strings.Contains(reason, "invalid")
}

// invalidReplay applies the onInvalidReplay policy to a refused replay ID
// and returns the replay value to subscribe with instead. It is never
// silent: it logs, counts and sets the listener's state.
func (r *run) invalidReplay(from int64, reason string) (int64, error) {
	r.s.Count("invalid_replay")
	r.refused = strconv.FormatInt(from, 10)
	channel := r.l.cfg.channel
	switch r.l.cfg.onInvalid {
	case ReplayFail:
		err := fmt.Errorf("%w: salesforce refused replay ID %d on %s (%s); onInvalidReplay is fail, so the listener stops: set its position, or onInvalidReplay all or latest, to go on",
			ErrInvalidReplay, from, channel, reason)
		return 0, &fatalError{err}
	case ReplayLatest:
		r.fallback = replayNew
	default:
		r.fallback = replayAll
	}
	r.hasFallback = true
	var err error
	if r.fallback == replayAll {
		err = fmt.Errorf("%w: salesforce refused replay ID %d on %s (%s), probably older than the retention window; replaying every retained event as onInvalidReplay all says (events already processed may come again, none is skipped)",
			ErrInvalidReplay, from, channel, reason)
	} else {
		err = fmt.Errorf("%w: salesforce refused replay ID %d on %s (%s), probably older than the retention window; taking new events only as onInvalidReplay latest says: events published after %d and not yet processed are SKIPPED",
			ErrInvalidReplay, from, channel, reason, from)
	}
	r.log.Warn().Err(err).Int64("replay_id", from).Str("policy", r.l.cfg.onInvalid).Msg("salesforce refused the replay ID")
	r.s.SetState(operations.Reconnecting, err)
	return r.fallback, nil
}

// position is the replay value to subscribe with: after the committed
// position; else after the last event read in this run (all of which are
// on their way to the runtime); else the configured start. A committed
// position Salesforce refused in this run is passed over.
func (r *run) position() (from int64, source string, err error) {
	if c := r.s.Committed(); c != "" && c != r.refused {
		if since, ok := parseSince(c); ok {
			// Subscribed to new events before any came: replay what is
			// retained and pass over what was published before then.
			r.floor = since
			return replayAll, "events since " + since.Format(time.RFC3339), nil
		}
		id, err := strconv.ParseInt(c, 10, 64)
		if err != nil {
			return 0, "", &fatalError{fmt.Errorf("%w: the committed position %q is not a replay ID; set the listener's position to a replay ID, or clear it", ErrSettings, c)}
		}
		return id, "committed", nil
	}
	switch {
	case r.haveRead:
		return r.lastRead, "last read", nil
	case r.hasFallback:
		return r.fallback, "onInvalidReplay " + r.l.cfg.onInvalid, nil
	}
	switch r.l.cfg.replay {
	case ReplayLatest:
		return replayNew, "replay latest", nil
	case ReplayAll:
		return replayAll, "replay all", nil
	case ReplayStored:
		if r.l.cfg.initial == ReplayAll {
			return replayAll, "initial all", nil
		}
		return replayNew, "initial latest", nil
	}
	return r.l.cfg.replayID, "replay " + r.l.cfg.replay, nil
}

// connectError handles a failed connect request.
func (r *run) connectError(ctx context.Context, b *bayeux, err error) error {
	var silent *errSilent
	var unauthorized *errUnauthorized
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case errors.As(err, &silent):
		r.s.Count("watchdog")
		return fmt.Errorf("watchdog: %w (advice timeout %s); handshaking again", err, b.adviceTimeout())
	case errors.As(err, &unauthorized):
		if _, err := r.reauth(ctx, b.sess, "connect refused (HTTP 401)"); err != nil {
			return err
		}
		return &retryNow{errors.New("connect: session expired (HTTP 401); handshaking again with a new token")}
	}
	return fmt.Errorf("connect: %w", err)
}

// connectRefused handles an unsuccessful /meta/connect reply.
func (r *run) connectRefused(ctx context.Context, b *bayeux, rep *reply) error {
	reason := rep.reason()
	if rep.code() == "401" {
		if _, err := r.reauth(ctx, b.sess, reason); err != nil {
			return err
		}
		return &retryNow{fmt.Errorf("connect: %s; authenticated again, handshaking", reason)}
	}
	if rep.code() == "403" {
		return fmt.Errorf("connect: %s; salesforce forgot the client, handshaking again and resubscribing from the committed position", reason)
	}
	return fmt.Errorf("connect refused: %s", reason)
}

// push puts one event into the buffer, waiting while it is full: the
// connect loop stops polling rather than drop anything. Events up to the
// last one read in this run are skipped.
func (r *run) push(ctx context.Context, m *reply) error {
	data := m.event
	if data == nil {
		data = new(eventData)
		err := json.Unmarshal(m.Data, data)
		if err == nil && len(m.Data) == 0 {
			err = errors.New("event without data")
		}
		if err != nil {
			r.s.Count("malformed_events")
			r.log.Error().Err(err).Msg("salesforce event cannot be decoded; it has no replay ID to resume from, so it is passed over")
			return nil
		}
	}
	id, err := strconv.ParseInt(data.Event.ReplayID.String(), 10, 64)
	if err != nil {
		r.s.Count("malformed_events")
		r.log.Error().Str("replay_id", data.Event.ReplayID.String()).Msg("salesforce event has no numeric replay ID; passed over")
		return nil
	}
	if r.beforeStart(data) {
		r.s.Count("skipped_before_start")
		return nil
	}
	if r.haveRead && id <= r.lastRead {
		r.s.Count("duplicates_skipped")
		return nil
	}
	ev := r.event(data, id)
	if len(r.out) == cap(r.out) {
		r.log.Debug().Int("buffer", cap(r.out)).Msg("read-ahead buffer full; polling waits for processing")
	}
	select {
	case r.out <- ev:
	case <-ctx.Done():
		return ctx.Err()
	}
	r.lastRead, r.haveRead = id, true
	r.l.read.Add(1)
	return nil
}

// event makes the runtime's event: the payload as the body, and the
// event's identity as properties.
func (r *run) event(data *eventData, id int64) operations.Event {
	pos := strconv.FormatInt(id, 10)
	props := map[string]string{
		"replayId":  pos,
		"eventUuid": data.Event.EventUUID,
		"channel":   r.l.cfg.channel,
		"schema":    data.Schema,
	}
	if p, ok := data.Payload.(map[string]any); ok {
		if v, ok := p["CreatedDate"].(string); ok {
			props["createdDate"] = v
		}
		if v, ok := p["CreatedById"].(string); ok {
			props["createdById"] = v
		}
	}
	return operations.Event{Doc: operations.Document{Body: data.Payload, Props: props}, Position: pos}
}
