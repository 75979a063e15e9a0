package processes

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"
)

// Trace is what a run did, step by step. It is JSON-serialisable: the store
// keeps the traces of failed and test runs and the API returns them.
//
// Without RunOptions.Trace only each step's path, kind, status, duration
// and error are recorded, which keeps an ordinary run cheap; with it, each
// step's input and output body and the properties after it are recorded
// too. A trace holds documents and properties, never connection or
// operation settings, so secrets do not appear in it.
type Trace struct {
	Process string      `json:"process"`
	Steps   []StepTrace `json:"steps"`
}

// Step trace statuses, besides the run statuses "ok", "failed", "filtered"
// and "stopped" that a step can also have.
const (
	// StepCaught is a try step whose failure its catch handled.
	StepCaught = "caught"
)

// StepTrace is one step's part of a run. A step that runs several times
// (after a fan-out, once per document) appears once each time.
type StepTrace struct {
	// Path is the step's place in its process,
	// "steps[2].route.cases[0].steps[1]". Inside a called sub-process paths
	// start again from the sub-process's own steps.
	Path  string `json:"path"`
	Kind  string `json:"kind"` // a step kind, or "process" for a called sub-process
	Label string `json:"label,omitempty"`
	// Operation is the operation a send step sends through.
	Operation string `json:"operation,omitempty"`
	Pos       Pos    `json:"pos"`
	// Status is "ok", "failed", "filtered" (the path ended here), "stopped"
	// or "caught" (a try whose failure its catch handled).
	Status   string        `json:"status"`
	Duration time.Duration `json:"duration"`
	Error    string        `json:"error,omitempty"`
	// Note says what a step decided: the route case taken, a dry run, a
	// log message.
	Note string `json:"note,omitempty"`
	// Input and Output are the document bodies before and after the step
	// (with RunOptions.Trace only).
	Input  any `json:"input,omitempty"`
	Output any `json:"output,omitempty"`
	// Props are the document's properties after the step (with
	// RunOptions.Trace only).
	Props map[string]string `json:"props,omitempty"`
	// Sent is what a dry-run send would have sent, as the sender described
	// it (with RunOptions.Trace only).
	Sent any `json:"sent,omitempty"`
	// Reply is the body a reply step set (with RunOptions.Trace only).
	Reply any `json:"reply,omitempty"`
	// Stack is the goroutine stack of a step that panicked.
	Stack string `json:"stack,omitempty"`
	// Steps are the steps run inside this one: a route's case, a branch's
	// paths, a try and its catch, a called sub-process.
	Steps []StepTrace `json:"steps,omitempty"`
}

// Failed returns the innermost step that failed, or nil.
func (t *Trace) Failed() *StepTrace { return failedIn(t.Steps) }

func failedIn(steps []StepTrace) *StepTrace {
	for i := len(steps) - 1; i >= 0; i-- {
		s := &steps[i]
		if s.Status != StatusFailed {
			continue
		}
		if inner := failedIn(s.Steps); inner != nil {
			return inner
		}
		return s
	}
	return nil
}

// WriteText writes the trace for people, one step a line, indented by
// nesting, with bodies as compact JSON when they were captured (an output
// only when it differs from the input).
func (t *Trace) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "process %s\n", t.Process)
	writeSteps(&b, t.Steps, 1)
	_, err := io.WriteString(w, b.String())
	return err
}

func writeSteps(b *strings.Builder, steps []StepTrace, depth int) {
	indent := strings.Repeat("  ", depth)
	for _, s := range steps {
		fmt.Fprintf(b, "%s%s %s", indent, s.Path, s.Kind)
		if s.Label != "" {
			fmt.Fprintf(b, " %q", s.Label)
		}
		fmt.Fprintf(b, ": %s (%s)", s.Status, s.Duration.Round(time.Microsecond))
		if s.Note != "" {
			fmt.Fprintf(b, " — %s", s.Note)
		}
		b.WriteByte('\n')
		if s.Error != "" {
			fmt.Fprintf(b, "%s  error: %s\n", indent, s.Error)
		}
		in := writeJSONLine(b, indent, "in", s.Input, "")
		writeJSONLine(b, indent, "out", s.Output, in)
		writeJSONLine(b, indent, "sent", s.Sent, "")
		writeJSONLine(b, indent, "reply", s.Reply, "")
		if len(s.Props) > 0 {
			writeJSONLine(b, indent, "props", s.Props, "")
		}
		writeSteps(b, s.Steps, depth+1)
	}
}

// writeJSONLine writes v as one line of JSON, unless it is nil or reads
// exactly like same (an output equal to its input), and returns the JSON.
func writeJSONLine(b *strings.Builder, indent, what string, v any, same string) string {
	if v == nil {
		return ""
	}
	data, err := json.Marshal(v)
	if err != nil {
		data = []byte(fmt.Sprintf("(not JSON: %v)", err))
	}
	if string(data) == same {
		return same
	}
	fmt.Fprintf(b, "%s  %s: %s\n", indent, what, data)
	return string(data)
}
