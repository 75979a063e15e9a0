package atom

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/atomrt/atom/operations"
	"github.com/atomrt/atom/persistence"
	"github.com/atomrt/atom/processes"
)

// Execution statuses the runtime records besides the executor's own.
const statusTest = "test"

// dispatch runs one event through every process that listens on the
// listener, one after another, and says what became of it. A failed run is
// dead-lettered; only when that write fails too is the outcome an error,
// which keeps the listener's position from passing the event.
func (l *listener) dispatch(doc operations.Document) operations.Outcome {
	var out operations.Outcome
	for _, name := range l.processes {
		d := doc
		if len(l.processes) > 1 {
			d = doc.Clone()
		}
		res := l.dep.exec.Run(l.rt.workCtx, name, d, processes.RunOptions{})
		l.rt.record(name, l.name, doc, res, l.track[name], "")
		l.rt.metrics.run(name, res)
		if out.Reply == nil && res.Reply != nil {
			out.Reply = res.Reply
		}
		if res.Status != processes.StatusFailed {
			l.processed.Add(1)
			continue
		}
		if err := l.rt.workCtx.Err(); err != nil {
			// Cancelled by a shutdown that outlasted its drain: the
			// document did nothing wrong. Leave it uncommitted, to run
			// again after the restart, rather than dead-letter it.
			out.Err = fmt.Errorf("process %s cancelled by shutdown: %w", name, err)
			return out
		}
		l.failed.Add(1)
		if err := l.rt.deadLetter(name, l.name, doc, res); err != nil {
			out.Err = err
			return out
		}
		l.deadLettered.Add(1)
		l.rt.metrics.runs.WithLabelValues(name, "dead_lettered").Inc()
		out.DeadLettered++
	}
	return out
}

// deadLetter keeps a failed run's input document with its error. It is
// written synchronously: the position may move only once it is durable.
func (rt *Runtime) deadLetter(process, listener string, doc operations.Document, res *processes.Result) error {
	dl := persistence.DeadLetter{
		Process: process, Listener: listener, Doc: doc,
		Error: errText(res.Err), Step: failedStep(res.Err),
		Attempts: 1, At: time.Now().UTC(),
	}
	dl.LastAttempt = dl.At
	if _, err := rt.store.PutDeadLetter(dl); err != nil {
		rt.log.Error().Err(err).Str("process", process).Msg("cannot keep dead letter")
		return fmt.Errorf("keep dead letter for process %s: %w", process, err)
	}
	rt.log.Warn().Str("process", process).Str("listener", listener).
		Str("error", dl.Error).Msg("document dead-lettered")
	return nil
}

// record adds a run to the execution history. Traces are kept for failed
// runs and test runs only, which keeps the history small and fast.
func (rt *Runtime) record(process, listener string, in operations.Document, res *processes.Result, track []string, status string) string {
	if status == "" {
		status = res.Status
	}
	e := persistence.Execution{
		Process: process, Listener: listener, Status: status,
		Started:  time.Now().Add(-res.Duration).UTC(),
		Duration: res.Duration, Tracked: tracked(in.Props, track),
		Error: errText(res.Err),
	}
	if status == processes.StatusFailed || status == statusTest {
		if b, err := json.Marshal(res.Trace); err == nil {
			e.Trace = b
		}
	}
	id, err := rt.store.RecordExecution(e)
	if err != nil {
		rt.log.Error().Err(err).Str("process", process).Msg("cannot record execution")
	}
	return id
}

// tracked picks the properties a process tracks; with none named, every
// property the source set is tracked.
func tracked(props map[string]string, names []string) map[string]string {
	if len(names) == 0 {
		names = make([]string, 0, len(props))
		for k := range props {
			names = append(names, k)
		}
	}
	t := make(map[string]string, len(names))
	for _, n := range names {
		if v, ok := props[n]; ok {
			t[n] = v
		}
	}
	return t
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// failedStep names the step a run failed in, when the executor says.
func failedStep(err error) string {
	var se *processes.StepError
	if errors.As(err, &se) {
		return se.Path
	}
	return ""
}
