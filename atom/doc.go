// Package atom is the runtime: it turns a deployment (a validated
// processes.Set) into running listeners, runs every event through the
// processes that listen on its channel, dead-letters what fails, records
// executions, and commits each listener's position only once every run for
// an event has finished.
//
// # Basics
//
// There is exactly one listener per (connection, key) — a key is what the
// connector says identifies a subscription, such as a platform event
// channel or a webhook path — however many processes listen there; the
// listener fans each event out to all of them, so they cannot drift apart.
// With concurrency 1 (the default) events run strictly one after another;
// with concurrency N up to N run at once and the committed position is a
// watermark: the highest position below which every event has finished.
//
// A new deployment replaces the old one as a whole: it is validated and
// built first, then the old listeners drain and commit, then the new ones
// start from the committed positions, so no event is lost or run twice
// across the switch.
//
// # Caveats
//
// Delivery is at-least-once. After a crash a listener resumes from its
// committed position, and events after it run again; each carries its
// position and event UUID so a receiver can de-duplicate. Positions are
// written by the store's batching committer, so a kill -9 loses at most the
// last batch interval of commits (those events run again), never an event.
//
// This package holds no HTTP API or console (see web), and no connector
// (see operations).
package atom
