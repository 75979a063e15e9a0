package web

import (
	"strings"

	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/parser"
	"github.com/itchyny/gojq"

	"github.com/atomrt/atom/processes"
)

// mappingView is a mapping as the console shows it: its source, and its
// target fields each with the source text it is computed from.
type mappingView struct {
	Name   string `json:"name"`
	Kind   string `json:"kind"` // jq, expr or fields
	Source string `json:"source"`
	Pos    string `json:"pos,omitempty"`
	// Pairs are exact for field maps; for jq and expr they are read off an
	// object built at the top level ({orderId: .id}) and are empty when
	// the program builds its result some other way.
	Pairs []pair `json:"pairs"`
}

// pair is one target field and the source text that computes it.
type pair struct {
	Target string `json:"target"`
	Source string `json:"source"`
}

// mappingsOf lists the mappings a process uses, in the order its steps
// (and the sub-processes it calls) use them, each once.
func mappingsOf(set *processes.Set, p *processes.Process) []mappingView {
	out := []mappingView{}
	seen := map[string]bool{}
	visited := map[string]bool{}
	var visit func(p *processes.Process)
	visit = func(p *processes.Process) {
		if p == nil || visited[p.Name] {
			return
		}
		visited[p.Name] = true
		walkSteps(p.Steps, func(s *processes.Step) {
			for _, ref := range []*processes.MappingRef{s.Map, s.Reply} {
				m := resolve(set, ref)
				if m == nil || seen[m.Name] {
					continue
				}
				seen[m.Name] = true
				out = append(out, viewMapping(m))
			}
			for _, c := range s.Call {
				visit(set.Processes[c])
			}
		})
	}
	visit(p)
	return out
}

func resolve(set *processes.Set, ref *processes.MappingRef) *processes.Mapping {
	switch {
	case ref == nil:
		return nil
	case ref.Inline != nil:
		return ref.Inline
	case ref.Name != "":
		return set.Mappings[ref.Name]
	}
	return nil
}

func mappingKind(m *processes.Mapping) string {
	switch {
	case m.JQ != "":
		return "jq"
	case m.Expr != "":
		return "expr"
	}
	return "fields"
}

func viewMapping(m *processes.Mapping) mappingView {
	v := mappingView{Name: m.Name, Kind: mappingKind(m), Pairs: []pair{}}
	if m.Pos.Line > 0 {
		v.Pos = m.Pos.String()
	}
	switch v.Kind {
	case "jq":
		v.Source = m.JQ
		v.Pairs = append(v.Pairs, jqPairs(m.JQ)...)
	case "expr":
		v.Source = m.Expr
		v.Pairs = append(v.Pairs, exprPairs(m.Expr)...)
	default:
		var b strings.Builder
		for _, f := range m.Fields {
			b.WriteString(f.Target + ": " + f.Expr + "\n")
			v.Pairs = append(v.Pairs, pair{Target: f.Target, Source: f.Expr})
		}
		v.Source = b.String()
	}
	return v
}

// jqPairs reads the keys of the object a jq program builds last
// ("... | {orderId: .id, customer: .customer.name}"), each with its
// value's source text. Other programs have no pairs.
func jqPairs(src string) []pair {
	q, err := gojq.Parse(src)
	if err != nil {
		return nil
	}
	obj := jqObject(q)
	if obj == nil {
		return nil
	}
	var out []pair
	for _, kv := range obj.KeyVals {
		key := kv.Key
		switch {
		case key != "":
		case kv.KeyString != nil && len(kv.KeyString.Queries) == 0:
			key = kv.KeyString.Str
		case kv.KeyString != nil:
			key = kv.KeyString.String()
		case kv.KeyQuery != nil:
			key = "(" + kv.KeyQuery.String() + ")"
		}
		var val string
		switch {
		case kv.Val != nil:
			val = kv.Val.String()
		case strings.HasPrefix(key, "$"): // {$x} is {x: $x}
			val, key = key, strings.TrimPrefix(key, "$")
		default: // {id} is {id: .id}
			val = "." + key
		}
		out = append(out, pair{Target: key, Source: val})
	}
	return out
}

// jqObject finds the object construction a program ends with, through
// pipes, variable bindings and parentheses.
func jqObject(q *gojq.Query) *gojq.Object {
	for q != nil {
		if q.Term == nil {
			if q.Op != gojq.OpPipe {
				return nil
			}
			q = q.Right
			continue
		}
		t := q.Term
		if len(t.SuffixList) > 0 {
			return nil
		}
		switch t.Type {
		case gojq.TermTypeObject:
			return t.Object
		case gojq.TermTypeQuery:
			q = t.Query
		default:
			return nil
		}
	}
	return nil
}

// exprPairs reads the pairs of the map literal an expr expression builds
// ({"orderId": body.Id}), through let bindings.
func exprPairs(src string) []pair {
	tree, err := parser.Parse(src)
	if err != nil {
		return nil
	}
	n := tree.Node
	for {
		switch t := n.(type) {
		case *ast.VariableDeclaratorNode:
			n = t.Expr
			continue
		case *ast.SequenceNode:
			if len(t.Nodes) == 0 {
				return nil
			}
			n = t.Nodes[len(t.Nodes)-1]
			continue
		case *ast.MapNode:
			var out []pair
			for _, pn := range t.Pairs {
				p, ok := pn.(*ast.PairNode)
				if !ok {
					continue
				}
				out = append(out, pair{Target: exprKey(p.Key), Source: p.Value.String()})
			}
			return out
		}
		return nil
	}
}

func exprKey(n ast.Node) string {
	switch k := n.(type) {
	case *ast.StringNode:
		return k.Value
	case *ast.IdentifierNode:
		return k.Value
	}
	return n.String()
}
