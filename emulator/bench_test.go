package emulator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"testing"
	"time"
)

// prefill publishes n events straight onto the bus in batches.
func prefill(b *testing.B, e *Emulator, n int) {
	b.Helper()
	et := e.eventType("Order_Placed__e")
	batch := make([]recordValues, 0, 1000)
	for i := 0; i < n; i++ {
		body := fmt.Sprintf(`{"Order_Number__c":"ORD-%08d","Customer_Id__c":"CUST-%05d","Amount__c":%d.25,"Currency__c":"EUR","Item_Count__c":%d,"Express__c":true,"Placed_At__c":"2024-06-01T12:30:00Z"}`, i, i%5000, i%997, i%9)
		raw, apiErr := decodeRecord([]byte(body), et.name)
		if apiErr != nil {
			b.Fatal(apiErr)
		}
		values, apiErr := et.validateRecord(raw, []byte(body))
		if apiErr != nil {
			b.Fatal(apiErr)
		}
		batch = append(batch, values)
		if len(batch) == cap(batch) || i == n-1 {
			if _, err := e.bus.publish(et, batch, e.publisher); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
}

// deliveredMessage is what the benchmark client reads of each message.
type deliveredMessage struct {
	Channel string `json:"channel"`
	Data    *struct {
		Event struct {
			ReplayID int64 `json:"replayId"`
		} `json:"event"`
	} `json:"data"`
	Successful *bool `json:"successful"`
}

// BenchmarkCometDDelivery measures events per second delivered over CometD
// (real sockets, long-polling, replay -2 over a pre-filled bus) to one
// subscriber that decodes every message and checks replay order.
func BenchmarkCometDDelivery(b *testing.B) {
	cfg := testConfig()
	cfg.Limits.DailyDeliveredEvents = 1 << 30
	e := start(b, cfg)
	prefill(b, e, b.N)
	token, err := e.NewSession(demoUser)
	if err != nil {
		b.Fatal(err)
	}
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, Timeout: time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	endpoint := e.URL() + "/cometd/62.0"
	post := func(body []byte) []byte {
		req, _ := http.NewRequest(http.MethodPost, endpoint, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		defer resp.Body.Close()
		data, err := io.ReadAll(resp.Body)
		if err != nil || resp.StatusCode != 200 {
			b.Fatalf("status %d: %v", resp.StatusCode, err)
		}
		return data
	}
	var hs []struct {
		ClientID string `json:"clientId"`
	}
	_ = json.Unmarshal(post([]byte(`[{"channel":"/meta/handshake","version":"1.0","supportedConnectionTypes":["long-polling"],"ext":{"replay":true}}]`)), &hs)
	clientID := hs[0].ClientID
	post([]byte(fmt.Sprintf(`[{"channel":"/meta/subscribe","clientId":%q,"subscription":"/event/Order_Placed__e","ext":{"replay":{"/event/Order_Placed__e":-2}}}]`, clientID)))
	connect := []byte(fmt.Sprintf(`[{"channel":"/meta/connect","clientId":%q,"connectionType":"long-polling"}]`, clientID))

	b.ReportAllocs()
	b.ResetTimer()
	received, last := 0, int64(0)
	var msgs []deliveredMessage
	for received < b.N {
		// encoding/json reuses elements: clear them so a connect reply does
		// not inherit the data of an event decoded there before.
		clear(msgs[:cap(msgs)])
		msgs = msgs[:0]
		if err := json.Unmarshal(post(connect), &msgs); err != nil {
			b.Fatal(err)
		}
		for _, m := range msgs {
			if m.Data == nil {
				continue
			}
			if m.Data.Event.ReplayID <= last {
				b.Fatalf("replay %d after %d", m.Data.Event.ReplayID, last)
			}
			last = m.Data.Event.ReplayID
			received++
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(received)/b.Elapsed().Seconds(), "events/s")
}
