package persistence

import (
	"encoding/json"
	"fmt"
	"maps"
	"time"

	bolt "go.etcd.io/bbolt"
)

// OffsetChange is one audited change of a listener's properties made by
// an operator (SetProperties), such as moving its replay position back.
type OffsetChange struct {
	Listener string            `json:"listener"`
	Who      string            `json:"who"`
	At       time.Time         `json:"at"`
	Prev     map[string]string `json:"prev"`
	Next     map[string]string `json:"next"`
}

// Properties returns a listener's connector properties (its position and
// tracked values): the latest accepted by CommitProperties, written or
// not yet, over what the file holds. A listener never seen has none; the
// map is then empty, not an error.
func (s *Store) Properties(listener string) (map[string]string, error) {
	if err := checkListener(listener); err != nil {
		return nil, fmt.Errorf("properties: %w", err)
	}
	// Copy the unwritten layers first: a commit that finishes between the
	// copy and the read below is then seen twice with the same values,
	// never missed.
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, ErrClosed
	}
	inflight := maps.Clone(s.propsInflight[listener])
	pending := maps.Clone(s.props[listener])
	s.mu.Unlock()

	props := map[string]string{}
	err := s.db.View(func(tx *bolt.Tx) error {
		props = readProps(tx, listener)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("properties of %q: %w", listener, closedErr(err))
	}
	overlay(props, inflight)
	overlay(props, pending)
	return props, nil
}

// CommitProperties records a listener's new properties, merged into the
// ones it has: a key with an empty value is removed, keys not given are
// kept. It returns at once; the background committer writes every
// listener's latest values in one transaction within Options.CommitInterval,
// and Flush or Close write them at once.
//
// The rule that makes this safe: a caller hands in only positions that are
// already final (every run for the event finished). Batching then only
// delays durability; it never records a position ahead of the work. After
// a crash the listener resumes from an older final position and events are
// delivered again, which at-least-once delivery allows.
//
// It fails only for an empty listener or key, a name too long to store, or
// a closed store; write errors come later, from Flush, Close and Err.
func (s *Store) CommitProperties(listener string, props map[string]string) error {
	if err := checkProps(listener, props); err != nil {
		return fmt.Errorf("commit properties: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return fmt.Errorf("commit properties of %q: %w", listener, ErrClosed)
	}
	cur, ok := s.props[listener]
	if !ok {
		cur = make(map[string]string, len(props))
		s.props[listener] = cur
		if len(s.props) >= kickProps {
			s.wake()
		}
	}
	maps.Copy(cur, props)
	return nil
}

// SetProperties replaces a listener's properties at once and durably, and
// records who did it in the listener's audit (see OffsetChanges). It
// returns the properties it replaced. Empty props clear them, so that the
// listener starts again from its configured start.
//
// Pause the listener first: a position it commits afterwards is merged
// into the new properties, as CommitProperties always does. A position it
// committed before and that is still batched is folded into prev and then
// replaced, never written after the new one.
func (s *Store) SetProperties(listener string, props map[string]string, who string) (map[string]string, error) {
	if err := checkProps(listener, props); err != nil {
		return nil, fmt.Errorf("set properties: %w", err)
	}
	next := map[string]string{}
	for k, v := range props {
		if v != "" {
			next[k] = v
		}
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, fmt.Errorf("set properties of %q: %w", listener, ErrClosed)
	}
	// Holding writeMu, nothing is in flight; take the batched values so
	// the committer cannot write them over ours. On failure they go back.
	pending, hadPending := s.props[listener]
	delete(s.props, listener)
	s.mu.Unlock()

	change := OffsetChange{Listener: listener, Who: who, At: time.Now().UTC(), Next: next}
	err := s.db.Update(func(tx *bolt.Tx) error {
		change.Prev = readProps(tx, listener)
		overlay(change.Prev, pending)
		if err := putProps(tx, listener, next); err != nil {
			return err
		}
		return putOffsetChange(tx, change)
	})
	if err != nil {
		if hadPending {
			s.mu.Lock()
			s.putBack(map[string]map[string]string{listener: pending}, nil)
			s.mu.Unlock()
		}
		return nil, fmt.Errorf("set properties of %q: %w", listener, closedErr(err))
	}
	s.log.Info().Str("listener", listener).Str("who", who).Interface("prev", change.Prev).Interface("next", next).Msg("listener properties set")
	return change.Prev, nil
}

// OffsetChanges returns the audit of a listener's SetProperties calls,
// newest first.
func (s *Store) OffsetChanges(listener string) ([]OffsetChange, error) {
	if err := checkListener(listener); err != nil {
		return nil, fmt.Errorf("offset changes: %w", err)
	}
	var out []OffsetChange
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketOffsetChanges).Bucket([]byte(listener))
		if b == nil {
			return nil
		}
		c := b.Cursor()
		for k, v := c.Last(); k != nil; k, v = c.Prev() {
			var ch OffsetChange
			if err := json.Unmarshal(v, &ch); err != nil {
				return fmt.Errorf("decode offset change %x: %w", k, err)
			}
			out = append(out, ch)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("offset changes of %q: %w", listener, closedErr(err))
	}
	return out, nil
}

// readProps returns the stored properties of a listener, copied out of
// the transaction.
func readProps(tx *bolt.Tx, listener string) map[string]string {
	props := map[string]string{}
	b := tx.Bucket(bucketProperties).Bucket([]byte(listener))
	if b == nil {
		return props
	}
	_ = b.ForEach(func(k, v []byte) error {
		props[string(k)] = string(v)
		return nil
	})
	return props
}

// writeProps merges batched properties into the file.
func writeProps(tx *bolt.Tx, props map[string]map[string]string) error {
	root := tx.Bucket(bucketProperties)
	for listener, p := range props {
		b, err := root.CreateBucketIfNotExists([]byte(listener))
		if err != nil {
			return fmt.Errorf("properties of %q: %w", listener, err)
		}
		for k, v := range p {
			if v == "" {
				err = b.Delete([]byte(k))
			} else {
				err = b.Put([]byte(k), []byte(v))
			}
			if err != nil {
				return fmt.Errorf("properties of %q: %w", listener, err)
			}
		}
	}
	return nil
}

// putProps replaces a listener's properties.
func putProps(tx *bolt.Tx, listener string, props map[string]string) error {
	root := tx.Bucket(bucketProperties)
	if root.Bucket([]byte(listener)) != nil {
		if err := root.DeleteBucket([]byte(listener)); err != nil {
			return err
		}
	}
	if len(props) == 0 {
		return nil
	}
	b, err := root.CreateBucket([]byte(listener))
	if err != nil {
		return err
	}
	for k, v := range props {
		if err := b.Put([]byte(k), []byte(v)); err != nil {
			return err
		}
	}
	return nil
}

func putOffsetChange(tx *bolt.Tx, ch OffsetChange) error {
	b, err := tx.Bucket(bucketOffsetChanges).CreateBucketIfNotExists([]byte(ch.Listener))
	if err != nil {
		return err
	}
	seq, err := b.NextSequence()
	if err != nil {
		return err
	}
	v, err := json.Marshal(ch)
	if err != nil {
		return fmt.Errorf("encode offset change: %w", err)
	}
	return b.Put(u64(seq), v)
}

// overlay applies newer values over props; "" removes a key.
func overlay(props, newer map[string]string) {
	for k, v := range newer {
		if v == "" {
			delete(props, k)
		} else {
			props[k] = v
		}
	}
}

func checkListener(listener string) error {
	if listener == "" {
		return fmt.Errorf("listener name is empty: %w", ErrInvalid)
	}
	if len(listener) > maxKey {
		return fmt.Errorf("listener name of %d bytes: %w (at most %d)", len(listener), ErrInvalid, maxKey)
	}
	return nil
}

// checkProps refuses what would fail a batched commit for every listener.
func checkProps(listener string, props map[string]string) error {
	if err := checkListener(listener); err != nil {
		return err
	}
	for k := range props {
		if k == "" || len(k) > maxKey {
			return fmt.Errorf("listener %q: property name %.40q: %w (want 1 to %d bytes)", listener, k, ErrInvalid, maxKey)
		}
	}
	return nil
}
