// Package optest holds real, small parts for testing the runtime and the
// web layer without an external system: Topic, an in-memory event stream
// with positions behind a "topic" connector, and Sink, an HTTP server that
// records what it is sent.
//
// It is for tests only; nothing in a running atom uses it.
package optest

import (
	"context"
	"fmt"
	"strconv"
	"sync"

	"github.com/atomrt/atom/operations"
)

// Topic is an in-memory event stream with positions: a stand-in for a
// platform event channel that a test publishes to and that a listener
// replays from a position. The event at index i (from 1) has position
// i*10, so positions are not contiguous, like replay IDs.
type Topic struct {
	mu     sync.Mutex
	events []operations.Document
	more   chan struct{} // closed and replaced on every publish
	subs   int           // listeners running now
	starts []string      // the position each run started from
}

// NewTopic returns an empty topic.
func NewTopic() *Topic { return &Topic{more: make(chan struct{})} }

// Publish appends one event per number, with body {"n": n} and property
// eventUuid "uuid-n".
func (t *Topic) Publish(ns ...int) {
	t.mu.Lock()
	for _, n := range ns {
		t.events = append(t.events, operations.NewDocument(
			map[string]any{"n": float64(n)},
			map[string]string{"eventUuid": fmt.Sprintf("uuid-%d", n)}))
	}
	close(t.more)
	t.more = make(chan struct{})
	t.mu.Unlock()
}

// PublishNext appends count events numbered on from the last one.
func (t *Topic) PublishNext(count int) {
	t.mu.Lock()
	from := len(t.events) + 1
	t.mu.Unlock()
	ns := make([]int, count)
	for i := range ns {
		ns[i] = from + i
	}
	t.Publish(ns...)
}

// Stats returns how many listeners run now and the position each run
// started from.
func (t *Topic) Stats() (subs int, starts []string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.subs, append([]string(nil), t.starts...)
}

// Connector returns a connector named "topic" whose listeners read t.
// Listen settings: channel (the key); fail (Run fails at once). The channel
// "/stuck" never subscribes, for readiness tests.
func (t *Topic) Connector() *operations.Connector {
	return &operations.Connector{
		Name:       "topic",
		Summary:    "In-memory test stream.",
		Connection: operations.Spec{Summary: "No settings."},
		Listen: &operations.Spec{Summary: "Listen to a channel.", Fields: []operations.Field{
			{Name: "channel", Type: operations.String, Required: true, Doc: "The channel."},
			{Name: "fail", Type: operations.Bool, Doc: "Fail every run."},
		}},
		Open: func(string, operations.Settings, operations.Env) (operations.Connection, error) {
			return topicConn{tp: t}, nil
		},
	}
}

type topicConn struct{ tp *Topic }

func (c topicConn) Listener(_ string, s operations.Settings) (operations.Listener, error) {
	return &topicListener{tp: c.tp, channel: s.String("channel"), fail: s.Bool("fail")}, nil
}

func (topicConn) Sender(string, operations.Settings) (operations.Sender, error) {
	return nil, operations.ErrNotSupported
}

func (topicConn) Close() error { return nil }

type topicListener struct {
	tp      *Topic
	channel string
	fail    bool
}

func (l *topicListener) Key() string { return l.channel }

func (l *topicListener) Run(ctx context.Context, s operations.Stream) error {
	if l.fail {
		return fmt.Errorf("channel %s refused", l.channel)
	}
	if l.channel == "/stuck" {
		<-ctx.Done()
		return nil
	}
	next := 0
	if p := s.Start(); p != "" {
		n, _ := strconv.Atoi(p)
		next = n / 10
	}
	l.tp.mu.Lock()
	l.tp.subs++
	l.tp.starts = append(l.tp.starts, s.Start())
	l.tp.mu.Unlock()
	defer func() { l.tp.mu.Lock(); l.tp.subs--; l.tp.mu.Unlock() }()
	s.SetState(operations.Running, nil)
	for {
		l.tp.mu.Lock()
		pending, more := l.tp.events[min(next, len(l.tp.events)):], l.tp.more
		l.tp.mu.Unlock()
		for _, d := range pending {
			next++
			pos := strconv.Itoa(next * 10)
			d = d.Clone()
			d.SetProp("position", pos)
			if err := s.Deliver(ctx, operations.Event{Doc: d, Position: pos}); err != nil {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-more:
		}
	}
}
