package salesforce

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/atomrt/atom/operations"
)

// testStream is the runtime's side of a listener, simplified: it records
// what is delivered and commits positions the way the runtime's watermark
// would with one event in flight at a time (or lag events in flight).
type testStream struct {
	log zerolog.Logger

	// gate, when set, makes Deliver wait for one token per event: a slow
	// consumer that the test paces.
	gate chan struct{}
	// lag is how many delivered events stay uncommitted ("in flight").
	lag int

	mu        sync.Mutex
	start     string
	committed string
	events    []operations.Event
	states    []stateChange
	counts    map[string]int
	inBuffer  func() int // reads the listener's buffer fill, if set
	maxBuffer int
}

type stateChange struct {
	state operations.State
	err   error
}

func newTestStream(t testing.TB, committed string) *testStream {
	return &testStream{
		log:       zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel),
		start:     committed,
		committed: committed,
		counts:    map[string]int{},
	}
}

func (s *testStream) Start() string { s.mu.Lock(); defer s.mu.Unlock(); return s.start }

func (s *testStream) Committed() string { s.mu.Lock(); defer s.mu.Unlock(); return s.committed }

func (s *testStream) Mark(pos string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.events) == 0 || s.committed == s.events[len(s.events)-1].Position {
		s.committed = pos
	}
}

func (s *testStream) Deliver(ctx context.Context, ev operations.Event) error {
	if s.gate != nil {
		select {
		case <-s.gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.events = append(s.events, ev)
	if i := len(s.events) - 1 - s.lag; i >= 0 {
		s.committed = s.events[i].Position
	}
	if s.inBuffer != nil {
		s.maxBuffer = max(s.maxBuffer, s.inBuffer())
	}
	return nil
}

func (s *testStream) SetState(state operations.State, err error) {
	s.mu.Lock()
	s.states = append(s.states, stateChange{state, err})
	s.mu.Unlock()
}

func (s *testStream) Count(name string) { s.mu.Lock(); s.counts[name]++; s.mu.Unlock() }

func (s *testStream) Log() zerolog.Logger { return s.log }

func (s *testStream) count(name string) int { s.mu.Lock(); defer s.mu.Unlock(); return s.counts[name] }

func (s *testStream) delivered() []operations.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]operations.Event(nil), s.events...)
}

func (s *testStream) len() int { s.mu.Lock(); defer s.mu.Unlock(); return len(s.events) }

// state is the latest state and the latest error reported.
func (s *testStream) state() (operations.State, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var last operations.State
	var err error
	for _, c := range s.states {
		last = c.state
		if c.err != nil {
			err = c.err
		}
	}
	return last, err
}

// sawState reports whether the stream was ever in state with an error
// matching target.
func (s *testStream) sawState(state operations.State, target error) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.states {
		if c.state == state && (target == nil || errors.Is(c.err, target)) {
			return true
		}
	}
	return false
}

// running runs l on s until the returned stop is called; stop returns
// what Run returned.
func running(t testing.TB, l operations.Listener, s operations.Stream) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx, s) }()
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case err = <-done:
			case <-time.After(10 * time.Second):
				t.Errorf("Run did not return within 10s of cancel")
			}
		})
		return err
	}
	t.Cleanup(func() { _ = stop() })
	return stop
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// syncBuffer is a bytes.Buffer safe for a logger and a test to share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
