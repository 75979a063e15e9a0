package operations

import "errors"

// ErrPermanent marks a send failure that retrying cannot fix (a 4xx, a
// record Salesforce refused). Wrap it: fmt.Errorf("...: %w", ErrPermanent).
var ErrPermanent = errors.New("permanent failure")

// ErrNotSupported is returned by a Connection asked for an operation its
// connector does not have.
var ErrNotSupported = errors.New("operation not supported by this connector")
