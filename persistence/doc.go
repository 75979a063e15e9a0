// Package persistence is Atom's store: one bbolt file holding what must
// survive a restart. The runtime (package atom) is its one user; the web
// layer reaches it through the runtime, never directly.
//
// It is not a general database, not a message broker, and knows nothing of
// processes, listeners or HTTP: it keeps strings, bytes and documents
// under names the runtime gives it.
//
// # Basics
//
// Open a Store on a file, use it from any goroutine, Close it at shutdown
// after the runtime has drained its work. One process at a time may open a
// file; a second Open fails with ErrLocked.
//
// The store keeps five kinds of record:
//
//   - Connector properties, per listener: its position (replay ID) and
//     tracked values. CommitProperties is batched (see below);
//     SetProperties is an operator's synchronous, audited change
//     (OffsetChanges lists them).
//   - Deployments: every saved version of the component files, and which
//     one is active. Rolling back is activating an older version.
//   - Executions: a bounded history of process runs, the oldest evicted
//     beyond Options.HistoryLimit, searchable by process, listener,
//     status, start time and tracked property value.
//   - Dead letters: documents that failed for good, with the error, the
//     step and the attempts so far; written synchronously.
//   - The inbox (the operations.Inbox the store implements): documents a
//     webhook accepted before processing them; written synchronously.
//
// # Batched writes and the rule that makes them safe
//
// Positions (CommitProperties) and executions (RecordExecution) are
// accepted into memory and written by a background committer, all of
// them in one transaction, every Options.CommitInterval, or sooner when
// many are waiting; Flush writes them at once and Close writes them before
// closing. One fsync then serves thousands of events.
//
// This is safe for at-least-once delivery because the runtime hands in
// only positions that are already final: every run for the event has
// finished, successfully or into the dead-letter store, and dead letters
// are durable before their listener's position may move. Batching
// therefore only delays when a final position becomes durable; it never
// records one ahead of the work. After a crash a listener resumes from a
// slightly older position, and the events after it are delivered again,
// each with its replay ID and event UUID for receivers to de-duplicate.
//
// Reads see accepted writes at once, written or not: Properties overlays
// the batched values on the file, and Executions and Execution include
// runs still in memory.
//
// Dead letters and inbox puts are synchronous (durable on return);
// concurrent calls share one transaction through bbolt's DB.Batch, so a
// burst of failures costs a few fsyncs, not one each.
//
// # Bucket layout
//
// Integers in keys are 8-byte big-endian, so keys sort by number. IDs of
// executions and dead letters are nanosecond timestamps made unique and
// increasing (never below the run's start), shown as 16 hex digits that
// sort the same way. Composite index keys are length-prefixed (uvarint
// length, bytes) so that no part can be confused with another.
//
//	meta                         "schema" → "1"; "active" → active deployment version
//	properties/<listener>/       property name → value
//	offset_changes/<listener>/   sequence → OffsetChange JSON
//	deployments                  version → {at, who, note} JSON
//	deployment_files/<version>/  file name → content
//	executions                   ID → {process, listener, status, started, duration, tracked, error} JSON
//	execution_traces             ID → trace JSON (failed and test runs)
//	execution_index              len·property len·value ID → empty
//	dead_letters                 ID → {process, listener, execution, doc, error, step, attempts, at, last_attempt} JSON
//	dead_letter_index            len·process ID → empty
//	inbox/<listener>/            sequence → operations.Document JSON
//
// Eviction is a cursor from the first key of executions; the evicted
// run's tracked properties name the index keys to delete with it.
//
// # Caveats
//
// A position accepted by CommitProperties and not yet written is lost if
// the process dies; that is the bargain above. Call Flush where a position
// must be durable now (before an operator-visible pause, say).
//
// Executions accepted while the disk cannot keep up are held in memory up
// to twice Options.HistoryLimit; beyond that the oldest are dropped, as
// eviction would drop them anyway. Failed batched commits are retried on
// the next tick; Err reports the failure meanwhile and it is logged once.
//
// Dead letters, deployments and offset changes are never evicted: they
// are the operator's to delete. A long outage can leave many dead letters;
// query them a page at a time (DeadLetterQuery.Before).
//
// Tracked property values longer than about 1 KiB are stored but not
// indexed; a query for one scans the history instead.
//
// The store calls no one and takes no context: every call is one bbolt
// transaction, bounded by the disk. bbolt panics on some kinds of
// on-disk damage when it reaches the damaged page; Check reports such
// damage as an error, so run it on a file before trusting it after a disk
// fault.
package persistence
