package persistence

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/atomrt/atom/operations"
)

func putDead(t testing.TB, s *Store, d DeadLetter) string {
	t.Helper()
	id, err := s.PutDeadLetter(d)
	if err != nil {
		t.Fatalf("put dead letter: %v", err)
	}
	return id
}

func deadIDs(ds []DeadLetter) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.ID
	}
	return out
}

func TestDeadLetterRoundTrip(t *testing.T) {
	s, _ := openStore(t, Options{})
	body := map[string]any{
		"Order_Number__c": "A-1001",
		"Amount__c":       1234.5,
		"Lines":           []any{map[string]any{"sku": "X", "qty": float64(2)}, "note", nil, true},
		"Nested":          map[string]any{"deep": map[string]any{"unicode": "Zürich ✓", "empty": ""}},
	}
	props := map[string]string{"replayId": "4711", "eventUuid": "9c1e-…", "channel": "/event/Order__e"}
	at := time.Date(2025, 5, 6, 7, 8, 9, 10, time.UTC)
	in := DeadLetter{
		Process: "orders", Listener: "sf /event/Order__e", Execution: "0000000000000abc",
		Doc:   operations.NewDocument(body, props),
		Error: "send crm: 400 INVALID_FIELD: No such column 'Foo__c'", Step: "send-crm",
		Attempts: 3, At: at, LastAttempt: at.Add(time.Minute),
	}
	id := putDead(t, s, in)
	in.ID = id
	check := func(when string) {
		t.Helper()
		got, err := s.DeadLetter(id)
		if err != nil {
			t.Fatalf("%s: %v", when, err)
		}
		if !got.At.Equal(in.At) || !got.LastAttempt.Equal(in.LastAttempt) {
			t.Errorf("%s: times %v, %v; want %v, %v", when, got.At, got.LastAttempt, in.At, in.LastAttempt)
		}
		got.At, got.LastAttempt = in.At, in.LastAttempt
		if !reflect.DeepEqual(got, in) {
			t.Errorf("%s:\n got %#v\nwant %#v", when, got, in)
		}
	}
	check("after put") // durable on return: no Flush
	s = reopen(t, s, Options{})
	check("after reopen")

	if _, err := s.DeadLetter("00000000000000ff"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown: %v, want ErrNotFound", err)
	}
}

func TestDeadLetterDefaultsAndRefusals(t *testing.T) {
	s, _ := openStore(t, Options{})
	before := time.Now()
	id := putDead(t, s, DeadLetter{Process: "p", Doc: operations.NewDocument("plain text", nil), Error: "boom"})
	d, err := s.DeadLetter(id)
	if err != nil {
		t.Fatal(err)
	}
	if d.Attempts != 1 || d.At.Before(before.Add(-time.Second)) || !d.LastAttempt.Equal(d.At) || d.Doc.Body != "plain text" {
		t.Errorf("defaults: %+v", d)
	}
	for name, bad := range map[string]DeadLetter{
		"caller ID":    {ID: id, Process: "p"},
		"NaN in body":  {Process: "p", Doc: operations.NewDocument(map[string]any{"x": math.NaN()}, nil)},
		"func in body": {Process: "p", Doc: operations.NewDocument(func() {}, nil)},
		"process name": {Process: string(make([]byte, maxIndexKey)), Doc: operations.NewDocument(1.0, nil)},
	} {
		if _, err := s.PutDeadLetter(bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
	if n := keyCount(t, s, bucketDeadLetters); n != 1 {
		t.Errorf("%d dead letters kept, want 1", n)
	}
}

func TestDeadLetterQueries(t *testing.T) {
	s, _ := openStore(t, Options{})
	var all []string
	procs := []string{"orders", "invoices", "orders", "audit", "orders", "invoices"}
	for i, p := range procs {
		all = append(all, putDead(t, s, DeadLetter{Process: p, Doc: operations.NewDocument(float64(i), nil), Error: fmt.Sprint("e", i)}))
	}
	pick := func(idx ...int) []string {
		out := make([]string, len(idx))
		for i, j := range idx {
			out[i] = all[j]
		}
		return out
	}
	for _, c := range []struct {
		name string
		q    DeadLetterQuery
		want []string
	}{
		{"all newest first", DeadLetterQuery{}, pick(5, 4, 3, 2, 1, 0)},
		{"limit", DeadLetterQuery{Limit: 2}, pick(5, 4)},
		{"process", DeadLetterQuery{Process: "orders"}, pick(4, 2, 0)},
		{"process with limit", DeadLetterQuery{Process: "orders", Limit: 2}, pick(4, 2)},
		{"next page", DeadLetterQuery{Process: "orders", Limit: 2, Before: all[2]}, pick(0)},
		{"page of all", DeadLetterQuery{Limit: 3, Before: all[3]}, pick(2, 1, 0)},
		{"unknown process", DeadLetterQuery{Process: "nope"}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := s.DeadLetters(c.q)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(deadIDs(got), c.want) {
				t.Errorf("got %v, want %v", deadIDs(got), c.want)
			}
			for _, d := range got {
				i := slices.Index(all, d.ID)
				if d.Process != procs[i] || d.Doc.Body != float64(i) {
					t.Errorf("%s: %+v, want process %s body %d", d.ID, d, procs[i], i)
				}
			}
		})
	}
	if _, err := s.DeadLetters(DeadLetterQuery{Before: "zz"}); !errors.Is(err, ErrInvalid) {
		t.Errorf("malformed before: %v, want ErrInvalid", err)
	}
}

func TestDeadLetterRetryLifecycle(t *testing.T) {
	s, _ := openStore(t, Options{})
	id := putDead(t, s, DeadLetter{Process: "orders", Doc: operations.NewDocument(map[string]any{"n": 1.0}, map[string]string{"replayId": "9"}), Error: "first"})

	// A failed retry: attempts up, new error.
	d, err := s.DeadLetter(id)
	if err != nil {
		t.Fatal(err)
	}
	d.Attempts++
	d.Error = "second"
	d.LastAttempt = d.At.Add(time.Hour)
	if err := s.UpdateDeadLetter(d); err != nil {
		t.Fatal(err)
	}
	got, _ := s.DeadLetter(id)
	if got.Attempts != 2 || got.Error != "second" || !got.LastAttempt.Equal(d.LastAttempt) || got.Doc.Prop("replayId") != "9" {
		t.Errorf("after update: %+v", got)
	}
	// Moving it to another process moves it in the index.
	d.Process = "orders-v2"
	if err := s.UpdateDeadLetter(d); err != nil {
		t.Fatal(err)
	}
	if l, _ := s.DeadLetters(DeadLetterQuery{Process: "orders"}); len(l) != 0 {
		t.Errorf("still listed under the old process: %v", deadIDs(l))
	}
	if l, _ := s.DeadLetters(DeadLetterQuery{Process: "orders-v2"}); !slices.Equal(deadIDs(l), []string{id}) {
		t.Errorf("under the new process: %v", deadIDs(l))
	}
	// A successful retry deletes it.
	if err := s.DeleteDeadLetter(id); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DeadLetter(id); !errors.Is(err, ErrNotFound) {
		t.Errorf("after delete: %v, want ErrNotFound", err)
	}
	if err := s.DeleteDeadLetter(id); !errors.Is(err, ErrNotFound) {
		t.Errorf("second delete: %v, want ErrNotFound", err)
	}
	if err := s.UpdateDeadLetter(d); !errors.Is(err, ErrNotFound) {
		t.Errorf("update after delete: %v, want ErrNotFound", err)
	}
	if n := keyCount(t, s, bucketDeadLetterIdx); n != 0 {
		t.Errorf("%d index keys left, want 0", n)
	}
	if err := s.UpdateDeadLetter(DeadLetter{ID: "bad"}); !errors.Is(err, ErrInvalid) {
		t.Errorf("update with a malformed ID: %v, want ErrInvalid", err)
	}
}

// Concurrent puts share transactions (db.Batch) and each gets its own ID;
// a failing one in the same batch does not take the others down.
func TestDeadLetterConcurrentPuts(t *testing.T) {
	s, _ := openStore(t, Options{})
	keep := putDead(t, s, DeadLetter{Process: "p", Doc: operations.NewDocument(0.0, nil)})
	const n = 64
	got := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			var err error
			switch i % 8 {
			case 0: // deleting a missing one fails inside a shared batch
				err = s.DeleteDeadLetter("00000000000000fe")
				if !errors.Is(err, ErrNotFound) {
					t.Errorf("delete missing: %v", err)
				}
				return
			case 1:
				err = s.DeleteDeadLetter(keep)
				if err != nil && !errors.Is(err, ErrNotFound) {
					t.Errorf("delete: %v", err)
				}
				return
			}
			got[i], err = s.PutDeadLetter(DeadLetter{Process: fmt.Sprint("p", i%3), Doc: operations.NewDocument(float64(i), nil)})
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	seen := map[string]int{}
	for i, id := range got {
		if i%8 <= 1 {
			continue
		}
		if j, dup := seen[id]; dup {
			t.Fatalf("puts %d and %d got one ID %s", j, i, id)
		}
		seen[id] = i
		d, err := s.DeadLetter(id)
		if err != nil || d.Doc.Body != float64(i) {
			t.Errorf("put %d: %+v, %v", i, d, err)
		}
	}
	all, _ := s.DeadLetters(DeadLetterQuery{Limit: 1000})
	if len(all) != len(seen) {
		t.Errorf("%d dead letters listed, want %d", len(all), len(seen))
	}
}
