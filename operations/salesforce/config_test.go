package salesforce

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/atomrt/atom/operations"
)

func TestRegister(t *testing.T) {
	reg := operations.NewRegistry()
	if err := Register(reg); err != nil {
		t.Fatal(err)
	}
	c, ok := reg.Get(Name)
	if !ok || c.Listen == nil || c.Send == nil {
		t.Fatalf("connector %q not registered with listen and send: %+v", Name, c)
	}
	// Every default has the Go type its field's Type names.
	for _, spec := range []operations.Spec{c.Connection, *c.Listen, *c.Send} {
		for _, f := range spec.Fields {
			if f.Doc == "" {
				t.Errorf("field %s has no Doc", f.Name)
			}
			if f.Default == nil {
				continue
			}
			var ok bool
			switch f.Type {
			case operations.String, operations.Enum:
				_, ok = f.Default.(string)
			case operations.Int:
				_, ok = f.Default.(int64)
			case operations.Duration:
				_, ok = f.Default.(time.Duration)
			}
			if !ok {
				t.Errorf("field %s: default %#v is not a %s", f.Name, f.Default, f.Type)
			}
		}
	}
	if err := Register(reg); err == nil {
		t.Error("registering twice succeeded")
	}
}

func TestConnectionSettings(t *testing.T) {
	secret := operations.NewSecret
	tests := []struct {
		name string
		s    operations.Settings
		want []string // substrings of the error; none: valid
	}{
		{"client credentials", operations.Settings{"grant": "client_credentials", "clientId": "id", "clientSecret": secret("s")}, nil},
		{"password", operations.Settings{"grant": "password", "clientId": "id", "clientSecret": secret("s"), "username": "u", "password": secret("p")}, nil},
		{"refresh", operations.Settings{"grant": "refresh_token", "clientId": "id", "refreshToken": secret("r")}, nil},
		{"old version", operations.Settings{"grant": "client_credentials", "clientId": "id", "clientSecret": secret("s"), "apiVersion": "36.0"},
			[]string{"apiVersion 36.0 is too old"}},
		{"bad version", operations.Settings{"grant": "client_credentials", "clientId": "id", "clientSecret": secret("s"), "apiVersion": "v62"},
			[]string{`apiVersion "v62"`}},
		{"all problems at once", operations.Settings{"grant": "password", "loginUrl": "login.salesforce.com"},
			[]string{"loginUrl", "clientId is required", "needs clientSecret", "needs username", "needs password"}},
		{"jwt without key", operations.Settings{"grant": "jwt", "clientId": "id", "username": "u"},
			[]string{"exactly one of privateKeyFile"}},
		{"jwt missing file", operations.Settings{"grant": "jwt", "clientId": "id", "username": "u", "privateKeyFile": "/nonexistent/key.pem"},
			[]string{"privateKeyFile"}},
		{"unknown grant", operations.Settings{"grant": "implicit", "clientId": "id"}, []string{`grant "implicit" is unknown`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := open("sf", tt.s, operations.Env{Log: zerolog.Nop()})
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("open: %v", err)
				}
				_ = c.Close()
				return
			}
			if !errors.Is(err, ErrSettings) {
				t.Fatalf("open: %v, want ErrSettings", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestListenSettings(t *testing.T) {
	c := testConn(t)
	tests := []struct {
		name string
		s    operations.Settings
		key  string
		want string // substring of the error; "": valid
	}{
		{"event", operations.Settings{"event": "Order__e"}, "/event/Order__e", ""},
		{"namespaced event", operations.Settings{"event": "acme__Order_Placed__e"}, "/event/acme__Order_Placed__e", ""},
		{"channel", operations.Settings{"channel": "/data/AccountChangeEvent"}, "/data/AccountChangeEvent", ""},
		{"replay id", operations.Settings{"event": "Order__e", "replay": "12345"}, "/event/Order__e", ""},
		{"both", operations.Settings{"event": "Order__e", "channel": "/event/Order__e"}, "", "not both"},
		{"neither", operations.Settings{}, "", "event or channel is required"},
		{"not an event", operations.Settings{"event": "Order__c"}, "", "not a platform event API name"},
		{"bad channel", operations.Settings{"channel": "/topic/Orders"}, "", "not a channel path"},
		{"bad replay", operations.Settings{"event": "Order__e", "replay": "newest"}, "", `replay "newest" is unknown`},
		{"negative replay", operations.Settings{"event": "Order__e", "replay": "-1"}, "", `replay "-1" is unknown`},
		{"bad policy", operations.Settings{"event": "Order__e", "onInvalidReplay": "skip"}, "", "onInvalidReplay"},
		{"zero buffer", operations.Settings{"event": "Order__e", "bufferSize": int64(0)}, "", "bufferSize"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := c.Listener("op", tt.s)
			if tt.want != "" {
				if !errors.Is(err, ErrSettings) || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("Listener: %v, want ErrSettings with %q", err, tt.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if l.Key() != tt.key {
				t.Errorf("Key() = %q, want %q", l.Key(), tt.key)
			}
		})
	}
	l, _ := c.Listener("op", operations.Settings{"event": "Order__e"})
	cfg := l.(*listener).cfg
	if cfg.replay != ReplayStored || cfg.initial != ReplayLatest || cfg.onInvalid != ReplayAll || cfg.buffer != 1000 {
		t.Errorf("defaults: %+v", cfg)
	}
}

func TestSendSettings(t *testing.T) {
	c := testConn(t)
	for _, tt := range []struct {
		s    operations.Settings
		want string
	}{
		{operations.Settings{"event": "Order__e"}, ""},
		{operations.Settings{"event": "Order__e", "batchSize": int64(1)}, ""},
		{operations.Settings{"event": "Order__e", "batchSize": int64(201)}, "batchSize 201"},
		{operations.Settings{"event": "Order"}, "not a platform event API name"},
		{operations.Settings{"event": "Order__e", "linger": -time.Second}, "linger"},
	} {
		_, err := c.Sender("op", tt.s)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%v: %v", tt.s, err)
		case tt.want != "" && (!errors.Is(err, ErrSettings) || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%v: %v, want ErrSettings with %q", tt.s, err, tt.want)
		}
	}
}

func TestCustomFields(t *testing.T) {
	body := map[string]any{
		"Order_Number__c": "A-1", "Amount__c": 12.5, "Note__C": nil,
		"CreatedDate": "2024-01-01T00:00:00Z", "CreatedById": "005", "EventUuid": "u", "ReplayId": 7.0,
	}
	fields, dropped, err := customFields("Order__e", body)
	if err != nil {
		t.Fatal(err)
	}
	if len(fields) != 3 || fields["Order_Number__c"] != "A-1" || fields["Amount__c"] != 12.5 {
		t.Errorf("fields = %v", fields)
	}
	if strings.Join(dropped, ",") != "CreatedById,CreatedDate,EventUuid,ReplayId" {
		t.Errorf("dropped = %v", dropped)
	}
	for _, bad := range []any{"text", []any{1}, map[string]any{"Name": "x"}} {
		if _, _, err := customFields("Order__e", bad); !errors.Is(err, operations.ErrPermanent) {
			t.Errorf("customFields(%v) = %v, want ErrPermanent", bad, err)
		}
	}
}

func TestCompositeBody(t *testing.T) {
	s := &sender{cfg: sendConfig{event: "Order__e"}}
	todo := []*pending{{fields: []byte(`{"A__c":1}`)}, {fields: []byte(`{}`)}, {fields: []byte(`{"B__c":"x","C__c":null}`)}}
	var got struct {
		AllOrNone bool             `json:"allOrNone"`
		Records   []map[string]any `json:"records"`
	}
	if err := json.Unmarshal(s.compositeBody(todo), &got); err != nil {
		t.Fatalf("invalid JSON %s: %v", s.compositeBody(todo), err)
	}
	if got.AllOrNone || len(got.Records) != 3 || got.Records[0]["A__c"] != 1.0 || got.Records[2]["B__c"] != "x" {
		t.Errorf("composite body = %+v", got)
	}
	for _, r := range got.Records {
		if r["attributes"].(map[string]any)["type"] != "Order__e" {
			t.Errorf("record %v lacks attributes.type", r)
		}
	}
}

func TestDryRun(t *testing.T) {
	c := testConn(t)
	s, err := c.Sender("op", operations.Settings{"event": "Order__e", "batchSize": int64(1)})
	if err != nil {
		t.Fatal(err)
	}
	doc, err := s.(operations.DryRunner).DryRun(operations.Document{Body: map[string]any{"A__c": 1.0, "CreatedDate": "x"}})
	if err != nil {
		t.Fatal(err)
	}
	body := doc.Body.(map[string]any)
	if body["path"] != "/services/data/v62.0/sobjects/Order__e/" || body["record"].(map[string]any)["A__c"] != 1.0 {
		t.Errorf("dry run = %v", body)
	}
	if _, err := json.Marshal(doc); err != nil {
		t.Errorf("dry run document does not encode: %v", err)
	}
}

func TestBackoff(t *testing.T) {
	b := backoff{initial: 100 * time.Millisecond, max: time.Second}
	prevMax := time.Duration(0)
	for i := 0; i < 10; i++ {
		d := b.next()
		ceiling := min(100*time.Millisecond<<i, time.Second)
		if d < ceiling/2 || d > ceiling {
			t.Errorf("wait %d = %s, want within [%s, %s]", i, d, ceiling/2, ceiling)
		}
		prevMax = max(prevMax, d)
	}
	if prevMax > time.Second {
		t.Errorf("wait beyond max: %s", prevMax)
	}
	b.reset()
	if d := b.next(); d > 100*time.Millisecond {
		t.Errorf("after reset: %s", d)
	}
}

func TestReplyCodes(t *testing.T) {
	for _, tt := range []struct {
		body, code, reason string
	}{
		{`[{"channel":"/meta/connect","successful":false,"error":"403::Unknown client","advice":{"reconnect":"handshake"}}]`, "403", "403::Unknown client"},
		{`[{"channel":"/meta/handshake","successful":false,"error":"403::Handshake denied","ext":{"sfdc":{"failureReason":"401::Authentication invalid"}}}]`, "401", "403::Handshake denied (401::Authentication invalid)"},
		{`{"channel":"/meta/subscribe","successful":false,"error":"400::The replayId {5} you provided was invalid."}`, "400", "400::The replayId {5} you provided was invalid."},
	} {
		replies, err := decodeReplies([]byte(tt.body))
		if err != nil || len(replies) != 1 {
			t.Fatalf("decode %s: %v", tt.body, err)
		}
		if c, r := replies[0].code(), replies[0].reason(); c != tt.code || r != tt.reason {
			t.Errorf("%s: code %q reason %q, want %q %q", tt.body, c, r, tt.code, tt.reason)
		}
	}
	if !invalidReplay("400::The replayId {5} you provided was invalid. Please provide a valid ID") {
		t.Error("invalid replay not recognised")
	}
	if invalidReplay("400::The replayId for channel /event/X__e wasn't found using the provided replay ID map") {
		t.Error("replay map bug taken for an invalid replay ID")
	}
}

// FuzzDecodeReplies feeds the CometD decoder and the event conversion
// arbitrary answers: they must never panic.
func FuzzDecodeReplies(f *testing.F) {
	f.Add([]byte(`[{"channel":"/event/Order__e","data":{"schema":"s","payload":{"A__c":1,"CreatedDate":"d"},"event":{"replayId":12,"EventUuid":"u"}}},{"channel":"/meta/connect","successful":true}]`))
	f.Add([]byte(`{"channel":"/meta/handshake","successful":true,"clientId":"x","ext":{"replay":true}}`))
	f.Add([]byte(`[{"channel":"/event/Order__e","data":"text"}]`))
	f.Add([]byte(`[{"channel":"/event/Order__e","data":{"event":{"replayId":"12x"}}}]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		replies, err := decodeReplies(body)
		if err != nil {
			return
		}
		s := newTestStream(t, "")
		r := &run{l: &listener{cfg: listenConfig{channel: "/event/Order__e"}}, s: s, log: zerolog.Nop(), out: make(chan operations.Event, len(replies)+1)}
		for i := range replies {
			_ = replies[i].reason()
			_ = replies[i].code()
			_ = replayEnabled(&replies[i])
			if replies[i].Channel == "/event/Order__e" {
				_ = r.push(t.Context(), &replies[i])
			}
		}
	})
}

// testConn opens a connection that is never used on the wire.
func testConn(t *testing.T) operations.Connection {
	t.Helper()
	c, err := open("sf", operations.Settings{"grant": "client_credentials", "clientId": "id", "clientSecret": operations.NewSecret("s")},
		operations.Env{Log: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}
