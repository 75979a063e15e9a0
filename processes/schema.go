package processes

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/atomrt/atom/operations"
)

// Schema returns a JSON Schema (draft 2020-12) of the component YAML, for
// editors such as yaml-language-server to complete and check it. It is
// built from the same field tables the loader checks against, and from the
// registered connectors' Specs: a Connection's settings follow its type,
// an Operation's settings those of any connector that can do its action
// (the schema cannot follow a connection by name). The loader remains the
// authority: it also checks references, cycles and expressions.
func Schema(reg *operations.Registry) ([]byte, error) {
	if reg == nil {
		reg = operations.NewRegistry()
	}
	defs := obj2{
		"reference": obj2{
			"type":        "string",
			"pattern":     `\$\{(env|file):[^}]+\}`,
			"description": "A value read when the components load: ${env:NAME} from the environment, ${file:PATH} from a file next to the YAML.",
		},
		"expression": obj2{
			"type":        []string{"string", "number", "boolean"},
			"description": "An expr expression; it sees body (the document body) and props (its properties).",
		},
		"steps": obj2{
			"type":        "array",
			"description": kindDoc(KindProcess, "steps"),
			"items":       defRef("step"),
		},
		"step":          stepSchema(),
		"inlineMapping": mappingSchema(false),
	}
	defs[KindConnection] = connectionSchema(reg, defs)
	defs[KindOperation] = operationSchema(reg, defs)
	defs[KindMapping] = mappingSchema(true)
	defs[KindProcess] = processSchema()
	defs[KindTest] = testSchema()

	oneOf := make([]any, 0, len(kinds))
	for _, k := range kinds {
		oneOf = append(oneOf, defRef(k))
	}
	s := obj2{
		"$schema":     "https://json-schema.org/draft/2020-12/schema",
		"title":       "Atom component",
		"description": "One Atom component: a Connection, an Operation, a Mapping, a Process or a Test. A YAML file may hold several, separated by ---.",
		"oneOf":       oneOf,
		"$defs":       defs,
	}
	out, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("marshal schema: %w", err)
	}
	return out, nil
}

// obj2 is a JSON object; encoding/json sorts its keys, so the schema's
// bytes are stable.
type obj2 = map[string]any

func defRef(def string) obj2 { return obj2{"$ref": "#/$defs/" + def} }

func kindDoc(kind, field string) string {
	for _, f := range append(append([]fieldInfo(nil), commonFields...), kindFields[kind]...) {
		if f.name == field {
			return f.doc
		}
	}
	return ""
}

// componentSchema is the frame every kind shares: kind, name, the kind's own
// properties, nothing else.
func componentSchema(kind string, props obj2, required ...string) obj2 {
	props["kind"] = obj2{"const": kind, "description": kindDoc(kind, "kind")}
	props["name"] = obj2{"type": "string", "pattern": validName.String(), "description": kindDoc(kind, "name")}
	for k, v := range props {
		if m, ok := v.(obj2); ok && m["description"] == nil && kindDoc(kind, k) != "" {
			m["description"] = kindDoc(kind, k)
		}
	}
	return obj2{
		"type":                 "object",
		"title":                kind,
		"properties":           props,
		"required":             append([]string{"kind", "name"}, required...),
		"additionalProperties": false,
	}
}

func connectionSchema(reg *operations.Registry, defs obj2) obj2 {
	s := componentSchema(KindConnection, obj2{
		"type":     obj2{"enum": reg.Names()},
		"settings": obj2{"type": "object"},
	}, "type")
	var cases []any
	for _, name := range reg.Names() {
		c, _ := reg.Get(name)
		def := "settings." + name + ".connection"
		defs[def] = settingsSchema(c.Connection, c.Summary)
		then := obj2{"properties": obj2{"settings": defRef(def)}}
		if hasRequired(c.Connection) {
			then["required"] = []string{"settings"}
		}
		cases = append(cases, obj2{
			"if":   obj2{"properties": obj2{"type": obj2{"const": name}}, "required": []string{"type"}},
			"then": then,
		})
	}
	if len(cases) > 0 {
		s["allOf"] = cases
	}
	return s
}

func operationSchema(reg *operations.Registry, defs obj2) obj2 {
	s := componentSchema(KindOperation, obj2{
		"connection": obj2{"type": "string"},
		"action":     obj2{"enum": []string{Listen, Send}},
		"settings":   obj2{"type": "object"},
	}, "connection", "action")
	var cases []any
	for _, action := range []string{Listen, Send} {
		var specs []any
		for _, name := range reg.Names() {
			c, _ := reg.Get(name)
			spec := c.Listen
			if action == Send {
				spec = c.Send
			}
			if spec == nil {
				continue
			}
			def := "settings." + name + "." + action
			defs[def] = settingsSchema(*spec, fmt.Sprintf("%s %s: %s", name, action, spec.Summary))
			specs = append(specs, defRef(def))
		}
		if len(specs) == 0 {
			continue
		}
		cases = append(cases, obj2{
			"if":   obj2{"properties": obj2{"action": obj2{"const": action}}, "required": []string{"action"}},
			"then": obj2{"properties": obj2{"settings": obj2{"anyOf": specs}}},
		})
	}
	if len(cases) > 0 {
		s["allOf"] = cases
	}
	return s
}

func hasRequired(spec operations.Spec) bool {
	for _, f := range spec.Fields {
		if f.Required && f.Default == nil {
			return true
		}
	}
	return false
}

// settingsSchema turns a connector's Spec into a schema.
func settingsSchema(spec operations.Spec, title string) obj2 {
	props := obj2{}
	var required []string
	for _, f := range spec.Fields {
		props[f.Name] = fieldSchema(f)
		if f.Required && f.Default == nil {
			required = append(required, f.Name)
		}
	}
	s := obj2{"type": "object", "title": title, "properties": props, "additionalProperties": false}
	if spec.Summary != "" {
		s["description"] = spec.Summary
	}
	if len(required) > 0 {
		s["required"] = required
	}
	return s
}

func fieldSchema(f operations.Field) obj2 {
	orRef := func(s obj2) obj2 { return obj2{"anyOf": []any{s, defRef("reference")}} }
	var s obj2
	switch f.Type {
	case operations.Int:
		s = orRef(obj2{"type": "integer"})
	case operations.Float:
		s = orRef(obj2{"type": "number"})
	case operations.Bool:
		s = orRef(obj2{"type": "boolean"})
	case operations.Enum:
		s = orRef(obj2{"enum": f.Enum})
	case operations.Duration:
		s = obj2{"type": "string", "pattern": `^(\$\{(env|file):[^}]+\}|([0-9]+(\.[0-9]*)?(ns|us|µs|ms|s|m|h))+)$`}
	case operations.Map:
		s = obj2{"type": "object", "additionalProperties": obj2{"type": "string"}}
	case operations.List:
		s = obj2{"type": "array", "items": obj2{"type": "string"}}
	default: // String, Secret
		s = obj2{"type": "string"}
	}
	doc := f.Doc
	if f.Type == operations.Secret {
		doc += " A secret: write ${env:NAME} or ${file:PATH}; a literal value is redacted wherever it is shown."
	}
	if doc != "" {
		s["description"] = doc
	}
	if d := jsonDefault(f); d != nil {
		s["default"] = d
	}
	if f.Example != nil {
		s["examples"] = []any{f.Example}
	}
	return s
}

// jsonDefault is a default as written in YAML.
func jsonDefault(f operations.Field) any {
	switch d := defaultValue(f).(type) {
	case nil:
		return nil
	case time.Duration:
		return d.String()
	case operations.SecretValue:
		return nil // never published
	default:
		return d
	}
}

func mappingSchema(named bool) obj2 {
	props := obj2{
		"jq":   obj2{"type": "string"},
		"expr": obj2{"type": "string"},
		"fields": obj2{
			"type":                 "object",
			"minProperties":        1,
			"additionalProperties": defRef("expression"),
		},
		"lookups": obj2{
			"type":                 "object",
			"additionalProperties": obj2{"type": "object"},
		},
	}
	for _, f := range mappingFields {
		props[f.name].(obj2)["description"] = f.doc
	}
	oneOf := []any{
		obj2{"required": []string{"jq"}},
		obj2{"required": []string{"expr"}},
		obj2{"required": []string{"fields"}},
	}
	if named {
		s := componentSchema(KindMapping, props)
		s["oneOf"] = oneOf
		return s
	}
	return obj2{
		"type":                 "object",
		"description":          "An inline mapping: exactly one of jq, expr and fields.",
		"properties":           props,
		"additionalProperties": false,
		"oneOf":                oneOf,
	}
}

func processSchema() obj2 {
	return componentSchema(KindProcess, obj2{
		"listen":      obj2{"type": "string"},
		"concurrency": obj2{"type": "integer", "minimum": 1, "default": 1},
		"track":       obj2{"type": "array", "items": obj2{"type": "string"}},
		"steps":       obj2{"$ref": "#/$defs/steps", "minItems": 1},
	}, "steps")
}

func testSchema() obj2 {
	props := obj2{
		"type":                 "object",
		"additionalProperties": obj2{"type": []string{"string", "number", "boolean"}},
	}
	input := obj2{
		"type": "object",
		"properties": obj2{
			"body":  obj2{},
			"props": props,
		},
		"additionalProperties": false,
	}
	expect := obj2{
		"type": "object",
		"properties": obj2{
			"status":  obj2{"enum": testStatuses, "default": StatusOK},
			"error":   obj2{"type": "string"},
			"reply":   obj2{},
			"output":  obj2{},
			"outputs": obj2{"type": "array"},
			"props":   props,
			"sent":    obj2{"type": "object", "additionalProperties": obj2{"type": "array"}},
		},
		"additionalProperties": false,
		"not":                  obj2{"required": []string{"output", "outputs"}},
	}
	for _, f := range inputFields {
		input["properties"].(obj2)[f.name] = withDoc(input["properties"].(obj2)[f.name].(obj2), f.doc)
	}
	for _, f := range expectFields {
		expect["properties"].(obj2)[f.name] = withDoc(expect["properties"].(obj2)[f.name].(obj2), f.doc)
	}
	return componentSchema(KindTest, obj2{
		"process": obj2{"type": "string"},
		"input":   input,
		"expect":  expect,
	}, "process", "input")
}

// withDoc returns a copy of s with a description.
func withDoc(s obj2, doc string) obj2 {
	out := make(obj2, len(s)+1)
	for k, v := range s {
		out[k] = v
	}
	out["description"] = doc
	return out
}

// stepSchema is one schema per step kind, each requiring its own key, so
// that exactly one matches a well-formed step.
func stepSchema() obj2 {
	null := obj2{"type": "null"}
	empty := obj2{"type": "object", "maxProperties": 0}
	nonEmptySteps := obj2{"$ref": "#/$defs/steps", "minItems": 1}
	bodies := map[string]any{
		StepMap: obj2{"anyOf": []any{obj2{"type": "string"}, defRef("inlineMapping")}},
		StepSet: obj2{"type": "object", "minProperties": 1, "additionalProperties": defRef("expression")},
		StepRoute: obj2{
			"type": "object",
			"properties": obj2{
				"mode": obj2{"enum": []string{RouteFirst, RouteAll}, "default": RouteFirst},
				"cases": obj2{
					"type":     "array",
					"minItems": 1,
					"items": obj2{
						"type": "object",
						"properties": obj2{
							"when":  defRef("expression"),
							"steps": defRef("steps"),
						},
						"required":             []string{"when"},
						"additionalProperties": false,
					},
				},
				"otherwise": defRef("steps"),
			},
			"required":             []string{"cases"},
			"additionalProperties": false,
		},
		StepBranch: obj2{"type": "array", "minItems": 1, "items": defRef("steps")},
		StepCall: obj2{"anyOf": []any{
			obj2{"type": "string"},
			obj2{"type": "array", "minItems": 1, "items": obj2{"type": "string"}},
		}},
		StepSend: obj2{"anyOf": []any{
			obj2{"type": "string"},
			obj2{
				"type": "object",
				"properties": obj2{
					"operation": obj2{"type": "string"},
					"response":  obj2{"type": "boolean", "description": "When true, the answer becomes the document that continues."},
				},
				"required":             []string{"operation"},
				"additionalProperties": false,
			},
		}},
		StepFilter: defRef("expression"),
		StepLog: obj2{"anyOf": []any{null, defRef("expression"), obj2{
			"type": "object",
			"properties": obj2{
				"message": defRef("expression"),
				"level":   obj2{"enum": []string{"debug", "info", "warn", "error"}, "default": "info"},
			},
			"additionalProperties": false,
		}}},
		StepStop: obj2{"anyOf": []any{null, obj2{
			"type":                 "object",
			"properties":           obj2{"fail": defRef("expression")},
			"additionalProperties": false,
		}}},
		StepTry:   nonEmptySteps,
		StepReply: obj2{"anyOf": []any{null, empty, obj2{"type": "string"}, defRef("inlineMapping")}},
	}
	label := obj2{"type": "string", "description": "A label for this step, shown in traces."}
	var oneOf []any
	for _, k := range stepKinds {
		body := obj2{"description": k.doc}
		for key, v := range bodies[k.name].(obj2) {
			body[key] = v
		}
		props := obj2{k.name: body, "name": label}
		if k.name == StepTry {
			props["catch"] = obj2{"$ref": "#/$defs/steps", "description": "The steps run when a step under try fails."}
		}
		oneOf = append(oneOf, obj2{
			"type":                 "object",
			"title":                k.name,
			"properties":           props,
			"required":             []string{k.name},
			"additionalProperties": false,
		})
	}
	return obj2{"oneOf": oneOf}
}
