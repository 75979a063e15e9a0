package persistence

import (
	"bytes"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/atomrt/atom/operations"
	"github.com/rs/zerolog"
	berrors "go.etcd.io/bbolt/errors"
)

// syncBuffer is a log sink safe for the committer goroutine and the test.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// setMaxSize caps the file as a full disk would, using bbolt's own limit.
// writeMu keeps the committer out while the field changes.
func setMaxSize(s *Store, n int) {
	s.writeMu.Lock()
	s.db.MaxSize = n
	s.writeMu.Unlock()
}

// A full disk: batched writes fail, stay in memory and readable, are
// reported by Flush, Err and the log (once), and land when space returns.
// Synchronous writes fail to their caller and keep nothing.
func TestDiskFullKeepsBatchedWritesAndRecovers(t *testing.T) {
	var logs syncBuffer
	opts := Options{CommitInterval: time.Hour, Log: zerolog.New(&logs)}
	s, path := openStore(t, opts)
	const l = "sf /event/Order__e"
	if err := s.CommitProperties(l, map[string]string{"replayId": "1"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	setMaxSize(s, int(fi.Size()))

	big := strings.Repeat("x", 4<<20)
	if err := s.CommitProperties(l, map[string]string{"replayId": "2"}); err != nil {
		t.Fatal(err)
	}
	id, err := s.RecordExecution(Execution{Process: "p", Status: StatusFailed, Error: big})
	if err != nil {
		t.Fatalf("RecordExecution must accept now and fail later: %v", err)
	}
	for range 2 {
		if err := s.Flush(); !errors.Is(err, berrors.ErrMaxSizeReached) {
			t.Fatalf("Flush on a full disk = %v, want ErrMaxSizeReached", err)
		}
	}
	if err := s.Err(); !errors.Is(err, berrors.ErrMaxSizeReached) {
		t.Errorf("Err = %v, want ErrMaxSizeReached", err)
	}
	if got := stored(t, s, l)["replayId"]; got != "1" {
		t.Errorf("file holds replayId %s, want 1", got)
	}
	if p, _ := s.Properties(l); p["replayId"] != "2" {
		t.Errorf("Properties = %v, want the accepted replayId 2", p)
	}
	if e, err := s.Execution(id); err != nil || e.Error != big {
		t.Errorf("accepted execution not readable: %v", err)
	}
	// A later position while the disk is full wins over the failed one.
	if err := s.CommitProperties(l, map[string]string{"replayId": "3"}); err != nil {
		t.Fatal(err)
	}

	if _, err := s.PutDeadLetter(DeadLetter{Process: "p", Doc: operations.NewDocument(big, nil)}); !errors.Is(err, berrors.ErrMaxSizeReached) {
		t.Errorf("PutDeadLetter on a full disk = %v, want ErrMaxSizeReached", err)
	}
	if _, err := s.Put("hook", operations.NewDocument(big, nil)); !errors.Is(err, berrors.ErrMaxSizeReached) {
		t.Errorf("inbox Put on a full disk = %v, want ErrMaxSizeReached", err)
	}
	if n := keyCount(t, s, bucketDeadLetters); n != 0 {
		t.Errorf("%d dead letters kept after a failed put", n)
	}

	setMaxSize(s, 0)
	if err := s.Flush(); err != nil {
		t.Fatalf("Flush after space returned: %v", err)
	}
	if err := s.Err(); err != nil {
		t.Errorf("Err after recovery = %v", err)
	}
	if got := stored(t, s, l)["replayId"]; got != "3" {
		t.Errorf("file holds replayId %s, want 3", got)
	}
	s = reopen(t, s, opts)
	if e, err := s.Execution(id); err != nil || e.Error != big {
		t.Errorf("execution after recovery and reopen: %v", err)
	}
	out := logs.String()
	if n := strings.Count(out, "store commit failed"); n != 1 {
		t.Errorf("commit failure logged %d times, want once:\n%.2000s", n, out)
	}
	if !strings.Contains(out, "store commit recovered") {
		t.Errorf("recovery not logged:\n%.2000s", out)
	}
}

// Close on a full disk says what it could not write.
func TestCloseReportsUnwrittenPositions(t *testing.T) {
	s, path := openStore(t, Options{CommitInterval: time.Hour})
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	setMaxSize(s, int(fi.Size()))
	if err := s.CommitProperties("l", map[string]string{"replayId": strings.Repeat("9", 1<<20)}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); !errors.Is(err, berrors.ErrMaxSizeReached) {
		t.Fatalf("Close = %v, want ErrMaxSizeReached", err)
	}
}

// The committer reports a failed write through Err and retries it on its
// own: no Flush is needed for the write to land once space returns.
func TestCommitterRetriesInBackground(t *testing.T) {
	s, path := openStore(t, Options{CommitInterval: 2 * time.Millisecond})
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	setMaxSize(s, int(fi.Size()))
	big := strings.Repeat("7", 1<<20)
	if err := s.CommitProperties("l", map[string]string{"replayId": big}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "Err to report the failed background commit", func() bool {
		return errors.Is(s.Err(), berrors.ErrMaxSizeReached)
	})
	setMaxSize(s, 0)
	eventually(t, "the committer to write it once space returns", func() bool {
		return s.Err() == nil && stored(t, s, "l")["replayId"] == big
	})
}
