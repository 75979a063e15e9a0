package persistence

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/atomrt/atom/operations"
	bolt "go.etcd.io/bbolt"
)

// DeadLetter is a document that failed for good, kept with its error so
// that an operator can see why and retry it from the console.
type DeadLetter struct {
	ID          string              `json:"id"` // assigned by PutDeadLetter; sorts by time
	Process     string              `json:"process"`
	Listener    string              `json:"listener,omitempty"`
	Execution   string              `json:"execution,omitempty"` // the failed run's execution ID, if recorded
	Doc         operations.Document `json:"doc"`                 // as it entered the failing step
	Error       string              `json:"error"`
	Step        string              `json:"step,omitempty"` // the step that failed
	Attempts    int                 `json:"attempts"`       // runs so far, the first included
	At          time.Time           `json:"at"`             // when it was first dead-lettered
	LastAttempt time.Time           `json:"last_attempt"`
}

// DeadLetterQuery selects dead letters. Results come newest first.
type DeadLetterQuery struct {
	Process string // "" for every process
	Before  string // only ones older than this ID: the last ID of the previous page
	Limit   int    // 0 means DefaultQueryLimit
}

// deadLetterRecord is how a dead letter is stored; its ID is the key.
type deadLetterRecord struct {
	Process     string              `json:"process"`
	Listener    string              `json:"listener,omitempty"`
	Execution   string              `json:"execution,omitempty"`
	Doc         operations.Document `json:"doc"`
	Error       string              `json:"error"`
	Step        string              `json:"step,omitempty"`
	Attempts    int                 `json:"attempts"`
	At          time.Time           `json:"at"`
	LastAttempt time.Time           `json:"last_attempt"`
}

// PutDeadLetter keeps a failed document and returns its ID. It is durable
// when it returns, so the listener's position may then move past the
// document. Concurrent calls share one transaction.
//
// The store assigns the ID: leave d.ID empty. A zero At means now, a zero
// LastAttempt means At, and Attempts below 1 means 1.
func (s *Store) PutDeadLetter(d DeadLetter) (string, error) {
	if d.ID != "" {
		return "", fmt.Errorf("put dead letter %s: the store assigns IDs, leave ID empty: %w", d.ID, ErrInvalid)
	}
	if d.At.IsZero() {
		d.At = time.Now().UTC()
	}
	if d.LastAttempt.IsZero() {
		d.LastAttempt = d.At
	}
	d.Attempts = max(d.Attempts, 1)
	prefix, rec, err := encodeDeadLetter(d)
	if err != nil {
		return "", fmt.Errorf("put dead letter of %q: %w", d.Process, err)
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return "", fmt.Errorf("put dead letter of %q: %w", d.Process, ErrClosed)
	}
	id := s.nextID(time.Time{})
	s.mu.Unlock()

	key := u64(id)
	err = s.db.Batch(func(tx *bolt.Tx) error {
		if err := tx.Bucket(bucketDeadLetters).Put(key, rec); err != nil {
			return err
		}
		return tx.Bucket(bucketDeadLetterIdx).Put(indexKey(prefix, key), []byte{})
	})
	if err != nil {
		return "", fmt.Errorf("put dead letter of %q: %w", d.Process, closedErr(err))
	}
	return formatID(id), nil
}

// DeadLetters returns the dead letters q selects, newest first.
func (s *Store) DeadLetters(q DeadLetterQuery) ([]DeadLetter, error) {
	limit, upper, err := page(q.Limit, q.Before)
	if err != nil {
		return nil, fmt.Errorf("query dead letters: %w", err)
	}
	var out []DeadLetter
	err = s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketDeadLetters)
		add := func(k, v []byte) error {
			d, err := decodeDeadLetter(k, v)
			if err == nil {
				out = append(out, d)
			}
			return err
		}
		if q.Process == "" {
			c := b.Cursor()
			for k, v := seekBelow(c, u64(upper)); k != nil && len(out) < limit; k, v = c.Prev() {
				if err := add(k, v); err != nil {
					return err
				}
			}
			return nil
		}
		prefix := appendField(nil, q.Process)
		c := tx.Bucket(bucketDeadLetterIdx).Cursor()
		for k, _ := seekBelow(c, indexKey(prefix, u64(upper))); k != nil && bytes.HasPrefix(k, prefix) && len(out) < limit; k, _ = c.Prev() {
			key := k[len(prefix):]
			if v := b.Get(key); v != nil {
				if err := add(key, v); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("query dead letters: %w", closedErr(err))
	}
	return out, nil
}

// DeadLetter returns one dead letter, or ErrNotFound.
func (s *Store) DeadLetter(id string) (DeadLetter, error) {
	n, err := parseID(id)
	if err != nil {
		return DeadLetter{}, fmt.Errorf("dead letter: %w", err)
	}
	var d DeadLetter
	err = s.db.View(func(tx *bolt.Tx) error {
		key := u64(n)
		v := tx.Bucket(bucketDeadLetters).Get(key)
		if v == nil {
			return ErrNotFound
		}
		d, err = decodeDeadLetter(key, v)
		return err
	})
	if err != nil {
		return DeadLetter{}, fmt.Errorf("dead letter %s: %w", id, closedErr(err))
	}
	return d, nil
}

// UpdateDeadLetter replaces a kept dead letter, found by d.ID; after a
// failed retry the runtime raises Attempts and sets Error and LastAttempt.
// It returns ErrNotFound when the dead letter is gone (retried and
// deleted meanwhile). Durable on return.
func (s *Store) UpdateDeadLetter(d DeadLetter) error {
	n, err := parseID(d.ID)
	if err != nil {
		return fmt.Errorf("update dead letter: %w", err)
	}
	prefix, rec, err := encodeDeadLetter(d)
	if err != nil {
		return fmt.Errorf("update dead letter %s: %w", d.ID, err)
	}
	key := u64(n)
	err = s.db.Batch(func(tx *bolt.Tx) error {
		oldPrefix, err := deadLetterPrefix(tx, key)
		if err != nil {
			return err
		}
		idx := tx.Bucket(bucketDeadLetterIdx)
		if !bytes.Equal(oldPrefix, prefix) {
			if err := idx.Delete(indexKey(oldPrefix, key)); err != nil {
				return err
			}
		}
		if err := tx.Bucket(bucketDeadLetters).Put(key, rec); err != nil {
			return err
		}
		return idx.Put(indexKey(prefix, key), []byte{})
	})
	if err != nil {
		return fmt.Errorf("update dead letter %s: %w", d.ID, closedErr(err))
	}
	return nil
}

// DeleteDeadLetter removes a dead letter, after a successful retry or on
// an operator's word. It returns ErrNotFound when it is already gone.
func (s *Store) DeleteDeadLetter(id string) error {
	n, err := parseID(id)
	if err != nil {
		return fmt.Errorf("delete dead letter: %w", err)
	}
	key := u64(n)
	err = s.db.Batch(func(tx *bolt.Tx) error {
		prefix, err := deadLetterPrefix(tx, key)
		if err != nil {
			return err
		}
		if err := tx.Bucket(bucketDeadLetterIdx).Delete(indexKey(prefix, key)); err != nil {
			return err
		}
		return tx.Bucket(bucketDeadLetters).Delete(key)
	})
	if err != nil {
		return fmt.Errorf("delete dead letter %s: %w", id, closedErr(err))
	}
	return nil
}

// deadLetterPrefix returns the index prefix of a stored dead letter, or
// ErrNotFound.
func deadLetterPrefix(tx *bolt.Tx, key []byte) ([]byte, error) {
	v := tx.Bucket(bucketDeadLetters).Get(key)
	if v == nil {
		return nil, ErrNotFound
	}
	var r struct {
		Process string `json:"process"`
	}
	if err := json.Unmarshal(v, &r); err != nil {
		return nil, fmt.Errorf("decode dead letter %x: %w", key, err)
	}
	return appendField(nil, r.Process), nil
}

// encodeDeadLetter returns the index prefix and the stored form.
func encodeDeadLetter(d DeadLetter) ([]byte, []byte, error) {
	prefix := appendField(nil, d.Process)
	if len(prefix)+8 > maxIndexKey {
		return nil, nil, fmt.Errorf("process name of %d bytes: %w (at most %d)", len(d.Process), ErrInvalid, maxIndexKey-16)
	}
	rec, err := json.Marshal(deadLetterRecord{
		Process: d.Process, Listener: d.Listener, Execution: d.Execution, Doc: d.Doc, Error: d.Error,
		Step: d.Step, Attempts: d.Attempts, At: d.At, LastAttempt: d.LastAttempt,
	})
	if err != nil {
		var unsupported *json.UnsupportedValueError
		var unsupportedType *json.UnsupportedTypeError
		if errors.As(err, &unsupported) || errors.As(err, &unsupportedType) {
			err = fmt.Errorf("%w: %w", ErrInvalid, err)
		}
		return nil, nil, fmt.Errorf("encode document: %w", err)
	}
	return prefix, rec, nil
}

func decodeDeadLetter(k, v []byte) (DeadLetter, error) {
	var r deadLetterRecord
	if err := json.Unmarshal(v, &r); err != nil {
		return DeadLetter{}, fmt.Errorf("decode dead letter %x: %w", k, err)
	}
	return DeadLetter{
		ID: formatID(binary.BigEndian.Uint64(k)), Process: r.Process, Listener: r.Listener, Execution: r.Execution,
		Doc: r.Doc, Error: r.Error, Step: r.Step, Attempts: r.Attempts, At: r.At, LastAttempt: r.LastAttempt,
	}, nil
}

// page reads a query's paging: its limit (DefaultQueryLimit when unset)
// and the ID below which results start (Before, the last ID of the
// previous page; every ID when unset).
func page(limit int, before string) (int, uint64, error) {
	if limit <= 0 {
		limit = DefaultQueryLimit
	}
	if before == "" {
		return limit, math.MaxUint64, nil
	}
	id, err := parseID(before)
	if err != nil {
		return 0, 0, fmt.Errorf("before: %w", err)
	}
	return limit, id, nil
}
