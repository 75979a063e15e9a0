package processes

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// Credentials by reference. In any setting's text, ${env:NAME} is replaced
// by the environment variable NAME (${env:NAME:-fallback} uses fallback when
// NAME is unset or empty, as a shell does) and ${file:PATH} by the content of the
// file PATH (relative to the folder of the YAML file, one trailing newline
// removed), when the components are loaded. "$${" writes a literal "${".
// A reference that cannot be resolved is a Diagnostic at its setting.
//
// A Secret setting may also be written as a literal value. It is kept as an
// operations.SecretValue, which never prints, and RedactedFiles shows the
// YAML with such literal values replaced by "[redacted]".

// maxSecretFile bounds what ${file:PATH} reads, so that a reference to a
// device or a huge file cannot exhaust memory.
const maxSecretFile = 1 << 20

// redactedText replaces a literal secret in YAML shown to people.
const redactedText = "[redacted]"

// expand resolves the references in a setting's scalar. literal reports
// whether the text has anything besides references and blanks, that is
// whether a secret was written in the YAML itself. A secret's value never
// appears in a diagnostic, not even a piece of it.
func (l *loader) expand(f *srcFile, n *yaml.Node, path string, secret bool) (value string, literal, ok bool) {
	s := n.Value
	var b strings.Builder
	ok = true
	for s != "" {
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(s)
			literal = literal || strings.TrimSpace(s) != ""
			break
		}
		if i > 0 && s[i-1] == '$' { // "$${" is a literal "${"
			b.WriteString(s[:i-1])
			b.WriteString("${")
			literal = true
			s = s[i+2:]
			continue
		}
		b.WriteString(s[:i])
		literal = literal || strings.TrimSpace(s[:i]) != ""
		end := strings.IndexByte(s[i:], '}')
		if end < 0 {
			l.report(f.pos(n), path, `write ${env:NAME} or ${file:PATH}, or $${ for a literal "${"`, "unterminated reference: a ${ without its }")
			return "", literal, false
		}
		v, good := l.resolve(f, n, path, s[i+2:i+end], secret)
		ok = ok && good
		b.WriteString(v)
		s = s[i+end+1:]
	}
	return b.String(), literal, ok
}

// resolve reads one reference, "env:NAME" or "file:PATH".
func (l *loader) resolve(f *srcFile, n *yaml.Node, path, ref string, secret bool) (string, bool) {
	scheme, arg, _ := strings.Cut(ref, ":")
	switch scheme {
	case "env":
		if arg == "" {
			l.report(f.pos(n), path, "write ${env:NAME}", "reference ${env:} names no variable")
			return "", false
		}
		arg, fallback, hasFallback := strings.Cut(arg, ":-")
		v, set := l.lookupEnv(arg)
		if (!set || v == "") && hasFallback {
			return fallback, true
		}
		if !set {
			l.report(f.pos(n), path, "set it in the atom's environment, or put the value in a file and use ${file:PATH}",
				fmt.Sprintf("environment variable %s is not set", arg))
			return "", false
		}
		return v, true
	case "file":
		if arg == "" {
			l.report(f.pos(n), path, "write ${file:PATH}, relative to this YAML file's folder", "reference ${file:} names no file")
			return "", false
		}
		p := arg
		if !filepath.IsAbs(p) {
			p = filepath.Join(f.dir, p)
		}
		v, err := readSecretFile(p)
		if err != nil {
			l.report(f.pos(n), path, "the path is relative to this YAML file's folder", fmt.Sprintf("cannot read ${file:%s}: %v", arg, err))
			return "", false
		}
		return v, true
	}
	msg := fmt.Sprintf("unknown reference ${%s}", ref)
	if secret {
		msg = "unknown reference" // the text might be a piece of the secret
	}
	l.report(f.pos(n), path, `want ${env:NAME} or ${file:PATH}; write $${ for a literal "${"`, msg)
	return "", false
}

func readSecretFile(path string) (string, error) {
	// A FIFO or a device could block or never end: only regular files
	// (or links to them, as Kubernetes mounts secrets) are read.
	info, err := os.Stat(path)
	if err != nil {
		return "", err
	}
	if !info.Mode().IsRegular() {
		return "", fmt.Errorf("%s is not a regular file", path)
	}
	fh, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer fh.Close()
	data, err := io.ReadAll(io.LimitReader(fh, maxSecretFile+1))
	if err != nil {
		return "", err
	}
	if len(data) > maxSecretFile {
		return "", fmt.Errorf("larger than %d bytes", maxSecretFile)
	}
	s := strings.TrimSuffix(string(data), "\n")
	return strings.TrimSuffix(s, "\r"), nil
}

// span is where a literal secret was written in a YAML file: bytes
// [start, end), and how it was written.
type span struct {
	start, end int
	style      byte // '"', '\'', '|' (block scalar) or 0 (plain)
}

// noteSecret records where the literal secret in n was written, for
// RedactedFiles. When the scalar cannot be found in the source (it should
// always be found), the rest of its line is redacted rather than risk
// showing it.
func (l *loader) noteSecret(f *srcFile, n *yaml.Node) {
	sp, ok := scalarSpan(f.data, n)
	if !ok {
		start := lineColOffset(f.data, n.Line, n.Column)
		if start < 0 {
			return
		}
		end := start
		for end < len(f.data) && f.data[end] != '\n' {
			end++
		}
		sp = span{start: start, end: end}
	}
	if l.spans == nil {
		l.spans = map[string][]span{}
	}
	for _, s := range l.spans[f.name] {
		if s.start == sp.start { // one anchored scalar used twice
			return
		}
	}
	l.spans[f.name] = append(l.spans[f.name], sp)
}

// RedactedFiles returns the YAML sources of the set with every secret
// written literally in them replaced by "[redacted]", keeping every other
// byte and every line where it was, so that positions in diagnostics still
// point at the right place. References such as ${env:NAME} are shown as
// they are: they are not secrets. Use it wherever YAML is shown.
func (s *Set) RedactedFiles() map[string][]byte {
	out := make(map[string][]byte, len(s.Files))
	for name, data := range s.Files {
		out[name] = redactSpans(data, s.secrets[name])
	}
	return out
}

// redactSpans applies spans to a copy of data.
func redactSpans(data []byte, spans []span) []byte {
	spans = append([]span(nil), spans...)
	sort.Slice(spans, func(i, j int) bool { return spans[i].start > spans[j].start })
	out := append([]byte(nil), data...)
	for _, sp := range spans {
		if sp.start < 0 || sp.end > len(out) || sp.start > sp.end {
			continue
		}
		repl := replacement(out[sp.start:sp.end], sp.style)
		out = append(out[:sp.start], append(repl, out[sp.end:]...)...)
	}
	return out
}

// replacement is what stands for a redacted scalar: "[redacted]" quoted as
// the original was, followed by as many line breaks as the original had,
// so that the lines after it keep their numbers.
func replacement(orig []byte, style byte) []byte {
	lines := strings.Split(string(orig), "\n")
	var b strings.Builder
	switch style {
	case '"', '\'':
		b.WriteByte(style)
		b.WriteString(redactedText)
		if len(lines) == 1 {
			b.WriteByte(style)
			return []byte(b.String())
		}
		b.WriteString(strings.Repeat("\n", len(lines)-1))
		last := lines[len(lines)-1]
		b.WriteString(last[:len(last)-len(strings.TrimLeft(last, " \t"))])
		b.WriteByte(style)
		return []byte(b.String())
	case '|':
		// Block scalar content: any text is literal here.
		b.WriteString(redactedText)
	default:
		// A plain "[redacted]" would read as a list: quote it.
		b.WriteString(`"` + redactedText + `"`)
	}
	b.WriteString(strings.Repeat("\n", len(lines)-1))
	return []byte(b.String())
}

// scalarSpan finds the source text of scalar n: from its first character
// (after any tag or anchor) to its last, quotes included.
func scalarSpan(src []byte, n *yaml.Node) (span, bool) {
	off := lineColOffset(src, n.Line, n.Column)
	if off < 0 {
		return span{}, false
	}
	// Skip a tag (!!str) or an anchor (&a) written before the value.
	for off < len(src) && (src[off] == '!' || src[off] == '&') {
		for off < len(src) && !isSpace(src[off]) {
			off++
		}
		for off < len(src) && isSpace(src[off]) {
			off++
		}
	}
	if off >= len(src) {
		return span{}, false
	}
	switch c := src[off]; c {
	case '"':
		for j := off + 1; j < len(src); j++ {
			switch src[j] {
			case '\\':
				j++
			case '"':
				return span{start: off, end: j + 1, style: '"'}, true
			}
		}
		return span{}, false
	case '\'':
		for j := off + 1; j < len(src); j++ {
			if src[j] == '\'' {
				if j+1 < len(src) && src[j+1] == '\'' {
					j++
					continue
				}
				return span{start: off, end: j + 1, style: '\''}, true
			}
		}
		return span{}, false
	case '|', '>':
		nl := off
		for nl < len(src) && src[nl] != '\n' {
			nl++
		}
		start, end, ok := countSpan(src, nl, n.Value)
		return span{start: start, end: end, style: '|'}, ok
	default:
		start, end, ok := countSpan(src, off, n.Value)
		return span{start: start, end: end}, ok
	}
}

// countSpan finds, from off, the text holding the non-blank characters of
// value in order. Plain and block scalars have no escapes, so their
// non-blank characters are exactly those of the source; only blanks,
// line breaks and indentation differ.
func countSpan(src []byte, off int, value string) (start, end int, ok bool) {
	want := 0
	for _, r := range value {
		if !unicode.IsSpace(r) {
			want++
		}
	}
	if want == 0 {
		return 0, 0, false
	}
	start = -1
	for i := off; i < len(src); {
		r, size := utf8.DecodeRune(src[i:])
		if !unicode.IsSpace(r) {
			if start < 0 {
				start = i
			}
			want--
			if want == 0 {
				return start, i + size, true
			}
		}
		i += size
	}
	return 0, 0, false
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// lineColOffset turns a YAML position (line and column from 1, the column
// counted in characters) into a byte offset, or -1.
func lineColOffset(src []byte, line, col int) int {
	if line < 1 || col < 1 {
		return -1
	}
	off := 0
	for l := 1; l < line; l++ {
		i := bytes.IndexByte(src[off:], '\n')
		if i < 0 {
			return -1
		}
		off += i + 1
	}
	for c := 1; c < col; c++ {
		if off >= len(src) || src[off] == '\n' {
			return -1
		}
		_, size := utf8.DecodeRune(src[off:])
		off += size
	}
	return off
}
