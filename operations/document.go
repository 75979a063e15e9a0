package operations

import "encoding/json"

// Document is one unit of data flowing through a process: a JSON body
// (decoded: map[string]any, []any, string, float64, bool or nil) and string
// properties such as replayId, channel and eventUuid.
type Document struct {
	Body  any               `json:"body"`
	Props map[string]string `json:"props,omitempty"`
}

// NewDocument returns a document with the body and a copy of props.
func NewDocument(body any, props map[string]string) Document {
	d := Document{Body: body, Props: make(map[string]string, len(props))}
	for k, v := range props {
		d.Props[k] = v
	}
	return d
}

// Clone returns a deep copy, so that a branch or a fanned-out sub-process
// can change its document without touching the others.
func (d Document) Clone() Document {
	return NewDocument(cloneValue(d.Body), d.Props)
}

// Prop returns a property, or "" when it is not set.
func (d Document) Prop(name string) string { return d.Props[name] }

// SetProp sets a property, allocating the map when needed.
func (d *Document) SetProp(name, value string) {
	if d.Props == nil {
		d.Props = map[string]string{}
	}
	d.Props[name] = value
}

// MarshalBody returns the body as JSON.
func (d Document) MarshalBody() ([]byte, error) { return json.Marshal(d.Body) }

func cloneValue(v any) any {
	switch t := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(t))
		for k, x := range t {
			m[k] = cloneValue(x)
		}
		return m
	case []any:
		s := make([]any, len(t))
		for i, x := range t {
			s[i] = cloneValue(x)
		}
		return s
	default:
		return v
	}
}
