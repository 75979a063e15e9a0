// Package web serves an atom over HTTP: its webhooks, health checks, the
// management API and the console. It talks to the runtime's API only,
// never to the store.
package web
