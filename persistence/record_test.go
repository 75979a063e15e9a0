package persistence

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"
)

func recordJSON(e Execution) []byte {
	b, _ := json.Marshal(execRecord{Process: e.Process, Listener: e.Listener, Status: e.Status,
		Started: e.Started, Duration: e.Duration, Tracked: e.Tracked, Error: e.Error})
	return b
}

// The hand-written encoder writes exactly what encoding/json writes.
func FuzzAppendRecordMatchesEncodingJSON(f *testing.F) {
	f.Add("orders", "org:/event/Order__e", "failed", "replayId", "12", "mapping \"x\": <nil> & \n\t\x01 \u2028 é", int64(1234))
	f.Add("", "", "ok", "k", "\xff\xfe", "", int64(0))
	f.Add("", "\f\b", "0", "0", "0", "0", int64(-39))
	f.Fuzz(func(t *testing.T, process, listener, status, k, v, errText string, ns int64) {
		e := Execution{Process: process, Listener: listener, Status: status,
			Started: time.Unix(0, ns).UTC(), Duration: time.Duration(ns), Tracked: map[string]string{k: v, "eventUuid": "u-1"}, Error: errText}
		got, want := appendRecord(nil, e), recordJSON(e)
		if !bytes.Equal(got, want) {
			t.Fatalf("appendRecord:\n%s\nencoding/json:\n%s", got, want)
		}
	})
}

func BenchmarkAppendRecord(b *testing.B) {
	e := Execution{Process: "orders", Listener: "org:/event/Order__e", Status: "ok", Started: time.Now(),
		Duration: 1500 * time.Microsecond, Tracked: map[string]string{"replayId": "123456", "eventUuid": "5f0c6a5e-8d7e-4c1e-9d9b-1f2e3d4c5b6a"}}
	b.Run("hand", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			appendRecord(nil, e)
		}
	})
	b.Run("encoding/json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			recordJSON(e)
		}
	})
}
