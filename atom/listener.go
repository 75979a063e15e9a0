package atom

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/atomrt/atom/operations"
)

// PositionKey is the connector property that holds a listener's position.
const PositionKey = "position"

// listener runs one operations.Listener and fans its events out to every
// process that listens there. It is the runtime's operations.Stream.
type listener struct {
	name      string // "connection:key", unique in a deployment
	conn      string
	op        string // the first Listen operation on the key
	src       operations.Listener
	processes []string // in deployment order
	track     map[string][]string
	rt        *Runtime
	dep       *deployment
	log       zerolog.Logger

	concurrency int                        // workers, so events in flight at most
	workers     atomic.Pointer[workerPool] // of the current run; nil between runs
	wm          watermark
	wg          sync.WaitGroup // workers of the current run

	start     string
	committed atomic.Pointer[string]

	mu        sync.Mutex
	state     operations.State
	lastErr   string
	lastErrAt time.Time
	paused    bool
	cancelRun context.CancelFunc
	failErr   error         // why the current run had to stop
	resumed   chan struct{} // closed on resume
	counters  map[string]int64

	received, processed, failed, deadLettered atomic.Int64
	lastEventAt                               atomic.Int64 // unix nanos
}

// ListenerStatus is what the console and the API show of a listener.
type ListenerStatus struct {
	Name        string           `json:"name"`
	Connection  string           `json:"connection"`
	Key         string           `json:"key"`
	State       operations.State `json:"state"`
	Position    string           `json:"position"`
	Processes   []string         `json:"processes"`
	Concurrency int              `json:"concurrency"`
	InFlight    int              `json:"inFlight"`
	// LagSeconds is how long the oldest event in flight has waited: how
	// far processing is behind the source (0 when nothing is in flight).
	LagSeconds   float64          `json:"lagSeconds"`
	Received     int64            `json:"received"`
	Processed    int64            `json:"processed"`
	Failed       int64            `json:"failed"`
	DeadLettered int64            `json:"deadLettered"`
	Counters     map[string]int64 `json:"counters,omitempty"`
	LastError    string           `json:"lastError,omitempty"`
	LastErrorAt  *time.Time       `json:"lastErrorAt,omitempty"`
	LastEventAt  *time.Time       `json:"lastEventAt,omitempty"`
}

func (l *listener) status() ListenerStatus {
	l.mu.Lock()
	st := ListenerStatus{
		Name: l.name, Connection: l.conn, Key: l.src.Key(), State: l.state,
		Position: l.Committed(), Processes: l.processes, Concurrency: l.concurrency,
		InFlight: l.wm.inFlight(), Received: l.received.Load(), Processed: l.processed.Load(),
		Failed: l.failed.Load(), DeadLettered: l.deadLettered.Load(), LastError: l.lastErr,
	}
	if len(l.counters) > 0 {
		st.Counters = make(map[string]int64, len(l.counters))
		for k, v := range l.counters {
			st.Counters[k] = v
		}
	}
	if !l.lastErrAt.IsZero() {
		t := l.lastErrAt
		st.LastErrorAt = &t
	}
	l.mu.Unlock()
	if at, ok := l.wm.oldest(); ok {
		st.LagSeconds = time.Since(at).Seconds()
	}
	if ns := l.lastEventAt.Load(); ns != 0 {
		t := time.Unix(0, ns).UTC()
		st.LastEventAt = &t
	}
	return st
}

// run keeps the source running until ctx ends: it waits while paused and
// restarts the source after it fails, with backoff.
func (l *listener) run(ctx context.Context) {
	backoff := time.Second
	for {
		if !l.waitResumed(ctx) {
			return
		}
		err := l.runOnce(ctx)
		if ctx.Err() != nil {
			l.SetState(operations.Stopped, nil)
			return
		}
		if l.isPaused() {
			continue
		}
		if err == nil {
			err = errors.New("listener stopped by itself")
		}
		l.SetState(operations.Failed, err)
		l.log.Error().Err(err).Dur("retry_in", backoff).Msg("listener failed")
		select {
		case <-ctx.Done():
			l.SetState(operations.Stopped, nil)
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 5*time.Minute)
	}
}

// runOnce runs the source once from the committed position, then drains
// the events still in flight so the position is final before it returns.
func (l *listener) runOnce(ctx context.Context) error {
	runCtx, cancel := context.WithCancel(ctx)
	l.mu.Lock()
	l.cancelRun = cancel
	l.mu.Unlock()
	defer cancel()
	l.start = l.Committed()
	l.wm.reset()
	pool := l.startWorkers()
	l.SetState(operations.Starting, nil)
	err := l.src.Run(runCtx, l)
	// A source may still be calling Deliver from goroutines of its own
	// (webhook requests): stop takes no new job, so they get an error.
	close(pool.stop)
	l.wg.Wait()
	l.workers.Store(nil)
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	l.mu.Lock()
	if l.failErr != nil {
		err, l.failErr = l.failErr, nil
	}
	l.mu.Unlock()
	return err
}

func (l *listener) waitResumed(ctx context.Context) bool {
	for {
		l.mu.Lock()
		paused, ch := l.paused, l.resumed
		l.mu.Unlock()
		if !paused {
			return ctx.Err() == nil
		}
		select {
		case <-ctx.Done():
			return false
		case <-ch:
		}
	}
}

func (l *listener) isPaused() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.paused
}

// pause stops the source after the events in flight finish; the position
// stays where they leave it.
func (l *listener) pause() {
	l.mu.Lock()
	if !l.paused {
		l.paused = true
		l.resumed = make(chan struct{})
		l.state = operations.Paused
		if l.cancelRun != nil {
			l.cancelRun()
		}
	}
	l.mu.Unlock()
}

func (l *listener) resume() {
	l.mu.Lock()
	if l.paused {
		l.paused = false
		close(l.resumed)
		l.state = operations.Starting
	}
	l.mu.Unlock()
}

// Start implements operations.Stream.
func (l *listener) Start() string { return l.start }

// Committed implements operations.Stream.
func (l *listener) Committed() string {
	if p := l.committed.Load(); p != nil {
		return *p
	}
	return ""
}

// SetState implements operations.Stream.
func (l *listener) SetState(state operations.State, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.paused && state != operations.Stopped {
		state = operations.Paused
	}
	if l.state != state {
		l.log.Info().Str("state", string(state)).Msg("listener state")
	}
	l.state = state
	if err != nil {
		l.lastErr, l.lastErrAt = err.Error(), time.Now().UTC()
	}
}

// Mark implements operations.Stream.
func (l *listener) Mark(pos string) {
	if l.wm.inFlight() > 0 {
		return
	}
	l.commit(pos, nil)
	l.log.Info().Str("position", pos).Msg("position marked before the first event")
}

// Count implements operations.Stream.
func (l *listener) Count(name string) {
	l.mu.Lock()
	l.counters[name]++
	l.mu.Unlock()
}

// Log implements operations.Stream.
func (l *listener) Log() zerolog.Logger { return l.log }

// job is one event handed to a worker, with its watermark ticket.
type job struct {
	ev  operations.Event
	seq uint64
}

// workerPool is the workers of one run of the source.
type workerPool struct {
	jobs chan job      // unbuffered: a job is taken by a worker or not at all
	stop chan struct{} // closed when the run ends
}

// startWorkers starts the run's workers: long-lived goroutines, one per
// event that may be in flight, so an event costs no goroutine start.
func (l *listener) startWorkers() *workerPool {
	pool := &workerPool{jobs: make(chan job), stop: make(chan struct{})}
	for range max(l.concurrency, 1) {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for {
				select {
				case j := <-pool.jobs:
					l.handle(j)
				case <-pool.stop:
					return
				}
			}
		}()
	}
	l.workers.Store(pool)
	return pool
}

// Deliver implements operations.Stream: it hands the event to a free
// worker, waiting while all are busy. That wait is the back-pressure that
// keeps a fast source from outrunning slow processes.
func (l *listener) Deliver(ctx context.Context, ev operations.Event) error {
	// The ticket is taken before a worker may finish the event, in the
	// order the source delivers; a ticket left behind by a cancelled
	// delivery only holds the watermark until the next run resets it.
	pool := l.workers.Load()
	if pool == nil {
		return ErrNotRunning
	}
	seq := l.wm.add(ev.Position, ev.Doc.Props)
	l.received.Add(1) // before a worker can count it processed
	l.lastEventAt.Store(time.Now().UnixNano())
	select {
	case pool.jobs <- job{ev: ev, seq: seq}:
		return nil
	case <-ctx.Done():
		l.received.Add(-1)
		return ctx.Err()
	case <-pool.stop:
		l.received.Add(-1)
		return ErrNotRunning
	}
}

// handle runs one event through every process, then moves the watermark.
func (l *listener) handle(j job) {
	out := l.dispatch(j.ev.Doc)
	if j.ev.Done != nil {
		j.ev.Done(out)
	}
	if out.Err != nil {
		// The event could not be kept: the position must not pass it.
		// Stop the source; it resubscribes from the committed position.
		l.fail(out.Err)
		return
	}
	if pos, props, ok := l.wm.finish(j.seq); ok {
		l.commit(pos, props)
	}
}

// fail stops the current run of the source because an event could be
// neither processed nor kept. Its ticket is never finished, so the
// watermark stays below it until the source runs again.
func (l *listener) fail(err error) {
	l.wm.block()
	l.mu.Lock()
	if l.failErr == nil {
		l.failErr = err
	}
	if l.cancelRun != nil {
		l.cancelRun()
	}
	l.mu.Unlock()
}

func (l *listener) commit(pos string, props map[string]string) {
	l.committed.Store(&pos)
	saved := make(map[string]string, len(props)+1)
	for k, v := range props {
		saved[k] = v
	}
	saved[PositionKey] = pos
	if err := l.rt.store.CommitProperties(l.name, saved); err != nil {
		l.SetState(operations.Failed, fmt.Errorf("commit position %s: %w", pos, err))
	}
}

// setPosition replaces the committed position (an operator's offset change
// on a paused listener).
func (l *listener) setPosition(pos string) {
	l.committed.Store(&pos)
}
