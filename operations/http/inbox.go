package httpconn

import (
	"context"
	"strconv"
	"time"

	"github.com/atomrt/atom/operations"
)

// maxQueued bounds the documents kept in memory between the handler and
// Run; past it the handler only stores them and Run reads the inbox again.
const maxQueued = 1024

// enqueue hands a stored document to Run.
func (e *endpoint) enqueue(it operations.InboxItem) {
	e.qmu.Lock()
	if len(e.queue) < e.queueCap && !e.overflow {
		e.queue = append(e.queue, it)
	} else {
		e.overflow = true
	}
	e.qmu.Unlock()
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// pump delivers the inbox until ctx ends: first everything stored (a
// restart's leftovers), then each document as the handler stores it.
// Deliver blocks while the runtime is busy; the inbox is the buffer.
func (e *endpoint) pump(ctx context.Context, s operations.Stream) {
	refill := true
	backoff := time.Second
	failing := false
	for {
		batch, err := e.nextBatch(refill)
		if err != nil {
			// The store is the atom's own; it fails when it is closing or
			// the disk is in trouble. Keep trying until told to stop.
			failing = true
			s.SetState(operations.Reconnecting, err)
			log := s.Log()
			log.Warn().Err(err).Dur("retry_in", backoff).Msg("read webhook inbox")
			if sleep(ctx, backoff) != nil {
				return
			}
			backoff = min(backoff*2, time.Minute)
			continue
		}
		if failing {
			failing, backoff = false, time.Second
			s.SetState(operations.Running, nil)
		}
		refill = false
		if len(batch) == 0 {
			select {
			case <-e.wake:
				continue
			case <-ctx.Done():
				return
			}
		}
		for _, it := range batch {
			if e.deliver(ctx, s, it) != nil {
				return
			}
		}
	}
}

// nextBatch returns the documents to deliver next: the queue, or the
// inbox itself after an overflow or when refill is set.
func (e *endpoint) nextBatch(refill bool) ([]operations.InboxItem, error) {
	if !refill {
		e.qmu.Lock()
		items, overflow := e.queue, e.overflow
		if !overflow {
			e.queue = nil
		}
		e.qmu.Unlock()
		if !overflow {
			return items, nil
		}
	}
	return e.refill()
}

// refill reads every stored document not in flight and empties the
// queue, whose documents are among them.
func (e *endpoint) refill() ([]operations.InboxItem, error) {
	e.putMu.Lock()
	defer e.putMu.Unlock()
	items, err := e.inbox.Pending(e.inboxName)
	if err != nil {
		return nil, err
	}
	e.qmu.Lock()
	defer e.qmu.Unlock()
	e.queue, e.overflow = nil, false
	out := items[:0]
	for _, it := range items {
		if _, busy := e.inflight[it.ID]; !busy {
			out = append(out, it)
		}
	}
	return out, nil
}

// deliver hands one stored document to the runtime; it is removed from
// the inbox once every run for it finished, unless one failed without
// keeping it.
func (e *endpoint) deliver(ctx context.Context, s operations.Stream, it operations.InboxItem) error {
	id := it.ID
	e.qmu.Lock()
	e.inflight[id] = struct{}{}
	e.qmu.Unlock()
	doc := it.Doc
	doc.SetProp(PropInboxID, strconv.FormatUint(id, 10))
	err := s.Deliver(ctx, operations.Event{Doc: doc, Done: func(o operations.Outcome) { e.finish(s, id, o) }})
	if err != nil {
		e.done(id)
	}
	return err
}

func (e *endpoint) finish(s operations.Stream, id uint64, o operations.Outcome) {
	defer e.done(id)
	if o.Err != nil {
		return // stays queued: delivered again when the listener runs again
	}
	if err := e.inbox.Delete(e.inboxName, id); err != nil {
		s.Count("inbox_delete_failed")
		log := s.Log()
		log.Warn().Err(err).Uint64("inbox_id", id).Msg("remove processed webhook document from the inbox; it will be delivered again")
	}
}

func (e *endpoint) done(id uint64) {
	e.qmu.Lock()
	delete(e.inflight, id)
	e.qmu.Unlock()
}
