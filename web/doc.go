// Package web serves an atom over HTTP: its webhooks, health checks,
// Prometheus metrics, the management API under /api and the console under
// /console/. It talks to the runtime's API only, never to the store.
//
// # Basics
//
// Handler builds the whole tree from one route table (routes.go), which
// also renders /api/openapi.json, so the document lists exactly what is
// served. Every API error has one shape, {"error", "code", "details"},
// with stable codes; a deployment that does not validate answers 422 with
// every diagnostic at its file:line:column. Any path that is not the
// atom's own (/api, /metrics, /healthz, /readyz, /console) goes to the
// running deployment's webhooks.
//
// # Security
//
// With Options.RequireAuth (set it off loopback, see IsLoopback, or when a
// token was configured; LoadOrCreateToken makes and keeps one) every /api
// and /metrics request must present the token as a bearer token or as a
// basic-auth password. Probes, the console's static files and webhooks
// are open: the console asks for the token when the API answers 401.
// Requests that change state are refused when a browser says they come
// from another site (net/http's CrossOriginProtection); no cookie is ever
// set. Bodies are capped (413), and literal secrets are redacted from
// every YAML shown.
//
// # Caveats
//
// This package is not the console's code (see web/console) and holds no
// state of its own; pagination, audit and history live in the runtime.
package web
