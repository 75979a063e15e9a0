package emulator

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
)

// maxCometDBody is the largest request body Salesforce accepts on the
// Streaming API; larger ones get 413.
const maxCometDBody = 32768

// maxMessagesPerRequest bounds the messages in one request batch.
const maxMessagesPerRequest = 100

// wireMessage is a Bayeux message as clients send it.
type wireMessage struct {
	Channel                  string          `json:"channel"`
	ID                       json.RawMessage `json:"id"`
	ClientID                 string          `json:"clientId"`
	Subscription             json.RawMessage `json:"subscription"`
	ConnectionType           string          `json:"connectionType"`
	SupportedConnectionTypes []string        `json:"supportedConnectionTypes"`
	Version                  string          `json:"version"`
	Ext                      *struct {
		Replay json.RawMessage `json:"replay"`
	} `json:"ext"`
}

// request is a decoded, normalized Bayeux request message.
type request struct {
	channel        string
	id             json.RawMessage // a JSON string or number, echoed back
	clientID       string
	subscription   string
	badSub         bool // subscription present but not a single string
	connectionType string
	connTypes      []string
	version        string
	// replay is the subscribe replay map (channel → raw replay ID); nil
	// when the message carries none.
	replay map[string]json.RawMessage
	// replayFlag is ext.replay == true (a handshake asking for replay).
	replayFlag bool
}

var (
	errEmptyBody     = errors.New("empty request body")
	errNotBayeux     = errors.New("request body is neither a Bayeux message nor an array of them")
	errTooMany       = fmt.Errorf("more than %d messages in one request", maxMessagesPerRequest)
	errNoChannel     = errors.New("message without a channel")
	errReplayMapType = errors.New("ext.replay is neither true nor an object")
)

// decodeRequest parses a CometD request body: one message or an array.
func decodeRequest(body []byte) ([]request, error) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return nil, errEmptyBody
	}
	var wire []wireMessage
	switch body[0] {
	case '[':
		if err := json.Unmarshal(body, &wire); err != nil {
			return nil, fmt.Errorf("decode messages: %w", err)
		}
	case '{':
		var m wireMessage
		if err := json.Unmarshal(body, &m); err != nil {
			return nil, fmt.Errorf("decode message: %w", err)
		}
		wire = []wireMessage{m}
	default:
		return nil, errNotBayeux
	}
	if len(wire) == 0 {
		return nil, errNotBayeux
	}
	if len(wire) > maxMessagesPerRequest {
		return nil, errTooMany
	}
	out := make([]request, 0, len(wire))
	for i := range wire {
		r, err := normalize(&wire[i])
		if err != nil {
			return nil, fmt.Errorf("message %d: %w", i, err)
		}
		out = append(out, r)
	}
	return out, nil
}

func normalize(m *wireMessage) (request, error) {
	if m.Channel == "" || m.Channel[0] != '/' {
		return request{}, errNoChannel
	}
	r := request{
		channel:        m.Channel,
		clientID:       m.ClientID,
		connectionType: m.ConnectionType,
		connTypes:      m.SupportedConnectionTypes,
		version:        m.Version,
	}
	if id := bytes.TrimSpace(m.ID); len(id) > 0 && (id[0] == '"' || id[0] == '-' || (id[0] >= '0' && id[0] <= '9')) {
		r.id = id
	}
	if sub := bytes.TrimSpace(m.Subscription); len(sub) > 0 && string(sub) != "null" {
		if err := json.Unmarshal(sub, &r.subscription); err != nil {
			r.badSub = true
		}
	}
	if m.Ext != nil {
		replay := bytes.TrimSpace(m.Ext.Replay)
		switch {
		case len(replay) == 0 || string(replay) == "null" || string(replay) == "false":
		case string(replay) == "true":
			r.replayFlag = true
		case replay[0] == '{':
			r.replay = map[string]json.RawMessage{}
			if err := json.Unmarshal(replay, &r.replay); err != nil {
				return request{}, errReplayMapType
			}
		default:
			return request{}, errReplayMapType
		}
	}
	return r, nil
}

// replayOption reads a replay map value: a number, or a string of digits.
func replayOption(raw json.RawMessage) (int64, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] == '"' {
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return 0, false
		}
		raw = []byte(s)
	}
	n, err := strconv.ParseInt(string(raw), 10, 64)
	return n, err == nil
}

// advice tells a client how to go on.
type advice struct {
	Reconnect string `json:"reconnect"`
	Interval  int    `json:"interval"`
	Timeout   int64  `json:"timeout,omitempty"`
}

type sfdcExt struct {
	FailureReason string `json:"failureReason"`
}

type replyExt struct {
	Replay        *bool    `json:"replay,omitempty"`
	PayloadFormat *bool    `json:"payload.format,omitempty"`
	SFDC          *sfdcExt `json:"sfdc,omitempty"`
}

// reply is a Bayeux response message.
type reply struct {
	Channel                  string          `json:"channel"`
	ClientID                 string          `json:"clientId,omitempty"`
	ID                       json.RawMessage `json:"id,omitempty"`
	Subscription             string          `json:"subscription,omitempty"`
	Successful               bool            `json:"successful"`
	Error                    string          `json:"error,omitempty"`
	Version                  string          `json:"version,omitempty"`
	MinimumVersion           string          `json:"minimumVersion,omitempty"`
	SupportedConnectionTypes []string        `json:"supportedConnectionTypes,omitempty"`
	Advice                   *advice         `json:"advice,omitempty"`
	Ext                      *replyExt       `json:"ext,omitempty"`
}

var yes = true

// appendReply encodes a reply.
func appendReply(buf []byte, r *reply) []byte {
	b, err := json.Marshal(r)
	if err != nil {
		// Every field is a plain string, bool or validated raw JSON.
		return append(buf, `{"successful":false,"error":"500::encode reply"}`...)
	}
	return append(buf, b...)
}
