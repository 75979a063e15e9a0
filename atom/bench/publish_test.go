package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

const (
	// publishEvents is how many events one round of BenchmarkPublish sends.
	publishEvents = 10000
	// publishCallers is how many webhook callers post at once, and the
	// process's concurrency: batching gathers the sends of runs in flight
	// together, so it needs many of them.
	publishCallers = 256
)

// publishYAML is a webhook (ack: complete) whose process publishes the
// posted order to the org as Order_Copy__e.
func publishYAML(orgURL string, batchSize int) string {
	return fmt.Sprintf(`kind: Connection
name: org
type: salesforce
settings:
  loginUrl: %s
  grant: client_credentials
  clientId: atom-emulator
  clientSecret: atom-emulator-secret
---
kind: Connection
name: inbound
type: http
---
kind: Operation
name: orders-hook
connection: inbound
action: listen
settings: {path: /hooks/orders}
---
kind: Operation
name: publish
connection: org
action: send
settings: {event: %s, batchSize: %d}
---
kind: Process
name: republish
listen: orders-hook
concurrency: %d
steps:
  - send: publish
`, orgURL, copyEvent, batchSize, publishCallers)
}

// BenchmarkPublish measures publishing platform events through a process,
// as a user runs it: 256 callers POST orders to a webhook (ack: complete,
// so each waits for its run), and the process (concurrency 256) sends each
// to the org with the Salesforce connector, in batches of up to 200
// (composite/sobjects, default linger) or one request per event
// (sobjects). events/s is webhook request to publish acknowledged;
// calls/1000 counts the org's publish API calls per 1,000 events. The
// figure includes the webhook's own HTTP round trip and the execution
// history; operations/salesforce's BenchmarkPublish* measure the sender
// alone.
func BenchmarkPublish(b *testing.B) {
	for _, size := range []int{200, 1} {
		b.Run(fmt.Sprintf("batchSize=%d", size), func(b *testing.B) {
			benchmarkPublish(b, size)
		})
	}
}

func benchmarkPublish(b *testing.B, batchSize int) {
	b.ReportAllocs()
	b.StopTimer()
	org := startOrg(b)
	a := startAtom(b, b.TempDir(), publishYAML(org.URL(), batchSize))
	defer a.stop(b)
	hook := httptest.NewServer(a.rt.Webhooks())
	defer hook.Close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: publishCallers}}
	defer client.CloseIdleConnections()
	url := hook.URL + "/hooks/orders"
	// One order first, so that logging in is not part of the figures.
	if err := postOrder(client, url, -1); err != nil {
		b.Fatal(err)
	}
	org.ResetCalls()

	var elapsed time.Duration
	for i := 0; i < b.N; i++ {
		b.StartTimer()
		start := time.Now()
		if err := postOrders(client, url, publishEvents, publishCallers); err != nil {
			b.Fatal(err)
		}
		elapsed += time.Since(start)
		b.StopTimer()
	}
	total := b.N * publishEvents
	if got := len(org.Events(copyEvent)); got != total+1 {
		b.Fatalf("the org holds %d published copies, want %d", got, total+1)
	}
	calls := org.Calls()
	b.ReportMetric(float64(total)/elapsed.Seconds(), "events/s")
	b.ReportMetric(float64(calls["composite"]+calls["publish"])*1000/float64(total), "calls/1000")
}

// postOrders posts orders 0 to n-1 from callers goroutines at once.
func postOrders(client *http.Client, url string, n, callers int) error {
	var (
		next  atomic.Int64
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	for range callers {
		wg.Go(func() {
			for {
				seq := int(next.Add(1)) - 1
				if seq >= n {
					return
				}
				if err := postOrder(client, url, seq); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
					return
				}
			}
		})
	}
	wg.Wait()
	return first
}

func postOrder(client *http.Client, url string, seq int) error {
	body, err := json.Marshal(order(seq, 0))
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("post order %d: %w", seq, err)
	}
	answer, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("post order %d: webhook answered %d: %s", seq, resp.StatusCode, answer)
	}
	return nil
}
