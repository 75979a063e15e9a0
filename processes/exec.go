// Package processes is Atom's component model (Connection, Operation,
// Mapping and Process components loaded from YAML and validated with
// file:line:column) and the executor that runs documents through
// processes. It knows steps, not connectors: a send step hands the
// document to an operations.Sender, and listening, delivery and position
// commits belong to the runtime (package atom).
//
// # Running processes
//
// Compile turns a validated Set into an Executor once per deployment:
// every mapping and expression is compiled and every name (mapping,
// sub-process, sender) resolved, so that a run looks nothing up. Run then
// takes one document through a process:
//
//   - Steps run in order on the document. A filter that is false ends its
//     path quietly; a stop ends the whole run.
//   - route, branch, call and try hold steps of their own. The documents
//     that reach the end of those steps continue with the steps after
//     them: one, none (the path ended), or several (route all, branch,
//     a call of several sub-processes), each then continuing in turn.
//     A route without a matching case and without otherwise passes the
//     document on unchanged.
//   - Paths that run side by side (branch paths, route-all cases, the
//     sub-processes of one call) each work on their own copy, so none
//     sees another's changes. Properties flow into sub-processes and back
//     out with the documents they return.
//   - A failing step fails the run with a *StepError (which names the
//     process, the step's path, kind, label and position, and wraps the
//     cause), unless a try around it catches the failure. A step that
//     panics fails the same way; it never takes the atom down.
//
// Run never changes the document it is given.
package processes

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"runtime/debug"
	"time"

	"github.com/rs/zerolog"

	"github.com/atomrt/atom/operations"
)

// Run statuses, as Result.Status reports them.
const (
	StatusOK       = "ok"       // at least one document reached the end of the process
	StatusFailed   = "failed"   // a step failed; Result.Err says which and why
	StatusFiltered = "filtered" // every path ended at a filter; nothing reached the end
	StatusStopped  = "stopped"  // a stop step ended the run
)

// MaxCallDepth is how deeply sub-processes may call each other in one run.
const MaxCallDepth = 32

// Deps is what the executor is given to run processes with.
type Deps struct {
	// Senders holds a sender for every Send operation, by operation name.
	Senders map[string]operations.Sender
	// Log receives log steps (tagged with the process and step).
	Log zerolog.Logger
}

// Executor runs the processes of one deployment. Every mapping and
// expression was compiled once by Compile; an Executor is safe for
// concurrent use by many goroutines.
type Executor struct {
	procs map[string]*program
	log   zerolog.Logger
}

// RunOptions are the options of one run.
type RunOptions struct {
	// DryRun describes sends instead of making them: a sender that
	// implements operations.DryRunner says what it would send, another is
	// only noted in the trace. The document continues unchanged.
	DryRun bool
	// Trace captures each step's input and output bodies and properties
	// (test runs; the runtime keeps traces of failed runs).
	Trace bool
}

// Result is what became of one run.
type Result struct {
	Status string // one of the Status constants
	// Err is set when Status is failed: a *StepError naming the process,
	// the step and the cause; ErrUnknownProcess for a process the
	// deployment lacks; ErrStepPanic should the executor itself panic.
	Err error
	// Reply is the document a reply step set, for request/reply sources;
	// nil when none did, or when the run failed.
	Reply *operations.Document
	// Outputs are the documents that reached the end of the process; after
	// a fan-out there may be several.
	Outputs  []operations.Document
	Trace    Trace
	Duration time.Duration
}

// Run runs a document through a process. It never panics and never
// changes doc: the process works on its own copy of the properties, and
// no step changes a body in place.
func (e *Executor) Run(ctx context.Context, process string, doc operations.Document, opt RunOptions) *Result {
	start := time.Now()
	res := &Result{Trace: Trace{Process: process}}
	p, ok := e.procs[process]
	if !ok {
		res.Status = StatusFailed
		res.Err = fmt.Errorf("run: %w %q", ErrUnknownProcess, process)
		res.Duration = time.Since(start)
		return res
	}
	r := runner{log: e.log, opt: opt}
	d := operations.Document{Body: doc.Body, Props: copyProps(doc.Props)}
	res.Trace.Steps = make([]StepTrace, 0, len(p.steps))
	outs, err := r.top(ctx, p, d, &res.Trace.Steps)
	res.Outputs = outs
	switch {
	case err == nil && len(outs) == 0:
		res.Status = StatusFiltered
	case err == nil:
		res.Status = StatusOK
	case errors.Is(err, errStop):
		res.Status = StatusStopped
	default:
		res.Status = StatusFailed
		res.Err = err
	}
	if res.Status != StatusFailed {
		res.Reply = r.reply
	}
	res.Duration = time.Since(start)
	return res
}

func copyProps(p map[string]string) map[string]string {
	if p == nil {
		return make(map[string]string, 4)
	}
	return maps.Clone(p)
}

// top runs a process's steps. Each step contains its own panics; this
// guard is for the executor's own code between them, so that not even a
// bug here can take the atom down.
func (r *runner) top(ctx context.Context, p *program, doc operations.Document, tr *[]StepTrace) (outs []operations.Document, err error) {
	defer func() {
		if v := recover(); v != nil {
			outs = nil
			err = fmt.Errorf("process %q: %w: %v", p.name, ErrStepPanic, v)
			r.log.Error().Str("process", p.name).Str("panic", fmt.Sprint(v)).
				Str("stack", string(debug.Stack())).Msg("executor panicked; run failed")
		}
	}()
	return r.block(ctx, p, p.steps, doc, 0, tr, nil)
}

// runner is the state of one run.
type runner struct {
	log   zerolog.Logger
	opt   RunOptions
	reply *operations.Document
}

// block runs steps on doc and appends every document that reaches their
// end to out. A step that fans out (call of several, branch, route all)
// hands back its documents, and the rest of the block runs for each in
// turn. On error, out holds what reached the end before it.
func (r *runner) block(ctx context.Context, p *program, steps []*step, doc operations.Document, depth int, tr *[]StepTrace, out []operations.Document) ([]operations.Document, error) {
	for i, s := range steps {
		next, many, keep, err := r.step(ctx, p, s, doc, depth, tr)
		if err != nil {
			return out, err
		}
		if !keep {
			return out, nil
		}
		if many != nil {
			for _, d := range many {
				if out, err = r.block(ctx, p, steps[i+1:], d, depth, tr, out); err != nil {
					return out, err
				}
			}
			return out, nil
		}
		doc = next
	}
	return append(out, doc), nil
}

// step runs one step, records it in the trace and contains a panic. It
// returns the document that continues (next, keep) or, after a fan-out
// into several, the documents that continue (many); keep false ends the
// path quietly.
func (r *runner) step(ctx context.Context, p *program, s *step, doc operations.Document, depth int, tr *[]StepTrace) (next operations.Document, many []operations.Document, keep bool, err error) {
	st := StepTrace{Path: s.path, Kind: s.kind, Label: s.label, Pos: s.pos}
	if r.opt.Trace {
		st.Input = doc.Body
	}
	start := time.Now()
	defer func() {
		if v := recover(); v != nil {
			next, many, keep = operations.Document{}, nil, false
			err = s.fail(p, fmt.Errorf("%w: %v", ErrStepPanic, v))
			st.Stack = string(debug.Stack())
			r.log.Error().Str("process", p.name).Str("step", s.path).Str("panic", fmt.Sprint(v)).
				Str("stack", st.Stack).Msg("step panicked; run failed")
		}
		st.Duration = time.Since(start)
		r.finish(&st, s, p, next, many, keep, err)
		*tr = append(*tr, st)
	}()
	if cerr := ctx.Err(); cerr != nil {
		return operations.Document{}, nil, false, s.fail(p, fmt.Errorf("run cancelled: %w", cerr))
	}
	next, many, keep, err = r.do(ctx, p, s, doc, depth, &st)
	if err != nil && err != errStop {
		if _, nested := err.(*StepError); !nested {
			err = s.fail(p, err)
		}
	}
	return next, many, keep, err
}

// finish fills in a step's status, error and, when tracing, its output.
func (r *runner) finish(st *StepTrace, s *step, p *program, next operations.Document, many []operations.Document, keep bool, err error) {
	switch {
	case err == errStop:
		st.Status = StatusStopped
	case err != nil:
		st.Status = StatusFailed
		// The step that failed shows just the cause; a step around it
		// (route, try, ...) shows which inner step failed.
		if se, ok := err.(*StepError); ok && se.Path == s.path && se.Process == p.name {
			st.Error = causeText(se.Err)
		} else {
			st.Error = err.Error()
		}
	case !keep:
		if st.Status == "" {
			st.Status = StatusFiltered
		}
	default:
		if st.Status == "" {
			st.Status = StatusOK
		}
	}
	if !r.opt.Trace || err != nil || !keep {
		return
	}
	if many == nil {
		st.Output = next.Body
		st.Props = maps.Clone(next.Props)
	}
}

// fail wraps a step's own failure in a StepError naming it.
func (s *step) fail(p *program, err error) *StepError {
	return &StepError{Process: p.name, Path: s.path, Kind: s.kind, Label: s.label, Pos: s.pos, Err: err}
}
