// Package baseline is the yardstick of Atom's end-to-end benchmark, not a
// product: the smallest Go program that does the same work as the
// benchmark's Atom deployment with no framework at all. It reads a platform
// event channel over raw CometD long-polling (handshake, subscribe with a
// replay ID, connect loop), decodes each event into a typed struct, applies
// the deployment's jq transform written by hand, POSTs the result to a sink,
// and commits the last replay ID to bbolt once per connect response.
//
// The benchmark in atom/bench runs it against the same emulator and sink as
// Atom, so Atom's throughput can be stated as a share of it.
//
// It is deliberately naive about everything Atom exists for: it handles no
// reconnect advice, no re-handshake, no expired token, no retry, no dead
// letter, no execution history and no back-pressure beyond doing one connect
// response at a time. Do not use it for anything but the benchmark.
package baseline

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Config says where to read, where to post and where to keep the position.
type Config struct {
	// LoginURL is the org's login and token URL (the emulator's URL).
	LoginURL string
	// ClientID and ClientSecret are a connected app's client credentials.
	ClientID, ClientSecret string
	// APIVersion is the CometD API version, such as "62.0".
	APIVersion string
	// Channel is the channel to read, such as /event/Order_Placed__e.
	Channel string
	// SinkURL receives one POST per event.
	SinkURL string
	// DBPath is the bbolt file holding the replay ID.
	DBPath string
	// Concurrency is how many POSTs of one connect response run at once.
	Concurrency int
	// Want stops Run once this many events were posted.
	Want int
}

// Result says what Run did.
type Result struct {
	Events       int   // events posted
	Batches      int   // connect responses with events (one commit each)
	LastReplayID int64 // the committed replay ID
}

// order is the event's payload, decoded into exactly the fields used.
type order struct {
	Number string  `json:"Order_Number__c"`
	Seq    int64   `json:"Seq__c"`
	Amount float64 `json:"Amount__c"`
	SentAt float64 `json:"Sent_At__c"`
}

// delivery is what the sink gets: the hand-written twin of the jq program
// {order: .Order_Number__c, seq: .Seq__c, amount: .Amount__c,
// sentAt: .Sent_At__c, replayId: ($props.replayId | tonumber)}.
type delivery struct {
	Order    string  `json:"order"`
	Seq      int64   `json:"seq"`
	Amount   float64 `json:"amount"`
	SentAt   float64 `json:"sentAt"`
	ReplayID int64   `json:"replayId"`
}

// bayeux is one incoming Bayeux message: a meta reply or an event.
type bayeux struct {
	Channel    string `json:"channel"`
	ClientID   string `json:"clientId"`
	Successful bool   `json:"successful"`
	Error      string `json:"error"`
	Data       struct {
		Payload order `json:"payload"`
		Event   struct {
			ReplayID int64 `json:"replayId"`
		} `json:"event"`
	} `json:"data"`
}

var bucket = []byte("positions")

// Run reads cfg.Channel from the stored replay ID (every retained event
// when none is stored) until cfg.Want events were posted or ctx ends.
func Run(ctx context.Context, cfg Config) (Result, error) {
	db, err := bolt.Open(cfg.DBPath, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		return Result{}, fmt.Errorf("open position store: %w", err)
	}
	defer db.Close()
	replay, err := storedReplay(db, cfg.Channel)
	if err != nil {
		return Result{}, err
	}
	jar, _ := cookiejar.New(nil) // cannot fail without options
	c := &client{
		cfg:  cfg,
		http: &http.Client{Jar: jar, Transport: &http.Transport{MaxIdleConnsPerHost: max(cfg.Concurrency, 2)}},
	}
	defer c.http.CloseIdleConnections()
	if err := c.login(ctx); err != nil {
		return Result{}, err
	}
	if err := c.subscribe(ctx, replay); err != nil {
		return Result{}, err
	}
	var res Result
	for res.Events < cfg.Want {
		msgs, err := c.call(ctx, map[string]any{"channel": "/meta/connect", "clientId": c.clientID, "connectionType": "long-polling"})
		if err != nil {
			return res, err
		}
		var events []delivery
		for _, m := range msgs {
			switch m.Channel {
			case cfg.Channel:
				p := m.Data.Payload
				events = append(events, delivery{Order: p.Number, Seq: p.Seq, Amount: p.Amount, SentAt: p.SentAt, ReplayID: m.Data.Event.ReplayID})
			case "/meta/connect":
				if !m.Successful {
					return res, fmt.Errorf("connect: %s", m.Error)
				}
			}
		}
		if len(events) == 0 {
			continue
		}
		if err := c.post(ctx, events); err != nil {
			return res, err
		}
		last := events[len(events)-1].ReplayID
		if err := commit(db, cfg.Channel, last); err != nil {
			return res, err
		}
		res.Events += len(events)
		res.Batches++
		res.LastReplayID = last
	}
	return res, nil
}

type client struct {
	cfg      Config
	http     *http.Client
	token    string
	instance string
	clientID string
}

// login gets an access token with the client-credentials grant.
func (c *client) login(ctx context.Context) error {
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {c.cfg.ClientID}, "client_secret": {c.cfg.ClientSecret}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(c.cfg.LoginURL, "/")+"/services/oauth2/token", strings.NewReader(form.Encode()))
	if err != nil {
		return fmt.Errorf("token request: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("token request: %w", err)
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
		InstanceURL string `json:"instance_url"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || tok.AccessToken == "" {
		return fmt.Errorf("token request: status %d, no access token (%v)", resp.StatusCode, err)
	}
	c.token, c.instance = tok.AccessToken, tok.InstanceURL
	return nil
}

// subscribe handshakes and subscribes to the channel after replay.
func (c *client) subscribe(ctx context.Context, replay int64) error {
	msgs, err := c.call(ctx, map[string]any{
		"channel": "/meta/handshake", "version": "1.0",
		"supportedConnectionTypes": []string{"long-polling"}, "ext": map[string]any{"replay": true},
	})
	if err != nil {
		return err
	}
	if len(msgs) == 0 || !msgs[0].Successful {
		return errors.New("handshake refused")
	}
	c.clientID = msgs[0].ClientID
	msgs, err = c.call(ctx, map[string]any{
		"channel": "/meta/subscribe", "clientId": c.clientID, "subscription": c.cfg.Channel,
		"ext": map[string]any{"replay": map[string]int64{c.cfg.Channel: replay}},
	})
	if err != nil {
		return err
	}
	if len(msgs) == 0 || !msgs[0].Successful {
		return fmt.Errorf("subscribe %s refused", c.cfg.Channel)
	}
	return nil
}

// call sends one Bayeux message and decodes the messages of the answer.
func (c *client) call(ctx context.Context, msg map[string]any) ([]bayeux, error) {
	body, err := json.Marshal([]any{msg})
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.instance+"/cometd/"+c.cfg.APIVersion, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", msg["channel"], err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", msg["channel"], err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: status %d", msg["channel"], resp.StatusCode)
	}
	var msgs []bayeux
	if err := json.NewDecoder(resp.Body).Decode(&msgs); err != nil {
		return nil, fmt.Errorf("%s: decode answer: %w", msg["channel"], err)
	}
	return msgs, nil
}

// post sends every event of a connect response, cfg.Concurrency at a time,
// and returns once all were answered.
func (c *client) post(ctx context.Context, events []delivery) error {
	sem := make(chan struct{}, max(c.cfg.Concurrency, 1))
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	for _, ev := range events {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := c.postOne(ctx, ev); err != nil {
				mu.Lock()
				first = cmp.Or(first, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return first
}

func (c *client) postOne(ctx context.Context, ev delivery) error {
	body, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.cfg.SinkURL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("post event %d: %w", ev.ReplayID, err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("post event %d: %w", ev.ReplayID, err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("post event %d: sink answered %d", ev.ReplayID, resp.StatusCode)
	}
	return nil
}

// storedReplay reads the committed replay ID; -2 (every retained event)
// when there is none.
func storedReplay(db *bolt.DB, channel string) (int64, error) {
	replay := int64(-2)
	err := db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucket)
		if b == nil {
			return nil
		}
		if v := b.Get([]byte(channel)); v != nil {
			n, err := strconv.ParseInt(string(v), 10, 64)
			if err != nil {
				return fmt.Errorf("stored replay ID %q: %w", v, err)
			}
			replay = n
		}
		return nil
	})
	return replay, err
}

// commit writes the replay ID in its own transaction (fsynced).
func commit(db *bolt.DB, channel string, replayID int64) error {
	err := db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucket)
		if err != nil {
			return err
		}
		return b.Put([]byte(channel), strconv.AppendInt(nil, replayID, 10))
	})
	if err != nil {
		return fmt.Errorf("commit replay ID %d: %w", replayID, err)
	}
	return nil
}

// StoredReplay reads the replay ID committed in the bbolt file at path;
// -2 when none is.
func StoredReplay(path, channel string) (int64, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second, ReadOnly: true})
	if err != nil {
		return 0, fmt.Errorf("open position store: %w", err)
	}
	defer db.Close()
	return storedReplay(db, channel)
}
