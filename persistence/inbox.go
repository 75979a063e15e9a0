package persistence

import (
	"encoding/binary"
	"encoding/json"
	"fmt"

	"github.com/atomrt/atom/operations"
	bolt "go.etcd.io/bbolt"
)

// The store is the atom's operations.Inbox.
var _ operations.Inbox = (*Store)(nil)

// Put queues a document for a listener that answers its caller before
// processing (HTTP "ack: accepted") and returns its ID, which grows with
// every put to the listener. The document is durable when Put returns, so
// the listener may then answer. Concurrent puts share one transaction.
func (s *Store) Put(listener string, doc operations.Document) (uint64, error) {
	if err := checkListener(listener); err != nil {
		return 0, fmt.Errorf("inbox put: %w", err)
	}
	v, err := json.Marshal(doc)
	if err != nil {
		return 0, fmt.Errorf("inbox put for %q: encode document: %w", listener, err)
	}
	var id uint64
	err = s.db.Batch(func(tx *bolt.Tx) error {
		b, err := tx.Bucket(bucketInbox).CreateBucketIfNotExists([]byte(listener))
		if err != nil {
			return err
		}
		// Batch may run this more than once; a rolled-back run gives its
		// sequence number back, so id is the committed one.
		if id, err = b.NextSequence(); err != nil {
			return err
		}
		return b.Put(u64(id), v)
	})
	if err != nil {
		return 0, fmt.Errorf("inbox put for %q: %w", listener, closedErr(err))
	}
	return id, nil
}

// Delete removes a queued document once every run for it has finished.
// It returns ErrNotFound when it is not queued.
func (s *Store) Delete(listener string, id uint64) error {
	if err := checkListener(listener); err != nil {
		return fmt.Errorf("inbox delete: %w", err)
	}
	err := s.db.Batch(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketInbox).Bucket([]byte(listener))
		if b == nil || b.Get(u64(id)) == nil {
			return ErrNotFound
		}
		return b.Delete(u64(id))
	})
	if err != nil {
		return fmt.Errorf("inbox delete %d for %q: %w", id, listener, closedErr(err))
	}
	return nil
}

// Pending returns every document still queued for a listener, oldest
// first; the runtime runs them again after a restart.
func (s *Store) Pending(listener string) ([]operations.InboxItem, error) {
	if err := checkListener(listener); err != nil {
		return nil, fmt.Errorf("inbox pending: %w", err)
	}
	var out []operations.InboxItem
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketInbox).Bucket([]byte(listener))
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			item := operations.InboxItem{ID: binary.BigEndian.Uint64(k)}
			if err := json.Unmarshal(v, &item.Doc); err != nil {
				return fmt.Errorf("decode item %d: %w", item.ID, err)
			}
			out = append(out, item)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("inbox pending for %q: %w", listener, closedErr(err))
	}
	return out, nil
}
