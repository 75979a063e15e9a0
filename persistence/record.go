package persistence

import (
	"slices"
	"strconv"
	"time"
	"unicode/utf8"
)

// appendRecord appends e as the JSON of an execRecord, the way
// encoding/json would write it (a test holds them equal), without its
// reflection: a record is written for every run, so this is on the hot
// path. Reads, which are rare, decode with encoding/json.
func appendRecord(b []byte, e Execution) []byte {
	b = append(b, `{"process":`...)
	b = appendString(b, e.Process)
	if e.Listener != "" {
		b = append(b, `,"listener":`...)
		b = appendString(b, e.Listener)
	}
	b = append(b, `,"status":`...)
	b = appendString(b, e.Status)
	b = append(b, `,"started":"`...)
	b = e.Started.AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","duration":`...)
	b = strconv.AppendInt(b, int64(e.Duration), 10)
	if len(e.Tracked) > 0 {
		b = append(b, `,"tracked":{`...)
		keys := make([]string, 0, len(e.Tracked))
		for k := range e.Tracked {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, k)
			b = append(b, ':')
			b = appendString(b, e.Tracked[k])
		}
		b = append(b, '}')
	}
	if e.Error != "" {
		b = append(b, `,"error":`...)
		b = appendString(b, e.Error)
	}
	return append(b, '}')
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string, escaped as encoding/json does
// (HTML characters included), with invalid UTF-8 replaced by U+FFFD.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
