package web

import (
	"fmt"
	"strings"

	"github.com/atomrt/atom/processes"
)

// graph is a process's flow for the console to draw. Node IDs are step
// paths as traces name them ("steps[2].route.cases[0].steps[0]"), so a
// trace can be laid over the graph; a called sub-process's nodes are
// prefixed "call:NAME/". Edges run in the order documents flow: a step to
// the next, a route to each case's first step (labelled with its
// condition), the last step of a case to what follows the route, a call
// step to its sub-process, and a sub-process's last steps to its "end"
// node ("return"). A stop step has no edge onward.
type graph struct {
	Nodes []graphNode `json:"nodes"`
	Edges []graphEdge `json:"edges"`
}

// graphNode is one node: start, end, a step, or a called sub-process.
type graphNode struct {
	ID    string `json:"id"`
	Kind  string `json:"kind"` // start, end, subprocess or a step kind
	Label string `json:"label"`
	Pos   string `json:"pos,omitempty"` // file:line:col
}

// graphEdge is a way a document can go.
type graphEdge struct {
	From  string `json:"from"`
	To    string `json:"to"`
	Label string `json:"label,omitempty"`
}

// exit is a loose end of a block: a node whose documents go on to
// whatever comes next, by an edge with this label.
type exit struct{ from, label string }

type graphBuilder struct {
	set      *processes.Set
	g        graph
	expanded map[string]bool
}

func buildGraph(set *processes.Set, p *processes.Process) graph {
	b := &graphBuilder{set: set, g: graph{Nodes: []graphNode{}, Edges: []graphEdge{}}, expanded: map[string]bool{p.Name: true}}
	label := "called by another process"
	if p.Listen != "" {
		label = "listen " + p.Listen
	}
	b.node("start", "start", label, p.Pos)
	ends := b.block(p.Steps, "steps", "", []exit{{from: "start"}})
	b.node("end", "end", "end", processes.Pos{})
	b.link(ends, "end")
	return b.g
}

func (b *graphBuilder) node(id, kind, label string, pos processes.Pos) {
	n := graphNode{ID: id, Kind: kind, Label: label}
	if pos.Line > 0 {
		n.Pos = pos.String()
	}
	b.g.Nodes = append(b.g.Nodes, n)
}

func (b *graphBuilder) link(from []exit, to string) {
	for _, e := range from {
		b.g.Edges = append(b.g.Edges, graphEdge{From: e.from, To: to, Label: e.label})
	}
}

// block adds steps in sequence, the first linked from in, and returns
// the loose ends after the last. ns prefixes IDs inside sub-processes.
func (b *graphBuilder) block(steps []processes.Step, prefix, ns string, in []exit) []exit {
	for i := range steps {
		s := &steps[i]
		path := fmt.Sprintf("%s[%d]", prefix, i)
		id := ns + path
		b.node(id, s.Kind, stepLabel(s), s.Pos)
		b.link(in, id)
		in = b.inner(s, path, ns)
	}
	return in
}

// inner adds what a step holds and returns where documents leave it.
func (b *graphBuilder) inner(s *processes.Step, path, ns string) []exit {
	id := ns + path
	switch s.Kind {
	case processes.StepRoute:
		if s.Route == nil {
			return []exit{{from: id}}
		}
		var out []exit
		for i, c := range s.Route.Cases {
			out = append(out, b.block(c.Steps, fmt.Sprintf("%s.route.cases[%d].steps", path, i), ns,
				[]exit{{from: id, label: "when " + c.When}})...)
		}
		otherwise := []exit{{from: id, label: "otherwise"}}
		if len(s.Route.Otherwise) == 0 {
			otherwise[0].label = "no match"
		}
		return append(out, b.block(s.Route.Otherwise, path+".route.otherwise", ns, otherwise)...)
	case processes.StepBranch:
		var out []exit
		for i, steps := range s.Branch {
			out = append(out, b.block(steps, fmt.Sprintf("%s.branch[%d]", path, i), ns,
				[]exit{{from: id, label: fmt.Sprintf("path %d", i+1)}})...)
		}
		return out
	case processes.StepTry:
		out := b.block(s.Try, path+".try", ns, []exit{{from: id, label: "try"}})
		if len(s.Catch) > 0 {
			out = append(out, b.block(s.Catch, path+".catch", ns, []exit{{from: id, label: "on error"}})...)
		}
		return out
	case processes.StepCall:
		for _, name := range s.Call {
			b.subprocess(id, name)
		}
		return []exit{{from: id}}
	case processes.StepFilter:
		return []exit{{from: id, label: "if true"}}
	case processes.StepStop:
		return nil
	}
	return []exit{{from: id}}
}

// subprocess links a call step to the called process, drawn once however
// often it is called (and never inside itself).
func (b *graphBuilder) subprocess(from, name string) {
	id := "call:" + name
	b.g.Edges = append(b.g.Edges, graphEdge{From: from, To: id, Label: "call"})
	if b.expanded[name] {
		return
	}
	b.expanded[name] = true
	sub := b.set.Processes[name]
	if sub == nil {
		b.node(id, "subprocess", name+" (missing)", processes.Pos{})
		return
	}
	b.node(id, "subprocess", name, sub.Pos)
	ends := b.block(sub.Steps, "steps", id+"/", []exit{{from: id}})
	b.node(id+"/end", "end", "return", processes.Pos{})
	b.link(ends, id+"/end")
}

// stepLabel is what a node shows: the step's name, or what it does.
func stepLabel(s *processes.Step) string {
	if s.Name != "" {
		return s.Name
	}
	switch s.Kind {
	case processes.StepMap:
		return "map " + refLabel(s.Map)
	case processes.StepReply:
		if s.Reply == nil || s.Reply.Name == "" && s.Reply.Inline == nil {
			return "reply"
		}
		return "reply " + refLabel(s.Reply)
	case processes.StepSet:
		props := make([]string, len(s.Set))
		for i, a := range s.Set {
			props[i] = a.Prop
		}
		return "set " + strings.Join(props, ", ")
	case processes.StepRoute:
		if s.Route != nil && s.Route.Mode == processes.RouteAll {
			return "route (every match)"
		}
		return "route"
	case processes.StepBranch:
		return fmt.Sprintf("branch into %d paths", len(s.Branch))
	case processes.StepCall:
		return "call " + strings.Join(s.Call, ", ")
	case processes.StepSend:
		if s.Send != nil {
			return "send " + s.Send.Operation
		}
	case processes.StepFilter:
		return "filter " + s.Filter
	case processes.StepLog:
		if s.Log != nil && s.Log.Message != "" {
			return "log " + s.Log.Message
		}
		return "log the document"
	case processes.StepStop:
		if s.Stop != nil && s.Stop.Fail != "" {
			return "fail " + s.Stop.Fail
		}
		return "stop"
	case processes.StepTry:
		return "try"
	}
	return s.Kind
}

func refLabel(ref *processes.MappingRef) string {
	switch {
	case ref == nil:
		return ""
	case ref.Name != "":
		return ref.Name
	case ref.Inline != nil:
		return "(inline " + mappingKind(ref.Inline) + ")"
	}
	return ""
}
