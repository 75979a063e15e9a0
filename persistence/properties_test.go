package persistence

import (
	"errors"
	"fmt"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// stored reads a listener's properties from the file only, bypassing the
// batched layers, to tell what is durable from what is accepted.
func stored(t testing.TB, s *Store, listener string) map[string]string {
	t.Helper()
	var props map[string]string
	if err := s.db.View(func(tx *bolt.Tx) error { props = readProps(tx, listener); return nil }); err != nil {
		t.Fatal(err)
	}
	return props
}

func TestCommitPropertiesMergesAndPersists(t *testing.T) {
	// An interval long enough that only Flush and Close write.
	opts := Options{CommitInterval: time.Hour}
	s, _ := openStore(t, opts)

	if p, err := s.Properties("sf /event/Order__e"); err != nil || len(p) != 0 {
		t.Fatalf("properties of an unknown listener = %v, %v; want empty", p, err)
	}
	steps := []map[string]string{
		{"replayId": "10", "eventUuid": "u-10"},
		{"replayId": "11"},                // eventUuid kept
		{"eventUuid": "", "extra": "x"},   // eventUuid removed
		{"replayId": "12", "extra": "x2"}, // latest wins
	}
	want := map[string]string{}
	for _, p := range steps {
		if err := s.CommitProperties("sf /event/Order__e", p); err != nil {
			t.Fatal(err)
		}
		overlay(want, p)
		got, err := s.Properties("sf /event/Order__e")
		if err != nil || !maps.Equal(got, want) {
			t.Fatalf("after committing %v: Properties = %v, %v; want %v", p, got, err, want)
		}
	}
	if got := stored(t, s, "sf /event/Order__e"); len(got) != 0 {
		t.Fatalf("file holds %v before Flush; the interval is an hour", got)
	}
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	if got := stored(t, s, "sf /event/Order__e"); !maps.Equal(got, want) {
		t.Fatalf("file after Flush = %v, want %v", got, want)
	}
	// A commit after the flush, written only by Close.
	if err := s.CommitProperties("sf /event/Order__e", map[string]string{"replayId": "13"}); err != nil {
		t.Fatal(err)
	}
	want["replayId"] = "13"
	s = reopen(t, s, opts)
	if got, err := s.Properties("sf /event/Order__e"); err != nil || !maps.Equal(got, want) {
		t.Fatalf("after reopen: %v, %v; want %v", got, err, want)
	}
}

func TestCommitPropertiesCallerMapIsCopied(t *testing.T) {
	s, _ := openStore(t, Options{CommitInterval: time.Hour})
	p := map[string]string{"replayId": "1"}
	if err := s.CommitProperties("l", p); err != nil {
		t.Fatal(err)
	}
	p["replayId"] = "999" // the caller reuses its map
	got, _ := s.Properties("l")
	got["replayId"] = "888" // and changes what it read
	if got, _ := s.Properties("l"); got["replayId"] != "1" {
		t.Fatalf("replayId = %q, want 1: the store shares a map with its caller", got["replayId"])
	}
}

func TestCommitterWritesWithoutFlush(t *testing.T) {
	s, _ := openStore(t, Options{CommitInterval: 5 * time.Millisecond})
	for i := range 3 {
		l := fmt.Sprintf("listener-%d", i)
		if err := s.CommitProperties(l, map[string]string{"replayId": fmt.Sprint(100 + i)}); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "the committer to write all three listeners", func() bool {
		for i := range 3 {
			if stored(t, s, fmt.Sprintf("listener-%d", i))["replayId"] != fmt.Sprint(100+i) {
				return false
			}
		}
		return true
	})
	if err := s.Err(); err != nil {
		t.Fatalf("Err after good commits = %v", err)
	}
}

func TestCommitterWakesEarlyWhenManyWait(t *testing.T) {
	s, _ := openStore(t, Options{CommitInterval: time.Hour})
	for i := range kickProps {
		if err := s.CommitProperties(fmt.Sprintf("l%04d", i), map[string]string{"replayId": "1"}); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "a commit well before the hour is up", func() bool {
		return stored(t, s, fmt.Sprintf("l%04d", kickProps-1))["replayId"] == "1"
	})
}

func TestCommitPropertiesRefusesWhatCannotBeStored(t *testing.T) {
	s, _ := openStore(t, Options{})
	for name, c := range map[string]struct {
		listener string
		props    map[string]string
	}{
		"empty listener":    {"", map[string]string{"a": "1"}},
		"empty key":         {"l", map[string]string{"": "1"}},
		"listener too long": {strings.Repeat("l", maxKey+1), map[string]string{"a": "1"}},
		"key too long":      {"l", map[string]string{strings.Repeat("k", maxKey+1): "1"}},
	} {
		t.Run(name, func(t *testing.T) {
			if err := s.CommitProperties(c.listener, c.props); !errors.Is(err, ErrInvalid) {
				t.Fatalf("CommitProperties = %v, want ErrInvalid", err)
			}
			if _, err := s.SetProperties(c.listener, c.props, "ops"); !errors.Is(err, ErrInvalid) {
				t.Fatalf("SetProperties = %v, want ErrInvalid", err)
			}
		})
	}
	// Nothing was accepted, so the next commit has nothing bad in it.
	if err := s.CommitProperties("l", map[string]string{"replayId": "5"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(); err != nil {
		t.Fatalf("Flush after refused commits: %v", err)
	}
}

func TestSetPropertiesAuditsAndWinsOverBatched(t *testing.T) {
	opts := Options{CommitInterval: time.Hour}
	s, _ := openStore(t, opts)
	const l = "sf /event/Order__e"
	if err := s.CommitProperties(l, map[string]string{"replayId": "100", "eventUuid": "u1"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	// Batched, not yet written: SetProperties must count it in prev and
	// must not let it land afterwards.
	if err := s.CommitProperties(l, map[string]string{"replayId": "105"}); err != nil {
		t.Fatal(err)
	}
	before := time.Now()
	prev, err := s.SetProperties(l, map[string]string{"replayId": "50"}, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]string{"replayId": "105", "eventUuid": "u1"}; !maps.Equal(prev, want) {
		t.Fatalf("prev = %v, want %v", prev, want)
	}
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	if got := stored(t, s, l); !maps.Equal(got, map[string]string{"replayId": "50"}) {
		t.Fatalf("file after SetProperties and Flush = %v, want only replayId 50", got)
	}
	// A reset, then the listener commits again: merged.
	if _, err := s.SetProperties(l, nil, "bob"); err != nil {
		t.Fatal(err)
	}
	if err := s.CommitProperties(l, map[string]string{"replayId": "51"}); err != nil {
		t.Fatal(err)
	}

	s = reopen(t, s, opts)
	if got, _ := s.Properties(l); !maps.Equal(got, map[string]string{"replayId": "51"}) {
		t.Fatalf("after reopen = %v", got)
	}
	changes, err := s.OffsetChanges(l)
	if err != nil {
		t.Fatal(err)
	}
	if len(changes) != 2 {
		t.Fatalf("%d offset changes, want 2: %+v", len(changes), changes)
	}
	bob, alice := changes[0], changes[1]
	if bob.Who != "bob" || !maps.Equal(bob.Prev, map[string]string{"replayId": "50"}) || len(bob.Next) != 0 {
		t.Errorf("newest change = %+v, want bob resetting replayId 50", bob)
	}
	if alice.Who != "alice" || alice.Listener != l || alice.Next["replayId"] != "50" || alice.Prev["replayId"] != "105" {
		t.Errorf("oldest change = %+v, want alice moving 105 to 50", alice)
	}
	if alice.At.Before(before.Add(-time.Second)) || alice.At.After(bob.At) {
		t.Errorf("change times out of order: alice %v, bob %v", alice.At, bob.At)
	}
	if other, err := s.OffsetChanges("other"); err != nil || len(other) != 0 {
		t.Errorf("changes of an untouched listener = %v, %v", other, err)
	}
}

// Positions committed from many goroutines while SetProperties and Flush
// run: the race detector watches, and every listener ends at its last.
func TestCommitPropertiesConcurrent(t *testing.T) {
	s, _ := openStore(t, Options{CommitInterval: time.Millisecond})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			l := fmt.Sprintf("listener-%d", g)
			for i := 1; i <= 500; i++ {
				if err := s.CommitProperties(l, map[string]string{"replayId": fmt.Sprint(i)}); err != nil {
					t.Error(err)
					return
				}
				if i%100 == 0 {
					if _, err := s.Properties(l); err != nil {
						t.Error(err)
					}
				}
			}
		})
	}
	wg.Go(func() {
		for range 20 {
			if err := s.Flush(); err != nil {
				t.Error(err)
			}
			if _, err := s.SetProperties("operator-owned", map[string]string{"replayId": "7"}, "ops"); err != nil {
				t.Error(err)
			}
		}
	})
	wg.Wait()
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	for g := range 8 {
		if got := stored(t, s, fmt.Sprintf("listener-%d", g))["replayId"]; got != "500" {
			t.Errorf("listener-%d stored replayId %q, want 500", g, got)
		}
	}
}
