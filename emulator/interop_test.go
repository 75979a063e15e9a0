package emulator

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

// interopLine is one JSON line printed by interop/interop.js.
type interopLine struct {
	Step       string          `json:"step"`
	Grant      string          `json:"grant"`
	UserID     string          `json:"userId"`
	OrgID      string          `json:"orgId"`
	Instance   string          `json:"instanceUrl"`
	Replay     string          `json:"replay"`
	Channel    string          `json:"channel"`
	ReplayID   int64           `json:"replayId"`
	Message    string          `json:"message"`
	Result     json.RawMessage `json:"result"`
	Data       json.RawMessage `json:"data"`
	RecordJSON json.RawMessage `json:"record"`
}

// receivedEvent is the data of an event as jsforce handed it over.
type receivedEvent struct {
	Schema  string         `json:"schema"`
	Payload map[string]any `json:"payload"`
	Event   struct {
		ReplayID  int64  `json:"replayId"`
		EventUUID string `json:"EventUuid"`
	} `json:"event"`
}

// TestJSForceInterop drives the emulator with jsforce from the npm registry
// (pinned in interop/package-lock.json): password and client-credentials
// logins, publishing with sobject().create(), and streaming with the Replay
// extension at -2, -1 and a stored replay ID.
func TestJSForceInterop(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("node is not installed: install Node.js 20 or later, then run `npm ci --prefix emulator/interop`")
	}
	if _, err := os.Stat(filepath.Join("interop", "node_modules", "jsforce")); err != nil {
		t.Fatal("jsforce is not installed for the interop test: run `npm ci --prefix emulator/interop` (make test and .ci/run do)")
	}
	cfg := testConfig()
	e := start(t, cfg)

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "interop.js")
	cmd.Dir = "interop"
	cmd.Env = append(os.Environ(),
		"EMULATOR_URL="+e.URL(), "SF_USERNAME="+demoUser, "SF_PASSWORD="+demoPassword+demoToken,
		"SF_CLIENT_ID="+demoClient, "SF_CLIENT_SECRET="+demoSecret, "SF_EVENT=Order_Placed__e", "SF_VERSION=59.0")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.Output()
	if err != nil {
		t.Fatalf("interop.js failed: %v\nstdout:\n%s\nstderr:\n%s", err, stdout, stderr.String())
	}

	t.Logf("interop.js printed:\n%s", stdout)
	var lines []interopLine
	sc := bufio.NewScanner(bytes.NewReader(stdout))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var l interopLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("interop.js printed a line that is not JSON: %s", sc.Bytes())
		}
		lines = append(lines, l)
	}
	if len(lines) == 0 || lines[len(lines)-1].Step != "done" {
		t.Fatalf("interop.js did not finish:\n%s\nstderr:\n%s", stdout, stderr.String())
	}

	published := e.Events("Order_Placed__e")
	if len(published) != 5 {
		t.Fatalf("emulator holds %d events, want the 5 jsforce published", len(published))
	}
	userID := e.auth.users[demoUser].id

	received := map[string][]receivedEvent{}
	var stored int64
	var publishes int
	for _, l := range lines {
		switch l.Step {
		case "login":
			if l.UserID != userID || l.OrgID != e.cfg.OrgID || l.Instance != e.URL() {
				t.Errorf("%s login: user %s org %s instance %s", l.Grant, l.UserID, l.OrgID, l.Instance)
			}
		case "publish":
			var res saveResult
			if err := json.Unmarshal(l.Result, &res); err != nil {
				t.Fatal(err)
			}
			want := enqueued(59.0, published[publishes].EventUUID)
			if !reflect.DeepEqual(res, want) {
				t.Errorf("publish %d result %+v, want %+v", publishes, res, want)
			}
			publishes++
		case "event":
			if l.Channel != "/event/Order_Placed__e" {
				t.Errorf("event on channel %q", l.Channel)
			}
			var ev receivedEvent
			if err := json.Unmarshal(l.Data, &ev); err != nil {
				t.Fatal(err)
			}
			received[l.Replay] = append(received[l.Replay], ev)
		case "stored":
			stored = l.ReplayID
		}
	}
	if stored != published[1].ReplayID {
		t.Errorf("stored replay ID %d, want the second event's %d", stored, published[1].ReplayID)
	}
	wantByOption := map[string][]Event{
		"-2":     published[:4],
		"-1":     published[4:],
		"stored": published[2:],
	}
	for option, want := range wantByOption {
		got := received[option]
		if len(got) != len(want) {
			t.Errorf("replay %s: received %d events, want %d", option, len(got), len(want))
			continue
		}
		for i := range want {
			if got[i].Event.ReplayID != want[i].ReplayID || got[i].Event.EventUUID != want[i].EventUUID ||
				!reflect.DeepEqual(got[i].Payload, want[i].Payload) || got[i].Schema == "" {
				t.Errorf("replay %s event %d:\n got %+v\nwant %+v", option, i, got[i], want[i])
			}
		}
	}
	wantFields := []map[string]any{
		{"Order_Number__c": "JS-1", "Amount__c": 10.5, "Express__c": true},
		{"Order_Number__c": "JS-2", "Amount__c": 20.0, "Item_Count__c": 2.0},
		{"Order_Number__c": "JS-3", "Amount__c": 30.0, "Ship_By__c": "2024-06-01"},
		{"Order_Number__c": "JS-4", "Amount__c": 40.0, "Placed_At__c": "2024-06-01T12:30:00.000Z"},
		{"Order_Number__c": "JS-5", "Amount__c": 50.0},
	}
	for i, fields := range wantFields {
		for k, v := range fields {
			if published[i].Payload[k] != v {
				t.Errorf("event %d field %s = %v, want %v", i, k, published[i].Payload[k], v)
			}
		}
	}
	calls := e.Calls()
	if calls["token"] != 2 || calls["publish"] != 5 || calls["handshake"] < 3 || calls["subscribe"] < 3 {
		t.Errorf("calls = %v, want 2 token, 5 publish, at least 3 handshakes and subscribes", calls)
	}
}
