package bench

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"
)

// The tests here run each benchmark's set-up on a few events, so that a
// broken benchmark shows up in `go test` and not only in `make bench`.

func TestEndToEndPipeline(t *testing.T) {
	const n = 600
	org := startOrg(t)
	publishBacklog(t, org, n)
	s := newSink(t)
	s.expect(n)
	a := startAtom(t, t.TempDir(), streamYAML(org.URL(), s.URL(), 8))
	defer a.stop(t)
	s.wait(t, "backlog")
	if d, total := s.counts(); d != n || total != n {
		t.Fatalf("sink got %d distinct of %d orders (%d posts), want each once", d, n, total)
	}

	s.expect(20)
	publishSteadily(t, org, 20, 1000)
	s.wait(t, "steady stream")
	if p50, p99 := s.percentiles(); p50 <= 0 || p99 < p50 {
		t.Fatalf("latency p50 %.3f ms, p99 %.3f ms: want 0 < p50 <= p99", p50, p99)
	}

	events := org.Events(orderEvent)
	want := strconv.FormatInt(events[len(events)-1].ReplayID, 10)
	deadline := time.Now().Add(10 * time.Second)
	for a.rt.Listeners()[0].Position != want {
		if time.Now().After(deadline) {
			t.Fatalf("position %s, want %s", a.rt.Listeners()[0].Position, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestPublishPipeline(t *testing.T) {
	for _, size := range []int{200, 1} {
		t.Run(strconv.Itoa(size), func(t *testing.T) {
			org := startOrg(t)
			a := startAtom(t, t.TempDir(), publishYAML(org.URL(), size))
			defer a.stop(t)
			hook := httptest.NewServer(a.rt.Webhooks())
			defer hook.Close()
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
			defer client.CloseIdleConnections()
			if err := postOrders(client, hook.URL+"/hooks/orders", 50, 16); err != nil {
				t.Fatal(err)
			}
			seqs := map[float64]bool{}
			for _, e := range org.Events(copyEvent) {
				seqs[e.Payload["Seq__c"].(float64)] = true
			}
			if len(seqs) != 50 {
				t.Fatalf("the org holds %d distinct copies, want 50", len(seqs))
			}
			calls := org.Calls()
			if size == 1 && (calls["publish"] != 50 || calls["composite"] != 0) {
				t.Fatalf("calls %v, want 50 publish and no composite", calls)
			}
			if size == 200 && (calls["composite"] == 0 || calls["composite"] >= 50 || calls["publish"] != 0) {
				t.Fatalf("calls %v, want fewer than 50 composite and no publish", calls)
			}
		})
	}
}

func TestIdlePipeline(t *testing.T) {
	org := startOrg(t)
	s := newSink(t)
	a := startAtom(t, t.TempDir(), idleYAML(org.URL(), s.URL()))
	defer a.stop(t)
	channels := make([]string, idleEvents)
	for i := range channels {
		channels[i] = "/event/" + idleEvent(i+1)
	}
	a.waitRunning(t, org, channels...)
	if n := len(a.rt.Listeners()); n != idleEvents {
		t.Fatalf("%d listeners, want %d", n, idleEvents)
	}
	for _, ch := range channels {
		if n := org.Subscribers(ch); n != 1 {
			t.Fatalf("%s has %d subscribers, want 1", ch, n)
		}
	}
}
