package web

import (
	"encoding/json"
	"net/http"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// openAPI renders the route table as an OpenAPI 3.1 document. Schemas are
// read off the Go types the handlers encode, so they cannot drift from
// what is sent.
func openAPI(routes []route) []byte {
	s := &schemas{defs: map[string]any{}}
	paths := map[string]map[string]any{}
	for _, rt := range routes {
		path := openAPIPath(rt.pattern)
		if paths[path] == nil {
			paths[path] = map[string]any{}
		}
		paths[path][strings.ToLower(rt.method)] = s.operation(rt)
	}
	s.defs["Error"] = s.structSchema(reflect.TypeFor[apiError]())
	doc := map[string]any{
		"openapi": "3.1.0",
		"info": map[string]any{
			"title":   "Atom management API",
			"version": version(),
			"description": "Deploy components, steer listeners and their replay positions, test-run processes, " +
				"search executions and retry dead letters. Errors share one shape, " +
				`{"error", "code", "details"}, with stable codes. Listener names are URL-path-escaped in paths.`,
		},
		"paths": paths,
		"components": map[string]any{
			"schemas": s.defs,
			"securitySchemes": map[string]any{
				"bearer": map[string]any{"type": "http", "scheme": "bearer", "description": "The atom's API token."},
				"basic":  map[string]any{"type": "http", "scheme": "basic", "description": "Any user name; the API token as password."},
			},
		},
		"security": []any{map[string]any{"bearer": []string{}}, map[string]any{"basic": []string{}}},
	}
	data, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return []byte(`{"openapi":"3.1.0"}`) // cannot happen: the document is maps and strings
	}
	return data
}

var wildcard = regexp.MustCompile(`/\*$`)

// openAPIPath turns a chi pattern into an OpenAPI path ("/console/*"
// becomes "/console/{path}").
func openAPIPath(pattern string) string { return wildcard.ReplaceAllString(pattern, "/{path}") }

var pathParamRE = regexp.MustCompile(`\{([^}]+)\}`)

func (s *schemas) operation(rt route) map[string]any {
	op := map[string]any{"operationId": rt.id, "summary": rt.summary, "tags": []string{rt.tag}}
	var params []any
	for _, m := range pathParamRE.FindAllStringSubmatch(openAPIPath(rt.pattern), -1) {
		params = append(params, map[string]any{"name": m[1], "in": "path", "required": true, "schema": map[string]any{"type": "string"}})
	}
	for _, q := range rt.query {
		schema := map[string]any{"type": q.typ}
		if q.typ == "date-time" {
			schema = map[string]any{"type": "string", "format": "date-time"}
		}
		params = append(params, map[string]any{"name": q.name, "in": "query", "description": q.doc, "schema": schema})
	}
	if params != nil {
		op["parameters"] = params
	}
	if rt.body != nil {
		content := map[string]any{"application/json": map[string]any{"schema": s.of(rt.body)}}
		for _, ct := range rt.bodyTypes {
			content[ct] = map[string]any{"schema": map[string]any{"type": "string"}}
		}
		op["requestBody"] = map[string]any{"required": true, "content": content}
	}
	responses := map[string]any{}
	ok := map[string]any{"description": http.StatusText(rt.status)}
	switch {
	case rt.resp != nil:
		ok["content"] = map[string]any{"application/json": map[string]any{"schema": s.of(rt.resp)}}
	case rt.ctype != "":
		ok["content"] = map[string]any{rt.ctype: map[string]any{"schema": map[string]any{"type": "string"}}}
	}
	responses[strconv.Itoa(rt.status)] = ok
	errs := rt.errors
	if !rt.public {
		errs = append(append([]int{}, errs...), http.StatusUnauthorized)
		if rt.method != http.MethodGet {
			errs = append(errs, http.StatusForbidden)
		}
	}
	for _, code := range errs {
		responses[strconv.Itoa(code)] = map[string]any{
			"description": http.StatusText(code),
			"content":     map[string]any{"application/json": map[string]any{"schema": map[string]any{"$ref": "#/components/schemas/Error"}}},
		}
	}
	op["responses"] = responses
	if rt.public {
		op["security"] = []any{}
	}
	return op
}

// schemas collects the JSON Schemas of named struct types as components.
type schemas struct{ defs map[string]any }

var (
	timeType     = reflect.TypeFor[time.Time]()
	durationType = reflect.TypeFor[time.Duration]()
	rawType      = reflect.TypeFor[json.RawMessage]()
)

// of returns the schema of t: a $ref for a named struct.
func (s *schemas) of(t reflect.Type) map[string]any {
	switch t {
	case timeType:
		return map[string]any{"type": "string", "format": "date-time"}
	case durationType:
		return map[string]any{"type": "integer", "description": "nanoseconds"}
	case rawType:
		return map[string]any{}
	}
	switch t.Kind() {
	case reflect.Pointer:
		return nullable(s.of(t.Elem()))
	case reflect.Interface:
		return map[string]any{}
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return map[string]any{"type": "integer"}
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return map[string]any{"type": "string"}
		}
		return map[string]any{"type": "array", "items": s.of(t.Elem())}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": s.of(t.Elem())}
	case reflect.Struct:
		if t.Name() == "" {
			return s.structSchema(t)
		}
		name := schemaName(t)
		if _, ok := s.defs[name]; !ok {
			s.defs[name] = map[string]any{} // a placeholder ends recursion
			s.defs[name] = s.structSchema(t)
		}
		return map[string]any{"$ref": "#/components/schemas/" + name}
	}
	return map[string]any{}
}

// nullable allows null besides what schema allows (a nil pointer).
func nullable(schema map[string]any) map[string]any {
	if t, ok := schema["type"].(string); ok {
		out := map[string]any{}
		for k, v := range schema {
			out[k] = v
		}
		out["type"] = []string{t, "null"}
		return out
	}
	return map[string]any{"anyOf": []any{schema, map[string]any{"type": "null"}}}
}

// schemaName names a component: the type's name, capitalised.
func schemaName(t reflect.Type) string {
	n := t.Name()
	return strings.ToUpper(n[:1]) + n[1:]
}

func (s *schemas) structSchema(t reflect.Type) map[string]any {
	props := map[string]any{}
	var required []string
	s.fields(t, props, &required)
	out := map[string]any{"type": "object", "properties": props}
	if len(required) > 0 {
		out["required"] = required
	}
	return out
}

// fields adds t's JSON fields, embedded structs' flattened in.
func (s *schemas) fields(t reflect.Type, props map[string]any, required *[]string) {
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
			s.fields(f.Type, props, required)
			continue
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		props[name] = s.of(f.Type)
		if !strings.Contains(opts, "omitempty") && !strings.Contains(opts, "omitzero") {
			*required = append(*required, name)
		}
	}
}
