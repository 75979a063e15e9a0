package processes

import (
	"fmt"

	"github.com/atomrt/atom/operations"
)

// Pos is where something was written: file:line:column.
type Pos struct {
	File string `json:"file,omitempty"`
	Line int    `json:"line,omitempty"`
	Col  int    `json:"col,omitempty"`
}

func (p Pos) String() string {
	if p.File == "" {
		return fmt.Sprintf("%d:%d", p.Line, p.Col)
	}
	return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col)
}

// Component kinds, as written in a YAML document's "kind" field.
const (
	KindConnection = "Connection"
	KindOperation  = "Operation"
	KindMapping    = "Mapping"
	KindProcess    = "Process"
	KindTest       = "Test"
)

// Set is a whole deployment: every component, validated, with references
// resolved by name. A new Set replaces the old one as a whole.
type Set struct {
	Connections map[string]*Connection
	Operations  map[string]*Operation
	Mappings    map[string]*Mapping
	Processes   map[string]*Process
	// Tests are process tests, run by RunTests (`atom test`, `go test`);
	// the runtime ignores them.
	Tests map[string]*Test
	// Files holds the YAML sources by file name, as deployed. They may
	// hold literal secrets: show RedactedFiles instead.
	Files map[string][]byte

	secrets map[string][]span // literal secrets by file, for RedactedFiles
}

// Connection is a reusable connection component.
type Connection struct {
	Name     string
	Type     string // the connector: "http", "salesforce"
	Settings operations.Settings
	Pos      Pos
}

// Operation actions.
const (
	Listen = "listen"
	Send   = "send"
)

// Operation is a Listen or Send operation on a connection.
type Operation struct {
	Name       string
	Connection string
	Action     string // Listen or Send
	Settings   operations.Settings
	Pos        Pos
}

// Mapping turns one document body into another. Exactly one of JQ, Expr
// and Fields is set.
type Mapping struct {
	Name    string
	JQ      string
	Expr    string
	Fields  []FieldMap                // in the order written
	Lookups map[string]map[string]any // lookup tables, by name
	Pos     Pos
}

// FieldMap is one "target.path: expression" entry of a field map.
type FieldMap struct {
	Target string // dotted path; "items[0].sku" and "items[].sku" build arrays
	Expr   string
	Pos    Pos
}

// Process is a start and a list of steps.
type Process struct {
	Name string
	// Listen names the Listen operation that starts the process; empty for
	// a sub-process, which only runs when called.
	Listen string
	// Concurrency is how many events of its listener may run at once (1:
	// strictly in order).
	Concurrency int
	// Track names document properties recorded with every execution, so
	// the history can be searched by them (replayId, eventUuid, ...).
	Track []string
	Steps []Step
	Pos   Pos
}

// Step kinds.
const (
	StepMap    = "map"
	StepSet    = "set"
	StepRoute  = "route"
	StepBranch = "branch"
	StepCall   = "call"
	StepSend   = "send"
	StepFilter = "filter"
	StepLog    = "log"
	StepStop   = "stop"
	StepTry    = "try"
	StepReply  = "reply"
)

// Step is one step of a process. Kind says which of the fields below is set.
type Step struct {
	Kind string
	Name string // an optional label shown in traces
	Pos  Pos

	Map    *MappingRef // map: a mapping by name, or an inline mapping
	Set    []Assign    // set: properties from expressions, in order
	Route  *Route      // route
	Branch [][]Step    // branch: each path in turn, on a copy
	Call   []string    // call: sub-processes; more than one fans out
	Send   *SendStep   // send
	Filter string      // filter: an expr condition; false ends the run quietly
	Log    *LogStep    // log
	Stop   *StopStep   // stop
	Try    []Step      // try: these steps ...
	Catch  []Step      // ... and these if one of them fails (the error is in props "error", "errorStep")
	Reply  *MappingRef // reply: the current document (or a mapping of it) answers a request/reply caller; Name empty and Inline nil for "reply: {}"
}

// MappingRef names a Mapping component or holds an inline one.
type MappingRef struct {
	Name   string
	Inline *Mapping
}

// Assign sets one property from an expr expression.
type Assign struct {
	Prop string
	Expr string
	Pos  Pos
}

// Route modes.
const (
	RouteFirst = "first"
	RouteAll   = "all"
)

// Route sends the document down the first matching case, or every
// matching case in turn (each on a copy), or Otherwise when none matches.
type Route struct {
	Mode      string // RouteFirst (default) or RouteAll
	Cases     []RouteCase
	Otherwise []Step
}

// RouteCase is one condition and its steps.
type RouteCase struct {
	When  string // expr, must return a bool
	Steps []Step
	Pos   Pos
}

// SendStep sends the document through a Send operation.
type SendStep struct {
	Operation string
	// Response, when true, makes the sender's answer the document that
	// continues; otherwise the document continues unchanged and the
	// answer's properties are merged into it.
	Response bool
}

// LogStep logs a message.
type LogStep struct {
	Message string // expr returning a string; "" logs the document
	Level   string // debug, info (default), warn, error
}

// StopStep ends the run here.
type StopStep struct {
	// Fail, when set, makes the run fail with this message (an expr
	// returning a string), which dead-letters the document.
	Fail string
}

// Test is a process test: a document run through a process as a dry run
// (sends are described, not made) and what should come of it. RunTests
// runs it; a deployment carries it but never runs it.
type Test struct {
	Name    string
	Process string
	Input   operations.Document
	Expect  Expect
	Pos     Pos
}

// Expect is what a Test expects of its run. A part that is not written is
// not checked, except Status, which is StatusOK unless written (or
// StatusFailed when only Error is).
type Expect struct {
	Status string // one of the run statuses
	Error  string // a substring of the run's error
	// Reply is the reply body, compared as JSON; a nil Reply is not
	// checked, a Reply whose Body is nil expects no reply.
	Reply *Expected
	// Outputs are the bodies of the documents that reach the end, in
	// order; nil is not checked.
	Outputs []Expected
	// Props are properties every output must have, with these values.
	Props map[string]string
	// Sent are the bodies each send operation is handed, in order, by
	// operation in the order written; an operation not listed is not
	// checked, one with no bodies must not be sent to.
	Sent []ExpectedSends
	// Where is where each part was written, by its field name (status,
	// error, reply, output or outputs, props, sent).
	Where map[string]Pos
}

// Expected is an expected document body, where it was written.
type Expected struct {
	Body any
	Pos  Pos
}

// ExpectedSends are the bodies one send operation is expected to be
// handed, in order.
type ExpectedSends struct {
	Operation string
	Bodies    []Expected
	Pos       Pos
}
