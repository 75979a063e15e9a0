// Package mapping compiles mappings once and runs them many times: it turns
// one document body into another with a jq program (gojq), an expr
// expression (expr-lang), or a field map of "target.path: expression"
// entries. It also compiles the lone expressions a process uses for route
// conditions, filters, properties and log messages (CompileExpr).
//
// It is not the component model (package processes holds mappings as
// written in YAML) and not the executor: it knows bodies, properties and
// lookup tables, nothing of steps, connectors or documents' delivery.
//
// # Basics
//
// Bodies are decoded JSON: map[string]any, []any, string, float64, bool or
// nil. Every result is such a value too: an int becomes a float64, a time
// becomes RFC 3339 text, a []string becomes a []any. NaN, infinities and
// structs are errors (ErrNotJSON).
//
// A jq mapping sees the body as ".", the document properties as $props
// (an object of strings) and the lookup tables as $lookups. It must produce
// exactly one value: none is ErrNoValue, several is ErrManyValues (collect
// them with [ ... ]). The OS environment is not visible ($ENV is empty).
//
// An expr mapping, a field map entry and a CompileExpr expression see
// body (the body), props (a map of strings; a missing one is "") and
// lookups (the tables). A name that is none of these, nor a function, is
// a compile error. An expr mapping's value becomes the new body.
//
// A field map builds an object entry by entry, in order:
//
//	customer.name: body.Name__c          nested objects are made as needed
//	items[0].sku: body.Sku__c            [N] sets element N (missing ones are null)
//	tags[]: body.Tag__c                  [] appends an element
//	items[-1].qty: body.Qty__c           [-1] is the last element
//	attributes["odd.key"]: "x"           a quoted key may hold dots
//	.: body                              "." sets the whole output; later entries add to it
//
// An entry may write inside a value an earlier entry set (".: body" then
// "extra: 1"); that value is copied first, so the input is never changed.
//
// # Functions
//
// Expressions (expr mappings, field maps, CompileExpr) have expr-lang's
// built-in functions: all, any, none, one, filter, map, find, findIndex,
// findLast, findLastIndex, count, sum, groupBy, sortBy, reduce, len, type,
// abs, ceil, floor, int, float, string, trim, trimPrefix, trimSuffix,
// upper, lower, split, splitAfter, replace, repeat, join, indexOf,
// lastIndexOf, hasPrefix, hasSuffix, max, min, mean, median, toJSON,
// fromJSON, toBase64, fromBase64, now, duration, date, timezone, first,
// last, get, take, keys, values, toPairs, fromPairs, reverse, uniq,
// concat, flatten, sort and the bit functions; and these, added here:
//
//	formatDate(t, layout[, tz])   a date as text; t is a time, a date string or Unix milliseconds
//	parseDate(s[, layout[, tz]])  text to a time; without a layout, RFC 3339 and Salesforce forms
//	uuid()                        a random (version 4) UUID
//	substr(s, start[, length])    runes of s; a negative start counts from the end; never fails on range
//	padLeft(v, width[, pad])      v as text padded to width with pad (one character, default " ")
//	padRight(v, width[, pad])     likewise on the right
//	default(v, fallback)          fallback when v is null or ""
//	round(x[, places])            halves away from zero; replaces expr's round(x), which it extends
//	toNumber(v)                   a number, or a string holding one, as a number
//	toString(v)                   v as text: null as "", 12.0 as "12", objects as JSON
//	formatNumber(x, pattern)      "#,##0.00" style: 0 a digit, # an optional one, "," groups thousands
//	lookup(table, key[, default]) the key (as text) in a lookup table; a missing key is an
//	                              error (ErrLookup) unless a default is given
//
// A function's argument count, and the type of a constant argument, are
// checked when the expression is compiled; other arguments when it runs.
//
// Date layouts are Go layouts ("2006-01-02 15:04") or these names:
// ANSIC, UnixDate, RubyDate, RFC822, RFC822Z, RFC850, RFC1123, RFC1123Z,
// RFC3339, RFC3339Nano, ISO8601 (as RFC3339), Kitchen, Stamp, StampMilli,
// StampMicro, StampNano, DateTime, DateOnly, TimeOnly and Salesforce
// ("2006-01-02T15:04:05.000-0700"). A time zone is an IANA name
// ("Europe/Paris"); dates without a zone are read as UTC.
//
// jq programs have jq's own functions, and these, which work on their input
// like jq's: lookup(table; key), lookup(table; key; default), uuid,
// formatDate(layout), formatDate(layout; tz) (input: date text or Unix
// milliseconds), parseDate, parseDate(layout), parseDate(layout; tz)
// (output: Unix milliseconds), round(places), padLeft(width),
// padLeft(width; pad), padRight(width), padRight(width; pad),
// substr(start), substr(start; length), formatNumber(pattern),
// default(fallback), upper and lower (Unicode, unlike ascii_upcase).
//
// # Caveats
//
// Run never changes the body or properties it is given (the executor
// shares a body between runs), but its result may share maps and slices
// with the body: treat both as read-only, and clone before changing.
//
// Compiled mappings and expressions are safe for concurrent use by many
// goroutines.
//
// A run-time error is a *RunError naming the mapping, the field and where
// they were written, and for expressions the part of the input being read:
//
//	mapping "order-to-sms": field "customer.phone" (orders.yaml:14:7): body.Contact__c: cannot fetch Phone from <nil>
package mapping
