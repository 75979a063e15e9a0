package atom

import "errors"

// ErrUnknownListener is returned for a listener name that no running
// deployment has.
var ErrUnknownListener = errors.New("unknown listener")

// ErrUnknownProcess is returned for a process name the deployment lacks.
var ErrUnknownProcess = errors.New("unknown process")

// ErrNotPaused is returned when an offset is changed on a running listener.
var ErrNotPaused = errors.New("listener is not paused")

// ErrNoDeployment is returned when nothing is deployed.
var ErrNoDeployment = errors.New("nothing deployed")

// ErrNotRunning is returned by a listener's Deliver when its run has ended
// (paused, stopping or redeploying): the event was not taken.
var ErrNotRunning = errors.New("listener is not running")
