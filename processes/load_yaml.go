package processes

// Helpers over yaml.v3 nodes: sizes, kinds, mappings with positions.

import (
	"fmt"

	"gopkg.in/yaml.v3"
)

// checkSize reports a document whose aliases refer to themselves or
// expand past maxNodes, and "" for every other document.
func checkSize(n *yaml.Node) string {
	s := sizer{memo: map[*yaml.Node]int{}, active: map[*yaml.Node]bool{}}
	if s.size(n) > maxNodes {
		if s.cycle {
			return "an alias refers to the node that holds it"
		}
		return fmt.Sprintf("document too large: more than %d nodes, counting each use of an alias", maxNodes)
	}
	return ""
}

type sizer struct {
	memo   map[*yaml.Node]int
	active map[*yaml.Node]bool
	cycle  bool
}

func (s *sizer) size(n *yaml.Node) int {
	if v, ok := s.memo[n]; ok {
		return v
	}
	if s.active[n] {
		s.cycle = true
		return maxNodes + 1
	}
	s.active[n] = true
	total := 1
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		total += s.size(n.Alias)
	}
	for _, c := range n.Content {
		if total > maxNodes {
			break
		}
		total += s.size(c)
	}
	delete(s.active, n)
	total = min(total, maxNodes+1)
	s.memo[n] = total
	return total
}

// deref follows aliases; checkSize has ruled out cycles.
func deref(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

// mappingValue returns the value of key in mapping n, or nil.
func mappingValue(n *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := deref(n.Content[i]); k.Kind == yaml.ScalarNode && k.Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// describeNode names what a node is, for "want X, got Y", without its value
// (which may be a secret).
func describeNode(n *yaml.Node) string {
	n = deref(n)
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!null":
			return "nothing"
		case "!!int", "!!float":
			return "a number"
		case "!!bool":
			return "true or false"
		}
		return "text"
	}
	return "nothing"
}

// yamlMap is a YAML mapping whose keys were checked.
type yamlMap struct {
	n    *yaml.Node
	vals map[string]*yaml.Node
	keys map[string]*yaml.Node
	list []string // keys in the order written
	// meant holds what unknown keys were taken for ("setings" for
	// "settings"), so that a misspelt key is not also reported missing.
	meant map[string]bool
}

// get returns a field's value, nil when absent.
func (o yamlMap) get(k string) *yaml.Node { return deref(o.vals[k]) }

// has reports whether a field was written.
func (o yamlMap) has(k string) bool { _, ok := o.vals[k]; return ok }

// object reads a mapping, reporting keys given twice and, when allowed is
// not nil, keys not in it (as an unknown `what`, with a did-you-mean).
func (l *loader) object(f *srcFile, path string, n *yaml.Node, allowed []string, what string) (yamlMap, bool) {
	o := yamlMap{vals: map[string]*yaml.Node{}, keys: map[string]*yaml.Node{}, meant: map[string]bool{}}
	n = deref(n)
	if n == nil || n.Kind != yaml.MappingNode {
		return o, false
	}
	o.n = n
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := deref(n.Content[i])
		if k.Kind != yaml.ScalarNode {
			l.report(f.pos(k), path, "write a plain name before the colon", "a key must be text, got "+describeNode(k))
			continue
		}
		if first, dup := o.keys[k.Value]; dup {
			l.report(f.pos(k), path, fmt.Sprintf("first at line %d; remove one", first.Line), fmt.Sprintf("%s %q given twice", what, k.Value))
			continue
		}
		if allowed != nil && !hasString(allowed, k.Value) {
			hint := didYouMean(k.Value, allowed)
			switch {
			case hint != "":
				o.meant[suggest(k.Value, allowed)] = true
			case len(allowed) == 0:
				hint = "nothing is allowed here"
			default:
				hint = "want " + orList(allowed)
			}
			l.report(f.pos(k), path, hint, fmt.Sprintf("unknown %s %q", what, k.Value))
			continue
		}
		o.keys[k.Value] = k
		o.vals[k.Value] = n.Content[i+1]
		o.list = append(o.list, k.Value)
	}
	return o, true
}

func hasString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// text reads a scalar that must not be empty; want says what it should be.
func (l *loader) text(f *srcFile, n *yaml.Node, path, want string) (string, bool) {
	n = deref(n)
	if n == nil {
		return "", false
	}
	if n.Kind != yaml.ScalarNode || n.ShortTag() == "!!null" || n.Value == "" {
		l.report(f.pos(n), path, "", fmt.Sprintf("want %s, got %s", want, describeNode(n)))
		return "", false
	}
	return n.Value, true
}
