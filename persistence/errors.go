package persistence

import "errors"

// ErrNotFound is returned when the asked-for record (a deployment version,
// an execution, a dead letter, an inbox item) is not in the store. Web
// handlers answer it with 404.
var ErrNotFound = errors.New("not found")

// ErrClosed is returned by every call made after Close.
var ErrClosed = errors.New("store is closed")

// ErrInvalid is returned for an argument the store cannot keep: an empty
// listener or property name, a malformed ID, a trace that is not JSON.
// Fix the caller; retrying cannot help.
var ErrInvalid = errors.New("invalid argument")

// ErrLocked is returned by Open when another process holds the store file
// (bbolt takes an exclusive file lock). Stop the other atom, or give this
// one its own file.
var ErrLocked = errors.New("store file is locked by another process")

// ErrSchema is returned by Open when the file was written by a newer
// version of Atom, whose layout this version does not know. Run the newer
// version, or restore a backup made by this one.
var ErrSchema = errors.New("store file has an unknown schema version")
