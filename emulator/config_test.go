package emulator

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestExampleAndDefaultConfigsLoad(t *testing.T) {
	cfg, err := LoadConfig(filepath.Join("testdata", "events.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Events) != 2 || len(cfg.Users) != 2 || len(cfg.Apps) != 2 || cfg.CometD.Timeout != 110*time.Second {
		t.Fatalf("example config: %+v", cfg)
	}
	if cfg.Events[1].Fields[0].Type != typeString || cfg.Events[1].Fields[2].Length != 2000 {
		t.Errorf("types not normalized: %+v", cfg.Events[1].Fields)
	}
	if _, err := New(cfg); err != nil {
		t.Fatalf("new from example: %v", err)
	}
	def := DefaultConfig()
	names := []string{}
	for _, ev := range def.Events {
		names = append(names, ev.Name)
	}
	if strings.Join(names, ",") != "Order_Placed__e,Printer_Low_Ink__e,Opportunity_Won__e" || len(def.Users) != 1 || len(def.Apps) != 1 {
		t.Fatalf("default config: %v", names)
	}
}

func TestZeroGoConfigIsTheDemoOrg(t *testing.T) {
	e := start(t, Config{})
	if _, err := e.Publish("Order_Placed__e", order(1)); err != nil {
		t.Fatal(err)
	}
	login(t, e)
}

func TestEmptyConfigTakesDefaults(t *testing.T) {
	cfg, err := ParseConfig(nil)
	if err != nil {
		t.Fatal(err)
	}
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c := e.Config()
	if len(c.Events) != 3 || c.Retention != 72*time.Hour || c.CometD.Timeout != 110*time.Second || c.CometD.MaxInterval != 40*time.Second || c.SessionTimeout != 2*time.Hour {
		t.Fatalf("effective config: %+v", c)
	}
	// Sections are defaulted one by one.
	cfg, err = ParseConfig([]byte("events:\n  - name: Only__e\n    fields: [{name: X__c, type: int}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	e, err = New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(e.Config().Events) != 1 || len(e.Config().Users) != 1 {
		t.Fatalf("partial config: %+v", e.Config())
	}
}

func TestConfigErrorsCarryPositions(t *testing.T) {
	src := `retention: -1h
events:
  - name: Order_Placed
    fields:
      - {name: Amount__c, type: money}
      - {name: amount, type: int}
      - {name: Amount__c, type: double}
  - name: Order_Placed
users:
  - username: nobody
  - username: a@example.com
    password: x
apps:
  - client_id: app
    run_as: ghost@example.com
    certificate: not pem
`
	path := filepath.Join(t.TempDir(), "emulator.yaml")
	os.WriteFile(path, []byte(src), 0o600)
	_, err := LoadConfig(path)
	if !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("err = %v", err)
	}
	want := []string{
		path + ":1:12: retention: negative duration",
		path + `:3:11: events[0].name: "Order_Placed" is not a platform event API name`,
		path + `:5:33: events[0].fields[0].type: unknown type "money" (want string, text, number, double, int, boolean, date or datetime)`,
		path + `:6:16: events[0].fields[1].name: "amount" is not a custom field API name`,
		path + `:7:16: events[0].fields[2].name: field "Amount__c" defined twice`,
		path + `:10:15: users[0].username: "nobody" is not a username`,
		path + `:10:5: users[0].password: missing password`,
		path + `:14:5: apps[0].client_secret: missing client_secret`,
		path + `:15:13: apps[0].run_as: run_as user "ghost@example.com" is not among users`,
		path + `:16:18: apps[0].certificate: not PEM`,
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error lacks %q", w)
		}
	}
	if t.Failed() {
		t.Logf("error:\n%v", err)
	}
}

func TestUnknownConfigKeyIsAnError(t *testing.T) {
	_, err := ParseConfig([]byte("evnets: []\n"))
	if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), "line 1: field evnets not found") {
		t.Fatalf("err = %v", err)
	}
}

func TestNewValidatesGoConfig(t *testing.T) {
	cfg := testConfig()
	cfg.Events = []EventDef{{Name: "Bad", Fields: []FieldDef{{Name: "X__c", Type: "blob"}}}}
	_, err := New(cfg)
	if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), `events[0].fields[0].type: unknown type "blob"`) {
		t.Fatalf("err = %v", err)
	}
}

func TestPublishValidatesFromGo(t *testing.T) {
	e := start(t, testConfig())
	if _, err := e.Publish("Nope__e", nil); !errors.Is(err, ErrUnknownEvent) {
		t.Errorf("unknown event: %v", err)
	}
	if _, err := e.Publish("Order_Placed__e", map[string]any{"Amount__c": 1}); !errors.Is(err, ErrInvalidEvent) || !strings.Contains(err.Error(), "REQUIRED_FIELD_MISSING") {
		t.Errorf("missing field: %v", err)
	}
	if _, err := e.Publish("/event/Order_Placed__e", order(1)); err != nil {
		t.Errorf("publish by channel: %v", err)
	}
	if _, err := e.NewSession("nobody@example.com"); !errors.Is(err, ErrUnknownUser) {
		t.Errorf("NewSession: %v", err)
	}
	if _, err := e.IssueRefreshToken("nope", demoUser); !errors.Is(err, ErrUnknownApp) {
		t.Errorf("IssueRefreshToken: %v", err)
	}
}
