// Package httpconn is Atom's HTTP connector: webhooks served by the atom
// (Listen) and HTTP requests to other systems (Send). The folder is
// operations/http; the package is named httpconn so that it does not shadow
// net/http.
//
// # Listen: a webhook
//
// A Listen operation serves one method and path on the atom's HTTP server.
// Its route is registered when the listener is made and stays for the
// listener's life (until Close), so that a caller of a paused listener gets
// 503 with Retry-After instead of 404. The body must be JSON; it becomes the
// document's body, and the request's method, path, query parameters and a
// few safe headers become its properties (see the Prop* constants;
// Authorization, Cookie and other credential-like headers or query
// parameters are never copied).
//
// With "ack: complete" (the default) the caller waits until every run for
// the document has finished:
//
//	200  the reply document's body, when a process set one with a reply step
//	200  {"status":"ok"} when none did
//	422  the document failed for good and was kept as a dead letter (do not retry)
//	500  a run failed and the document could not be kept (retry)
//	503  the listener is paused, restarting or stopping, or too busy to take the document within timeout (retry)
//	504  the runs did not finish within timeout; they go on (a retry may process the document twice)
//	400  the body is not JSON (the answer says why and at which byte, line and column)
//	413  the body is larger than maxBodyBytes
//
// With "ack: accepted" the document is first written to the atom's store
// (Env.Inbox) and the caller gets 202 {"id":N,"status":"accepted"}; Run
// then delivers queued documents oldest first, removing each once every run
// for it has finished. Documents still queued when the atom stops are
// delivered when the listener runs again (at least once, so a document may
// be processed twice after a crash; its "http.inboxId" property lets a
// receiver de-duplicate). A run that failed without keeping the document
// leaves it queued for the next time the listener runs.
//
// # Send: an HTTP request
//
// A Send operation makes one request per document. The URL and header
// values may hold placeholders: {prop:NAME} is a document property and
// {body:a.b} a scalar field of the document's JSON body (dotted path).
// Placeholders in the URL are escaped for where they stand (path or query).
// The body is the document's body as JSON (body: document), the text of a
// Go text/template over .Body and .Props (body: template), or nothing
// (body: none). Network errors, 5xx and 429 are retried with exponential
// backoff and full jitter for up to maxRetryTime, honouring Retry-After;
// other statuses outside successCodes fail at once with an error wrapping
// operations.ErrPermanent. The answer becomes a document: its body the
// decoded JSON (or the text), its properties http.status and
// http.header.content-type.
//
// # Secrets
//
// Passwords, tokens and every header value that is not known to be
// harmless are treated as secrets: they never appear in logs, errors or
// dry runs. Errors name the URL with its user information and
// credential-like query parameters redacted.
//
// The package is not a general HTTP server or client library, and it does
// not verify webhook signatures (put the atom behind a gateway that does,
// or check them in a process).
package httpconn
