// Package salesforce is Atom's Salesforce Platform Events connector: an
// OAuth 2.0 connection, a Listen operation over the Streaming API (CometD,
// Bayeux long-polling with the replay extension) and a Send operation that
// publishes events through the REST API, one per call or in batches.
//
// # Basics
//
// Register adds the connector, named "salesforce", to a registry. A
// connection authenticates lazily, on the first listen or send, with one of
// four grants (client_credentials, password, jwt, refresh_token) and keeps
// the instance URL and the org ID from the token response. Salesforce tokens
// carry no expiry: a 401 from REST, or "401::Authentication invalid" from
// CometD, makes the connection fetch a new token, once per failure and with
// backoff. Tokens never appear in logs or errors.
//
// A listener subscribes to one channel (/event/Name__e) in its own CometD
// session. It resumes after the position the runtime committed
// (Stream.Committed), never after the configured start, whenever it has to
// subscribe again (a dropped client, an expired token, a silent stream, a
// restart of the remote end). Events wait in a bounded buffer; when the
// runtime falls behind, the listener stops polling instead of dropping, and
// if Salesforce forgets the session meanwhile it resubscribes from the
// committed position and skips the events it already read, comparing replay
// IDs (never computing them). An invalid or expired replay ID is handled by
// the operation's onInvalidReplay policy, and always logged, counted
// ("invalid_replay") and shown in the listener's state.
//
// A sender publishes with sobjects/{Name__e} (batchSize 1) or
// composite/sobjects (allOrNone false). Concurrent Send calls are gathered
// into batches by one goroutine per sender; each caller gets its own
// record's result. A record Salesforce refuses fails only its caller, with
// an error wrapping operations.ErrPermanent; network errors, 5xx,
// REQUEST_LIMIT_EXCEEDED and 401 (after authenticating again) are retried
// with exponential backoff and jitter, bounded by maxRetryTime.
//
// # Caveats
//
// Delivery is at-least-once: after a restart the events after the committed
// position come again; each carries its replayId and eventUuid properties so
// that a receiver can de-duplicate. A batching sender waits up to linger for
// a batch to fill, so with one caller at a time each send pays that wait; set
// linger to 0 to send at once (batches then form only while earlier ones are
// in flight).
//
// This package is not the runtime that commits positions (see atom), and it
// does not speak the Pub/Sub API (gRPC).
package salesforce
