package emulator

import (
	"encoding/json"
	"testing"
)

// FuzzDecodeRequest feeds arbitrary bodies to the CometD request decoder:
// it must never panic, and what it accepts must be well-formed.
func FuzzDecodeRequest(f *testing.F) {
	seeds := []string{
		`[{"channel":"/meta/handshake","version":"1.0","supportedConnectionTypes":["long-polling"],"ext":{"replay":true},"id":"1"}]`,
		`{"channel":"/meta/connect","clientId":"abc","connectionType":"long-polling","id":2}`,
		`[{"channel":"/meta/subscribe","clientId":"abc","subscription":"/event/X__e","ext":{"replay":{"/event/X__e":-2}}}]`,
		`[{"channel":"/meta/subscribe","clientId":"abc","subscription":["/a","/b"],"ext":{"replay":{"/event/X__e":"17"}}}]`,
		`[{"channel":"/meta/unsubscribe","subscription":null},{"channel":"/meta/disconnect"}]`,
		`[]`, `{}`, `[1]`, `null`, `[{"channel":"/x","ext":{"replay":5}}]`, "\x00", `[{"channel":"/x","id":{"a":1}}]`,
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		msgs, err := decodeRequest(body)
		if err != nil {
			return
		}
		if len(msgs) == 0 || len(msgs) > maxMessagesPerRequest {
			t.Fatalf("accepted %d messages", len(msgs))
		}
		for _, m := range msgs {
			if m.channel == "" || m.channel[0] != '/' {
				t.Fatalf("accepted channel %q", m.channel)
			}
			if m.id != nil && !json.Valid(m.id) {
				t.Fatalf("accepted id %q", m.id)
			}
			for _, raw := range m.replay {
				replayOption(raw) // must not panic
			}
			// Echoing the message back must encode.
			if b := appendReply(nil, &reply{Channel: m.channel, ClientID: m.clientID, ID: m.id, Subscription: m.subscription}); !json.Valid(b) {
				t.Fatalf("reply does not encode: %s", b)
			}
		}
	})
}
