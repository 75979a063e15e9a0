package salesforce

import (
	"time"

	"github.com/atomrt/atom/operations"
)

// Name is the connector's name, as written in a connection's "type".
const Name = "salesforce"

// Grants, as written in a connection's "grant".
const (
	GrantClientCredentials = "client_credentials"
	GrantPassword          = "password"
	GrantJWT               = "jwt"
	GrantRefreshToken      = "refresh_token"
)

// Replay starts and invalid-replay policies, as written in a Listen
// operation's "replay", "initial" and "onInvalidReplay".
const (
	ReplayStored = "stored"
	ReplayLatest = "latest"
	ReplayAll    = "all"
	ReplayFail   = "fail"
)

const (
	defaultLoginURL   = "https://login.salesforce.com"
	defaultAPIVersion = "62.0"
	minAPIVersion     = 37.0 // the first version with the CometD replay extension
	maxBatch          = 200  // composite/sobjects takes at most 200 records
)

// Register adds the Salesforce connector to reg.
func Register(reg *operations.Registry) error {
	listen, send := listenSpec, sendSpec
	return reg.Register(&operations.Connector{
		Name:       Name,
		Summary:    "Salesforce Platform Events: listen over the Streaming API (CometD) with durable replay, publish through the REST API with batching.",
		Connection: connectionSpec,
		Listen:     &listen,
		Send:       &send,
		Open:       open,
	})
}

var connectionSpec = operations.Spec{
	Summary: "An OAuth 2.0 connection to a Salesforce org. It authenticates on first use and again whenever Salesforce answers 401.",
	Fields: []operations.Field{
		{Name: "loginUrl", Type: operations.String, Default: defaultLoginURL,
			Doc:     "Where tokens come from: https://login.salesforce.com, https://test.salesforce.com for a sandbox, or the org's My Domain URL (required by client_credentials).",
			Example: "https://acme.my.salesforce.com"},
		{Name: "apiVersion", Type: operations.String, Default: defaultAPIVersion,
			Doc: "The REST and Streaming API version, such as \"62.0\"; at least 37.0, the first with durable replay."},
		{Name: "grant", Type: operations.Enum, Required: true,
			Enum: []string{GrantClientCredentials, GrantPassword, GrantJWT, GrantRefreshToken},
			Doc:  "The OAuth 2.0 flow: client_credentials (clientId, clientSecret), password (clientId, clientSecret, username, password, securityToken), jwt (clientId, username, privateKeyFile or keystoreFile) or refresh_token (clientId, clientSecret, refreshToken)."},
		{Name: "clientId", Type: operations.String, Required: true,
			Doc: "The connected app's consumer key."},
		{Name: "clientSecret", Type: operations.Secret,
			Doc: "The connected app's consumer secret; usually \"${env:NAME}\"."},
		{Name: "username", Type: operations.String,
			Doc: "The user to act as (password and jwt grants)."},
		{Name: "password", Type: operations.Secret,
			Doc: "The user's password (password grant)."},
		{Name: "securityToken", Type: operations.Secret,
			Doc: "The user's security token, appended to the password when Salesforce asks for one (password grant)."},
		{Name: "privateKeyFile", Type: operations.String,
			Doc: "A PEM file holding the RSA private key whose certificate is uploaded to the connected app (jwt grant)."},
		{Name: "keystoreFile", Type: operations.String,
			Doc: "A PKCS#12 keystore (.p12, .pfx) holding the RSA private key, instead of privateKeyFile (jwt grant)."},
		{Name: "keystorePassword", Type: operations.Secret,
			Doc: "The keystore's password (jwt grant with keystoreFile)."},
		{Name: "refreshToken", Type: operations.Secret,
			Doc: "A refresh token issued to the connected app (refresh_token grant)."},
		{Name: "audience", Type: operations.String,
			Doc: "The JWT's aud claim (jwt grant); defaults to the login URL. Salesforce wants https://login.salesforce.com, https://test.salesforce.com or a community URL."},
	},
	Examples: []string{`kind: Connection
name: sf
type: salesforce
settings:
  loginUrl: https://acme.my.salesforce.com
  grant: client_credentials
  clientId: ${env:SF_CLIENT_ID}
  clientSecret: ${env:SF_CLIENT_SECRET}
`, `kind: Connection
name: sf-jwt
type: salesforce
settings:
  grant: jwt
  clientId: ${env:SF_CLIENT_ID}
  username: integration@acme.com
  privateKeyFile: keys/server.key
`},
}

var listenSpec = operations.Spec{
	Summary: "Subscribe to a platform event channel over CometD and resume after the last committed replay ID.",
	// channel, schema and createdById are the same for most events of a
	// listener: indexing them would cost every run and find nothing.
	Tracked: []string{"replayId", "eventUuid"},
	Fields: []operations.Field{
		{Name: "event", Type: operations.String,
			Doc:     "The platform event's API name, such as Order__e; the channel is /event/Order__e. Give event or channel, not both.",
			Example: "Order__e"},
		{Name: "channel", Type: operations.String,
			Doc:     "The channel path, such as /event/Order__e or a change data capture channel /data/AccountChangeEvent. Give event or channel, not both.",
			Example: "/event/Order__e"},
		{Name: "replay", Type: operations.String, Default: ReplayStored,
			Doc: "Where to start when the listener has no committed position: stored (the committed position, else initial), latest (only new events), all (every retained event) or a replay ID (the events after it). Once a position is committed it always wins, so a restart or a new deployment never skips or repeats; to move it, pause the listener and set its position."},
		{Name: "initial", Type: operations.Enum, Default: ReplayLatest, Enum: []string{ReplayLatest, ReplayAll},
			Doc: "With replay: stored and nothing committed yet: latest (only new events) or all (every retained event)."},
		{Name: "onInvalidReplay", Type: operations.Enum, Default: ReplayAll, Enum: []string{ReplayAll, ReplayLatest, ReplayFail},
			Doc: "What to do when Salesforce refuses the replay ID (older than the retention window, or unknown): all (replay every retained event: duplicates, never a skip), latest (only new events: skips what was missed) or fail (stop the listener). Always logged, counted as invalid_replay and shown in the listener's state."},
		{Name: "bufferSize", Type: operations.Int, Default: int64(1000),
			Doc: "How many events are read ahead of processing. When the buffer is full the listener stops polling rather than drop anything."},
		{Name: "retryInitial", Type: operations.Duration, Default: 500 * time.Millisecond,
			Doc: "The first wait before reconnecting after a failure; it doubles, with jitter, up to retryMax."},
		{Name: "retryMax", Type: operations.Duration, Default: 30 * time.Second,
			Doc: "The longest wait between reconnection attempts."},
	},
	Examples: []string{`kind: Operation
name: orders-in
connection: sf
action: listen
settings:
  event: Order__e
  initial: all
  onInvalidReplay: all
`},
}

var sendSpec = operations.Spec{
	Summary: "Publish platform events through the REST API, one per request or gathered into batches of up to 200.",
	Fields: []operations.Field{
		{Name: "event", Type: operations.String, Required: true,
			Doc:     "The platform event's API name, such as Order__e. Only the document's custom fields (names ending in __c) are sent, so a listened event can be republished as it is.",
			Example: "Order__e"},
		{Name: "batchSize", Type: operations.Int, Default: int64(maxBatch),
			Doc: "1 publishes each document with its own request (sobjects); 2 to 200 gathers concurrent sends into composite/sobjects requests (allOrNone false), where a refused record fails only its own document."},
		{Name: "linger", Type: operations.Duration, Default: time.Duration(0),
			Doc: "How long a batch waits to fill before it is sent. 0 (the default) sends at once when no batch is in flight and gathers requests while one is, so a lone caller never waits and many callers fill batches; a linger such as 20ms makes the fewest API calls at the cost of that much latency."},
		{Name: "maxRetryTime", Type: operations.Duration, Default: 15 * time.Minute,
			Doc: "How long retryable failures (network errors, 5xx, REQUEST_LIMIT_EXCEEDED, 401 after authenticating again) are retried before the document fails."},
		{Name: "retryInitial", Type: operations.Duration, Default: 200 * time.Millisecond,
			Doc: "The first wait before a retry; it doubles, with jitter, up to retryMax."},
		{Name: "retryMax", Type: operations.Duration, Default: 30 * time.Second,
			Doc: "The longest wait between retries."},
	},
	Examples: []string{`kind: Operation
name: orders-out
connection: sf
action: send
settings:
  event: Order__e
  batchSize: 200
  linger: 20ms  # the fewest API calls, for 20ms more latency
`},
}
