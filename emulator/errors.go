package emulator

import "errors"

// ErrInvalidConfig wraps every problem found in an emulator configuration;
// the message lists each one with its line and column.
var ErrInvalidConfig = errors.New("invalid emulator configuration")

// ErrUnknownEvent is returned by Publish for an event name the configuration
// does not define.
var ErrUnknownEvent = errors.New("unknown platform event")

// ErrInvalidEvent is returned by Publish for fields Salesforce would refuse:
// an unknown field, a value of the wrong type, a missing required field.
var ErrInvalidEvent = errors.New("invalid platform event")

// ErrUnknownUser is returned for a username the configuration does not define.
var ErrUnknownUser = errors.New("unknown user")

// ErrUnknownApp is returned for a client ID the configuration does not define.
var ErrUnknownApp = errors.New("unknown connected app")

// ErrClosed is returned by operations on an emulator after Close.
var ErrClosed = errors.New("emulator closed")
