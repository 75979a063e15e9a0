package atom

import (
	"sync"
	"time"
)

// watermark tracks events in flight in the order they were received and
// says which position may be committed: the newest one below which every
// event has finished. Runs may finish out of order; the watermark never
// passes an event that is still running.
type watermark struct {
	mu      sync.Mutex
	next    uint64    // sequence number of the next event received
	base    uint64    // sequence number of pending[0]
	pending []wmEntry // from base, in receive order
	blocked bool      // an event could not be kept: commit nothing more
}

type wmEntry struct {
	at    time.Time // when it was received
	pos   string
	props map[string]string
	done  bool
}

// add records a received event and returns its ticket.
func (w *watermark) add(pos string, props map[string]string) uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	seq := w.next
	w.next++
	if len(w.pending) == 0 {
		w.base = seq
	}
	w.pending = append(w.pending, wmEntry{at: time.Now(), pos: pos, props: props})
	return seq
}

// finish marks a ticket done. When the oldest events are all done it
// returns the position (and properties) of the newest of them and true:
// that position may now be committed.
func (w *watermark) finish(seq uint64) (string, map[string]string, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.blocked || seq < w.base || seq-w.base >= uint64(len(w.pending)) {
		return "", nil, false
	}
	w.pending[seq-w.base].done = true
	n := 0
	for n < len(w.pending) && w.pending[n].done {
		n++
	}
	if n == 0 {
		return "", nil, false
	}
	// Only events with a position move it; a run of position-less events
	// (webhooks) commits nothing.
	var pos string
	var props map[string]string
	for i := n - 1; i >= 0; i-- {
		if w.pending[i].pos != "" {
			pos, props = w.pending[i].pos, w.pending[i].props
			break
		}
	}
	w.pending = append(w.pending[:0], w.pending[n:]...)
	w.base += uint64(n)
	return pos, props, pos != ""
}

// oldest returns when the oldest unfinished event was received, if any:
// how far processing lags behind the source.
func (w *watermark) oldest() (time.Time, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, e := range w.pending {
		if !e.done {
			return e.at, true
		}
	}
	return time.Time{}, false
}

// inFlight returns how many events have not finished.
func (w *watermark) inFlight() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.pending)
}

// block stops the watermark where it is, because an event in flight could
// be neither processed nor kept; reset starts it afresh for the next run.
func (w *watermark) block() {
	w.mu.Lock()
	w.blocked = true
	w.mu.Unlock()
}

// reset forgets every event; call it only when none is in flight.
func (w *watermark) reset() {
	w.mu.Lock()
	w.pending, w.blocked = w.pending[:0], false
	w.mu.Unlock()
}
