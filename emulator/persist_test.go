package emulator

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestPersistentBusSurvivesARestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "var", "bus.jsonl")
	cfg := testConfig()
	cfg.Persistence = path
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for i := 0; i < 3; i++ {
		id, err := e.Publish("Order_Placed__e", order(i))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	ink, _ := e.Publish("Printer_Low_Ink__e", map[string]any{"Printer_Serial__c": "P", "Ink_Color__c": "black"})
	before := e.Events("Order_Placed__e")
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}

	e2 := start(t, cfg)
	after := e2.Events("Order_Placed__e")
	if !reflect.DeepEqual(after, before) {
		t.Fatalf("events after restart:\n%+v\nwant\n%+v", after, before)
	}
	if got := e2.Events("Printer_Low_Ink__e"); len(got) != 1 || got[0].ReplayID != ink {
		t.Fatalf("second channel after restart: %+v", got)
	}
	next, _ := e2.Publish("Order_Placed__e", order(9))
	if next <= ids[2] {
		t.Fatalf("replay ID %d after restart is not above %d", next, ids[2])
	}
	// A replay ID stored before the restart still works.
	b := newBayeux(t, e2, login(t, e2))
	b.handshake()
	if rep := b.subscribe("/event/Order_Placed__e", ids[0]); rep["successful"] != true {
		t.Fatalf("subscribe from a pre-restart ID: %v", rep)
	}
	if got := replayIDs(b.receive(3)); !reflect.DeepEqual(got, []int64{ids[1], ids[2], next}) {
		t.Fatalf("received %v", got)
	}
}

func TestPersistenceDropsExpiredAndUndefinedAndTornLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bus.jsonl")
	cfg := testConfig()
	cfg.Persistence = path
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	old, _ := e.Publish("Order_Placed__e", order(1))
	e.Close()

	// An event of a definition that is gone, and a line cut short by a crash.
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0o600)
	f.WriteString(`{"c":"Gone__e","r":5,"t":1,"m":{}}` + "\n" + `{"c":"Order_Placed__e","r":99`)
	f.Close()

	time.Sleep(2 * time.Millisecond) // let the event age past a 1ms retention
	cfg.Retention = time.Millisecond
	e2, err := New(cfg)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	if n := len(e2.Events("Order_Placed__e")); n != 0 {
		t.Fatalf("%d expired events reloaded", n)
	}
	next, _ := e2.Publish("Order_Placed__e", order(2))
	if next <= old {
		t.Fatalf("replay ID went back: %d after %d", next, old)
	}
	e2.Close()
	data, _ := os.ReadFile(path)
	if strings.Contains(string(data), "Gone__e") {
		t.Fatalf("compaction kept an undefined event:\n%s", data)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		if !json.Valid([]byte(line)) {
			t.Fatalf("compaction kept a torn line %q", line)
		}
	}
}
