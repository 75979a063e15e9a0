package emulator

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
)

// storedEvent is one event on the bus. Its message is encoded once, at
// publish time, exactly as a CometD subscriber receives it; connect
// responses splice it in without re-encoding.
type storedEvent struct {
	replayID int64
	created  int64 // Unix nanoseconds (retention is checked to the nanosecond)
	uuidAt   int32 // offset of `,"EventUuid":"` in msg
	msg      []byte
}

// appendMsg appends the message as a client of the given API version sees
// it: EventUuid is delivered from API version 52.0 on.
func (s *storedEvent) appendMsg(out []byte, version float64) []byte {
	if version >= 52.0 || s.uuidAt <= 0 {
		return append(out, s.msg...)
	}
	out = append(out, s.msg[:s.uuidAt]...)
	return append(out, "}}}"...)
}

// uuid returns the event's EventUuid.
func (s *storedEvent) uuid() string {
	start := int(s.uuidAt) + len(`,"EventUuid":"`)
	if s.uuidAt <= 0 || start+36 > len(s.msg) {
		return ""
	}
	return string(s.msg[start : start+36])
}

// channelLog is the retained stream of one platform event. Events are
// addressed by an absolute sequence number: events[i] has seq base+i, so a
// subscriber's position survives trimming of the front.
type channelLog struct {
	et          *eventType
	events      []storedEvent
	base        uint64
	lastReplay  int64
	lastCreated int64
	waiters     map[*cometClient]struct{}
}

// bus holds every channel's log. One lock guards it; readers take the read
// lock only to copy a window of event headers.
type bus struct {
	mu        sync.RWMutex
	logs      map[string]*channelLog // by event name
	retention atomic.Int64           // nanoseconds
	rng       *rand.Rand
	persist   *persistFile
	now       func() time.Time
}

func newBus(types []*eventType, retention time.Duration) *bus {
	b := &bus{
		logs: map[string]*channelLog{},
		rng:  rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 0x5eed)),
		now:  time.Now,
	}
	b.retention.Store(int64(retention))
	for _, et := range types {
		// Replay IDs start at an arbitrary point so nobody mistakes them for
		// counters.
		b.logs[et.name] = &channelLog{et: et, lastReplay: 1000 + b.rng.Int64N(9000), waiters: map[*cometClient]struct{}{}}
	}
	return b
}

// cutoff is the creation time (Unix ns) before which events have expired.
func (b *bus) cutoff() int64 {
	return b.now().Add(-time.Duration(b.retention.Load())).UnixNano()
}

// published is what a publish returns for one record.
type published struct {
	replayID int64
	uuid     string
}

// publish appends validated records to one channel atomically, persisting
// them first when the bus is persistent, and wakes its subscribers.
func (b *bus) publish(et *eventType, records []recordValues, createdBy string) ([]published, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	cl := b.logs[et.name]
	out := make([]published, 0, len(records))
	fresh := make([]storedEvent, 0, len(records))
	last, lastCreated := cl.lastReplay, cl.lastCreated
	for _, values := range records {
		created := b.now().UnixNano()
		if created < lastCreated {
			created = lastCreated // keep creation times monotonic per channel
		}
		// Increasing but never contiguous, so a client that computes replay
		// IDs (instead of storing them) fails here, not in production.
		last += 2 + b.rng.Int64N(5)
		id := uuid.NewString()
		ev := encodeEvent(et, values, last, id, time.Unix(0, created), createdBy)
		fresh = append(fresh, ev)
		out = append(out, published{replayID: last, uuid: id})
		lastCreated = created
	}
	if b.persist != nil {
		if err := b.persist.append(et.name, fresh); err != nil {
			return nil, fmt.Errorf("persist events: %w", err)
		}
	}
	cl.events = append(cl.events, fresh...)
	cl.lastReplay, cl.lastCreated = last, lastCreated
	b.trimLocked(cl, b.cutoff())
	for c := range cl.waiters {
		c.signal()
	}
	return out, nil
}

// encodeEvent builds the CometD message of an event.
func encodeEvent(et *eventType, values recordValues, replayID int64, id string, created time.Time, createdBy string) storedEvent {
	buf := make([]byte, 0, 160+32*len(et.fields))
	buf = append(buf, `{"channel":"`...)
	buf = append(buf, et.channel...)
	buf = append(buf, `","data":{"schema":"`...)
	buf = append(buf, et.schemaID...)
	buf = append(buf, `","payload":`...)
	buf = et.appendPayload(buf, values, created, createdBy)
	buf = append(buf, `,"event":{"replayId":`...)
	buf = strconv.AppendInt(buf, replayID, 10)
	uuidAt := len(buf)
	buf = append(buf, `,"EventUuid":"`...)
	buf = append(buf, id...)
	buf = append(buf, `"}}}`...)
	return storedEvent{replayID: replayID, created: created.UnixNano(), uuidAt: int32(uuidAt), msg: buf}
}

// trimLocked drops expired events from the front of a log.
func (b *bus) trimLocked(cl *channelLog, cutoff int64) {
	if len(cl.events) == 0 || cl.events[0].created >= cutoff {
		return
	}
	k := firstRetained(cl.events, cutoff)
	clear(cl.events[:k]) // release the messages
	cl.events = cl.events[k:]
	cl.base += uint64(k)
	if cap(cl.events) > 1024 && len(cl.events) < cap(cl.events)/4 {
		cl.events = append([]storedEvent(nil), cl.events...)
	}
}

// trimAll trims every log; the housekeeping loop calls it.
func (b *bus) trimAll() {
	b.mu.Lock()
	defer b.mu.Unlock()
	cutoff := b.cutoff()
	for _, cl := range b.logs {
		b.trimLocked(cl, cutoff)
	}
}

// firstRetained is the index of the first event created at or after cutoff.
func firstRetained(events []storedEvent, cutoff int64) int {
	return sort.Search(len(events), func(i int) bool { return events[i].created >= cutoff })
}

// errInvalidReplay reports a replay ID outside the retained window.
type errInvalidReplay struct{ id int64 }

func (e errInvalidReplay) Error() string {
	return fmt.Sprintf("400::The replayId {%d} you provided was invalid.  Please provide a valid ID, -2 to replay all events, or -1 to replay only new events.", e.id)
}

// position returns the sequence number a subscription with the given replay
// option starts at: -1 after the newest event, -2 at the oldest retained
// one, N right after event N. N must lie within the retained window: at or
// after the oldest retained event and at or before the newest published.
func (b *bus) position(cl *channelLog, replay int64) (uint64, error) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	end := cl.base + uint64(len(cl.events))
	first := firstRetained(cl.events, b.cutoff())
	switch {
	case replay == -1:
		return end, nil
	case replay == -2:
		return cl.base + uint64(first), nil
	case replay < 0:
		return 0, errInvalidReplay{replay}
	}
	if first == len(cl.events) || replay < cl.events[first].replayID || replay > cl.lastReplay {
		return 0, errInvalidReplay{replay}
	}
	i := sort.Search(len(cl.events), func(i int) bool { return cl.events[i].replayID > replay })
	return cl.base + uint64(i), nil
}

// read copies up to max event headers starting at seq next, skipping
// expired ones, and returns them with the position after the last one.
// Messages are shared, never copied: they are immutable once published.
func (b *bus) read(cl *channelLog, next uint64, max, maxBytes int, dst []storedEvent) ([]storedEvent, uint64) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	if next < cl.base {
		next = cl.base
	}
	i := int(next - cl.base)
	if i < len(cl.events) && cl.events[i].created < b.cutoff() {
		i += firstRetained(cl.events[i:], b.cutoff())
	}
	size := 0
	for ; i < len(cl.events) && max > 0; i++ {
		size += len(cl.events[i].msg) + 1
		if size > maxBytes && len(dst) > 0 {
			break
		}
		dst = append(dst, cl.events[i])
		max--
	}
	return dst, cl.base + uint64(i)
}

func (b *bus) addWaiter(cl *channelLog, c *cometClient) {
	b.mu.Lock()
	cl.waiters[c] = struct{}{}
	b.mu.Unlock()
}

func (b *bus) removeWaiter(cl *channelLog, c *cometClient) {
	b.mu.Lock()
	delete(cl.waiters, c)
	b.mu.Unlock()
}

func (b *bus) waiterCount(cl *channelLog) int {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return len(cl.waiters)
}

// Event is a published event as the bus holds it.
type Event struct {
	// Channel is the CometD channel, /event/Name__e.
	Channel string `json:"channel"`
	// ReplayID is the event's position in the stream.
	ReplayID int64 `json:"replayId"`
	// EventUUID identifies the event message.
	EventUUID string `json:"eventUuid"`
	// CreatedDate is when it was published.
	CreatedDate time.Time `json:"createdDate"`
	// Payload is the payload subscribers receive: CreatedDate, CreatedById
	// and every custom field (null where unset).
	Payload map[string]any `json:"payload"`
}

// snapshot decodes the retained events of a log.
func (b *bus) snapshot(cl *channelLog) []Event {
	b.mu.RLock()
	events := cl.events[firstRetained(cl.events, b.cutoff()):]
	events = append([]storedEvent(nil), events...)
	b.mu.RUnlock()
	out := make([]Event, 0, len(events))
	for i := range events {
		var m struct {
			Data struct {
				Payload map[string]any `json:"payload"`
			} `json:"data"`
		}
		_ = json.Unmarshal(events[i].msg, &m)
		out = append(out, Event{
			Channel:     cl.et.channel,
			ReplayID:    events[i].replayID,
			EventUUID:   events[i].uuid(),
			CreatedDate: time.Unix(0, events[i].created).UTC().Truncate(time.Millisecond),
			Payload:     m.Data.Payload,
		})
	}
	return out
}

// ChannelState summarizes one channel of the bus.
type ChannelState struct {
	// Retained is how many events are within retention.
	Retained int `json:"retained"`
	// OldestReplayID is the oldest retained event's replay ID (0 if none).
	OldestReplayID int64 `json:"oldestReplayId"`
	// LastReplayID is the newest replay ID ever assigned.
	LastReplayID int64 `json:"lastReplayId"`
	// Subscribers is how many CometD clients are subscribed.
	Subscribers int `json:"subscribers"`
}

func (b *bus) state() map[string]ChannelState {
	b.mu.RLock()
	defer b.mu.RUnlock()
	cutoff := b.cutoff()
	out := make(map[string]ChannelState, len(b.logs))
	for _, cl := range b.logs {
		first := firstRetained(cl.events, cutoff)
		st := ChannelState{Retained: len(cl.events) - first, LastReplayID: cl.lastReplay, Subscribers: len(cl.waiters)}
		if first < len(cl.events) {
			st.OldestReplayID = cl.events[first].replayID
		}
		out[cl.et.channel] = st
	}
	return out
}
