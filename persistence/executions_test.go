package persistence

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// keyCount counts the keys of a top-level bucket in the file.
func keyCount(t testing.TB, s *Store, bucket []byte) int {
	t.Helper()
	n := 0
	if err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucket).ForEach(func(k, v []byte) error { n++; return nil })
	}); err != nil {
		t.Fatal(err)
	}
	return n
}

func record(t testing.TB, s *Store, e Execution) string {
	t.Helper()
	id, err := s.RecordExecution(e)
	if err != nil {
		t.Fatalf("record %+v: %v", e, err)
	}
	return id
}

func ids(es []Execution) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.ID
	}
	return out
}

func TestExecutionRoundTrip(t *testing.T) {
	opts := Options{CommitInterval: time.Hour}
	s, _ := openStore(t, opts)
	started := time.Date(2025, 3, 1, 12, 0, 0, 123456789, time.UTC)
	in := Execution{
		Process: "orders", Listener: "sf /event/Order__e", Status: StatusFailed,
		Started: started, Duration: 1500 * time.Millisecond,
		Tracked: map[string]string{"replayId": "42", "eventUuid": "e-42"},
		Error:   "send crm: 503 Service Unavailable",
		Trace:   json.RawMessage(`{"steps":[{"step":"map","ok":true},{"step":"send","error":"503"}]}`),
	}
	id := record(t, s, in)
	check := func(when string, got Execution, withTrace bool) {
		t.Helper()
		want := in
		want.ID = id
		if !withTrace {
			want.Trace = nil
		}
		if got.ID != want.ID || got.Process != want.Process || got.Listener != want.Listener ||
			got.Status != want.Status || !got.Started.Equal(want.Started) || got.Duration != want.Duration ||
			!maps.Equal(got.Tracked, want.Tracked) || got.Error != want.Error || string(got.Trace) != string(want.Trace) {
			t.Errorf("%s:\n got %+v\nwant %+v", when, got, want)
		}
	}
	get := func(when string) {
		t.Helper()
		got, err := s.Execution(id)
		if err != nil {
			t.Fatalf("%s: %v", when, err)
		}
		check(when+": Execution", got, true)
		list, err := s.Executions(ExecQuery{})
		if err != nil || len(list) != 1 {
			t.Fatalf("%s: Executions = %v, %v", when, list, err)
		}
		check(when+": Executions", list[0], false)
	}
	get("before flush")
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	get("after flush")
	s = reopen(t, s, opts)
	get("after reopen")

	if _, err := s.Execution("0000000000000001"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown ID: %v, want ErrNotFound", err)
	}
	if _, err := s.Execution("nope"); !errors.Is(err, ErrInvalid) {
		t.Errorf("malformed ID: %v, want ErrInvalid", err)
	}
	// IDs keep growing across a restart, even for a run started earlier.
	id2 := record(t, s, Execution{Process: "orders", Status: StatusOK, Started: started.Add(-time.Hour)})
	if id2 <= id {
		t.Errorf("ID after reopen %s is not above %s", id2, id)
	}
}

func TestRecordExecutionRefusesBadInput(t *testing.T) {
	s, _ := openStore(t, Options{})
	if _, err := s.RecordExecution(Execution{Process: "p", Trace: json.RawMessage(`{"steps":`)}); !errors.Is(err, ErrInvalid) {
		t.Errorf("broken trace: %v, want ErrInvalid", err)
	}
	if _, err := s.RecordExecution(Execution{ID: "0000000000000001", Process: "p"}); !errors.Is(err, ErrInvalid) {
		t.Errorf("caller-chosen ID: %v, want ErrInvalid", err)
	}
	if err := s.Flush(); err != nil {
		t.Fatalf("Flush after refused records: %v", err)
	}
	if n := keyCount(t, s, bucketExecutions); n != 0 {
		t.Errorf("%d executions stored, want 0", n)
	}
}

func TestExecutionQueries(t *testing.T) {
	s, _ := openStore(t, Options{CommitInterval: time.Hour})
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	type run struct {
		process, listener, status string
		minute                    int
		replay                    string
	}
	runs := []run{
		{"orders", "sf /event/Order__e", StatusOK, 0, "1"},
		{"orders", "sf /event/Order__e", StatusFailed, 1, "2"},
		{"invoices", "http POST /hooks/inv", StatusOK, 2, ""},
		{"orders", "sf /event/Order__e", StatusFiltered, 3, "3"},
		{"audit", "sf /event/Order__e", StatusOK, 4, "3"}, // a second process on the same event
		{"orders", "sf /event/Order__e", StatusOK, 5, "4"},
		{"invoices", "http POST /hooks/inv", StatusStopped, 6, ""},
		{"orders", "", StatusTest, 7, ""},
	}
	var all []string // IDs in record order
	for i, r := range runs {
		e := Execution{Process: r.process, Listener: r.listener, Status: r.status, Started: base.Add(time.Duration(r.minute) * time.Minute)}
		if r.replay != "" {
			e.Tracked = map[string]string{"replayId": r.replay, "eventUuid": fmt.Sprintf("uuid-%d", i)}
		}
		all = append(all, record(t, s, e))
		// Half in the file, half in memory: queries must join them.
		if i == 3 {
			if err := s.Flush(); err != nil {
				t.Fatal(err)
			}
		}
	}
	newest := func(idx ...int) []string {
		out := make([]string, len(idx))
		for i, j := range idx {
			out[i] = all[j]
		}
		return out
	}
	cases := []struct {
		name string
		q    ExecQuery
		want []string
	}{
		{"all newest first", ExecQuery{}, newest(7, 6, 5, 4, 3, 2, 1, 0)},
		{"limit", ExecQuery{Limit: 3}, newest(7, 6, 5)},
		{"process", ExecQuery{Process: "orders"}, newest(7, 5, 3, 1, 0)},
		{"status", ExecQuery{Status: StatusOK}, newest(5, 4, 2, 0)},
		{"process and status", ExecQuery{Process: "invoices", Status: StatusOK}, newest(2)},
		{"listener", ExecQuery{Listener: "http POST /hooks/inv"}, newest(6, 2)},
		{"tracked value (index)", ExecQuery{PropKey: "replayId", PropValue: "3"}, newest(4, 3)},
		{"tracked value and process", ExecQuery{PropKey: "replayId", PropValue: "3", Process: "audit"}, newest(4)},
		{"tracked value, another key", ExecQuery{PropKey: "eventUuid", PropValue: "uuid-1"}, newest(1)},
		{"tracked value absent", ExecQuery{PropKey: "replayId", PropValue: "99"}, nil},
		{"tracked key only", ExecQuery{PropKey: "replayId"}, newest(5, 4, 3, 1, 0)},
		{"since", ExecQuery{Since: base.Add(5 * time.Minute)}, newest(7, 6, 5)},
		{"until", ExecQuery{Until: base.Add(2 * time.Minute)}, newest(1, 0)},
		{"since and until", ExecQuery{Since: base.Add(2 * time.Minute), Until: base.Add(4 * time.Minute)}, newest(3, 2)},
		{"before (paging), crossing memory into file", ExecQuery{Before: all[5], Limit: 3}, newest(4, 3, 2)},
		{"before with index", ExecQuery{Before: all[4], PropKey: "replayId", PropValue: "3"}, newest(3)},
		{"before and process", ExecQuery{Before: all[3], Process: "orders"}, newest(1, 0)},
		{"index with limit", ExecQuery{PropKey: "replayId", PropValue: "3", Limit: 1}, newest(4)},
	}
	run2 := func(when string) {
		for _, c := range cases {
			t.Run(when+"/"+c.name, func(t *testing.T) {
				got, err := s.Executions(c.q)
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(ids(got), c.want) {
					t.Errorf("Executions(%+v)\n got %v\nwant %v", c.q, ids(got), c.want)
				}
			})
		}
	}
	run2("mixed")
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	run2("flushed")

	if _, err := s.Executions(ExecQuery{PropValue: "3"}); !errors.Is(err, ErrInvalid) {
		t.Errorf("value without key: %v, want ErrInvalid", err)
	}
	if _, err := s.Executions(ExecQuery{Before: "xyz"}); !errors.Is(err, ErrInvalid) {
		t.Errorf("malformed before: %v, want ErrInvalid", err)
	}
}

func TestExecutionLongTrackedValueIsFoundWithoutIndex(t *testing.T) {
	s, _ := openStore(t, Options{})
	long := strings.Repeat("v", 2*maxIndexKey)
	id := record(t, s, Execution{Process: "p", Tracked: map[string]string{"body": long, "replayId": "1"}})
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	if n := keyCount(t, s, bucketExecIndex); n != 1 {
		t.Errorf("%d index keys, want 1 (replayId only)", n)
	}
	got, err := s.Executions(ExecQuery{PropKey: "body", PropValue: long})
	if err != nil || !slices.Equal(ids(got), []string{id}) {
		t.Fatalf("query by long value = %v, %v; want [%s]", ids(got), err, id)
	}
}

func TestExecutionEviction(t *testing.T) {
	const limit = 5
	opts := Options{HistoryLimit: limit, CommitInterval: time.Hour}
	s, _ := openStore(t, opts)
	var all []string
	// Three commits of different sizes: eviction works across commits.
	for _, batch := range []int{3, 4, 6} {
		for range batch {
			n := len(all)
			e := Execution{Process: "p", Status: StatusFailed, Tracked: map[string]string{"replayId": fmt.Sprint(n)}}
			e.Trace = json.RawMessage(fmt.Sprintf(`{"n":%d}`, n))
			all = append(all, record(t, s, e))
		}
		if err := s.Flush(); err != nil {
			t.Fatal(err)
		}
		kept := all[max(0, len(all)-limit):]
		got, err := s.Executions(ExecQuery{})
		if err != nil {
			t.Fatal(err)
		}
		want := slices.Clone(kept)
		slices.Reverse(want)
		if !slices.Equal(ids(got), want) {
			t.Fatalf("after %d runs: kept %v, want %v", len(all), ids(got), want)
		}
		// Records, traces and index keys go together.
		for _, b := range [][]byte{bucketExecutions, bucketExecTraces, bucketExecIndex} {
			if n := keyCount(t, s, b); n != len(kept) {
				t.Errorf("after %d runs: bucket %s holds %d keys, want %d", len(all), b, n, len(kept))
			}
		}
	}
	if _, err := s.Execution(all[0]); !errors.Is(err, ErrNotFound) {
		t.Errorf("evicted run: %v, want ErrNotFound", err)
	}
	if got, _ := s.Executions(ExecQuery{PropKey: "replayId", PropValue: "0"}); len(got) != 0 {
		t.Errorf("query finds an evicted run: %v", ids(got))
	}
	last, err := s.Execution(all[len(all)-1])
	if err != nil || string(last.Trace) != fmt.Sprintf(`{"n":%d}`, len(all)-1) {
		t.Errorf("newest run = %+v, %v", last, err)
	}

	// A smaller limit after a restart evicts down to it on the next commit.
	opts.HistoryLimit = 2
	s = reopen(t, s, opts)
	all = append(all, record(t, s, Execution{Process: "p"}))
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Executions(ExecQuery{}); !slices.Equal(ids(got), []string{all[len(all)-1], all[len(all)-2]}) {
		t.Errorf("after lowering the limit: %v", ids(got))
	}
}

// A batch larger than the history (the disk fell behind) keeps only the
// newest, in memory and in the file.
func TestExecutionBacklogIsBounded(t *testing.T) {
	const limit = 4
	s, _ := openStore(t, Options{HistoryLimit: limit, CommitInterval: time.Hour})
	var all []string
	for i := range 3*limit + 1 {
		all = append(all, record(t, s, Execution{Process: "p", Tracked: map[string]string{"i": fmt.Sprint(i)}}))
	}
	s.mu.Lock()
	waiting := len(s.execs)
	s.mu.Unlock()
	if waiting > 2*limit {
		t.Errorf("%d executions waiting in memory, want at most %d", waiting, 2*limit)
	}
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	got, _ := s.Executions(ExecQuery{})
	want := slices.Clone(all[len(all)-limit:])
	slices.Reverse(want)
	if !slices.Equal(ids(got), want) {
		t.Errorf("kept %v, want %v", ids(got), want)
	}
	if n := keyCount(t, s, bucketExecIndex); n != limit {
		t.Errorf("%d index keys, want %d", n, limit)
	}
}

// Queries running while the committer moves runs from memory to the file
// see each run exactly once, newest first.
func TestExecutionQueriesDuringCommits(t *testing.T) {
	s, _ := openStore(t, Options{HistoryLimit: 100000, CommitInterval: time.Millisecond})
	const writers, each = 4, 300
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				if _, err := s.RecordExecution(Execution{Process: fmt.Sprint("p", w), Tracked: map[string]string{"replayId": fmt.Sprint(i)}}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	done := make(chan struct{})
	wg.Go(func() {
		for {
			select {
			case <-done:
				return
			default:
			}
			for _, q := range []ExecQuery{{Limit: 100000}, {PropKey: "replayId", PropValue: "7", Limit: 100}} {
				got, err := s.Executions(q)
				if err != nil {
					t.Error(err)
					return
				}
				for i := 1; i < len(got); i++ {
					if got[i].ID >= got[i-1].ID {
						t.Errorf("query %+v: %s after %s: duplicate or out of order", q, got[i].ID, got[i-1].ID)
						return
					}
				}
			}
		}
	})
	eventually(t, "all runs recorded and written", func() bool {
		return keyCount(t, s, bucketExecutions) == writers*each
	})
	close(done)
	wg.Wait()
	got, err := s.Executions(ExecQuery{Limit: 100000})
	if err != nil || len(got) != writers*each {
		t.Fatalf("%d runs listed, %v; want %d", len(got), err, writers*each)
	}
	if got, _ := s.Executions(ExecQuery{PropKey: "replayId", PropValue: "7"}); len(got) != writers {
		t.Errorf("replayId 7: %d runs, want %d", len(got), writers)
	}
}
