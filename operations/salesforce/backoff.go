package salesforce

import (
	"context"
	"math/rand/v2"
	"time"
)

// backoff yields exponentially growing waits with jitter, so that many
// clients failing at once do not come back at once.
type backoff struct {
	initial, max time.Duration
	n            int
}

// next returns the wait before the next attempt: initial·2ⁿ capped at max,
// then a random point in its upper half.
func (b *backoff) next() time.Duration {
	d := b.initial
	for i := 0; i < b.n && d < b.max; i++ {
		d *= 2
	}
	d = min(d, b.max)
	if b.n < 62 {
		b.n++
	}
	if d <= 1 {
		return d
	}
	half := d / 2
	return half + rand.N(half+1)
}

// reset starts the sequence over after a success.
func (b *backoff) reset() { b.n = 0 }

// sleep waits d or until ctx ends; it reports whether the wait was full.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
