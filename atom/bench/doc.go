// Package bench holds Atom's whole-system benchmarks: end-to-end
// throughput and latency from the Salesforce emulator through a listener, a
// jq mapping and an HTTP send to a local sink with durable commits; a
// catch-up of 100,000 retained events after a restart; publishing through a
// process with and without batching; the idle memory of ten listeners; and
// the same pipeline written by hand with no framework (package baseline), so
// that Atom's throughput can be stated as a share of it.
//
// Everything runs in one process over real sockets against real parts: the
// emulator, the runtime, the connectors and a bbolt file with fsync on. Run
// it with `make bench`, which also runs the mapping, executor and connector
// micro-benchmarks and writes BENCHMARKS.md through the report program in
// ./report.
//
// The heavy benchmarks size their own work (20,000 events a round,
// 100,000 for the catch-up) and are meant to run with -benchtime=1x; with a
// larger b.N they repeat the round and report the mean.
//
// This package has no code for use elsewhere; only its tests matter.
package bench
