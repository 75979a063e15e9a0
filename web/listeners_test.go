package web_test

import (
	"bufio"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/atomrt/atom/web"
)

type listenerStatus struct {
	Name, State, Position string
	Processes             []string
	Received, Processed   int64
	Failed, DeadLettered  int64
}

const busListener = "bus:/event/Order__e"

func TestListenersPauseResumeAndOffsets(t *testing.T) {
	e := newEnv(t, web.Options{})
	e.deploy(components)
	bus := func(rest string) string { return listenerPath(busListener, rest) }

	var ls []listenerStatus
	e.must("GET", "/api/listeners", nil, 200, &ls)
	if len(ls) != 2 || ls[0].Name != busListener || ls[1].Name != "inbound:POST /hooks/orders" {
		t.Fatalf("listeners = %+v", ls)
	}
	var st listenerStatus
	e.must("GET", listenerPath("inbound:POST /hooks/orders", ""), nil, 200, &st)
	if st.Processes[0] != "from-hook" {
		t.Fatalf("webhook listener = %+v", st)
	}

	e.tp.Publish(1, 2, 3)
	eventually(t, "1..3 sent", func() bool { return equalInts(e.sink.NS("/a"), seq(1, 3)) })
	eventually(t, "position 30", func() bool {
		e.must("GET", bus(""), nil, 200, &st)
		return st.Position == "30"
	})
	if st.State != "running" || st.Received != 3 || st.Processed != 3 {
		t.Fatalf("listener after 3 events = %+v", st)
	}

	// Offsets change only while paused.
	e.apiErr("PUT", bus("/offset"), map[string]string{"position": "10"}, 409, "not_paused")
	e.apiErr("DELETE", bus("/offset"), nil, 409, "not_paused")

	e.must("POST", bus("/pause"), nil, 200, &st)
	if st.State != "paused" {
		t.Fatalf("after pause: %+v", st)
	}
	var off struct {
		Position   string
		Properties map[string]string
	}
	e.must("GET", bus("/offset"), nil, 200, &off)
	if off.Position != "30" || off.Properties["eventUuid"] != "uuid-3" {
		t.Fatalf("offset = %+v", off)
	}
	e.apiErr("PUT", bus("/offset"), map[string]string{"position": ""}, 400, "bad_request")
	e.apiErr("PUT", bus("/offset"), []byte(`{"position":`), 400, "bad_request")

	var changed struct {
		Previous map[string]string
		Position string
	}
	e.must("PUT", bus("/offset"), map[string]string{"position": "10"}, 200, &changed)
	if changed.Previous["position"] != "30" || changed.Position != "10" {
		t.Fatalf("offset change = %+v", changed)
	}
	var history []struct {
		Listener, Who string
		Prev, Next    map[string]string
	}
	e.must("GET", bus("/offset/history"), nil, 200, &history)
	if len(history) != 1 || history[0].Prev["position"] != "30" || history[0].Next["position"] != "10" || !strings.HasPrefix(history[0].Who, "api@127.0.0.1") {
		t.Fatalf("offset history = %+v", history)
	}

	// While paused nothing runs; on resume the listener replays from its
	// new position: 2 and 3 again, then 4 and 5.
	e.tp.Publish(4, 5)
	e.must("POST", bus("/resume"), nil, 200, &st)
	if st.State == "paused" {
		t.Fatalf("after resume: %+v", st)
	}
	want := append(seq(1, 3), seq(2, 5)...)
	eventually(t, "replay from 10", func() bool { return equalInts(e.sink.NS("/a"), want) })

	// Pause and resume them all.
	e.must("POST", "/api/listeners/pause-all", nil, 200, &ls)
	for _, l := range ls {
		if l.State != "paused" {
			t.Fatalf("after pause-all: %+v", ls)
		}
	}
	e.must("DELETE", bus("/offset"), nil, 200, &changed)
	if changed.Previous["position"] != "50" || changed.Position != "" {
		t.Fatalf("offset reset = %+v", changed)
	}
	e.must("POST", "/api/listeners/resume-all", nil, 200, &ls)
	for _, l := range ls {
		if l.State == "paused" {
			t.Fatalf("after resume-all: %+v", ls)
		}
	}
	// Reset: the topic replays from its start.
	want = append(want, seq(1, 5)...)
	eventually(t, "replay from the start", func() bool { return equalInts(e.sink.NS("/a"), want) })
	e.must("GET", bus("/offset/history"), nil, 200, &history)
	if len(history) != 2 {
		t.Fatalf("offset history has %d entries, want 2", len(history))
	}

	for _, c := range []struct{ method, rest string }{
		{"GET", ""}, {"POST", "/pause"}, {"POST", "/resume"}, {"GET", "/offset"},
		{"DELETE", "/offset"}, {"GET", "/offset/history"},
	} {
		e.apiErr(c.method, listenerPath("bus:/event/Nope__e", c.rest), nil, 404, "not_found")
	}
	e.apiErr("PUT", listenerPath("bus:/event/Nope__e", "/offset"), map[string]string{"position": "1"}, 404, "not_found")
}

func TestEventStream(t *testing.T) {
	e := newEnv(t, web.Options{})
	e.deploy(components)
	resp, err := http.Get(e.srv.URL + "/api/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != 200 || ct != "text/event-stream" {
		t.Fatalf("events: %d %s", resp.StatusCode, ct)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		data, ok := strings.CutPrefix(line, "data: ")
		if !ok {
			continue
		}
		var ls []listenerStatus
		if err := json.Unmarshal([]byte(data), &ls); err != nil {
			t.Fatalf("event data is not the listeners: %v\n%s", err, data)
		}
		if len(ls) != 2 {
			t.Fatalf("event lists %d listeners, want 2", len(ls))
		}
		return
	}
	t.Fatalf("stream ended without an event: %v", sc.Err())
}

func TestShutdownEndsEventStreams(t *testing.T) {
	e := newEnv(t, web.Options{})
	srv := web.NewServer("127.0.0.1:0", web.Handler(e.rt, web.Options{}))
	ln := newListener(t)
	go func() { _ = srv.Serve(ln) }()
	resp, err := http.Get("http://" + ln.Addr().String() + "/api/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("events: %d", resp.StatusCode)
	}
	ctx, cancel := timeoutCtx(10)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown with an open event stream: %v", err)
	}
}
