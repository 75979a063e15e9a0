package bench

import (
	"bytes"
	"fmt"
	"runtime"
	"testing"
	"time"
)

// idleYAML is ten processes, each listening on its own channel.
func idleYAML(orgURL, sinkURL string) string {
	var b bytes.Buffer
	fmt.Fprintf(&b, `kind: Connection
name: org
type: salesforce
settings:
  loginUrl: %s
  grant: client_credentials
  clientId: atom-emulator
  clientSecret: atom-emulator-secret
---
kind: Connection
name: sink
type: http
settings: {baseUrl: %q}
---
kind: Operation
name: deliver
connection: sink
action: send
settings: {url: /orders}
`, orgURL, sinkURL)
	for i := 1; i <= idleEvents; i++ {
		fmt.Fprintf(&b, `---
kind: Operation
name: idle-%[1]d
connection: org
action: listen
settings: {event: %[2]s}
---
kind: Process
name: idle-%[1]d
listen: idle-%[1]d
steps:
  - map:
      jq: '%[3]s'
  - send: deliver
`, i, idleEvent(i), jqProgram)
	}
	return b.String()
}

// BenchmarkIdleMemory measures what an atom with ten listeners subscribed
// and idle holds: idle-heap-MB is the heap in use after garbage collection
// above the same figure before the atom started (the emulator and sink run
// in both), goroutines the goroutines it added. The emulator's side of the
// ten CometD sessions is in the figure too; it is small.
func BenchmarkIdleMemory(b *testing.B) {
	b.ReportAllocs()
	b.StopTimer()
	channels := make([]string, idleEvents)
	for i := range channels {
		channels[i] = "/event/" + idleEvent(i+1)
	}
	var heap, goroutines float64
	for i := 0; i < b.N; i++ {
		org := startOrg(b)
		s := newSink(b)
		baseRoutines := runtime.NumGoroutine()
		base := heapInUse()
		b.StartTimer()
		a := startAtom(b, b.TempDir(), idleYAML(org.URL(), s.URL()))
		a.waitRunning(b, org, channels...)
		b.StopTimer()
		if n := len(a.rt.Listeners()); n != idleEvents {
			b.Fatalf("%d listeners, want %d", n, idleEvents)
		}
		time.Sleep(time.Second) // idle: held connects, the committer's ticks
		h := heapInUse()
		heap += float64(h-min(h, base)) / mb
		goroutines += float64(runtime.NumGoroutine() - baseRoutines)
		a.stop(b)
		_ = org.Close()
	}
	b.ReportMetric(heap/float64(b.N), "idle-heap-MB")
	b.ReportMetric(goroutines/float64(b.N), "goroutines")
}
