package persistence

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Execution statuses the runtime records.
const (
	StatusOK       = "ok"       // every step ran
	StatusFailed   = "failed"   // a step failed; the document was dead-lettered or the source told
	StatusFiltered = "filtered" // a filter step dropped the document
	StatusStopped  = "stopped"  // a stop step ended the run
	StatusTest     = "test"     // a test run from the console or `atom test`
)

// DefaultQueryLimit is how many executions or dead letters a query returns
// when its Limit is 0.
const DefaultQueryLimit = 100

// maxIndexKey bounds an execution index key; a tracked value too long for
// it is stored but not indexed, and a query for it scans instead.
const maxIndexKey = 1024

// Execution is one process run, as shown in the console's history.
type Execution struct {
	ID       string            `json:"id"` // assigned by RecordExecution; sorts by time
	Process  string            `json:"process"`
	Listener string            `json:"listener,omitempty"`
	Status   string            `json:"status"` // one of the Status constants
	Started  time.Time         `json:"started"`
	Duration time.Duration     `json:"duration"`
	Tracked  map[string]string `json:"tracked,omitempty"` // tracked document properties: replayId, eventUuid, ...
	Error    string            `json:"error,omitempty"`
	// Trace is the step-by-step record of the run. The runtime keeps it
	// only for failed and test runs. Executions leaves it out; Execution
	// returns it.
	Trace json.RawMessage `json:"trace,omitempty"`
}

// ExecQuery selects executions. Empty fields match everything; results
// come newest first.
type ExecQuery struct {
	Process  string
	Listener string
	Status   string
	// PropKey and PropValue select runs whose tracked property PropKey has
	// the value PropValue, through an index (no scan). PropKey alone
	// selects runs that tracked it at all.
	PropKey   string
	PropValue string
	Since     time.Time // runs started at or after
	Until     time.Time // runs started before
	Before    string    // only runs older than this ID: the last ID of the previous page
	Limit     int       // 0 means DefaultQueryLimit
}

// execRecord is how an execution is stored; its ID is the key and its
// trace lives in its own bucket.
type execRecord struct {
	Process  string            `json:"process"`
	Listener string            `json:"listener,omitempty"`
	Status   string            `json:"status"`
	Started  time.Time         `json:"started"`
	Duration time.Duration     `json:"duration"`
	Tracked  map[string]string `json:"tracked,omitempty"`
	Error    string            `json:"error,omitempty"`
}

// pendingExec is an encoded execution waiting for the committer.
type pendingExec struct {
	id    uint64
	rec   []byte
	trace []byte   // nil when none
	index [][]byte // index key prefixes; the key appends the ID
}

// RecordExecution adds a run to the history and returns its ID. Like
// CommitProperties it returns at once: the committer writes executions in
// batches, evicting the oldest beyond Options.HistoryLimit. Encoding
// happens here, so a bad trace fails now and not in the batch.
//
// The store assigns the ID: leave e.ID empty. A zero Started means now.
func (s *Store) RecordExecution(e Execution) (string, error) {
	if e.ID != "" {
		return "", fmt.Errorf("record execution %s: the store assigns IDs, leave ID empty: %w", e.ID, ErrInvalid)
	}
	if e.Started.IsZero() {
		e.Started = time.Now()
	}
	p := pendingExec{}
	if len(e.Trace) > 0 {
		if !json.Valid(e.Trace) {
			return "", fmt.Errorf("record execution of %q: trace is not JSON: %w", e.Process, ErrInvalid)
		}
		p.trace = append([]byte{}, e.Trace...)
	}
	rec := appendRecord(nil, e)
	p.index = indexPrefixes(e.Tracked)
	p.rec = encodeRecord(p.index, rec)

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return "", fmt.Errorf("record execution of %q: %w", e.Process, ErrClosed)
	}
	// The ID is never below the start, so a query by time can stop at the
	// first ID older than its Since.
	p.id = s.nextID(e.Started)
	s.execs = s.trimExecs(append(s.execs, p))
	if len(s.execs) >= kickExecs {
		s.wake()
	}
	return formatID(p.id), nil
}

// trimExecs bounds the executions waiting in memory when the disk cannot
// keep up: beyond twice the history limit the oldest are dropped, which is
// what eviction would do to them the moment they were written. Call with
// mu held.
func (s *Store) trimExecs(execs []pendingExec) []pendingExec {
	if len(execs) <= 2*s.limit {
		return execs
	}
	return append([]pendingExec(nil), execs[len(execs)-s.limit:]...)
}

// writeExecs writes a batch of executions and evicts the oldest beyond the
// limit. It returns how many executions the file then holds.
func (s *Store) writeExecs(tx *bolt.Tx, execs []pendingExec, count int) (int, error) {
	if len(execs) == 0 {
		return count, nil
	}
	if len(execs) > s.limit {
		execs = execs[len(execs)-s.limit:]
	}
	eb, tb, ib := tx.Bucket(bucketExecutions), tx.Bucket(bucketExecTraces), tx.Bucket(bucketExecIndex)
	for _, p := range execs {
		key := u64(p.id)
		if err := eb.Put(key, p.rec); err != nil {
			return count, fmt.Errorf("execution %016x: %w", p.id, err)
		}
		if p.trace != nil {
			if err := tb.Put(key, p.trace); err != nil {
				return count, fmt.Errorf("execution %016x trace: %w", p.id, err)
			}
		}
		for _, prefix := range p.index {
			if err := ib.Put(indexKey(prefix, key), []byte{}); err != nil {
				return count, fmt.Errorf("execution %016x index: %w", p.id, err)
			}
		}
	}
	count += len(execs)
	if over := count - s.limit; over > 0 {
		n, err := evict(tx, over)
		count -= n
		if err != nil {
			return count, err
		}
	}
	return count, nil
}

// evict deletes the n oldest executions with their traces and index keys.
// Keys sort by time, so they are the first n.
func evict(tx *bolt.Tx, n int) (int, error) {
	eb, tb, ib := tx.Bucket(bucketExecutions), tx.Bucket(bucketExecTraces), tx.Bucket(bucketExecIndex)
	type victim struct {
		key   []byte
		index [][]byte
	}
	// Collect first: deleting under a cursor makes it skip keys.
	victims := make([]victim, 0, n)
	c := eb.Cursor()
	for k, v := c.First(); k != nil && len(victims) < n; k, v = c.Next() {
		index, _, err := splitRecord(v)
		if err != nil {
			return 0, fmt.Errorf("evict execution %x: %w", k, err)
		}
		victims = append(victims, victim{key: clone(k), index: index})
	}
	for _, v := range victims {
		if err := eb.Delete(v.key); err != nil {
			return 0, err
		}
		if err := tb.Delete(v.key); err != nil {
			return 0, err
		}
		for _, prefix := range v.index {
			if err := ib.Delete(indexKey(prefix, v.key)); err != nil {
				return 0, err
			}
		}
	}
	return len(victims), nil
}

// indexPrefixes returns the index key prefix of each tracked property
// short enough to index.
func indexPrefixes(tracked map[string]string) [][]byte {
	if len(tracked) == 0 {
		return nil
	}
	out := make([][]byte, 0, len(tracked))
	for k, v := range tracked {
		if p, ok := indexPrefix(k, v); ok {
			out = append(out, p)
		}
	}
	return out
}

// indexPrefix is the length-prefixed (key, value) pair; the encoding is
// prefix-free, so every index key under it belongs to exactly this pair.
func indexPrefix(k, v string) ([]byte, bool) {
	p := appendField(appendField(make([]byte, 0, len(k)+len(v)+4), k), v)
	return p, len(p)+8 <= maxIndexKey
}

func indexKey(prefix, id []byte) []byte {
	return append(append(make([]byte, 0, len(prefix)+len(id)), prefix...), id...)
}

// Executions returns the runs q selects, newest first, without traces.
// Runs accepted but not yet written are included.
func (s *Store) Executions(q ExecQuery) ([]Execution, error) {
	if q.PropValue != "" && q.PropKey == "" {
		return nil, fmt.Errorf("query executions: property value %q without a property name: %w", q.PropValue, ErrInvalid)
	}
	limit, upper, err := page(q.Limit, q.Before)
	if err != nil {
		return nil, fmt.Errorf("query executions: %w", err)
	}
	// Copy the unwritten executions before reading the file; their IDs are
	// all above the file's, so the file is read below the first of them
	// and a commit in between is neither missed nor counted twice.
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, ErrClosed
	}
	mem := make([]pendingExec, 0, len(s.execsInflight)+len(s.execs))
	mem = append(append(mem, s.execsInflight...), s.execs...)
	s.mu.Unlock()

	out := make([]Execution, 0, min(limit, 64))
	since := sinceID(q.Since)
	for i := len(mem) - 1; i >= 0 && len(out) < limit; i-- {
		p := mem[i]
		if p.id < since {
			break
		}
		if p.id >= upper {
			continue
		}
		e, err := decodeExec(p.id, p.rec)
		if err != nil {
			return nil, err
		}
		if q.match(e) {
			out = append(out, e)
		}
	}
	if len(mem) > 0 {
		upper = min(upper, mem[0].id)
	}
	if len(out) >= limit {
		return out, nil
	}
	err = s.db.View(func(tx *bolt.Tx) error {
		var err error
		out, err = q.scan(tx, out, upper, since, limit)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("query executions: %w", closedErr(err))
	}
	return out, nil
}

// scan appends matching stored runs with IDs in [since, upper), newest
// first, through the property index when the query allows.
func (q ExecQuery) scan(tx *bolt.Tx, out []Execution, upper, since uint64, limit int) ([]Execution, error) {
	eb := tx.Bucket(bucketExecutions)
	visit := func(k, v []byte) (bool, error) {
		id := binary.BigEndian.Uint64(k)
		if id < since {
			return false, nil
		}
		e, err := decodeExec(id, v)
		if err != nil {
			return false, err
		}
		if q.match(e) {
			out = append(out, e)
		}
		return len(out) < limit, nil
	}
	prefix, indexed := indexPrefix(q.PropKey, q.PropValue)
	if q.PropValue == "" || !indexed {
		c := eb.Cursor()
		for k, v := seekBelow(c, u64(upper)); k != nil; k, v = c.Prev() {
			if more, err := visit(k, v); err != nil || !more {
				return out, err
			}
		}
		return out, nil
	}
	c := tx.Bucket(bucketExecIndex).Cursor()
	for k, _ := seekBelow(c, indexKey(prefix, u64(upper))); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Prev() {
		key := k[len(prefix):]
		v := eb.Get(key)
		if v == nil {
			continue
		}
		if more, err := visit(key, v); err != nil || !more {
			return out, err
		}
	}
	return out, nil
}

// seekBelow positions c on the last key below bound.
func seekBelow(c *bolt.Cursor, bound []byte) ([]byte, []byte) {
	if k, _ := c.Seek(bound); k == nil {
		return c.Last()
	}
	return c.Prev()
}

// sinceID is the lowest ID a run started at or after t can have.
func sinceID(t time.Time) uint64 {
	if t.IsZero() || t.UnixNano() <= 0 {
		return 0
	}
	return uint64(t.UnixNano())
}

func (q ExecQuery) match(e Execution) bool {
	if q.Process != "" && e.Process != q.Process ||
		q.Listener != "" && e.Listener != q.Listener ||
		q.Status != "" && e.Status != q.Status {
		return false
	}
	if q.PropKey != "" {
		v, ok := e.Tracked[q.PropKey]
		if !ok || q.PropValue != "" && v != q.PropValue {
			return false
		}
	}
	if !q.Since.IsZero() && e.Started.Before(q.Since) {
		return false
	}
	return q.Until.IsZero() || e.Started.Before(q.Until)
}

// Execution returns one run with its trace, or ErrNotFound (also for a run
// evicted from the history).
func (s *Store) Execution(id string) (Execution, error) {
	n, err := parseID(id)
	if err != nil {
		return Execution{}, fmt.Errorf("execution: %w", err)
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return Execution{}, ErrClosed
	}
	p, ok := findExec(s.execs, n)
	if !ok {
		p, ok = findExec(s.execsInflight, n)
	}
	s.mu.Unlock()
	if ok {
		e, err := decodeExec(p.id, p.rec)
		e.Trace = clone(p.trace)
		return e, err
	}
	var e Execution
	err = s.db.View(func(tx *bolt.Tx) error {
		key := u64(n)
		v := tx.Bucket(bucketExecutions).Get(key)
		if v == nil {
			return ErrNotFound
		}
		var err error
		if e, err = decodeExec(n, v); err != nil {
			return err
		}
		e.Trace = clone(tx.Bucket(bucketExecTraces).Get(key))
		return nil
	})
	if err != nil {
		return Execution{}, fmt.Errorf("execution %s: %w", id, closedErr(err))
	}
	return e, nil
}

// findExec finds an execution by ID in a slice sorted by ID.
func findExec(execs []pendingExec, id uint64) (pendingExec, bool) {
	i := sort.Search(len(execs), func(i int) bool { return execs[i].id >= id })
	if i < len(execs) && execs[i].id == id {
		return execs[i], true
	}
	return pendingExec{}, false
}

func decodeExec(id uint64, v []byte) (Execution, error) {
	var r execRecord
	_, body, err := splitRecord(v)
	if err == nil {
		err = json.Unmarshal(body, &r)
	}
	if err != nil {
		return Execution{}, fmt.Errorf("decode execution %016x: %w", id, err)
	}
	return Execution{
		ID: formatID(id), Process: r.Process, Listener: r.Listener, Status: r.Status,
		Started: r.Started, Duration: r.Duration, Tracked: r.Tracked, Error: r.Error,
	}, nil
}

// A stored execution is its index key prefixes, then its JSON record:
// uvarint(count), count × (uvarint(len), prefix), JSON. Eviction reads the
// prefixes to delete the index keys without decoding the JSON, which made
// up most of its cost.
func encodeRecord(index [][]byte, rec []byte) []byte {
	n := binary.MaxVarintLen64 * (len(index) + 1)
	for _, p := range index {
		n += len(p)
	}
	b := make([]byte, 0, n+len(rec))
	b = binary.AppendUvarint(b, uint64(len(index)))
	for _, p := range index {
		b = binary.AppendUvarint(b, uint64(len(p)))
		b = append(b, p...)
	}
	return append(b, rec...)
}

// splitRecord returns a stored execution's index prefixes and JSON. The
// prefixes share v's memory.
func splitRecord(v []byte) (index [][]byte, rec []byte, err error) {
	count, n := binary.Uvarint(v)
	if n <= 0 || count > uint64(len(v)) {
		return nil, nil, errors.New("corrupt execution record: bad header")
	}
	v = v[n:]
	index = make([][]byte, 0, count)
	for range count {
		l, n := binary.Uvarint(v)
		if n <= 0 || l > uint64(len(v)-n) {
			return nil, nil, errors.New("corrupt execution record: bad index prefix")
		}
		index = append(index, v[n:n+int(l)])
		v = v[n+int(l):]
	}
	return index, v, nil
}
