package processes

import (
	"errors"
	"strconv"
	"strings"
)

// ErrUnknownProcess means Run was asked for a process the deployment does
// not have; check the name against the deployed Process components.
var ErrUnknownProcess = errors.New("unknown process")

// ErrCallDepth means sub-processes called each other deeper than
// MaxCallDepth. The loader rejects call cycles, so this is a guard, not a
// limit a valid deployment meets.
var ErrCallDepth = errors.New("sub-process calls nested too deep")

// ErrStepPanic means a step panicked (a connector's sender, an engine
// bug); the panic was contained and the run failed instead of the atom.
var ErrStepPanic = errors.New("step panicked")

// ErrFail marks a run failed on purpose by a stop step with fail; the
// error's text is the step's message.
var ErrFail = errors.New("failed by a stop step")

// ErrCompile marks a deployment the executor cannot compile: a mapping
// or an expression that does not compile, or a reference it cannot
// resolve. Every such problem is reported, joined.
var ErrCompile = errors.New("cannot compile process")

// StepError is why a run failed: the process, the step (its path, kind,
// label and position) and the cause. A failure inside a sub-process is a
// StepError for the call step whose cause is the sub-process's StepError.
type StepError struct {
	Process string
	Path    string // "steps[2].route.cases[0].steps[1]"
	Kind    string // the step kind: map, send, ...
	Label   string // the step's name, if it has one
	Pos     Pos
	Err     error
}

// Error reads like
// `orders.yaml:14:7: process "orders": steps[2] map "to-order": <cause>`.
func (e *StepError) Error() string {
	var b strings.Builder
	if e.Pos.Line > 0 {
		b.WriteString(e.Pos.String())
		b.WriteString(": ")
	}
	b.WriteString("process ")
	b.WriteString(strconv.Quote(e.Process))
	b.WriteString(": ")
	b.WriteString(e.Path)
	b.WriteByte(' ')
	b.WriteString(e.Kind)
	if e.Label != "" {
		b.WriteByte(' ')
		b.WriteString(strconv.Quote(e.Label))
	}
	b.WriteString(": ")
	b.WriteString(causeText(e.Err))
	return b.String()
}

// Unwrap returns the cause.
func (e *StepError) Unwrap() error { return e.Err }

func causeText(err error) string {
	if err == nil {
		return "failed"
	}
	return err.Error()
}

// failError is the error of a stop step with fail: its text is exactly
// the user's message, so that a catch sees it as written.
type failError struct{ msg string }

func (e *failError) Error() string { return e.msg }
func (e *failError) Unwrap() error { return ErrFail }

// errStop is how a stop step (without fail) unwinds the run. It is never
// returned to callers of Run: the run's status says "stopped".
var errStop = errors.New("stopped by a stop step")
