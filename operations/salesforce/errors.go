package salesforce

import "errors"

// ErrSettings wraps every problem found in a connection's or an operation's
// settings; the message names the setting and the fix.
var ErrSettings = errors.New("invalid salesforce settings")

// ErrAuth is returned when the token endpoint refuses the credentials
// (invalid_grant, invalid_client and the like): retrying cannot help until
// the connection's settings change.
var ErrAuth = errors.New("salesforce refused the credentials")

// ErrInvalidReplay is returned by a listener whose replay ID Salesforce
// refused (expired or unknown) when its onInvalidReplay policy is "fail".
var ErrInvalidReplay = errors.New("replay ID refused by salesforce")

// ErrUnknownChannel is returned by a listener whose channel Salesforce says
// does not exist.
var ErrUnknownChannel = errors.New("channel does not exist")

// ErrNoReplay is returned when the CometD handshake does not enable the
// replay extension, without which a listener could not resume durably.
var ErrNoReplay = errors.New("salesforce did not enable the replay extension")
