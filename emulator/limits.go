package emulator

import (
	"sync"
	"time"
)

// allocation is a limit that counts down within a window and then resets.
type allocation struct {
	max    int
	used   int
	window time.Duration
	start  time.Time
}

func (a *allocation) roll(now time.Time) {
	if now.Sub(a.start) >= a.window {
		a.used, a.start = 0, now
	}
}

func (a *allocation) remaining() int {
	if a.used >= a.max {
		return 0
	}
	return a.max - a.used
}

// limits tracks the org's allocations, as /limits reports them.
type limits struct {
	mu        sync.Mutex
	now       func() time.Time
	api       allocation // DailyApiRequests
	published allocation // HourlyPublishedPlatformEvents
	delivered allocation // DailyDeliveredPlatformEvents
	clients   int        // DurableStreamingApiConcurrentClients max
}

func newLimits(cfg LimitsConfig) *limits {
	now := time.Now()
	return &limits{
		now:       time.Now,
		api:       allocation{max: cfg.DailyAPIRequests, window: 24 * time.Hour, start: now},
		published: allocation{max: cfg.HourlyPublishedEvents, window: time.Hour, start: now},
		delivered: allocation{max: cfg.DailyDeliveredEvents, window: 24 * time.Hour, start: now},
		clients:   cfg.ConcurrentClients,
	}
}

// takeAPIRequest counts one REST call; false means the daily allocation is
// used up.
func (l *limits) takeAPIRequest() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.api.roll(l.now())
	if l.api.used >= l.api.max {
		return false
	}
	l.api.used++
	return true
}

// takePublished reserves up to n published events and returns how many
// fit in the hourly allocation.
func (l *limits) takePublished(n int) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.published.roll(l.now())
	if r := l.published.remaining(); n > r {
		n = r
	}
	l.published.used += n
	return n
}

// refundPublished gives back reserved events that were not published.
func (l *limits) refundPublished(n int) {
	l.mu.Lock()
	l.published.used -= n
	if l.published.used < 0 {
		l.published.used = 0
	}
	l.mu.Unlock()
}

// addDelivered counts events delivered to CometD clients.
func (l *limits) addDelivered(n int) {
	l.mu.Lock()
	l.delivered.roll(l.now())
	l.delivered.used += n
	l.mu.Unlock()
}

// Limit is one entry of /limits.
type Limit struct {
	// Max is the allocation.
	Max int `json:"Max"`
	// Remaining is what is left of it in the current window.
	Remaining int `json:"Remaining"`
}

func (l *limits) report(clients int) map[string]Limit {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	l.api.roll(now)
	l.published.roll(now)
	l.delivered.roll(now)
	remainingClients := l.clients - clients
	if remainingClients < 0 {
		remainingClients = 0
	}
	return map[string]Limit{
		"DailyApiRequests":                            {l.api.max, l.api.remaining()},
		"HourlyPublishedPlatformEvents":               {l.published.max, l.published.remaining()},
		"DailyDeliveredPlatformEvents":                {l.delivered.max, l.delivered.remaining()},
		"DurableStreamingApiConcurrentClients":        {l.clients, remainingClients},
		"HourlyPublishedStandardVolumePlatformEvents": {100000, 100000},
		"DailyStandardVolumePlatformEvents":           {10000, 10000},
	}
}
