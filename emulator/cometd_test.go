package emulator

import (
	"bytes"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestHandshakeAnswersLikeSalesforce(t *testing.T) {
	e := start(t, testConfig())
	b := newBayeux(t, e, login(t, e))
	rep := b.handshake()
	if rep["successful"] != true || rep["version"] != "1.0" || rep["minimumVersion"] != "1.0" {
		t.Fatalf("handshake reply: %v", rep)
	}
	if !reflect.DeepEqual(rep["supportedConnectionTypes"], []any{"long-polling"}) {
		t.Errorf("supportedConnectionTypes = %v", rep["supportedConnectionTypes"])
	}
	ext := rep["ext"].(map[string]any)
	if ext["replay"] != true || ext["payload.format"] != true {
		t.Errorf("ext = %v, want replay and payload.format true", ext)
	}
	if rep["id"] != "1" {
		t.Errorf("id not echoed: %v", rep["id"])
	}
	if b.clientID == "" {
		t.Fatal("no clientId")
	}
	u, _ := http.NewRequest(http.MethodGet, b.endpoint, nil)
	found := false
	for _, c := range b.http.Jar.Cookies(u.URL) {
		found = found || c.Name == "BAYEUX_BROWSER"
	}
	if !found {
		t.Error("handshake set no BAYEUX_BROWSER cookie")
	}
	if got := e.Calls()["handshake"]; got != 1 {
		t.Errorf("handshake calls = %d, want 1", got)
	}
}

func TestHandshakeWithoutValidTokenIsDenied(t *testing.T) {
	e := start(t, testConfig())
	for _, token := range []string{"", "00Dbogus!token"} {
		b := newBayeux(t, e, token)
		rep := b.handshake()
		if rep["successful"] != false || rep["error"] != "403::Handshake denied" {
			t.Fatalf("token %q: reply %v", token, rep)
		}
		if fr := rep["ext"].(map[string]any)["sfdc"].(map[string]any)["failureReason"]; fr != "401::Authentication invalid" {
			t.Errorf("failureReason = %v", fr)
		}
		if rep["advice"].(map[string]any)["reconnect"] != "none" {
			t.Errorf("advice = %v", rep["advice"])
		}
	}
}

func TestOAuthSchemeIsAccepted(t *testing.T) {
	e := start(t, testConfig())
	b := newBayeux(t, e, login(t, e))
	b.auth = "OAuth" // what jsforce sends
	if rep := b.handshake(); rep["successful"] != true {
		t.Fatalf("handshake with OAuth scheme: %v", rep)
	}
}

func TestSubscribeReplayOptions(t *testing.T) {
	e := start(t, testConfig())
	token := login(t, e)
	var ids []int64
	for i := 1; i <= 5; i++ {
		id, err := e.Publish("Order_Placed__e", order(i))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	for i := 1; i < len(ids); i++ {
		if ids[i] <= ids[i-1] {
			t.Fatalf("replay IDs not increasing: %v", ids)
		}
	}
	tests := []struct {
		name   string
		replay any
		want   []int64
	}{
		{"all retained (-2)", -2, ids},
		{"after a stored ID", ids[1], ids[2:]},
		{"after the newest", ids[4], nil},
		{"stored ID as a string", fmt.Sprint(ids[3]), ids[4:]},
		{"between two IDs", ids[1] + 0, ids[2:]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newBayeux(t, e, token)
			b.handshake()
			rep := b.subscribe("/event/Order_Placed__e", tt.replay)
			if rep["successful"] != true {
				t.Fatalf("subscribe: %v", rep)
			}
			var got []map[string]any
			if len(tt.want) > 0 {
				got = b.receive(len(tt.want))
			} else {
				got, _ = b.connect()
			}
			if !reflect.DeepEqual(replayIDs(got), append([]int64{}, tt.want...)) && !(len(got) == 0 && len(tt.want) == 0) {
				t.Fatalf("received %v, want %v", replayIDs(got), tt.want)
			}
		})
	}
}

func TestSubscribeNewOnlyGetsLaterEvents(t *testing.T) {
	e := start(t, testConfig())
	b := newBayeux(t, e, login(t, e))
	b.handshake()
	if _, err := e.Publish("Order_Placed__e", order(1)); err != nil {
		t.Fatal(err)
	}
	if rep := b.subscribe("/event/Order_Placed__e", -1); rep["successful"] != true {
		t.Fatalf("subscribe: %v", rep)
	}
	if e.Subscribers("Order_Placed__e") != 1 {
		t.Fatalf("subscribers = %d", e.Subscribers("Order_Placed__e"))
	}
	b.connect() // first connect answers at once
	later, _ := e.Publish("Order_Placed__e", order(2))
	got := b.receive(1)
	if !reflect.DeepEqual(replayIDs(got), []int64{later}) {
		t.Fatalf("received %v, want only %d", replayIDs(got), later)
	}
}

func TestSubscribeWithoutReplayExtDefaultsToNew(t *testing.T) {
	e := start(t, testConfig())
	b := newBayeux(t, e, login(t, e))
	b.handshake()
	e.Publish("Order_Placed__e", order(1))
	if rep := b.subscribe("/event/Order_Placed__e", nil); rep["successful"] != true {
		t.Fatalf("subscribe: %v", rep)
	}
	if events, _ := b.connect(); len(events) != 0 {
		t.Fatalf("got %d old events", len(events))
	}
}

func TestEventMessageShape(t *testing.T) {
	e := start(t, testConfig())
	b := newBayeux(t, e, login(t, e))
	b.handshake()
	b.subscribe("/event/Order_Placed__e", -1)
	b.connect()
	id, err := e.Publish("Order_Placed__e", map[string]any{"Order_Number__c": "A-1", "Amount__c": 12.5, "Express__c": true, "Ship_By__c": "2024-05-01"})
	if err != nil {
		t.Fatal(err)
	}
	ev := b.receive(1)[0]
	published := e.Events("Order_Placed__e")[0]
	if ev["channel"] != "/event/Order_Placed__e" {
		t.Errorf("channel = %v", ev["channel"])
	}
	data := ev["data"].(map[string]any)
	if s, _ := data["schema"].(string); len(s) != 22 {
		t.Errorf("schema = %v", data["schema"])
	}
	event := data["event"].(map[string]any)
	if int64(event["replayId"].(float64)) != id || event["EventUuid"] != published.EventUUID || len(published.EventUUID) != 36 {
		t.Errorf("event = %v, published %+v", event, published)
	}
	payload := data["payload"].(map[string]any)
	want := map[string]any{
		"CreatedDate": published.CreatedDate.Format("2006-01-02T15:04:05.000Z"), "CreatedById": published.Payload["CreatedById"],
		"Order_Number__c": "A-1", "Customer_Id__c": nil, "Amount__c": 12.5, "Currency__c": nil, "Item_Count__c": nil,
		"Express__c": true, "Ship_By__c": "2024-05-01", "Placed_At__c": nil,
	}
	if !reflect.DeepEqual(payload, want) {
		t.Errorf("payload = %v\nwant      %v", payload, want)
	}
	if !strings.HasPrefix(payload["CreatedById"].(string), "005") {
		t.Errorf("CreatedById = %v", payload["CreatedById"])
	}
}

func TestEventUuidOnlyFromVersion52(t *testing.T) {
	e := start(t, testConfig())
	b := newBayeux(t, e, login(t, e))
	b.endpoint = e.URL() + "/cometd/50.0"
	b.handshake()
	b.subscribe("/event/Order_Placed__e", -1)
	b.connect()
	e.Publish("Order_Placed__e", order(1))
	ev := b.receive(1)[0]
	event := ev["data"].(map[string]any)["event"].(map[string]any)
	if _, ok := event["EventUuid"]; ok || event["replayId"] == nil {
		t.Fatalf("API 50.0 event = %v, want replayId without EventUuid", event)
	}
}

func TestSubscribeErrors(t *testing.T) {
	e := start(t, testConfig())
	token := login(t, e)
	first, _ := e.Publish("Order_Placed__e", order(1))
	last, _ := e.Publish("Order_Placed__e", order(2))
	invalid := func(id int64) string {
		return fmt.Sprintf("400::The replayId {%d} you provided was invalid.  Please provide a valid ID, -2 to replay all events, or -1 to replay only new events.", id)
	}
	tests := []struct {
		name    string
		channel string
		ext     map[string]any
		want    string
	}{
		{"unknown event", "/event/Nope__e", nil, "400::The channel you requested to subscribe to doesn't exist"},
		{"not an event channel", "/topic/Orders", nil, "400::The channel you requested to subscribe to doesn't exist"},
		{"replay map without the channel", "/event/Order_Placed__e",
			map[string]any{"replay": map[string]any{"/event/Printer_Low_Ink__e": -1}},
			"400::The replayId for channel /event/Order_Placed__e wasn't found using the provided replay ID map"},
		{"replay ID older than any retained", "/event/Order_Placed__e", map[string]any{"replay": map[string]any{"/event/Order_Placed__e": first - 1}}, invalid(first - 1)},
		{"replay ID never issued", "/event/Order_Placed__e", map[string]any{"replay": map[string]any{"/event/Order_Placed__e": last + 100}}, invalid(last + 100)},
		{"replay option -3", "/event/Order_Placed__e", map[string]any{"replay": map[string]any{"/event/Order_Placed__e": -3}}, invalid(-3)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newBayeux(t, e, token)
			b.handshake()
			msg := map[string]any{"channel": "/meta/subscribe", "clientId": b.clientID, "subscription": tt.channel, "id": "7"}
			if tt.ext != nil {
				msg["ext"] = tt.ext
			}
			_, replies := b.post(msg)
			rep := replies[0]
			if rep["successful"] != false || rep["error"] != tt.want {
				t.Fatalf("reply %v\nwant error %q", rep, tt.want)
			}
			if rep["subscription"] != tt.channel || rep["id"] != "7" {
				t.Errorf("reply does not echo subscription and id: %v", rep)
			}
			if n := e.Subscribers("Order_Placed__e"); n != 0 {
				t.Errorf("subscribers = %d after a failed subscribe", n)
			}
		})
	}
}

func TestReplayIDOutsideShrunkRetentionIsInvalid(t *testing.T) {
	e := start(t, testConfig())
	token := login(t, e)
	stored, _ := e.Publish("Order_Placed__e", order(1))
	e.SetRetention(time.Nanosecond)
	eventually(t, "events to expire", func() bool { return len(e.Events("Order_Placed__e")) == 0 })
	e.SetRetention(time.Hour)
	fresh, _ := e.Publish("Order_Placed__e", order(2))

	b := newBayeux(t, e, token)
	b.handshake()
	rep := b.subscribe("/event/Order_Placed__e", stored)
	want := fmt.Sprintf("400::The replayId {%d} you provided was invalid.  Please provide a valid ID, -2 to replay all events, or -1 to replay only new events.", stored)
	if rep["error"] != want {
		t.Fatalf("subscribe from an expired ID: %v", rep)
	}
	// -2 still works and delivers only what is retained.
	if rep := b.subscribe("/event/Order_Placed__e", -2); rep["successful"] != true {
		t.Fatalf("subscribe -2: %v", rep)
	}
	if got := replayIDs(b.receive(1)); !reflect.DeepEqual(got, []int64{fresh}) {
		t.Fatalf("received %v, want %d", got, fresh)
	}
}

func TestConnectIsHeldUntilAnEventArrives(t *testing.T) {
	cfg := testConfig()
	cfg.CometD.Timeout = 30 * time.Second
	e := start(t, cfg)
	b := newBayeux(t, e, login(t, e))
	b.handshake()
	b.subscribe("/event/Printer_Low_Ink__e", -1)
	b.connect()
	got := make(chan []map[string]any, 1)
	go func() { events, _ := b.connect(); got <- events }()
	eventually(t, "the connect to be held", func() bool { return e.Calls()["connect"] == 2 })
	id, _ := e.Publish("Printer_Low_Ink__e", map[string]any{"Printer_Serial__c": "P-1", "Ink_Color__c": "cyan"})
	select {
	case events := <-got:
		if !reflect.DeepEqual(replayIDs(events), []int64{id}) {
			t.Fatalf("held connect delivered %v, want %d", replayIDs(events), id)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("held connect not answered after a publish")
	}
}

func TestConnectTimesOutWithRetryAdvice(t *testing.T) {
	cfg := testConfig()
	cfg.CometD.Timeout = 100 * time.Millisecond
	e := start(t, cfg)
	b := newBayeux(t, e, login(t, e))
	b.handshake()
	b.subscribe("/event/Order_Placed__e", -1)
	b.connect()
	events, rep := b.connect()
	if len(events) != 0 || rep["successful"] != true {
		t.Fatalf("idle connect: %v %v", events, rep)
	}
	adv := rep["advice"].(map[string]any)
	if adv["reconnect"] != "retry" || adv["interval"] != 0.0 || adv["timeout"] != 100.0 {
		t.Fatalf("advice = %v", adv)
	}
}

func TestConnectBatchesAreCapped(t *testing.T) {
	cfg := testConfig()
	cfg.CometD.MaxBatch = 7
	e := start(t, cfg)
	for i := 0; i < 20; i++ {
		e.Publish("Order_Placed__e", order(i))
	}
	b := newBayeux(t, e, login(t, e))
	b.handshake()
	b.subscribe("/event/Order_Placed__e", -2)
	var sizes []int
	var all []map[string]any
	for len(all) < 20 {
		events, _ := b.connect()
		sizes = append(sizes, len(events))
		all = append(all, events...)
	}
	if !reflect.DeepEqual(sizes, []int{7, 7, 6}) {
		t.Errorf("batch sizes = %v, want [7 7 6]", sizes)
	}
	if !reflect.DeepEqual(replayIDs(all), publishedIDs(e.Events("Order_Placed__e"))) {
		t.Error("events not delivered in replay order")
	}
}

func TestResponseSizeIsBounded(t *testing.T) {
	cfg := testConfig()
	cfg.CometD.MaxResponseBytes = 1000
	e := start(t, cfg)
	for i := 0; i < 10; i++ {
		e.Publish("Order_Placed__e", map[string]any{"Order_Number__c": strings.Repeat("x", 40), "Amount__c": 1, "Customer_Id__c": strings.Repeat("c", 40)})
	}
	b := newBayeux(t, e, login(t, e))
	b.handshake()
	b.subscribe("/event/Order_Placed__e", -2)
	events, _ := b.connect()
	if len(events) == 0 || len(events) >= 10 {
		t.Fatalf("first response carried %d events, want a bounded few", len(events))
	}
	if got := b.receive(10 - len(events)); len(got) != 10-len(events) {
		t.Fatal("rest not delivered")
	}
}

func TestTwoSubscriptionsOneClient(t *testing.T) {
	e := start(t, testConfig())
	a, _ := e.Publish("Order_Placed__e", order(1))
	p, _ := e.Publish("Printer_Low_Ink__e", map[string]any{"Printer_Serial__c": "P", "Ink_Color__c": "black"})
	b := newBayeux(t, e, login(t, e))
	b.handshake()
	b.subscribe("/event/Order_Placed__e", -2)
	b.subscribe("/event/Printer_Low_Ink__e", -2)
	got := b.receive(2)
	byChannel := map[string]int64{}
	for _, ev := range got {
		byChannel[ev["channel"].(string)] = replayIDs([]map[string]any{ev})[0]
	}
	if byChannel["/event/Order_Placed__e"] != a || byChannel["/event/Printer_Low_Ink__e"] != p {
		t.Fatalf("got %v", byChannel)
	}
	if e.Subscribers("/event/Order_Placed__e") != 1 || e.Subscribers("Printer_Low_Ink__e") != 1 {
		t.Fatal("subscriber counts wrong")
	}
}

func TestUnsubscribeAndDisconnect(t *testing.T) {
	e := start(t, testConfig())
	b := newBayeux(t, e, login(t, e))
	b.handshake()
	b.subscribe("/event/Order_Placed__e", -1)
	_, replies := b.post(map[string]any{"channel": "/meta/unsubscribe", "clientId": b.clientID, "subscription": "/event/Order_Placed__e"})
	if replies[0]["successful"] != true || replies[0]["subscription"] != "/event/Order_Placed__e" {
		t.Fatalf("unsubscribe: %v", replies)
	}
	if n := e.Subscribers("Order_Placed__e"); n != 0 {
		t.Fatalf("subscribers after unsubscribe = %d", n)
	}
	b.subscribe("/event/Order_Placed__e", -1)
	_, replies = b.post(map[string]any{"channel": "/meta/disconnect", "clientId": b.clientID})
	if replies[0]["successful"] != true {
		t.Fatalf("disconnect: %v", replies)
	}
	if n := e.Subscribers("Order_Placed__e"); n != 0 {
		t.Fatalf("subscribers after disconnect = %d", n)
	}
	if _, rep := b.connect(); rep["error"] != "403::Unknown client" {
		t.Fatalf("connect after disconnect: %v", rep)
	}
}

func TestRequestsWithoutTheCookieAreUnknown(t *testing.T) {
	e := start(t, testConfig())
	b := newBayeux(t, e, login(t, e))
	b.handshake()
	b.http.Jar = nil // a client that drops cookies
	rep := b.subscribe("/event/Order_Placed__e", -1)
	if rep["error"] != "403::Unknown client" || rep["advice"].(map[string]any)["reconnect"] != "handshake" {
		t.Fatalf("subscribe without cookie: %v", rep)
	}
}

func TestOversizeBodyIs413(t *testing.T) {
	e := start(t, testConfig())
	b := newBayeux(t, e, login(t, e))
	b.handshake()
	big := fmt.Sprintf(`[{"channel":"/meta/connect","clientId":%q,"connectionType":"long-polling","pad":%q}]`, b.clientID, strings.Repeat("x", maxCometDBody))
	if status, _ := b.postRaw([]byte(big)); status != http.StatusRequestEntityTooLarge {
		t.Fatalf("status %d, want 413", status)
	}
	// Chunked, without Content-Length, too.
	req, _ := http.NewRequest(http.MethodPost, b.endpoint, struct{ *bytes.Reader }{bytes.NewReader([]byte(big))})
	req.Header.Set("Authorization", "Bearer "+b.token)
	resp, err := b.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("chunked status %d, want 413", resp.StatusCode)
	}
}

func TestMalformedRequestsAre400(t *testing.T) {
	e := start(t, testConfig())
	b := newBayeux(t, e, login(t, e))
	for _, body := range []string{"", "not json", `[{"channel":5}]`, `"x"`, `[]`, `[{"clientId":"x"}]`} {
		if status, _ := b.postRaw([]byte(body)); status != http.StatusBadRequest {
			t.Errorf("body %q: status %d, want 400", body, status)
		}
	}
	resp, err := http.Get(b.endpoint)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET: status %d", resp.StatusCode)
	}
	for _, v := range []string{"36.0", "99.0", "abc"} {
		resp, err := http.Post(e.URL()+"/cometd/"+v, "application/json", strings.NewReader("[]"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("version %s: status %d, want 404", v, resp.StatusCode)
		}
	}
}

func TestPublishOverCometDIsDenied(t *testing.T) {
	e := start(t, testConfig())
	b := newBayeux(t, e, login(t, e))
	b.handshake()
	_, replies := b.post(map[string]any{"channel": "/event/Order_Placed__e", "clientId": b.clientID, "data": map[string]any{}})
	if replies[0]["error"] != "403::Publish denied" {
		t.Fatalf("reply %v", replies)
	}
	if len(e.Events("Order_Placed__e")) != 0 {
		t.Fatal("an event was published over CometD")
	}
}

func TestIdleClientIsForgotten(t *testing.T) {
	cfg := testConfig()
	cfg.CometD.MaxInterval = 50 * time.Millisecond
	e := start(t, cfg)
	b := newBayeux(t, e, login(t, e))
	b.handshake()
	b.subscribe("/event/Order_Placed__e", -1)
	eventually(t, "the idle client to be dropped", func() bool { return e.State().Clients == 0 })
	if _, rep := b.connect(); rep["error"] != "403::Unknown client" || rep["advice"].(map[string]any)["reconnect"] != "handshake" {
		t.Fatalf("connect after idling: %v", rep)
	}
	if e.Subscribers("Order_Placed__e") != 0 {
		t.Fatal("forgotten client still counted as a subscriber")
	}
}

func TestNewerConnectEndsTheHeldOne(t *testing.T) {
	cfg := testConfig()
	cfg.CometD.Timeout = 30 * time.Second
	e := start(t, cfg)
	b := newBayeux(t, e, login(t, e))
	b.handshake()
	b.subscribe("/event/Order_Placed__e", -1)
	b.connect()
	done := make(chan map[string]any, 1)
	go func() { _, rep := b.connect(); done <- rep }()
	eventually(t, "the connect to be held", func() bool { return e.Calls()["connect"] == 2 })
	second := make(chan []map[string]any, 1)
	go func() { events, _ := b.connect(); second <- events }()
	select {
	case rep := <-done:
		if rep["successful"] != true {
			t.Fatalf("superseded connect: %v", rep)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("held connect not ended by a newer one")
	}
	eventually(t, "the second connect to be held", func() bool { return e.Calls()["connect"] == 3 })
	id, _ := e.Publish("Order_Placed__e", order(1))
	if got := replayIDs(<-second); !reflect.DeepEqual(got, []int64{id}) {
		t.Fatalf("newer connect delivered %v, want %d", got, id)
	}
}
