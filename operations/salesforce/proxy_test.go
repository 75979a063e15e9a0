package salesforce

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/atomrt/atom/emulator"
)

// wireProxy sits between the connector and the emulator: it records every
// subscribe message as sent on the wire, and can refuse the next
// subscribes in-band with 503 (the emulator's Fail503 takes whichever
// request comes first, usually the handshake). It rewrites instance_url
// in token answers so that the instance is reached through it too.
type wireProxy struct {
	url string

	mu         sync.Mutex
	subscribes []subscribeMsg
	fail       int // subscribes still to refuse
}

// subscribeMsg is a subscribe as the connector sent it.
type subscribeMsg struct {
	Subscription string `json:"subscription"`
	Ext          struct {
		Replay map[string]int64 `json:"replay"`
	} `json:"ext"`
}

func startProxy(t testing.TB, e *emulator.Emulator) *wireProxy {
	t.Helper()
	target, err := url.Parse(e.URL())
	if err != nil {
		t.Fatal(err)
	}
	p := &wireProxy{}
	rp := httputil.NewSingleHostReverseProxy(target)
	rp.ModifyResponse = func(resp *http.Response) error {
		if resp.Request.URL.Path != "/services/oauth2/token" {
			return nil
		}
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			return err
		}
		body = bytes.ReplaceAll(body, []byte(e.URL()), []byte(p.url))
		resp.Body = io.NopCloser(bytes.NewReader(body))
		resp.ContentLength = int64(len(body))
		resp.Header.Set("Content-Length", strconv.Itoa(len(body)))
		return nil
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/cometd/") {
			body, err := io.ReadAll(r.Body)
			if err != nil {
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
			if p.refuse(body) {
				w.Header().Set("Content-Type", "application/json")
				_, _ = io.WriteString(w, `[{"channel":"/meta/subscribe","successful":false,"error":"503::Service Unavailable","ext":{"sfdc":{"failureReason":"503::Service Unavailable"}}}]`)
				return
			}
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	p.url = srv.URL
	return p
}

// refuse records the subscribes in body and says whether to refuse them.
func (p *wireProxy) refuse(body []byte) bool {
	var msgs []struct {
		Channel string `json:"channel"`
		subscribeMsg
	}
	if json.Unmarshal(body, &msgs) != nil {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	refuse := false
	for _, m := range msgs {
		if m.Channel == metaSubscribe {
			p.subscribes = append(p.subscribes, m.subscribeMsg)
			if p.fail > 0 {
				p.fail--
				refuse = true
			}
		}
	}
	return refuse
}

// failSubscribes makes the next n subscribes fail with an in-band 503.
func (p *wireProxy) failSubscribes(n int) { p.mu.Lock(); p.fail = n; p.mu.Unlock() }

// sent returns the subscribes sent so far.
func (p *wireProxy) sent() []subscribeMsg {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]subscribeMsg(nil), p.subscribes...)
}

// proxiedConn opens a client-credentials connection through p.
func proxiedConn(t testing.TB, e *emulator.Emulator, p *wireProxy) *conn {
	s := emuSettings(e, GrantClientCredentials)
	s["loginUrl"] = p.url
	return openConn(t, s, newTestStream(t, "").log)
}
