package emulator

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// eventType is a compiled platform event definition.
type eventType struct {
	name     string
	label    string
	channel  string // /event/Name__e
	schemaID string
	fields   []*fieldType
	byLower  map[string]*fieldType
}

// fieldType is a compiled custom field.
type fieldType struct {
	name     string
	label    string
	typ      string
	required bool
	length   int
}

// systemFields are set by Salesforce and refused in a publish.
var systemFields = map[string]string{
	"id": "Id", "replayid": "ReplayId", "createddate": "CreatedDate",
	"createdbyid": "CreatedById", "eventuuid": "EventUuid",
}

func compileEvent(def EventDef) *eventType {
	et := &eventType{
		name:    def.Name,
		label:   def.Label,
		channel: "/event/" + def.Name,
		byLower: map[string]*fieldType{},
	}
	if et.label == "" {
		et.label = labelOf(def.Name)
	}
	h := sha256.New()
	h.Write([]byte(def.Name))
	for _, f := range def.Fields {
		ft := &fieldType{name: f.Name, label: f.Label, typ: f.Type, required: f.Required, length: f.Length}
		if ft.label == "" {
			ft.label = labelOf(f.Name)
		}
		if ft.typ == typeString && ft.length == 0 {
			ft.length = 255
		}
		et.fields = append(et.fields, ft)
		et.byLower[strings.ToLower(f.Name)] = ft
		fmt.Fprintf(h, "|%s:%s:%t", f.Name, ft.typ, f.Required)
	}
	// The schema ID changes when the definition does, like Salesforce's.
	et.schemaID = base64.RawURLEncoding.EncodeToString(h.Sum(nil))[:22]
	return et
}

// labelOf derives a label from an API name: Order_Placed__e → Order Placed.
func labelOf(name string) string {
	name = strings.TrimSuffix(strings.TrimSuffix(name, "__e"), "__c")
	if i := strings.LastIndex(name, "__"); i >= 0 {
		name = name[i+2:]
	}
	return strings.ReplaceAll(name, "_", " ")
}

// apiError is an error in Salesforce's REST shape.
type apiError struct {
	status  int
	code    string
	message string
	fields  []string
}

func (e *apiError) Error() string { return e.code + ": " + e.message }

// rawField is one key of a published record with its raw JSON value and
// where the value starts in the request body (for error positions).
type rawField struct {
	name   string
	value  json.RawMessage
	offset int
}

// decodeRecord reads a JSON object into its fields, keeping each value's
// position in src. It fails with JSON_PARSER_ERROR as Salesforce does.
func decodeRecord(src []byte, typeName string) ([]rawField, *apiError) {
	if !json.Valid(src) {
		var v any
		err := json.Unmarshal(src, &v)
		return nil, parserError(src, err)
	}
	start := skipToValue(src, 0)
	if start >= len(src) || src[start] != '{' {
		return nil, deserializeError(typeName, src, start)
	}
	dec := json.NewDecoder(bytes.NewReader(src))
	dec.UseNumber()
	if _, err := dec.Token(); err != nil {
		return nil, parserError(src, err)
	}
	var out []rawField
	for dec.More() {
		keyTok, err := dec.Token()
		if err != nil {
			return nil, parserError(src, err)
		}
		key, _ := keyTok.(string)
		at := skipToValue(src, int(dec.InputOffset()))
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, parserError(src, err)
		}
		out = append(out, rawField{name: key, value: v, offset: at})
	}
	return out, nil
}

// skipToValue moves past whitespace and the colon that follow a key.
func skipToValue(src []byte, i int) int {
	for i < len(src) && (src[i] == ' ' || src[i] == '\t' || src[i] == '\n' || src[i] == '\r' || src[i] == ':') {
		i++
	}
	return i
}

// lineCol turns a byte offset into Jackson-style line and column numbers.
func lineCol(src []byte, offset int) (int, int) {
	if offset > len(src) {
		offset = len(src)
	}
	line, col := 1, 1
	for _, c := range src[:offset] {
		if c == '\n' {
			line++
			col = 1
		} else {
			col++
		}
	}
	return line, col
}

// parserError is Salesforce's answer to a body that is not JSON.
func parserError(src []byte, err error) *apiError {
	line, col := lineCol(src, len(src))
	msg := "Unexpected end-of-input"
	var se *json.SyntaxError
	if errors.As(err, &se) {
		line, col = lineCol(src, int(se.Offset))
		if se.Offset < int64(len(src)) || !strings.Contains(se.Error(), "end of JSON input") {
			msg = "Unexpected character (" + strings.TrimPrefix(se.Error(), "invalid character ") + ")"
		}
	}
	return &apiError{status: 400, code: "JSON_PARSER_ERROR", message: fmt.Sprintf("%s at [line:%d, column:%d]", msg, line, col)}
}

// deserializeError is Salesforce's answer to a value of the wrong JSON type.
func deserializeError(typ string, src []byte, offset int) *apiError {
	line, col := lineCol(src, offset)
	token, text := "VALUE_STRING", ""
	if offset >= 0 && offset < len(src) {
		rest := src[offset:]
		switch rest[0] {
		case '{':
			token, text = "START_OBJECT", "{"
		case '[':
			token, text = "START_ARRAY", "["
		case 't':
			token, text = "VALUE_TRUE", "true"
		case 'f':
			token, text = "VALUE_FALSE", "false"
		case '"':
			var s string
			dec := json.NewDecoder(bytes.NewReader(rest))
			if dec.Decode(&s) == nil {
				text = s
			}
		default:
			var n json.Number
			dec := json.NewDecoder(bytes.NewReader(rest))
			dec.UseNumber()
			if dec.Decode(&n) == nil {
				text = n.String()
			}
			token = "VALUE_NUMBER_INT"
			if strings.ContainsAny(text, ".eE") {
				token = "VALUE_NUMBER_FLOAT"
			}
		}
	}
	return &apiError{status: 400, code: "JSON_PARSER_ERROR", message: fmt.Sprintf(
		"Cannot deserialize instance of %s from %s value %s or request may be missing a required field at [line:%d, column:%d]",
		typ, token, text, line, col)}
}

// recordValues is a validated record: one value per defined field, in
// definition order (nil where absent).
type recordValues []any

// validateRecord checks a record as Salesforce would and returns its values.
// src is the record the offsets point into.
func (et *eventType) validateRecord(fields []rawField, src []byte) (recordValues, *apiError) {
	values := make(recordValues, len(et.fields))
	index := make(map[*fieldType]int, len(et.fields))
	for i, f := range et.fields {
		index[f] = i
	}
	for _, rf := range fields {
		lower := strings.ToLower(rf.name)
		if lower == "attributes" {
			continue
		}
		if sys, ok := systemFields[lower]; ok {
			return nil, &apiError{status: 400, code: "INVALID_FIELD_FOR_INSERT_UPDATE", fields: []string{sys}, message: fmt.Sprintf(
				"Unable to create/update fields: %s. Please check the security settings of this field and verify that it is read/write for your profile or permission set.", sys)}
		}
		ft, ok := et.byLower[lower]
		if !ok {
			return nil, &apiError{status: 400, code: "INVALID_FIELD", message: fmt.Sprintf("No such column '%s' on sobject of type %s", rf.name, et.name)}
		}
		v, err := convertValue(ft, rf, src)
		if err != nil {
			return nil, err
		}
		values[index[ft]] = v
	}
	var missing []string
	for i, f := range et.fields {
		if f.typ == typeBoolean && values[i] == nil {
			values[i] = false // a checkbox is never null
		}
		if f.required && values[i] == nil {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		return nil, &apiError{status: 400, code: "REQUIRED_FIELD_MISSING", fields: missing,
			message: fmt.Sprintf("Required fields are missing: [%s]", strings.Join(missing, ", "))}
	}
	return values, nil
}

// convertValue turns a raw JSON value into the field's Go value, coercing
// as Salesforce does (a numeric string into a number, a number into text).
func convertValue(ft *fieldType, rf rawField, src []byte) (any, *apiError) {
	raw := bytes.TrimSpace(rf.value)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	bad := func() *apiError { return deserializeError(ft.typ, src, rf.offset) }
	var str string
	isString := raw[0] == '"'
	if isString {
		if err := json.Unmarshal(raw, &str); err != nil {
			return nil, bad()
		}
	}
	isNumber := raw[0] == '-' || (raw[0] >= '0' && raw[0] <= '9')
	switch ft.typ {
	case typeString:
		switch {
		case isString:
		case isNumber, string(raw) == "true", string(raw) == "false":
			str = string(raw)
		default:
			return nil, bad()
		}
		if utf8.RuneCountInString(str) > ft.length {
			return nil, &apiError{status: 400, code: "STRING_TOO_LONG", fields: []string{ft.name},
				message: fmt.Sprintf("%s: data value too large: %s (max length=%d)", ft.label, truncate(str, 40), ft.length)}
		}
		return str, nil
	case typeDouble:
		text := string(raw)
		if isString {
			text = strings.TrimSpace(str)
		} else if !isNumber {
			return nil, bad()
		}
		f, err := strconv.ParseFloat(text, 64)
		if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			return nil, bad()
		}
		return f, nil
	case typeInt:
		text := string(raw)
		if isString {
			text = strings.TrimSpace(str)
		} else if !isNumber {
			return nil, bad()
		}
		n, err := strconv.ParseInt(text, 10, 32)
		if err != nil {
			return nil, bad()
		}
		return n, nil
	case typeBoolean:
		switch {
		case string(raw) == "true" || (isString && strings.EqualFold(str, "true")):
			return true, nil
		case string(raw) == "false" || (isString && strings.EqualFold(str, "false")):
			return false, nil
		}
		return nil, bad()
	case typeDate:
		if !isString {
			return nil, bad()
		}
		if t, err := time.Parse("2006-01-02", str); err == nil {
			return t.Format("2006-01-02"), nil
		}
		if t, ok := parseDatetime(str); ok {
			return t.UTC().Format("2006-01-02"), nil
		}
		return nil, bad()
	case typeDatetime:
		if !isString {
			return nil, bad()
		}
		if t, ok := parseDatetime(str); ok {
			return formatDatetime(t), nil
		}
		return nil, bad()
	}
	return nil, bad()
}

var datetimeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.000-0700",
	"2006-01-02T15:04:05-0700",
	"2006-01-02T15:04:05.000Z0700",
	"2006-01-02T15:04:05",
	"2006-01-02",
}

func parseDatetime(s string) (time.Time, bool) {
	for _, layout := range datetimeLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// formatDatetime renders a time the way Salesforce delivers it.
func formatDatetime(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000Z")
}

func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n]) + "..."
}

// appendPayload encodes the payload object subscribers receive.
func (et *eventType) appendPayload(buf []byte, values recordValues, created time.Time, createdBy string) []byte {
	buf = append(buf, `{"CreatedDate":"`...)
	buf = append(buf, formatDatetime(created)...)
	buf = append(buf, `","CreatedById":"`...)
	buf = append(buf, createdBy...)
	buf = append(buf, '"')
	for i, f := range et.fields {
		buf = append(buf, ',', '"')
		buf = append(buf, f.name...)
		buf = append(buf, '"', ':')
		buf = appendValue(buf, values[i])
	}
	return append(buf, '}')
}

func appendValue(buf []byte, v any) []byte {
	switch x := v.(type) {
	case nil:
		return append(buf, "null"...)
	case string:
		return appendJSONString(buf, x)
	case bool:
		return strconv.AppendBool(buf, x)
	case int64:
		return strconv.AppendInt(buf, x, 10)
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1e15 {
			return strconv.AppendFloat(buf, x, 'f', 1, 64)
		}
		return strconv.AppendFloat(buf, x, 'g', -1, 64)
	}
	b, _ := json.Marshal(v)
	return append(buf, b...)
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string, escaping as encoding/json
// does without HTML escaping.
func appendJSONString(buf []byte, s string) []byte {
	buf = append(buf, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			buf = append(buf, s[start:i]...)
			switch c {
			case '"', '\\':
				buf = append(buf, '\\', c)
			case '\n':
				buf = append(buf, '\\', 'n')
			case '\r':
				buf = append(buf, '\\', 'r')
			case '\t':
				buf = append(buf, '\\', 't')
			default:
				buf = append(buf, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			buf = append(buf, s[start:i]...)
			buf = append(buf, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			buf = append(buf, s[start:i]...)
			buf = append(buf, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	buf = append(buf, s[start:]...)
	return append(buf, '"')
}
