package httpconn

import "errors"

// ErrGaveUp is wrapped by a send error after every retry within
// maxRetryTime failed; the error also wraps the last attempt's failure.
var ErrGaveUp = errors.New("gave up retrying")

// ErrClosed is returned when a closed connection or listener is used.
var ErrClosed = errors.New("closed")

// ErrAlreadyRunning is returned by Run when the listener's webhook is
// already being run: the runtime runs one listener per key.
var ErrAlreadyRunning = errors.New("webhook listener already running")
