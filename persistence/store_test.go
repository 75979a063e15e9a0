package persistence

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/atomrt/atom/operations"
	bolt "go.etcd.io/bbolt"
)

// openStore opens a store on a fresh file in t.TempDir(). At cleanup it
// closes the store, then reopens the file read-only and runs bbolt's
// consistency check (tx.Check), as bbolt's own tests do.
func openStore(t testing.TB, opts Options) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "atom.db")
	return openAt(t, path, opts), path
}

// openAt opens a store on path with the same cleanup as openStore.
func openAt(t testing.TB, path string, opts Options) *Store {
	t.Helper()
	s, err := Open(path, opts)
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close store: %v", err)
		}
		if err := Check(path); err != nil {
			t.Errorf("store file inconsistent after test: %v", err)
		}
	})
	return s
}

// reopen closes s and opens its file again, as a restart does.
func reopen(t testing.TB, s *Store, opts Options) *Store {
	t.Helper()
	if err := s.Close(); err != nil {
		t.Fatalf("close before reopen: %v", err)
	}
	return openAt(t, s.Path(), opts)
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func TestOpenRejectsBadOptions(t *testing.T) {
	dir := t.TempDir()
	for name, opts := range map[string]Options{
		"negative history":  {HistoryLimit: -1},
		"negative interval": {CommitInterval: -time.Second},
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, name+".db")
			_, err := Open(path, opts)
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Open(%+v) = %v, want ErrInvalid", opts, err)
			}
			if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("a refused Open left a file behind: %v", err)
			}
		})
	}
}

func TestOpenLockedFile(t *testing.T) {
	old := lockTimeout
	lockTimeout = 50 * time.Millisecond
	t.Cleanup(func() { lockTimeout = old })

	s, path := openStore(t, Options{})
	if err := s.CommitProperties("l", map[string]string{"replayId": "1"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	// flock locks belong to an open file description, so a second open in
	// the same process conflicts as another process would.
	_, err := Open(path, Options{})
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("second Open = %v, want ErrLocked", err)
	}
	// The first store is untouched.
	props, err := s.Properties("l")
	if err != nil || props["replayId"] != "1" {
		t.Fatalf("first store after refused second open: %v, %v", props, err)
	}
}

func TestOpenNewerSchema(t *testing.T) {
	s, path := openStore(t, Options{})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketMeta).Put(keySchema, []byte("99")) }); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	_, err = Open(path, Options{})
	if !errors.Is(err, ErrSchema) {
		t.Fatalf("Open of a schema 99 file = %v, want ErrSchema", err)
	}
}

func TestClosedStore(t *testing.T) {
	s, _ := openStore(t, Options{})
	id, err := s.PutDeadLetter(DeadLetter{Process: "p", Doc: operations.NewDocument("x", nil)})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close = %v, want nil", err)
	}
	calls := map[string]error{
		"Flush":            s.Flush(),
		"CommitProperties": s.CommitProperties("l", map[string]string{"a": "1"}),
	}
	_, calls["Properties"] = s.Properties("l")
	_, calls["SetProperties"] = s.SetProperties("l", nil, "me")
	_, calls["OffsetChanges"] = s.OffsetChanges("l")
	_, calls["SaveDeployment"] = s.SaveDeployment(map[string][]byte{"a.yaml": nil}, "me", "")
	_, calls["Deployments"] = s.Deployments()
	_, calls["Deployment"] = s.Deployment(1)
	calls["Activate"] = s.Activate(1)
	calls["Deactivate"] = s.Deactivate()
	_, _, calls["Active"] = s.Active()
	_, calls["RecordExecution"] = s.RecordExecution(Execution{Process: "p"})
	_, calls["Executions"] = s.Executions(ExecQuery{})
	_, calls["Execution"] = s.Execution(id)
	_, calls["PutDeadLetter"] = s.PutDeadLetter(DeadLetter{Process: "p"})
	_, calls["DeadLetters"] = s.DeadLetters(DeadLetterQuery{})
	_, calls["DeadLetter"] = s.DeadLetter(id)
	calls["UpdateDeadLetter"] = s.UpdateDeadLetter(DeadLetter{ID: id})
	calls["DeleteDeadLetter"] = s.DeleteDeadLetter(id)
	_, calls["Put"] = s.Put("l", operations.Document{})
	calls["Delete"] = s.Delete("l", 1)
	_, calls["Pending"] = s.Pending("l")
	for name, err := range calls {
		if !errors.Is(err, ErrClosed) {
			t.Errorf("%s after Close = %v, want ErrClosed", name, err)
		}
	}
}

func TestCheckFindsCorruption(t *testing.T) {
	s, path := openStore(t, Options{HistoryLimit: 100000})
	for i := range 2000 {
		if _, err := s.RecordExecution(Execution{Process: "p", Status: StatusOK, Tracked: map[string]string{"replayId": string(rune('a' + i%26))}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := Check(path); err != nil {
		t.Fatalf("Check of a sound file: %v", err)
	}
	bad := filepath.Join(t.TempDir(), "bad.db")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// Overwrite the root page named by the newer meta page with garbage.
	root := rootPage(t, data)
	page := data[root*pageSize(data) : (root+1)*pageSize(data)]
	for i := range page {
		page[i] = byte(i*7 + 3)
	}
	if err := os.WriteFile(bad, data, 0o600); err != nil {
		t.Fatal(err)
	}
	err = Check(bad)
	t.Logf("Check of the damaged file: %v", err)
	if err == nil {
		t.Fatal("Check of a file with a garbage page found nothing")
	}
}

// pageSize reads the page size from the first meta page.
func pageSize(data []byte) int { return int(binary.LittleEndian.Uint32(data[16+8:])) }

// rootPage returns the root bucket's page of the meta page with the higher
// transaction ID. A meta page is a 16-byte page header, then magic,
// version, page size, flags (4 bytes each), the root bucket (page,
// sequence), the freelist page, the high-water mark and the txid.
func rootPage(t *testing.T, data []byte) int {
	t.Helper()
	best, bestTx := 0, uint64(0)
	for i := range 2 {
		meta := data[i*pageSize(data)+16:]
		if tx := binary.LittleEndian.Uint64(meta[48:]); tx >= bestTx {
			best, bestTx = int(binary.LittleEndian.Uint64(meta[16:])), tx
		}
	}
	if best < 2 || (best+1)*pageSize(data) > len(data) {
		t.Fatalf("root page %d is not in the file", best)
	}
	return best
}
