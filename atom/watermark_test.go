package atom

import (
	"math/rand/v2"
	"strconv"
	"testing"
)

func TestWatermarkCommitsOnlyBelowUnfinished(t *testing.T) {
	var w watermark
	a := w.add("10", nil)
	b := w.add("20", nil)
	c := w.add("30", nil)
	if _, _, ok := w.finish(b); ok {
		t.Fatal("finishing the second event committed past the unfinished first")
	}
	if _, _, ok := w.finish(c); ok {
		t.Fatal("finishing the third event committed past the unfinished first")
	}
	pos, _, ok := w.finish(a)
	if !ok || pos != "30" {
		t.Fatalf("after all three finished: got %q %v, want 30 true", pos, ok)
	}
	if n := w.inFlight(); n != 0 {
		t.Fatalf("in flight = %d, want 0", n)
	}
}

func TestWatermarkSkipsPositionlessEvents(t *testing.T) {
	var w watermark
	a := w.add("5", nil)
	b := w.add("", nil)
	if pos, _, ok := w.finish(a); !ok || pos != "5" {
		t.Fatalf("got %q %v, want 5 true", pos, ok)
	}
	if pos, _, ok := w.finish(b); ok {
		t.Fatalf("a position-less event committed %q", pos)
	}
}

func TestWatermarkBlockedCommitsNothing(t *testing.T) {
	var w watermark
	a := w.add("1", nil)
	b := w.add("2", nil)
	w.block()
	if _, _, ok := w.finish(a); ok {
		t.Fatal("a blocked watermark committed")
	}
	w.reset()
	if _, _, ok := w.finish(b); ok {
		t.Fatal("a stale ticket committed after reset")
	}
	c := w.add("3", nil)
	if pos, _, ok := w.finish(c); !ok || pos != "3" {
		t.Fatalf("after reset: got %q %v, want 3 true", pos, ok)
	}
}

// Finishing in any order, the committed positions only ever grow and end
// at the last one.
func TestWatermarkRandomOrderIsMonotonic(t *testing.T) {
	var w watermark
	const n = 1000
	tickets := make([]uint64, n)
	for i := range tickets {
		tickets[i] = w.add(strconv.Itoa(i), nil)
	}
	rand.Shuffle(n, func(i, j int) { tickets[i], tickets[j] = tickets[j], tickets[i] })
	last := -1
	for _, tk := range tickets {
		if pos, _, ok := w.finish(tk); ok {
			p, _ := strconv.Atoi(pos)
			if p <= last {
				t.Fatalf("position went from %d to %d", last, p)
			}
			last = p
		}
	}
	if last != n-1 {
		t.Fatalf("final position %d, want %d", last, n-1)
	}
}
