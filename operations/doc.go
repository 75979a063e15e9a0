// Package operations is the contract between Atom's runtime and its
// connectors, and the registry that holds them.
//
// A connector (one folder below this one, such as operations/http) declares
// a Spec for its connection and for each operation it supports, and
// constructors that turn validated settings into a Listener or a Sender.
// One Spec drives parsing, validation, the JSON Schema and the reference
// docs, so they cannot drift apart.
//
// This package is not the executor (see processes) and not the runtime that
// runs listeners and commits their positions (see atom): a connector only
// hands out events and sends documents.
package operations
