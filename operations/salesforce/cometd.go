package salesforce

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"strconv"
	"strings"
	"time"
)

// The Bayeux meta channels the client uses.
const (
	metaHandshake  = "/meta/handshake"
	metaSubscribe  = "/meta/subscribe"
	metaConnect    = "/meta/connect"
	metaDisconnect = "/meta/disconnect"
)

// Replay map values with a meaning of their own.
const (
	replayNew = -1 // only events published from now on
	replayAll = -2 // every retained event
)

// defaultAdviceTimeout is how long Salesforce holds a connect (110 s) when
// it has not said otherwise.
const defaultAdviceTimeout = 110 * time.Second

// maxCometdResponse bounds one connect answer.
const maxCometdResponse = 64 << 20

// advice is the server's instruction on how to go on.
type advice struct {
	Reconnect string `json:"reconnect,omitempty"` // retry, handshake or none
	Interval  int64  `json:"interval,omitempty"`  // ms to wait before the next connect
	Timeout   int64  `json:"timeout,omitempty"`   // ms the server holds a connect
}

// message is one outgoing Bayeux message.
type message struct {
	Channel                  string         `json:"channel"`
	ID                       string         `json:"id,omitempty"`
	ClientID                 string         `json:"clientId,omitempty"`
	Version                  string         `json:"version,omitempty"`
	MinimumVersion           string         `json:"minimumVersion,omitempty"`
	SupportedConnectionTypes []string       `json:"supportedConnectionTypes,omitempty"`
	ConnectionType           string         `json:"connectionType,omitempty"`
	Subscription             string         `json:"subscription,omitempty"`
	Ext                      map[string]any `json:"ext,omitempty"`
}

// reply is one incoming Bayeux message: a meta reply or an event.
type reply struct {
	Channel    string          `json:"channel"`
	ClientID   string          `json:"clientId"`
	Successful bool            `json:"successful"`
	Error      string          `json:"error"`
	Advice     *advice         `json:"advice"`
	Ext        replyExt        `json:"ext"`
	Data       json.RawMessage `json:"data"`
	// event is Data already decoded, when the whole answer decoded in one
	// pass (see decodeReplies); nil otherwise.
	event *eventData
}

type replyExt struct {
	Replay json.RawMessage `json:"replay"`
	Sfdc   struct {
		FailureReason string `json:"failureReason"`
	} `json:"sfdc"`
}

// reason is the reply's error and Salesforce's failure reason, joined.
func (r *reply) reason() string {
	switch fr := r.Ext.Sfdc.FailureReason; {
	case r.Error == "":
		return fr
	case fr == "" || fr == r.Error:
		return r.Error
	default:
		return r.Error + " (" + fr + ")"
	}
}

// code is the Bayeux error code ("403" of "403::Unknown client"), taken
// from the failure reason when it says more (a handshake denied with 403
// for a 401).
func (r *reply) code() string {
	if c := bayeuxCode(r.Ext.Sfdc.FailureReason); c != "" && c != "403" {
		return c
	}
	return bayeuxCode(r.Error)
}

func bayeuxCode(s string) string {
	code, _, ok := strings.Cut(s, ":")
	if !ok {
		return ""
	}
	return strings.TrimSpace(code)
}

// decodeReplies parses one Bayeux answer: an array of messages, or (seen
// from some servers on errors) a single message.
func decodeReplies(body []byte) ([]reply, error) {
	body = bytes.TrimSpace(body)
	if len(body) > 0 && body[0] == '{' {
		var one reply
		if err := json.Unmarshal(body, &one); err != nil {
			return nil, err
		}
		return []reply{one}, nil
	}
	if replies, ok := decodeEvents(body); ok {
		return replies, nil
	}
	var replies []reply
	if err := json.Unmarshal(body, &replies); err != nil {
		return nil, err
	}
	return replies, nil
}

// decodeEvents decodes an answer with its events in one pass, the common
// case that carries the stream's throughput. It says false when any
// message does not fit (a malformed event), and the caller decodes the
// answer message by message instead, so one bad event is passed over
// alone.
func decodeEvents(body []byte) ([]reply, bool) {
	var msgs []struct {
		reply
		Data *eventData `json:"data"`
	}
	if err := json.Unmarshal(body, &msgs); err != nil {
		return nil, false
	}
	replies := make([]reply, len(msgs))
	for i := range msgs {
		replies[i] = msgs[i].reply
		replies[i].event = msgs[i].Data
	}
	return replies, true
}

// eventData is the data of a platform event or change event message.
type eventData struct {
	Schema  string `json:"schema"`
	Payload any    `json:"payload"`
	Event   struct {
		ReplayID  json.Number `json:"replayId"`
		EventUUID string      `json:"EventUuid"`
	} `json:"event"`
}

// errUnauthorized is an HTTP 401 from the CometD endpoint.
type errUnauthorized struct{ sess *session }

func (e *errUnauthorized) Error() string { return "HTTP 401: the session is no longer valid" }

// errSilent is a CometD request that got no answer in time: the watchdog.
type errSilent struct {
	channel string
	wait    time.Duration
}

func (e *errSilent) Error() string {
	return fmt.Sprintf("%s: no answer within %s; the stream went silent", e.channel, e.wait)
}

// httpStatusError is any other non-200 answer.
type httpStatusError struct {
	status int
	body   string
}

func (e *httpStatusError) Error() string {
	return fmt.Sprintf("HTTP %d %s", e.status, e.body)
}

// bayeux is one CometD session: a client ID, its cookies and the latest
// advice. A session that fails is thrown away and a new one handshakes.
type bayeux struct {
	serverTime time.Time // the Date of the last answer: Salesforce's clock
	c          *conn
	http       *http.Client
	sess       *session
	clientID   string
	advice     advice
	seq        int
}

func newBayeux(c *conn) *bayeux {
	jar, _ := cookiejar.New(nil) // never fails without options
	return &bayeux{
		c:      c,
		http:   &http.Client{Transport: c.transport, Jar: jar},
		advice: advice{Reconnect: "retry", Timeout: defaultAdviceTimeout.Milliseconds()},
	}
}

// adviceTimeout is how long the server may hold a connect.
func (b *bayeux) adviceTimeout() time.Duration {
	if b.advice.Timeout <= 0 {
		return defaultAdviceTimeout
	}
	return time.Duration(b.advice.Timeout) * time.Millisecond
}

func (b *bayeux) nextID() string {
	b.seq++
	return strconv.Itoa(b.seq)
}

// handshake opens the session with the replay extension on. sess is the
// session (token) to use.
func (b *bayeux) handshake(ctx context.Context, sess *session, timeout time.Duration) (*reply, error) {
	b.sess = sess
	replies, err := b.send(ctx, timeout, message{
		Channel:                  metaHandshake,
		ID:                       b.nextID(),
		Version:                  "1.0",
		MinimumVersion:           "1.0",
		SupportedConnectionTypes: []string{"long-polling"},
		Ext:                      map[string]any{"replay": true},
	})
	if err != nil {
		return nil, err
	}
	rep := find(replies, metaHandshake)
	if rep == nil {
		return nil, errors.New("handshake answer has no /meta/handshake reply")
	}
	if rep.Successful {
		b.clientID = rep.ClientID
	}
	return rep, nil
}

// subscribe subscribes to channel from replay ID from.
func (b *bayeux) subscribe(ctx context.Context, channel string, from int64, timeout time.Duration) (*reply, error) {
	replies, err := b.send(ctx, timeout, message{
		Channel:      metaSubscribe,
		ID:           b.nextID(),
		ClientID:     b.clientID,
		Subscription: channel,
		// The key must be the subscribed channel itself: a map that lacks
		// it is refused, and a stale key from another channel would be
		// ignored or worse (bug 5 of other clients).
		Ext: map[string]any{"replay": map[string]int64{channel: from}},
	})
	if err != nil {
		return nil, err
	}
	rep := find(replies, metaSubscribe)
	if rep == nil {
		return nil, errors.New("subscribe answer has no /meta/subscribe reply")
	}
	return rep, nil
}

// connect polls for events; the server holds it up to the advice timeout.
func (b *bayeux) connect(ctx context.Context, timeout time.Duration) ([]reply, error) {
	return b.send(ctx, timeout, message{
		Channel:        metaConnect,
		ID:             b.nextID(),
		ClientID:       b.clientID,
		ConnectionType: "long-polling",
	})
}

// disconnect ends the session, best effort, so that the server frees it
// at once instead of after its idle timeout. It must not hold up a stop.
func (b *bayeux) disconnect() {
	if b.clientID == "" {
		return
	}
	_, _ = b.send(context.Background(), time.Second, message{
		Channel:  metaDisconnect,
		ID:       b.nextID(),
		ClientID: b.clientID,
	})
}

// send posts messages and decodes the answer; the request is abandoned
// after timeout (the watchdog: a silent server is treated as gone).
func (b *bayeux) send(ctx context.Context, timeout time.Duration, msgs ...message) ([]reply, error) {
	body, err := json.Marshal(msgs)
	if err != nil {
		return nil, err
	}
	reqCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	url := b.sess.instanceURL + "/cometd/" + b.c.cfg.apiVersion
	req, err := http.NewRequestWithContext(reqCtx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+b.sess.token.Reveal())
	req.Header.Set("Content-Type", "application/json")
	resp, err := b.http.Do(req)
	if err == nil {
		defer resp.Body.Close()
		if t, err := http.ParseTime(resp.Header.Get("Date")); err == nil {
			b.serverTime = t
		}
		var answer []byte
		answer, err = io.ReadAll(io.LimitReader(resp.Body, maxCometdResponse))
		if err == nil {
			return b.answer(msgs[0].Channel, resp.StatusCode, answer)
		}
	}
	if ctx.Err() == nil && reqCtx.Err() != nil {
		return nil, &errSilent{channel: msgs[0].Channel, wait: timeout}
	}
	return nil, fmt.Errorf("%s: %w", msgs[0].Channel, err)
}

func (b *bayeux) answer(channel string, status int, body []byte) ([]reply, error) {
	switch {
	case status == http.StatusUnauthorized:
		return nil, &errUnauthorized{sess: b.sess}
	case status != http.StatusOK:
		text := strings.TrimSpace(string(body))
		if len(text) > 200 {
			text = text[:200] + "…"
		}
		return nil, fmt.Errorf("%s: %w", channel, &httpStatusError{status: status, body: text})
	}
	replies, err := decodeReplies(body)
	if err != nil {
		return nil, fmt.Errorf("%s: decode answer: %w", channel, err)
	}
	for i := range replies {
		if a := replies[i].Advice; a != nil && strings.HasPrefix(replies[i].Channel, "/meta/") {
			b.merge(*a)
		}
	}
	return replies, nil
}

// merge keeps what the server advised; fields it leaves out keep their
// last value.
func (b *bayeux) merge(a advice) {
	if a.Reconnect != "" {
		b.advice.Reconnect = a.Reconnect
	}
	if a.Timeout > 0 {
		b.advice.Timeout = a.Timeout
	}
	if a.Interval >= 0 {
		b.advice.Interval = a.Interval
	}
}

func find(replies []reply, channel string) *reply {
	for i := range replies {
		if replies[i].Channel == channel {
			return &replies[i]
		}
	}
	return nil
}

// replayEnabled reports whether the handshake reply turned the replay
// extension on.
func replayEnabled(r *reply) bool {
	return bytes.Equal(bytes.TrimSpace(r.Ext.Replay), []byte("true"))
}
