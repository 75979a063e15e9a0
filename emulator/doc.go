// Package emulator is a local Salesforce org for tests, demos and
// development: OAuth 2.0 (client credentials, username-password, JWT bearer,
// refresh token), REST publishing of platform events (one record or an sObject
// Collection), describe and limits, an event bus with replay IDs and a
// retention window, and the Streaming API (CometD / Bayeux 1.0 long-polling
// with the replay extension). Unmodified Salesforce clients such as jsforce
// work against it; the interop test proves it.
//
// # Basics
//
// One HTTP server plays both the login host and the instance, like an org
// with My Domain: [Emulator.URL] is the login URL and the instance_url of
// every token. Start one with [New] and [Emulator.Listen] (tests listen on
// 127.0.0.1:0), publish and inspect from Go ([Emulator.Publish],
// [Emulator.Events], [Emulator.Subscribers], [Emulator.Calls]) and break
// things on purpose ([Emulator.DropClients], [Emulator.ExpireTokens],
// [Emulator.Fail503], [Emulator.SetLatency], [Emulator.SetRetention],
// [Emulator.RefuseConnections], [Emulator.Restart]). The same faults are on
// the admin endpoints under /__emulator/ (see README.md).
//
// Event definitions, users and connected apps come from YAML ([LoadConfig],
// [ParseConfig]); sections left empty take the built-in defaults
// ([DefaultConfig]), so an emulator starts with zero configuration.
//
// # Caveats
//
// It is not Salesforce: there are no sObjects other than platform events, no
// SOQL, no Apex, no Pub/Sub API (gRPC) yet, and it speaks plain HTTP. It
// keeps one copy of each event (pre-encoded once, at publish time); a
// subscriber reads the bus by position. The admin endpoints have no
// authentication: bind it to loopback.
package emulator
