package persistence

import (
	"bufio"
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/atomrt/atom/operations"
)

// crashEnv switches the test binary into the crash child: it names the
// store file to write.
const crashEnv = "ATOM_PERSISTENCE_CRASH_CHILD"

var crashListeners = []string{"a", "b", "c"}

// crashHistory is the child's history limit, small so that eviction runs
// inside the transactions that get killed.
const crashHistory = 100

// TestCrashChild is not a test: run by TestCrashKeepsWhatWasDurable as a
// child process, it writes to the store in a tight loop and reports on
// stdout what it knows to be durable, until it is killed.
func TestCrashChild(t *testing.T) {
	path := os.Getenv(crashEnv)
	if path == "" {
		t.Skip("the child of TestCrashKeepsWhatWasDurable")
	}
	if err := crashChild(path); err != nil {
		fmt.Println("error", err)
		os.Exit(3)
	}
}

// crashChild commits increasing positions for several listeners (listener
// j only every j+1 events, so they move at different paces), records an
// execution per event, dead-letters and queues some, and Flushes every few
// events. A line goes to stdout only once what it reports is durable:
//
//	pos <listener> <n>   Flush returned after the listener's position n
//	exec <n>             ... and after the execution tracking replayId n
//	dead <id> <n>        PutDeadLetter returned for event n
//	inbox <id> <n>       inbox Put returned for event n
//	deleting <id>        about to delete inbox item id (may or may not land)
//	deleted <id>         inbox Delete returned
func crashChild(path string) error {
	s, err := Open(path, Options{CommitInterval: 20 * time.Millisecond, HistoryLimit: crashHistory})
	if err != nil {
		return err
	}
	start := 0
	for _, l := range crashListeners {
		p, err := s.Properties(l)
		if err != nil {
			return err
		}
		n, _ := strconv.Atoi(p["replayId"])
		start = max(start, n)
	}
	out := os.Stdout // unbuffered: a line is in the pipe before the next write starts
	fmt.Fprintln(out, "ready")
	last := make([]int, len(crashListeners))
	var queued uint64
	deadline := time.Now().Add(20 * time.Second) // in case the parent dies
	for i := start + 1; time.Now().Before(deadline); i++ {
		replay := strconv.Itoa(i)
		for j, l := range crashListeners {
			if i%(j+1) == 0 {
				if err := s.CommitProperties(l, map[string]string{"replayId": replay, "eventUuid": "u-" + replay}); err != nil {
					return err
				}
				last[j] = i
			}
		}
		e := Execution{Process: "orders", Listener: "a", Status: StatusOK, Tracked: map[string]string{"replayId": replay}}
		if i%7 == 0 {
			e.Status, e.Error = StatusFailed, "boom"
			e.Trace = []byte(`{"steps":["` + strings.Repeat("t", 3000) + `"]}`)
		}
		for range 4 { // several runs per event, as with fan-out
			if _, err := s.RecordExecution(e); err != nil {
				return err
			}
		}
		if i%20 == 0 {
			id, err := s.PutDeadLetter(DeadLetter{Process: "orders", Doc: operations.NewDocument(map[string]any{"i": float64(i), "pad": strings.Repeat("p", 500)}, map[string]string{"replayId": replay}), Error: "boom"})
			if err != nil {
				return err
			}
			fmt.Fprintln(out, "dead", id, i)
		}
		if i%15 == 0 {
			id, err := s.Put("hook", operations.NewDocument(float64(i), nil))
			if err != nil {
				return err
			}
			fmt.Fprintln(out, "inbox", id, i)
			if queued != 0 {
				fmt.Fprintln(out, "deleting", queued)
				if err := s.Delete("hook", queued); err != nil {
					return err
				}
				fmt.Fprintln(out, "deleted", queued)
			}
			queued = id
		}
		if i%16 == 0 {
			if err := s.Flush(); err != nil {
				return err
			}
			for j, l := range crashListeners {
				if last[j] > 0 {
					fmt.Fprintln(out, "pos", l, last[j])
				}
			}
			fmt.Fprintln(out, "exec", i)
		}
	}
	return s.Close()
}

// durable is what the children reported durable, over all rounds.
type durable struct {
	pos      map[string]int
	exec     int
	dead     map[string]int
	inbox    map[uint64]int
	deleting map[uint64]bool
	deleted  map[uint64]bool
}

func (d *durable) read(t *testing.T, line string) {
	f := strings.Fields(line)
	num := func(s string) int {
		n, err := strconv.Atoi(s)
		if err != nil {
			t.Fatalf("child line %q: %v", line, err)
		}
		return n
	}
	switch {
	case len(f) == 3 && f[0] == "pos":
		d.pos[f[1]] = max(d.pos[f[1]], num(f[2]))
	case len(f) == 2 && f[0] == "exec":
		d.exec = num(f[1])
	case len(f) == 3 && f[0] == "dead":
		d.dead[f[1]] = num(f[2])
	case len(f) == 3 && f[0] == "inbox":
		d.inbox[uint64(num(f[1]))] = num(f[2])
	case len(f) == 2 && f[0] == "deleting":
		d.deleting[uint64(num(f[1]))] = true
	case len(f) == 2 && f[0] == "deleted":
		d.deleted[uint64(num(f[1]))] = true
	case len(f) >= 1 && f[0] == "error":
		t.Fatalf("child failed: %s", line)
	}
}

// The hard way: a child process writes to the store and is killed with
// SIGKILL at a random moment, mid-commit more often than not; the file
// must pass tx.Check and hold everything the child had reported durable.
// Five kills on one file, each child carrying on from what survived.
func TestCrashKeepsWhatWasDurable(t *testing.T) {
	if os.Getenv(crashEnv) != "" {
		t.Skip("in the child")
	}
	if testing.Short() {
		t.Skip("starts child processes")
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, seed))
	path := filepath.Join(t.TempDir(), "crash.db")
	d := &durable{pos: map[string]int{}, dead: map[string]int{}, inbox: map[uint64]int{}, deleting: map[uint64]bool{}, deleted: map[uint64]bool{}}

	for round := range 5 {
		lines := runAndKill(t, path, time.Duration(rng.IntN(200))*time.Millisecond)
		for _, line := range lines {
			d.read(t, line)
		}
		t.Logf("round %d: %d lines; positions %v, last execution %d, %d dead letters", round, len(lines), d.pos, d.exec, len(d.dead))
		if err := Check(path); err != nil {
			t.Fatalf("round %d: file inconsistent after SIGKILL: %v", round, err)
		}
		verifyDurable(t, path, d)
	}
}

// runAndKill starts the child on path, lets it run for about wait after
// it reported its first durable position, kills it with SIGKILL and
// returns every line it wrote.
func runAndKill(t *testing.T, path string, wait time.Duration) []string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashEnv+"="+path)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		lines []string
		eof   = make(chan struct{})
	)
	go func() {
		defer close(eof)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			mu.Lock()
			lines = append(lines, sc.Text())
			mu.Unlock()
		}
	}()
	started := func() bool {
		mu.Lock()
		defer mu.Unlock()
		for _, l := range lines {
			if strings.HasPrefix(l, "pos ") || strings.HasPrefix(l, "error") {
				return true
			}
		}
		return false
	}
	deadline := time.Now().Add(10 * time.Second)
	for !started() && time.Now().Before(deadline) {
		select {
		case <-eof:
			deadline = time.Now() // the child ended on its own
		case <-time.After(time.Millisecond):
		}
	}
	time.Sleep(wait) // the random moment: this is the test's input, not a wait for a condition
	_ = cmd.Process.Signal(syscall.SIGKILL)
	<-eof // lines already in the pipe were durable before the kill; read them all
	err = cmd.Wait()
	ws, _ := cmd.ProcessState.Sys().(syscall.WaitStatus)
	if !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("child was not killed but ended: %v\nstdout: %q\nstderr: %s", err, lines, stderr.String())
	}
	return lines
}

// verifyDurable opens the file and checks every reported write is there.
func verifyDurable(t *testing.T, path string, d *durable) {
	t.Helper()
	s, err := Open(path, Options{HistoryLimit: crashHistory})
	if err != nil {
		t.Fatalf("reopen after kill: %v", err)
	}
	defer func() {
		if err := s.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	}()
	for j, l := range crashListeners {
		p, err := s.Properties(l)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := strconv.Atoi(p["replayId"])
		if got < d.pos[l] {
			t.Errorf("listener %s: stored position %d is below %d, which the child reported durable", l, got, d.pos[l])
		}
		// Only final positions were ever committed: this one was handed in.
		if got%(j+1) != 0 || p["eventUuid"] != "u-"+p["replayId"] {
			t.Errorf("listener %s: stored %v was never committed", l, p)
		}
	}
	if d.exec > 0 {
		got, err := s.Executions(ExecQuery{PropKey: "replayId", PropValue: strconv.Itoa(d.exec)})
		if err != nil || len(got) != 4 {
			t.Errorf("executions of event %d, reported durable: %v, %v", d.exec, got, err)
		}
	}
	all, err := s.Executions(ExecQuery{Limit: 10 * crashHistory})
	if err != nil || len(all) > crashHistory {
		t.Errorf("%d executions kept (limit %d), %v", len(all), crashHistory, err)
	}
	for id, i := range d.dead {
		dl, err := s.DeadLetter(id)
		if err != nil {
			t.Errorf("dead letter %s of event %d, reported durable: %v", id, i, err)
			continue
		}
		body, _ := dl.Doc.Body.(map[string]any)
		if body["i"] != float64(i) || dl.Doc.Prop("replayId") != strconv.Itoa(i) {
			t.Errorf("dead letter %s: %+v, want event %d", id, dl.Doc, i)
		}
	}
	pending, err := s.Pending("hook")
	if err != nil {
		t.Fatal(err)
	}
	queued := map[uint64]int{}
	for _, it := range pending {
		queued[it.ID] = int(it.Doc.Body.(float64))
	}
	for id, i := range d.inbox {
		switch {
		case d.deleted[id]:
			if _, ok := queued[id]; ok {
				t.Errorf("inbox item %d still queued after its delete returned", id)
			}
		case !d.deleting[id]:
			if got, ok := queued[id]; !ok || got != i {
				t.Errorf("inbox item %d of event %d lost (queued: %v)", id, i, ok)
			}
		}
	}
}
