package persistence

import (
	"errors"
	"reflect"
	"slices"
	"sync"
	"testing"

	"github.com/atomrt/atom/operations"
)

func TestInboxOrderAndDelete(t *testing.T) {
	s, _ := openStore(t, Options{})
	var inbox operations.Inbox = s
	const hook, other = "http POST /hooks/orders", "http POST /hooks/inv"
	var want []operations.InboxItem
	for i, body := range []any{map[string]any{"n": 1.0}, []any{"a", 2.0}, "three", nil} {
		doc := operations.NewDocument(body, map[string]string{"requestId": string(rune('a' + i))})
		id, err := inbox.Put(hook, doc)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, operations.InboxItem{ID: id, Doc: doc})
	}
	otherID, err := inbox.Put(other, operations.NewDocument("x", nil))
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i < len(want); i++ {
		if want[i].ID <= want[i-1].ID {
			t.Fatalf("IDs not increasing: %d after %d", want[i].ID, want[i-1].ID)
		}
	}
	pending := func(l string) []operations.InboxItem {
		t.Helper()
		got, err := inbox.Pending(l)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	if got := pending(hook); !reflect.DeepEqual(got, want) {
		t.Fatalf("pending:\n got %+v\nwant %+v", got, want)
	}
	if err := inbox.Delete(hook, want[1].ID); err != nil {
		t.Fatal(err)
	}
	if err := inbox.Delete(hook, want[1].ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("second delete: %v, want ErrNotFound", err)
	}
	if err := inbox.Delete("never used", 1); !errors.Is(err, ErrNotFound) {
		t.Errorf("delete on an unknown listener: %v, want ErrNotFound", err)
	}
	want = slices.Delete(want, 1, 2)

	s = reopen(t, s, Options{})
	inbox = s
	if got := pending(hook); !reflect.DeepEqual(got, want) {
		t.Fatalf("pending after reopen:\n got %+v\nwant %+v", got, want)
	}
	if got := pending(other); len(got) != 1 || got[0].ID != otherID {
		t.Errorf("other listener: %+v", got)
	}
	if got := pending("never used"); len(got) != 0 {
		t.Errorf("unknown listener: %+v", got)
	}
	// Emptied and reopened, IDs still do not repeat.
	for _, it := range want {
		if err := inbox.Delete(hook, it.ID); err != nil {
			t.Fatal(err)
		}
	}
	id, err := inbox.Put(hook, operations.NewDocument("later", nil))
	if err != nil || id <= want[len(want)-1].ID {
		t.Errorf("put after emptying: id %d, %v; want above %d", id, err, want[len(want)-1].ID)
	}
	if _, err := inbox.Put("", operations.Document{}); !errors.Is(err, ErrInvalid) {
		t.Errorf("empty listener: %v, want ErrInvalid", err)
	}
}

func TestInboxConcurrentPuts(t *testing.T) {
	s, _ := openStore(t, Options{})
	const n = 64
	ids := make([]uint64, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			var err error
			ids[i], err = s.Put("hook", operations.NewDocument(float64(i), nil))
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	got, err := s.Pending("hook")
	if err != nil || len(got) != n {
		t.Fatalf("%d pending, %v; want %d", len(got), err, n)
	}
	for i, it := range got {
		if i > 0 && it.ID <= got[i-1].ID {
			t.Fatalf("pending out of order at %d", i)
		}
		j := int(it.Doc.Body.(float64))
		if ids[j] != it.ID {
			t.Errorf("put %d returned ID %d but is stored under %d", j, ids[j], it.ID)
		}
	}
}
