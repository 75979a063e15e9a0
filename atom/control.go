package atom

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/atomrt/atom/operations"
	"github.com/atomrt/atom/persistence"
	"github.com/atomrt/atom/processes"
)

// Listeners returns the status of every listener, sorted by name.
func (rt *Runtime) Listeners() []ListenerStatus {
	d, err := rt.current()
	if err != nil {
		return nil
	}
	out := make([]ListenerStatus, 0, len(d.order))
	for _, name := range d.order {
		out = append(out, d.listeners[name].status())
	}
	return out
}

// Listener returns one listener's status.
func (rt *Runtime) Listener(name string) (ListenerStatus, error) {
	l, err := rt.listener(name)
	if err != nil {
		return ListenerStatus{}, err
	}
	return l.status(), nil
}

// Pause stops a listener after its runs in flight finish; its position
// stays where they leave it, and Resume continues from there.
func (rt *Runtime) Pause(name string) error {
	l, err := rt.listener(name)
	if err != nil {
		return err
	}
	l.pause()
	l.log.Info().Msg("listener paused")
	return nil
}

// Resume restarts a paused listener from its committed position.
func (rt *Runtime) Resume(name string) error {
	l, err := rt.listener(name)
	if err != nil {
		return err
	}
	l.resume()
	l.log.Info().Msg("listener resumed")
	return nil
}

// WaitIdle waits until a paused listener has no run in flight, so that its
// position is final (offset changes need that).
func (rt *Runtime) WaitIdle(ctx context.Context, name string) error {
	l, err := rt.listener(name)
	if err != nil {
		return err
	}
	for l.wm.inFlight() > 0 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
	return nil
}

// Offset returns a listener's connector properties: its committed position
// under PositionKey and the tracked properties of that event.
func (rt *Runtime) Offset(name string) (map[string]string, error) {
	if _, err := rt.listener(name); err != nil {
		return nil, err
	}
	if err := rt.store.Flush(); err != nil {
		return nil, err
	}
	return rt.store.Properties(name)
}

// SetOffset sets a paused listener's position; "" resets it, so the
// listener starts from its operation's configured start. The change is
// recorded with who made it and the previous value.
func (rt *Runtime) SetOffset(ctx context.Context, name, position, who string) (prev map[string]string, err error) {
	l, err := rt.listener(name)
	if err != nil {
		return nil, err
	}
	if !l.isPaused() {
		return nil, fmt.Errorf("set offset of %s: %w (pause it first)", name, ErrNotPaused)
	}
	if err := rt.WaitIdle(ctx, name); err != nil {
		return nil, err
	}
	if err := rt.store.Flush(); err != nil {
		return nil, err
	}
	next := map[string]string{}
	if position != "" {
		next[PositionKey] = position
	}
	prev, err = rt.store.SetProperties(name, next, who)
	if err != nil {
		return nil, err
	}
	l.setPosition(position)
	l.log.Info().Str("who", who).Str("previous", prev[PositionKey]).Str("position", position).Msg("offset changed")
	return prev, nil
}

// TestRun runs one document through a process and returns the full trace.
// Sends are dry runs unless live; no position moves. The run is recorded
// in the execution history with status "test".
func (rt *Runtime) TestRun(ctx context.Context, process string, doc operations.Document, live bool) (*processes.Result, string, error) {
	d, err := rt.current()
	if err != nil {
		return nil, "", err
	}
	if _, ok := d.set.Processes[process]; !ok {
		return nil, "", fmt.Errorf("%w %q (deployed: %s)", ErrUnknownProcess, process, names(d.set.Processes))
	}
	res := d.exec.Run(ctx, process, doc, processes.RunOptions{DryRun: !live, Trace: true})
	id := rt.record(process, "", doc, res, d.set.Processes[process].Track, statusTest)
	return res, id, nil
}

// RetryDeadLetter runs a dead letter's document through its process again.
// On success the dead letter is removed; on failure it stays, with one
// more attempt and the new error.
func (rt *Runtime) RetryDeadLetter(ctx context.Context, id string) (persistence.DeadLetter, error) {
	d, err := rt.current()
	if err != nil {
		return persistence.DeadLetter{}, err
	}
	dl, err := rt.store.DeadLetter(id)
	if err != nil {
		return dl, err
	}
	if _, ok := d.set.Processes[dl.Process]; !ok {
		return dl, fmt.Errorf("retry dead letter %s: %w %q in the running deployment (deploy it again to retry, or discard the dead letter)", id, ErrUnknownProcess, dl.Process)
	}
	res := d.exec.Run(ctx, dl.Process, dl.Doc, processes.RunOptions{})
	rt.record(dl.Process, dl.Listener, dl.Doc, res, d.set.Processes[dl.Process].Track, "")
	if res.Status != processes.StatusFailed {
		return dl, rt.store.DeleteDeadLetter(id)
	}
	dl.Attempts++
	dl.LastAttempt = time.Now().UTC()
	dl.Error = errText(res.Err)
	dl.Step = failedStep(res.Err)
	if err := rt.store.UpdateDeadLetter(dl); err != nil {
		return dl, err
	}
	return dl, fmt.Errorf("retry dead letter %s: %w", id, res.Err)
}

// Set returns the running deployment's components, or nil.
func (rt *Runtime) Set() *processes.Set {
	d, err := rt.current()
	if err != nil {
		return nil
	}
	return d.set
}

func (rt *Runtime) listener(name string) (*listener, error) {
	d, err := rt.current()
	if err != nil {
		return nil, err
	}
	l, ok := d.listeners[name]
	if !ok {
		return nil, fmt.Errorf("%w %q (listeners: %s)", ErrUnknownListener, name, strings.Join(d.order, ", "))
	}
	return l, nil
}

// names lists a map's keys, sorted, for an error that says what exists.
func names[T any](m map[string]T) string {
	return strings.Join(slices.Sorted(maps.Keys(m)), ", ")
}
