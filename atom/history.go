package atom

import (
	"context"
	"fmt"

	"github.com/atomrt/atom/operations"
	"github.com/atomrt/atom/persistence"
)

// The runtime's read side, for the web layer: it never reaches the store
// itself.

// Executions lists runs from the history, newest first.
func (rt *Runtime) Executions(q persistence.ExecQuery) ([]persistence.Execution, error) {
	return rt.store.Executions(q)
}

// Execution returns one run with its trace (kept for failed and test runs).
func (rt *Runtime) Execution(id string) (persistence.Execution, error) {
	return rt.store.Execution(id)
}

// DeadLetters lists dead letters, newest first.
func (rt *Runtime) DeadLetters(q persistence.DeadLetterQuery) ([]persistence.DeadLetter, error) {
	return rt.store.DeadLetters(q)
}

// DeadLetter returns one dead letter.
func (rt *Runtime) DeadLetter(id string) (persistence.DeadLetter, error) {
	return rt.store.DeadLetter(id)
}

// DiscardDeadLetter deletes a dead letter for good.
func (rt *Runtime) DiscardDeadLetter(id string) error {
	if err := rt.store.DeleteDeadLetter(id); err != nil {
		return err
	}
	rt.log.Info().Str("dead_letter", id).Msg("dead letter discarded")
	return nil
}

// RetryAll retries every dead letter (of one process, if named) and says
// how many succeeded and how many failed again.
func (rt *Runtime) RetryAll(ctx context.Context, process string) (ok, failed int, err error) {
	var before string
	for {
		dls, err := rt.store.DeadLetters(persistence.DeadLetterQuery{Process: process, Before: before, Limit: 100})
		if err != nil {
			return ok, failed, err
		}
		if len(dls) == 0 {
			return ok, failed, nil
		}
		for _, dl := range dls {
			if ctx.Err() != nil {
				return ok, failed, ctx.Err()
			}
			if _, err := rt.RetryDeadLetter(ctx, dl.ID); err != nil {
				failed++
			} else {
				ok++
			}
			before = dl.ID
		}
	}
}

// Deployments lists every saved version, newest first.
func (rt *Runtime) Deployments() ([]persistence.Deployment, error) {
	return rt.store.Deployments()
}

// Deployment returns one saved version with its files.
func (rt *Runtime) Deployment(version int) (persistence.Deployment, error) {
	return rt.store.Deployment(version)
}

// OffsetChanges lists the operator's changes to a listener's position.
func (rt *Runtime) OffsetChanges(name string) ([]persistence.OffsetChange, error) {
	if _, err := rt.listener(name); err != nil {
		return nil, err
	}
	return rt.store.OffsetChanges(name)
}

// Ready reports whether every listener of the deployment has subscribed
// (or is paused on purpose), with the reason when not.
func (rt *Runtime) Ready() (bool, string) {
	d, err := rt.current()
	if err != nil {
		return true, "nothing deployed"
	}
	for _, name := range d.order {
		st := d.listeners[name].status()
		switch st.State {
		case operations.Running, operations.Paused:
		default:
			return false, fmt.Sprintf("listener %s is %s", name, st.State)
		}
	}
	return true, ""
}
