package operations

import "time"

// Type is the type of a setting, as written in YAML.
type Type string

// The setting types a Spec can declare.
const (
	String   Type = "string"
	Int      Type = "int"
	Float    Type = "float"
	Bool     Type = "bool"
	Duration Type = "duration" // "30s", "15m"
	Secret   Type = "secret"   // a string, usually "${env:NAME}" or "${file:PATH}"; redacted wherever shown
	Enum     Type = "enum"     // a string from Field.Enum
	Map      Type = "map"      // string keys to string values, e.g. HTTP headers
	List     Type = "list"     // a list of strings
)

// Field is one setting of a connection or an operation.
type Field struct {
	Name     string
	Type     Type
	Required bool
	Default  any      // in the Go type the setting decodes to (see Settings)
	Enum     []string // the allowed values of an Enum
	Doc      string   // one or two sentences for the reference and the schema
	Example  any
}

// Spec describes the settings of one connection or operation kind.
type Spec struct {
	Summary  string
	Fields   []Field
	Examples []string // complete YAML documents, validated by the reference test
	// Tracked names, for a Listen spec, the document properties that
	// identify an event (a replay ID, an event UUID). A process that names
	// no track list records and indexes these with every execution, so the
	// history can be searched by them; nil tracks every property.
	Tracked []string
}

// Field returns the named field and whether it exists.
func (s Spec) Field(name string) (Field, bool) {
	for _, f := range s.Fields {
		if f.Name == name {
			return f, true
		}
	}
	return Field{}, false
}

// Settings holds validated settings with defaults applied. Values are of the
// Go type their field's Type names: string (String, Enum), int64, float64,
// bool, time.Duration, SecretValue, map[string]string, []string.
type Settings map[string]any

// String returns a String or Enum setting, "" when unset.
func (s Settings) String(name string) string { v, _ := s[name].(string); return v }

// Int returns an Int setting, 0 when unset.
func (s Settings) Int(name string) int64 { v, _ := s[name].(int64); return v }

// Float returns a Float setting, 0 when unset.
func (s Settings) Float(name string) float64 { v, _ := s[name].(float64); return v }

// Bool returns a Bool setting, false when unset.
func (s Settings) Bool(name string) bool { v, _ := s[name].(bool); return v }

// Duration returns a Duration setting, 0 when unset.
func (s Settings) Duration(name string) time.Duration { v, _ := s[name].(time.Duration); return v }

// Secret returns a Secret setting, empty when unset.
func (s Settings) Secret(name string) SecretValue { v, _ := s[name].(SecretValue); return v }

// Map returns a Map setting, nil when unset.
func (s Settings) Map(name string) map[string]string { v, _ := s[name].(map[string]string); return v }

// List returns a List setting, nil when unset.
func (s Settings) List(name string) []string { v, _ := s[name].([]string); return v }

// Has reports whether a setting was given or defaulted.
func (s Settings) Has(name string) bool { _, ok := s[name]; return ok }

// SecretValue is a resolved secret. It prints as "[redacted]" in every
// format verb, JSON and zerolog, so that it cannot leak by accident; Reveal
// is the one way to read it.
type SecretValue struct{ value string }

// NewSecret wraps a resolved secret.
func NewSecret(v string) SecretValue { return SecretValue{value: v} }

// Reveal returns the secret itself, for the wire and nothing else.
func (s SecretValue) Reveal() string { return s.value }

// IsZero reports whether the secret is empty.
func (s SecretValue) IsZero() bool { return s.value == "" }

// String implements fmt.Stringer.
func (s SecretValue) String() string { return "[redacted]" }

// GoString implements fmt.GoStringer.
func (s SecretValue) GoString() string { return "[redacted]" }

// MarshalJSON implements json.Marshaler.
func (s SecretValue) MarshalJSON() ([]byte, error) { return []byte(`"[redacted]"`), nil }

// MarshalText implements encoding.TextMarshaler.
func (s SecretValue) MarshalText() ([]byte, error) { return []byte("[redacted]"), nil }
