package httpconn

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/atomrt/atom/operations"
)

// A text with placeholders, as in URLs and header values:
//
//	{prop:NAME}   the document property NAME
//	{body:a.b.0}  the scalar at a dotted path in the document's JSON body
//	              (a number is an array index)
//
// Other braces are kept as they are. The syntax is not ${...}, which the
// component loader resolves (env, file) when it reads the YAML.
type textTemplate struct {
	parts []textPart
}

type textPart struct {
	lit   string   // literal text, when name and path are empty
	prop  string   // {prop:NAME}
	path  []string // {body:a.b}
	query bool     // the placeholder stands in a URL's query
}

// parseText splits s into literal text and placeholders. inURL marks the
// placeholders after the first "?" as query ones, for escaping.
func parseText(s string, inURL bool) (textTemplate, error) {
	var t textTemplate
	query := false
	for s != "" {
		i := nextPlaceholder(s)
		if i < 0 {
			t.parts = append(t.parts, textPart{lit: s})
			break
		}
		if i > 0 {
			t.parts = append(t.parts, textPart{lit: s[:i]})
			if inURL && strings.Contains(s[:i], "?") {
				query = true
			}
		}
		end := strings.IndexByte(s[i:], '}')
		if end < 0 {
			// Not quoted: the text may be a header value holding a secret.
			return t, fmt.Errorf("a {%s placeholder has no closing }", strings.SplitN(s[i+1:], ":", 2)[0]+":")
		}
		kind, arg, _ := strings.Cut(s[i+1:i+end], ":")
		if arg == "" {
			return t, fmt.Errorf("placeholder {%s:} names nothing (write {prop:NAME} or {body:field.path})", kind)
		}
		p := textPart{query: query}
		if kind == "prop" {
			p.prop = arg
		} else {
			p.path = strings.Split(arg, ".")
		}
		t.parts = append(t.parts, p)
		s = s[i+end+1:]
	}
	return t, nil
}

// nextPlaceholder returns where the next {prop: or {body: starts, or -1.
func nextPlaceholder(s string) int {
	off := 0
	for {
		i := strings.IndexByte(s[off:], '{')
		if i < 0 {
			return -1
		}
		rest := s[off+i:]
		if strings.HasPrefix(rest, "{prop:") || strings.HasPrefix(rest, "{body:") {
			return off + i
		}
		off += i + 1
	}
}

// literalPrefix is the text before the first placeholder.
func (t textTemplate) literalPrefix() string {
	if len(t.parts) > 0 && t.parts[0].prop == "" && t.parts[0].path == nil {
		return t.parts[0].lit
	}
	return ""
}

// expand fills the placeholders from doc; escape, if set, escapes each
// value for where it stands.
func (t textTemplate) expand(doc operations.Document, escape func(v string, query bool) string) (string, error) {
	if len(t.parts) == 1 && t.parts[0].prop == "" && t.parts[0].path == nil {
		return t.parts[0].lit, nil
	}
	var b strings.Builder
	for _, p := range t.parts {
		var v string
		switch {
		case p.prop != "":
			var ok bool
			if v, ok = doc.Props[p.prop]; !ok {
				return "", fmt.Errorf("placeholder {prop:%s}: the document has no property %q", p.prop, p.prop)
			}
		case p.path != nil:
			var err error
			if v, err = bodyField(doc.Body, p.path); err != nil {
				return "", fmt.Errorf("placeholder {body:%s}: %w", strings.Join(p.path, "."), err)
			}
		default:
			b.WriteString(p.lit)
			continue
		}
		if escape != nil {
			v = escape(v, p.query)
		}
		b.WriteString(v)
	}
	return b.String(), nil
}

// bodyField returns the scalar at path in a decoded JSON body, as text.
func bodyField(body any, path []string) (string, error) {
	v := body
	for i, key := range path {
		switch t := v.(type) {
		case map[string]any:
			x, ok := t[key]
			if !ok {
				return "", fmt.Errorf("the body has no field %q", strings.Join(path[:i+1], "."))
			}
			v = x
		case []any:
			n, err := strconv.Atoi(key)
			if err != nil || n < 0 || n >= len(t) {
				return "", fmt.Errorf("%q: no item %s in an array of %d", strings.Join(path[:i], "."), key, len(t))
			}
			v = t[n]
		default:
			return "", fmt.Errorf("%q is not an object or an array", strings.Join(path[:i], "."))
		}
	}
	switch t := v.(type) {
	case string:
		return t, nil
	case float64:
		return strconv.FormatFloat(t, 'f', -1, 64), nil
	case bool:
		return strconv.FormatBool(t), nil
	case int:
		return strconv.Itoa(t), nil
	case int64:
		return strconv.FormatInt(t, 10), nil
	case nil:
		return "", fmt.Errorf("the field is null")
	default:
		return "", fmt.Errorf("the field is an object or an array, not a string, number or bool")
	}
}
