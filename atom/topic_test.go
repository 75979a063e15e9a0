package atom

import (
	"context"
	"fmt"
	"strconv"
	"sync"

	"github.com/atomrt/atom/operations"
)

// topic is an in-memory event stream with positions, the source of the
// "topic" test connector: a stand-in for a platform event channel that a
// runtime test can publish to and read back from a position.
type topic struct {
	mu     sync.Mutex
	events []operations.Document
	more   chan struct{} // closed and replaced on every publish
	subs   int           // listeners running now
	runs   int           // times a listener started
	starts []string      // the position each run started from
}

func newTopic() *topic { return &topic{more: make(chan struct{})} }

// publish appends n events whose body is {"n": i} and whose position is
// i*10 (not contiguous, like replay IDs).
func (t *topic) publish(n int) {
	t.mu.Lock()
	for range n {
		i := len(t.events) + 1
		t.events = append(t.events, operations.NewDocument(
			map[string]any{"n": float64(i)},
			map[string]string{"eventUuid": fmt.Sprintf("uuid-%d", i)}))
	}
	close(t.more)
	t.more = make(chan struct{})
	t.mu.Unlock()
}

func (t *topic) stats() (subs, runs int, starts []string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.subs, t.runs, append([]string(nil), t.starts...)
}

// topicConnector registers a connector "topic" whose listeners read tp.
func topicConnector(tp *topic) *operations.Connector {
	return &operations.Connector{
		Name:       "topic",
		Summary:    "test stream",
		Connection: operations.Spec{Summary: "test"},
		Listen: &operations.Spec{Summary: "listen", Fields: []operations.Field{
			{Name: "channel", Type: operations.String, Required: true, Doc: "channel"},
			{Name: "fail", Type: operations.Bool, Doc: "fail every run"},
		}},
		Open: func(name string, _ operations.Settings, _ operations.Env) (operations.Connection, error) {
			return topicConn{tp: tp}, nil
		},
	}
}

type topicConn struct{ tp *topic }

func (c topicConn) Listener(_ string, s operations.Settings) (operations.Listener, error) {
	return &topicListener{tp: c.tp, channel: s.String("channel"), fail: s.Bool("fail")}, nil
}
func (topicConn) Sender(string, operations.Settings) (operations.Sender, error) {
	return nil, operations.ErrNotSupported
}
func (topicConn) Close() error { return nil }

type topicListener struct {
	tp      *topic
	channel string
	fail    bool
}

func (l *topicListener) Key() string { return l.channel }

func (l *topicListener) Run(ctx context.Context, s operations.Stream) error {
	if l.fail {
		return fmt.Errorf("channel %s refused", l.channel)
	}
	next := 0
	if p := s.Start(); p != "" {
		n, _ := strconv.Atoi(p)
		next = n / 10
	}
	l.tp.mu.Lock()
	l.tp.subs++
	l.tp.runs++
	l.tp.starts = append(l.tp.starts, s.Start())
	l.tp.mu.Unlock()
	defer func() { l.tp.mu.Lock(); l.tp.subs--; l.tp.mu.Unlock() }()
	s.SetState(operations.Running, nil)
	for {
		l.tp.mu.Lock()
		pending, more := l.tp.events[next:], l.tp.more
		l.tp.mu.Unlock()
		for _, d := range pending {
			next++
			d = d.Clone()
			d.SetProp("position", strconv.Itoa(next*10))
			if err := s.Deliver(ctx, operations.Event{Doc: d, Position: strconv.Itoa(next * 10)}); err != nil {
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
