package operations

import (
	"context"
	"net/http"

	"github.com/rs/zerolog"
)

// Connector is one kind of system Atom can talk to, such as "http" or
// "salesforce". A connector registers itself with a Registry.
type Connector struct {
	Name       string
	Summary    string
	Connection Spec
	Listen     *Spec // nil when the connector cannot listen
	Send       *Spec // nil when the connector cannot send

	// Open turns validated connection settings into a Connection. It must
	// not do I/O: connecting happens when a listener runs or a send is made,
	// so that a deployment can be validated and built offline.
	Open func(name string, s Settings, env Env) (Connection, error)
}

// Connection is an opened connection component; it makes the operations
// that use it.
type Connection interface {
	// Listener makes the listener for a Listen operation.
	Listener(op string, s Settings) (Listener, error)
	// Sender makes the sender for a Send operation.
	Sender(op string, s Settings) (Sender, error)
	// Close releases what the connection holds (idle sockets, tokens).
	Close() error
}

// Env is what the runtime lends a connector.
type Env struct {
	Log      zerolog.Logger
	Webhooks Webhooks     // where webhook listeners serve their paths
	Inbox    Inbox        // durable queue for sources that answer before processing
	Client   *http.Client // nil: the connector makes its own
	// Meter records the connector's own figures in the atom's metrics; nil
	// outside a runtime (use MeterOf).
	Meter Meter
}

// Meter records a connector's own figures, such as retries and batch
// sizes, in the atom's metrics, labelled with the connection. Names are
// snake_case and few: they become label values.
type Meter interface {
	// Count adds n to the counter name (atom_connector_events_total).
	Count(name string, n float64)
	// Observe records one value of name (atom_connector_values).
	Observe(name string, v float64)
}

// MeterOf returns env's Meter, or one that records nothing.
func MeterOf(env Env) Meter {
	if env.Meter == nil {
		return nopMeter{}
	}
	return env.Meter
}

type nopMeter struct{}

func (nopMeter) Count(string, float64)   {}
func (nopMeter) Observe(string, float64) {}

// Webhooks is the atom's HTTP server, as seen by webhook listeners.
type Webhooks interface {
	// Handle serves h at path for method until the returned func is called.
	Handle(method, path string, h http.Handler) (remove func(), err error)
}

// Inbox is a durable queue in the atom's store. A source that answers its
// caller before the document is processed (HTTP "ack: accepted") writes the
// document here first, and removes it once every run for it has finished.
type Inbox interface {
	Put(listener string, doc Document) (id uint64, err error)
	Delete(listener string, id uint64) error
	// Pending returns every document still queued, oldest first.
	Pending(listener string) ([]InboxItem, error)
}

// InboxItem is one queued document.
type InboxItem struct {
	ID  uint64
	Doc Document
}

// Listener is one subscription to a source of events. The runtime runs
// exactly one Listener per Key, however many processes listen there.
type Listener interface {
	// Key names the subscription within its connection, such as the
	// channel "/event/Order__e" or the webhook "POST /hooks/orders". Two
	// Listen operations with one Key share one running listener.
	Key() string
	// Run delivers events through s until ctx is cancelled, then returns
	// nil. It returns an error only when it cannot go on (a configuration
	// the remote system refuses); transient failures are retried inside.
	Run(ctx context.Context, s Stream) error
}

// Stream is the runtime's side of a running listener.
type Stream interface {
	// Start is the position committed when Run began, "" when there is none.
	Start() string
	// Committed is the position committed now: a listener that must
	// subscribe again resumes from here, never from the configured start.
	Committed() string
	// Mark commits position while no delivered event is unfinished: where
	// a source started reading before any event came, such as the moment
	// it subscribed to "only new events". Without it a resubscribe or a
	// restart before the first event would start from "new" again and
	// skip what was published in between. Ignored while events are in
	// flight (theirs will move the position past it).
	Mark(position string)
	// Deliver hands one event to the runtime. It blocks while the runtime
	// is busy (back-pressure: never drop, wait) and returns ctx.Err() when
	// ctx ends. The runtime calls ev.Done, if set, once every run for the
	// event has finished; the position is committed after that.
	Deliver(ctx context.Context, ev Event) error
	// SetState reports the listener's state and, for reconnecting or
	// failed, the reason; the console and metrics show it.
	SetState(state State, err error)
	// Count adds one to a named counter shown in the listener's status,
	// such as "invalid_replay" or "reconnects".
	Count(name string)
	// Log is the listener's logger, tagged with its connection and key.
	Log() zerolog.Logger
}

// State is a listener's state.
type State string

// Listener states.
const (
	Starting     State = "starting"
	Running      State = "running"
	Reconnecting State = "reconnecting"
	Paused       State = "paused"
	Failed       State = "failed"
	Stopped      State = "stopped"
)

// Event is one event handed out by a listener.
type Event struct {
	Doc Document
	// Position is the event's place in its stream (a replay ID), committed
	// once every run for it has finished; "" for sources without one.
	Position string
	// Done, if set, is called once with the outcome of every run for the
	// event, before the position is committed. A webhook answers its caller
	// from here.
	Done func(Outcome)
}

// Outcome is what happened to one event.
type Outcome struct {
	// Reply is the document a request/reply process set as its answer.
	Reply *Document
	// Err is set when a run failed and the document was not dead-lettered
	// (it could not be kept), so the source should let its caller retry.
	Err error
	// DeadLettered counts runs that failed for good and were kept.
	DeadLettered int
}

// Sender sends documents to a system.
type Sender interface {
	// Send sends one document and returns the remote answer as a document
	// (its body the decoded response, if any). It retries what is worth
	// retrying within the operation's limits; an error it returns is final,
	// and the runtime dead-letters the document. Concurrent calls are safe;
	// a batching sender gathers concurrent calls into one request.
	Send(ctx context.Context, doc Document) (Document, error)
}

// DryRunner is implemented by senders that can describe what they would
// send without sending it, for test runs.
type DryRunner interface {
	DryRun(doc Document) (Document, error)
}
