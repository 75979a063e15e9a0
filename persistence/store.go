package persistence

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/rs/zerolog"
	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// Defaults for Options fields left at zero.
const (
	DefaultHistoryLimit   = 10000
	DefaultCommitInterval = 20 * time.Millisecond
)

const (
	schemaVersion = 1

	// batchDelay is how long db.Batch gathers concurrent synchronous writes
	// (dead letters, inbox puts) before it commits them in one transaction.
	// bbolt's default of 10ms is too long for an HTTP caller waiting on an
	// inbox put; an fsync costs about as much, so little is lost.
	batchDelay = 2 * time.Millisecond

	// kickProps and kickExecs wake the committer before its interval ends
	// when this many listeners or executions are waiting.
	kickProps = 256
	kickExecs = 2048

	// maxKey is bbolt's key size limit; longer keys would fail a whole
	// batched commit, so they are refused (or not indexed) up front.
	maxKey = bolt.MaxKeySize
)

// lockTimeout bounds how long Open waits for another process to let go of
// the file before it reports ErrLocked. A variable so that a test need not
// wait that long.
var lockTimeout = 2 * time.Second

// Bucket names; see doc.go for the layout.
var (
	bucketMeta          = []byte("meta")
	bucketProperties    = []byte("properties")
	bucketOffsetChanges = []byte("offset_changes")
	bucketDeployments   = []byte("deployments")
	bucketDeployFiles   = []byte("deployment_files")
	bucketExecutions    = []byte("executions")
	bucketExecTraces    = []byte("execution_traces")
	bucketExecIndex     = []byte("execution_index")
	bucketDeadLetters   = []byte("dead_letters")
	bucketDeadLetterIdx = []byte("dead_letter_index")
	bucketInbox         = []byte("inbox")
	allBuckets          = [][]byte{bucketMeta, bucketProperties, bucketOffsetChanges, bucketDeployments, bucketDeployFiles, bucketExecutions, bucketExecTraces, bucketExecIndex, bucketDeadLetters, bucketDeadLetterIdx, bucketInbox}
	keySchema           = []byte("schema")
	keyActiveDeployment = []byte("active")
)

// Options configure a Store. The zero value is ready to use.
type Options struct {
	// HistoryLimit is how many executions are kept; beyond it the oldest
	// are evicted. 0 means DefaultHistoryLimit.
	HistoryLimit int
	// CommitInterval is the longest time a batched write (a position from
	// CommitProperties, an execution from RecordExecution) waits in memory
	// before the background committer writes it. 0 means
	// DefaultCommitInterval.
	CommitInterval time.Duration
	// Log receives commit failures and operator changes. The zero Logger
	// discards everything.
	Log zerolog.Logger
	// NoSync skips fsync on every commit. For tests and benchmarks only: a
	// process crash loses nothing, but a power failure or a kernel crash
	// may lose recent commits or corrupt the file.
	NoSync bool
}

// Store is Atom's store: one bbolt file holding connector properties,
// deployments, executions, dead letters and the inbox. It is safe for
// concurrent use. Open one per file; Close it when done.
type Store struct {
	db       *bolt.DB
	path     string
	limit    int
	interval time.Duration
	log      zerolog.Logger

	// writeMu serialises every writer of batched state (the committer,
	// Flush, SetProperties), so a batched position can never land after a
	// synchronous SetProperties for the same listener. It is held across
	// a bbolt transaction, so it is never taken while holding mu.
	writeMu   sync.Mutex
	execCount int // executions in the file; guarded by writeMu

	mu            sync.Mutex
	props         map[string]map[string]string // accepted, not yet written
	propsInflight map[string]map[string]string // being written now
	execs         []pendingExec                // accepted, not yet written; keys ascending
	execsInflight []pendingExec                // being written now
	lastID        uint64                       // last ID handed out
	err           error                        // last failed batched commit, nil once one succeeds
	closed        bool

	kick chan struct{}
	stop chan struct{}
	done chan struct{}
}

// Open opens (creating if needed) the store file at path and starts its
// background committer. It fails with ErrLocked when another process has
// the file open, and with ErrSchema when a newer Atom wrote it.
func Open(path string, opts Options) (*Store, error) {
	if opts.HistoryLimit < 0 {
		return nil, fmt.Errorf("open store %s: history limit %d: %w (want 0 for the default, or more)", path, opts.HistoryLimit, ErrInvalid)
	}
	if opts.CommitInterval < 0 {
		return nil, fmt.Errorf("open store %s: commit interval %s: %w (want 0 for the default, or more)", path, opts.CommitInterval, ErrInvalid)
	}
	s := &Store{
		path:     path,
		limit:    opts.HistoryLimit,
		interval: opts.CommitInterval,
		log:      opts.Log,
		props:    map[string]map[string]string{},
		kick:     make(chan struct{}, 1),
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
	}
	if s.limit == 0 {
		s.limit = DefaultHistoryLimit
	}
	if s.interval == 0 {
		s.interval = DefaultCommitInterval
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{
		Timeout: lockTimeout,
		NoSync:  opts.NoSync,
		// The freelist is written on every commit (bbolt's default, unlike
		// etcd). Without it, opening after a crash rebuilds the freelist
		// in a goroutine that panics, killing the atom, on a damaged page;
		// with it, Open reads one page and Check reports damage as an
		// error.
		NoFreelistSync: false,
		FreelistType:   bolt.FreelistMapType,
	})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("open store %s: %w (is another atom running on it?)", path, ErrLocked)
	}
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	db.MaxBatchDelay = batchDelay
	s.db = db
	if err := s.init(); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	go s.committer()
	s.log.Info().Str("path", path).Int("history_limit", s.limit).Dur("commit_interval", s.interval).Int("executions", s.execCount).Msg("store opened")
	return s, nil
}

// init creates the buckets, checks the schema version and loads the
// counters kept in memory.
func (s *Store) init() error {
	err := s.db.Update(func(tx *bolt.Tx) error {
		for _, name := range allBuckets {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return fmt.Errorf("create bucket %s: %w", name, err)
			}
		}
		meta := tx.Bucket(bucketMeta)
		v := meta.Get(keySchema)
		if v == nil {
			return meta.Put(keySchema, []byte(strconv.Itoa(schemaVersion)))
		}
		n, err := strconv.Atoi(string(v))
		if err != nil || n > schemaVersion {
			return fmt.Errorf("schema %q, this atom knows %d: %w", v, schemaVersion, ErrSchema)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketExecutions).Cursor()
		for k, _ := c.First(); k != nil; k, _ = c.Next() {
			s.execCount++
		}
		if k, _ := c.Last(); k != nil {
			s.lastID = max(s.lastID, binary.BigEndian.Uint64(k))
		}
		if k, _ := tx.Bucket(bucketDeadLetters).Cursor().Last(); k != nil {
			s.lastID = max(s.lastID, binary.BigEndian.Uint64(k))
		}
		return nil
	})
}

// Path returns the file the store was opened on.
func (s *Store) Path() string { return s.path }

// Close writes every batched position and execution, stops the committer
// and closes the file. The error says what could not be written. Calling
// Close again returns nil.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	close(s.stop)
	<-s.done
	ferr := s.commit()
	if ferr != nil {
		s.log.Error().Err(ferr).Str("path", s.path).Msg("store closed with unwritten positions or executions")
	}
	cerr := s.db.Close()
	if cerr != nil {
		cerr = fmt.Errorf("close store %s: %w", s.path, cerr)
	}
	return errors.Join(ferr, cerr)
}

// Flush writes every position and execution accepted so far in one
// transaction and returns once they are durable. Writes that failed in the
// background are retried here, so a nil error means nothing accepted
// before the call is still only in memory.
func (s *Store) Flush() error {
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return ErrClosed
	}
	return s.commit()
}

// Err returns the error of the last batched commit if it failed and none
// has succeeded since, nil otherwise. A health check shows it; the failed
// writes stay in memory and are retried.
func (s *Store) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// committer writes batched state every interval, or sooner when kicked.
func (s *Store) committer() {
	defer close(s.done)
	t := time.NewTicker(s.interval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		case <-s.kick:
		}
		_ = s.commit() // logged and kept in s.err by commit
	}
}

// wake asks the committer to write now. Call with mu held.
func (s *Store) wake() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// commit writes all pending positions and executions in one transaction.
// On failure they go back in front of what arrived meanwhile, so that a
// newer value still wins and the next commit retries them.
func (s *Store) commit() error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()

	s.mu.Lock()
	props, execs := s.props, s.execs
	if len(props) == 0 && len(execs) == 0 {
		s.mu.Unlock()
		return nil
	}
	s.props, s.execs = map[string]map[string]string{}, nil
	s.propsInflight, s.execsInflight = props, execs
	s.mu.Unlock()

	count := s.execCount
	err := s.db.Update(func(tx *bolt.Tx) error {
		if err := writeProps(tx, props); err != nil {
			return err
		}
		n, err := s.writeExecs(tx, execs, s.execCount)
		count = n
		return err
	})

	s.mu.Lock()
	defer s.mu.Unlock()
	s.propsInflight, s.execsInflight = nil, nil
	if err != nil {
		err = fmt.Errorf("commit positions and executions to %s: %w", s.path, err)
		s.putBack(props, execs)
		if s.err == nil {
			s.log.Error().Err(err).Int("listeners", len(props)).Int("executions", len(execs)).Msg("store commit failed; kept in memory, retrying")
		}
		s.err = err
		return err
	}
	s.execCount = count
	if s.err != nil {
		s.log.Info().Msg("store commit recovered")
	}
	s.err = nil
	return nil
}

// putBack returns a failed batch to the pending state. Call with mu held.
func (s *Store) putBack(props map[string]map[string]string, execs []pendingExec) {
	for l, old := range props {
		cur, ok := s.props[l]
		if !ok {
			s.props[l] = old
			continue
		}
		for k, v := range old {
			if _, newer := cur[k]; !newer {
				cur[k] = v
			}
		}
	}
	if len(execs) > 0 {
		s.execs = s.trimExecs(append(execs, s.execs...))
	}
}

// nextID returns a new time-ordered ID: the current time in nanoseconds,
// but never below notBefore and always above the last one, so that keys
// sort by time, survive restarts, and an ID is never below its execution's
// start (which lets a query stop early). Call with mu held.
func (s *Store) nextID(notBefore time.Time) uint64 {
	id := uint64(max(time.Now().UnixNano(), notBefore.UnixNano(), 0))
	if id <= s.lastID {
		id = s.lastID + 1
	}
	s.lastID = id
	return id
}

// formatID renders a key as the 16 hex digits API callers see; they sort
// like the keys.
func formatID(id uint64) string {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], id)
	return hex.EncodeToString(b[:])
}

// parseID is the inverse of formatID.
func parseID(s string) (uint64, error) {
	if len(s) != 16 {
		return 0, fmt.Errorf("id %q: %w (want 16 hex digits)", s, ErrInvalid)
	}
	id, err := strconv.ParseUint(s, 16, 64)
	if err != nil {
		return 0, fmt.Errorf("id %q: %w (want 16 hex digits)", s, ErrInvalid)
	}
	return id, nil
}

// u64 returns v as an 8-byte big-endian key.
func u64(v uint64) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, v)
	return b
}

// appendField appends a length-prefixed string, so that composite index
// keys cannot be confused whatever bytes the parts hold.
func appendField(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// clone copies bytes read inside a transaction, which are valid only
// until it ends.
func clone(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append(make([]byte, 0, len(b)), b...)
}

// closedErr maps bbolt's "not open" to ErrClosed.
func closedErr(err error) error {
	if errors.Is(err, berrors.ErrDatabaseNotOpen) {
		return ErrClosed
	}
	return err
}

// Check opens the store file at path read-only and runs bbolt's
// consistency check on it (every page reachable once, no page both used
// and free). The file must not be open for writing, by this process or
// another. It returns nil for a sound file.
func Check(path string) error {
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: lockTimeout})
	if errors.Is(err, berrors.ErrTimeout) {
		return fmt.Errorf("check store %s: %w", path, ErrLocked)
	}
	if err != nil {
		return fmt.Errorf("check store %s: %w", path, err)
	}
	var errs []error
	err = db.View(func(tx *bolt.Tx) error {
		for e := range tx.Check() {
			errs = append(errs, e)
		}
		return nil
	})
	errs = append(errs, err, db.Close())
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("check store %s: %w", path, err)
	}
	return nil
}
