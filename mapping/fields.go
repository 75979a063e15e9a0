package mapping

import (
	"fmt"
	"strconv"
	"strings"
)

// segment kinds of a target path.
const (
	segKey    = iota // .name or ["name"]
	segIndex         // [3]
	segAppend        // []: a new element at the end
	segLast          // [-1]: the last element
)

type segment struct {
	kind  int
	key   string
	index int
}

// maxIndex bounds [N] in a target, so that a typo cannot make a run
// allocate a huge array.
const maxIndex = 1 << 16

// parseTarget reads a field map target: "." (the whole output),
// "customer.name", "items[0].sku", "tags[]", "items[-1].qty",
// `attributes["odd.key"]`. A leading "." is allowed ("." + path, as in jq).
func parseTarget(s string) ([]segment, error) {
	if s == "." {
		return nil, nil
	}
	if strings.TrimSpace(s) == "" {
		return nil, fmt.Errorf("%w: empty target (use \".\" for the whole output)", ErrTarget)
	}
	p := strings.TrimPrefix(s, ".")
	var segs []segment
	for i := 0; i < len(p); {
		if p[i] == '[' {
			seg, n, err := parseBracket(p[i:])
			if err != nil {
				return nil, fmt.Errorf("%w: %q: %w", ErrTarget, s, err)
			}
			segs = append(segs, seg)
			i += n
			continue
		}
		// A name comes first, or after a dot.
		if len(segs) > 0 {
			if p[i] != '.' {
				return nil, fmt.Errorf("%w: %q: want \".\" or \"[\" at column %d", ErrTarget, s, i+1+len(s)-len(p))
			}
			i++
		}
		j := i
		for j < len(p) && p[j] != '.' && p[j] != '[' && p[j] != ']' {
			j++
		}
		key := p[i:j]
		if key == "" || strings.TrimSpace(key) != key {
			return nil, fmt.Errorf("%w: %q has an empty or space-padded name at column %d (quote odd names: a[\"my key\"])", ErrTarget, s, i+1+len(s)-len(p))
		}
		segs = append(segs, segment{kind: segKey, key: key})
		i = j
	}
	return segs, nil
}

// parseBracket reads "[3]", "[]", "[-1]" or `["key"]` at the start of s
// and says how many bytes it took.
func parseBracket(s string) (segment, int, error) {
	end := strings.IndexByte(s, ']')
	if end < 0 {
		return segment{}, 0, fmt.Errorf("unclosed [")
	}
	inner := s[1:end]
	switch {
	case inner == "":
		return segment{kind: segAppend}, end + 1, nil
	case inner == "-1":
		return segment{kind: segLast}, end + 1, nil
	case inner[0] == '"' || inner[0] == '\'':
		// A quoted key may hold ']'; find its closing quote first.
		q := inner[0]
		close := strings.IndexByte(s[2:], q)
		if close < 0 || 2+close+1 >= len(s) || s[2+close+1] != ']' {
			return segment{}, 0, fmt.Errorf("bad quoted key (want [\"key\"])")
		}
		raw := s[1 : 2+close+1]
		key := raw[1 : len(raw)-1]
		if q == '"' {
			k, err := strconv.Unquote(raw)
			if err != nil {
				return segment{}, 0, fmt.Errorf("bad quoted key %s", raw)
			}
			key = k
		}
		return segment{kind: segKey, key: key}, 2 + close + 2, nil
	}
	n, err := strconv.Atoi(inner)
	if err != nil || n < 0 {
		return segment{}, 0, fmt.Errorf("bad index [%s] (want [N], [] to append, [-1] for the last element, or [\"key\"])", inner)
	}
	if n > maxIndex {
		return segment{}, 0, fmt.Errorf("index [%d] is larger than %d", n, maxIndex)
	}
	return segment{kind: segIndex, index: n}, end + 1, nil
}

// samePlace says whether two segments may name the same place: keys when
// equal, any two array segments always (an append and [-1] may meet).
func samePlace(a, b segment) bool {
	if a.kind == segKey || b.kind == segKey {
		return a.kind == b.kind && a.key == b.key
	}
	return true
}

// isPrefix says whether a later target may write inside the value an
// earlier target set.
func isPrefix(short, long []segment) bool {
	if len(short) >= len(long) {
		return false
	}
	for i := range short {
		if !samePlace(short[i], long[i]) {
			return false
		}
	}
	return true
}

// exact says whether a path names one place every time (no [] or [-1]),
// so that writing it twice is a mistake.
func exact(segs []segment) bool {
	for _, s := range segs {
		if s.kind == segAppend || s.kind == segLast {
			return false
		}
	}
	return true
}

// set writes value at segs inside cur (creating objects and arrays as
// needed) and returns the new cur. Every container it walks through was
// made by this run, or cloned into it, so writing is safe.
func set(cur any, segs []segment, value any) (any, error) {
	if len(segs) == 0 {
		return value, nil
	}
	s := segs[0]
	if s.kind == segKey {
		m, ok := cur.(map[string]any)
		if cur == nil {
			m, ok = make(map[string]any), true
		}
		if !ok {
			return nil, fmt.Errorf("%w: cannot set %q in %s (want an object)", ErrTarget, s.key, typeName(cur))
		}
		v, err := set(m[s.key], segs[1:], value)
		if err != nil {
			return nil, err
		}
		m[s.key] = v
		return m, nil
	}
	a, ok := cur.([]any)
	if !ok && cur != nil {
		return nil, fmt.Errorf("%w: cannot index %s (want an array)", ErrTarget, typeName(cur))
	}
	i := s.index
	switch s.kind {
	case segAppend:
		i = len(a)
		a = append(a, nil)
	case segLast:
		if len(a) == 0 {
			return nil, fmt.Errorf("%w: [-1] of an empty array (append with [] first)", ErrTarget)
		}
		i = len(a) - 1
	default:
		for len(a) <= i {
			a = append(a, nil)
		}
	}
	v, err := set(a[i], segs[1:], value)
	if err != nil {
		return nil, err
	}
	a[i] = v
	return a, nil
}
