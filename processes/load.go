package processes

// Component YAML
//
// A deployment is one or more YAML files, each holding one or more
// documents separated by "---". Every document is one component with a
// kind and a name; components refer to each other by name, in any order
// and across files. The shapes:
//
//	kind: Connection
//	name: crm
//	type: salesforce          # a registered connector
//	settings:                 # the connector's connection settings
//	  clientSecret: ${env:SF_CLIENT_SECRET}   # or ${file:secrets/sf.txt}
//	---
//	kind: Operation
//	name: order-events
//	connection: crm
//	action: listen            # or send
//	settings: {channel: /event/Order__e}      # the connector's listen or send settings
//	---
//	kind: Mapping
//	name: order-to-sms
//	jq: '{to: .Phone__c}'     # exactly one of jq, expr and fields
//	# expr: '{"to": body.Phone__c}'
//	# fields:                 # target path: expr expression, in order
//	#   customer.name: body.Name__c
//	#   items[0].sku: body.Sku__c
//	lookups: {region: {US: Americas}}         # tables for lookup()
//	---
//	kind: Process
//	name: orders
//	listen: order-events      # a listen operation; leave out for a sub-process
//	concurrency: 1            # events of the listener run at once (default 1)
//	track: [replayId, eventUuid]
//	steps:
//	  - map: order-to-sms                     # or map: {jq: '...'} inline
//	  - set: {priority: 'body.Amount__c > 1000 ? "high" : "low"'}
//	  - route:
//	      mode: first                         # or all
//	      cases:
//	        - when: 'props.priority == "high"'
//	          steps: [{call: vip}]
//	      otherwise: [{log: '"normal order"'}]
//	  - branch: [[{call: a}], [{send: b}]]    # each path in turn, on a copy
//	  - call: notify                          # or call: [a, b] fans out
//	  - send: sms-webhook                     # or send: {operation: x, response: true}
//	  - filter: 'body.Amount__c > 0'
//	  - log: '"got " + props.replayId'        # or log: {message: ..., level: warn}
//	  - try: [{send: crm-update}]
//	    catch: [{log: {message: 'props.error', level: error}}]
//	  - stop: {}                              # or stop: {fail: '"bad order"'}
//	  - reply: {}                             # or reply: mapping-name
//	    name: answer                          # an optional label on any step
//	---
//	kind: Test                # run by `atom test` and RunTests, never deployed
//	name: big-order-is-high
//	process: orders           # a process, or a sub-process
//	input: {body: {Amount__c: 2000}, props: {replayId: "7"}}
//	expect:                   # every part optional
//	  status: ok              # the default; or failed, filtered, stopped
//	  error: "no lines"       # text the run's error contains (implies failed)
//	  reply: {priority: high} # the reply body, exactly; null: no reply
//	  output: {to: "+33..."}  # the one output body; or outputs: [...]
//	  props: {priority: high} # properties every output has
//	  sent:                   # bodies handed to each send operation, in order
//	    sms-webhook: [{to: "+33..."}]
//
// Expressions (set, route's when, filter, log, stop's fail, field maps)
// are expr-lang expressions that see body and props. testdata/components
// holds a complete example.

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/atomrt/atom/operations"
)

// File is one YAML source: its name (the path shown in diagnostics; a
// ${file:PATH} reference is relative to its folder) and its content.
type File struct {
	Name string
	Data []byte
}

// Compiler compile-checks mappings and expressions while components load,
// so that a syntax error is reported at its position before anything runs.
type Compiler interface {
	// CompileMapping compiles a mapping. An error about one entry of a
	// field map should be a *FieldError, so that it is reported there.
	CompileMapping(m *Mapping) error
	// CompileExpr compiles an expression used by a step: a route
	// condition, a filter, a property, a log message or a failure message.
	CompileExpr(src string) error
}

// FieldError is a Compiler's error about one entry of a field map.
type FieldError struct {
	Target string // the entry's target path, as written
	Err    error
}

func (e *FieldError) Error() string { return fmt.Sprintf("field %q: %v", e.Target, e.Err) }

// Unwrap returns the underlying error.
func (e *FieldError) Unwrap() error { return e.Err }

// LoadOptions tune Load. The zero value is ready to use.
type LoadOptions struct {
	// Compiler compile-checks mappings and expressions; nil uses
	// DefaultCompiler.
	Compiler Compiler
	// LookupEnv resolves ${env:NAME}; nil uses os.LookupEnv.
	LookupEnv func(name string) (string, bool)
}

// Load parses and validates components from YAML files and returns them
// as a Set. When anything is wrong the error is Diagnostics, listing every
// problem found, each with its file:line:column.
func Load(reg *operations.Registry, files []File) (*Set, error) {
	return LoadWith(reg, files, LoadOptions{})
}

// LoadPath loads a YAML file, or every *.yaml and *.yml file below a
// folder (see ReadPath).
func LoadPath(reg *operations.Registry, path string) (*Set, error) {
	files, err := ReadPath(path)
	if err != nil {
		return nil, err
	}
	return Load(reg, files)
}

// LoadDir loads every *.yaml and *.yml file below a folder; it is LoadPath
// by another name, for call sites that read better with it.
func LoadDir(reg *operations.Registry, dir string) (*Set, error) { return LoadPath(reg, dir) }

// LoadWith is Load with options.
func LoadWith(reg *operations.Registry, files []File, opts LoadOptions) (*Set, error) {
	if reg == nil {
		reg = operations.NewRegistry()
	}
	if opts.Compiler == nil {
		opts.Compiler = DefaultCompiler
	}
	l := &loader{
		reg:   reg,
		opts:  opts,
		first: map[string]Pos{},
		calls: map[string][]callEdge{},
		set: &Set{
			Connections: map[string]*Connection{},
			Operations:  map[string]*Operation{},
			Mappings:    map[string]*Mapping{},
			Processes:   map[string]*Process{},
			Tests:       map[string]*Test{},
			Files:       map[string][]byte{},
		},
	}
	for _, f := range files {
		l.parseFile(f)
	}
	// Connections first: an operation's settings depend on its
	// connection's connector; processes refer to everything, and tests to
	// processes and operations.
	for _, kind := range kinds {
		for _, d := range l.docs {
			if d.kind == kind {
				l.component(d)
			}
		}
	}
	l.checkRefs()
	l.checkCycles()
	if len(l.diags) > 0 {
		return nil, l.diags.sorted()
	}
	l.set.secrets = l.spans
	return l.set, nil
}

// maxNodes bounds a document's size once its aliases are expanded, so that
// a few lines of nested aliases cannot make the loader do unbounded work.
const maxNodes = 100_000

// maxDepth bounds how deeply steps nest in route, branch and try.
const maxDepth = 64

type loader struct {
	reg   *operations.Registry
	opts  LoadOptions
	set   *Set
	diags Diagnostics
	spans map[string][]span
	docs  []*yamlDoc
	first map[string]Pos // "kind/name" -> where it was first defined
	refs  []nameRef
	calls map[string][]callEdge
}

// srcFile is a file being loaded.
type srcFile struct {
	name, dir string
	data      []byte
}

func (f *srcFile) pos(n *yaml.Node) Pos {
	if n == nil {
		return Pos{File: f.name}
	}
	return Pos{File: f.name, Line: n.Line, Col: n.Column}
}

// yamlDoc is one component document, its fields checked against its kind.
type yamlDoc struct {
	f    *srcFile
	kind string
	name string
	path string // "processes.orders"
	pos  Pos
	dup  bool // a second definition: checked, not kept
	yamlMap
}

// nameRef is a reference by name from a process, checked once all components
// are loaded.
type nameRef struct {
	kind   string // KindOperation, KindMapping or KindProcess
	name   string
	action string // for operations: the action the reference needs
	pos    Pos
	path   string
}

// callEdge is a call from one process to another, for cycle detection.
type callEdge struct {
	to   string
	pos  Pos
	path string
}

func (l *loader) report(p Pos, path, hint, msg string) {
	l.diags = append(l.diags, Diagnostic{Pos: p, Path: path, Msg: msg, Hint: hint})
}

func (l *loader) lookupEnv(name string) (string, bool) {
	if l.opts.LookupEnv != nil {
		return l.opts.LookupEnv(name)
	}
	return os.LookupEnv(name)
}

// Fields of each kind of component, with the docs the JSON Schema shows.
type fieldInfo struct{ name, doc string }

var (
	// kinds in the order they load: each may refer to those before it.
	kinds      = []string{KindConnection, KindOperation, KindMapping, KindProcess, KindTest}
	kindPlural = map[string]string{
		KindConnection: "connections", KindOperation: "operations",
		KindMapping: "mappings", KindProcess: "processes", KindTest: "tests",
	}
	commonFields = []fieldInfo{
		{"kind", "What the component is: Connection, Operation, Mapping, Process or Test."},
		{"name", "The component's name, unique among its kind; others refer to it by this name. Letters, digits, '-', '_' and '.'."},
	}
	kindFields = map[string][]fieldInfo{
		KindConnection: {
			{"type", "The connector, such as http or salesforce."},
			{"settings", "The connector's connection settings. ${env:NAME} and ${file:PATH} are replaced when the components load."},
		},
		KindOperation: {
			{"connection", "The connection this operation uses, by name."},
			{"action", "listen (a start for processes) or send (a target of send steps)."},
			{"settings", "The connector's listen or send settings. ${env:NAME} and ${file:PATH} are replaced when the components load."},
		},
		KindMapping: mappingFields,
		KindProcess: {
			{"listen", "The listen operation that starts this process. Leave it out for a sub-process, which runs only when called."},
			{"concurrency", "How many events of the listener this process runs at once; 1 (the default) runs them strictly in order."},
			{"track", "Document properties recorded with every execution, so that the history can be searched by them."},
			{"steps", "What the process does to each document, in order."},
		},
		KindTest: testFields,
	}
	mappingFields = []fieldInfo{
		{"jq", "A jq program; the input is the body, the properties are $props. It must produce exactly one value."},
		{"expr", "An expr expression that sees body and props; its value is the new body."},
		{"fields", "A field map: target path (customer.name, items[0].sku, items[].sku) to an expr expression, applied in order to build a new body."},
		{"lookups", "Lookup tables by name, for lookup(table, key) in the mapping."},
	}
	stepKinds = []fieldInfo{
		{StepMap, "Replace the body with a mapping: a Mapping's name, or an inline {jq|expr|fields}."},
		{StepSet, "Set document properties, each from an expr expression."},
		{StepRoute, "Send the document down the first case whose when is true (mode: first), or every such case (mode: all), or otherwise."},
		{StepBranch, "Run each list of steps in turn, each on a copy of the document."},
		{StepCall, "Run a sub-process by name; a list of names runs each on a copy."},
		{StepSend, "Send the document through a send operation."},
		{StepFilter, "An expr condition; when false the run ends here, quietly."},
		{StepLog, "Log a message: an expr expression, or {message, level}."},
		{StepStop, "End the run here; with fail, end it as failed (the document is dead-lettered)."},
		{StepTry, "Run these steps; if one fails, run catch with the error in props error and errorStep."},
		{StepReply, "Answer a request/reply caller with the document, or with a mapping of it."},
	}
)

func fieldNames(fs ...[]fieldInfo) []string {
	var out []string
	for _, f := range fs {
		for _, x := range f {
			out = append(out, x.name)
		}
	}
	return out
}

var (
	yamlLine      = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)
	unknownAnchor = regexp.MustCompile(`^yaml: unknown anchor '(.*)' referenced$`)
)

// aliasPos finds "*name" in a file, for the parser's error about an alias
// to no anchor, which has no position.
func aliasPos(f *srcFile, name string) Pos {
	for i, line := range strings.Split(string(f.data), "\n") {
		if c := strings.Index(line, "*"+name); c >= 0 {
			return Pos{File: f.name, Line: i + 1, Col: len([]rune(line[:c])) + 1}
		}
	}
	return Pos{File: f.name}
}

// parseFile splits a file into documents and checks each one's kind,
// name and fields. A YAML syntax error ends the file (the parser cannot go
// on past it) but not the load.
func (l *loader) parseFile(file File) {
	f := &srcFile{name: file.Name, dir: dirOf(file.Name), data: file.Data}
	l.set.Files[file.Name] = file.Data
	dec := yaml.NewDecoder(bytes.NewReader(file.Data))
	for i := 0; ; i++ {
		var root yaml.Node
		err := decodeYAML(dec, &root)
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			p, msg := Pos{File: f.name}, err.Error()
			if m := yamlLine.FindStringSubmatch(msg); m != nil {
				p.Line, _ = strconv.Atoi(m[1])
				msg = m[2]
			} else if m := unknownAnchor.FindStringSubmatch(msg); m != nil {
				p = aliasPos(f, m[1])
			}
			l.report(p, "", "", "invalid YAML: "+strings.TrimPrefix(msg, "yaml: "))
			return
		}
		l.document(f, &root)
	}
}

// decodeYAML runs the YAML parser, turning a panic inside it into an error:
// the parser is a dependency, and a deployment must never bring down the
// atom that validates it.
func decodeYAML(dec *yaml.Decoder, n *yaml.Node) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("yaml: %v", r)
		}
	}()
	return dec.Decode(n)
}

func dirOf(name string) string {
	i := strings.LastIndexAny(name, `/\`)
	if i < 0 {
		return "."
	}
	if i == 0 {
		return name[:1]
	}
	return name[:i]
}

var validName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// document reads one document's kind and name and checks its fields.
func (l *loader) document(f *srcFile, root *yaml.Node) {
	n := root
	if n.Kind == yaml.DocumentNode {
		if len(n.Content) == 0 {
			return
		}
		n = n.Content[0]
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		return // an empty document, "---" followed by comments
	}
	if msg := checkSize(n); msg != "" {
		l.report(f.pos(n), "", "", msg)
		return
	}
	n = deref(n)
	if n.Kind != yaml.MappingNode {
		l.report(f.pos(n), "", "start it with kind: and name:", "a component is a mapping with kind and name, got "+describeNode(n))
		return
	}
	kindNode, nameNode := mappingValue(n, "kind"), mappingValue(n, "name")
	if kindNode == nil {
		l.report(f.pos(n), "", "add kind: "+orList(kinds), "document has no kind")
		return
	}
	kind, ok := l.text(f, kindNode, "", "a kind")
	if !ok {
		return
	}
	if _, known := kindFields[kind]; !known {
		hint := didYouMean(kind, kinds)
		if hint == "" {
			hint = "want " + orList(kinds)
		}
		l.report(f.pos(kindNode), "", hint, fmt.Sprintf("unknown kind %q", kind))
		return
	}
	d := &yamlDoc{f: f, kind: kind, path: kindPlural[kind], pos: f.pos(n)}
	if nameNode == nil {
		l.report(f.pos(n), d.path, "add name: and a name unique among "+d.path, fmt.Sprintf("%s has no name", kind))
	} else if name, ok := l.text(f, nameNode, d.path, "a name"); ok {
		d.name, d.path = name, d.path+"."+name
		if !validName.MatchString(name) {
			l.report(f.pos(nameNode), d.path, "use letters, digits, '-', '_' and '.', starting with a letter or digit", fmt.Sprintf("invalid name %q", name))
		}
		key := kind + "/" + name
		if first, seen := l.first[key]; seen {
			d.dup = true
			l.report(f.pos(nameNode), d.path, "rename one of them, or remove one",
				fmt.Sprintf("%s %q defined twice: first at %s", strings.ToLower(kind), name, first))
		} else {
			l.first[key] = d.pos
		}
	}
	d.yamlMap, _ = l.object(f, d.path, n, fieldNames(commonFields, kindFields[kind]), "field")
	l.docs = append(l.docs, d)
}

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

// component builds one component and adds it to the set.
func (l *loader) component(d *yamlDoc) {
	if d.yamlMap.n == nil {
		return
	}
	switch d.kind {
	case KindConnection:
		c := l.connection(d)
		if !d.dup && d.name != "" {
			l.set.Connections[d.name] = c
		}
	case KindOperation:
		o := l.operation(d)
		if !d.dup && d.name != "" {
			l.set.Operations[d.name] = o
		}
	case KindMapping:
		m := l.mapping(d.f, d.path, d.yamlMap, d.name, d.pos)
		if !d.dup && d.name != "" {
			l.set.Mappings[d.name] = m
		}
	case KindProcess:
		p := l.process(d)
		if !d.dup && d.name != "" {
			l.set.Processes[d.name] = p
		}
	case KindTest:
		t := l.test(d)
		if !d.dup && d.name != "" {
			l.set.Tests[d.name] = t
		}
	}
}

func (l *loader) connection(d *yamlDoc) *Connection {
	c := &Connection{Name: d.name, Pos: d.pos}
	tn := d.get("type")
	if tn == nil {
		l.report(d.pos, d.path, "add type: and a connector: "+strings.Join(l.reg.Names(), ", "), "connection has no type")
		return c
	}
	typ, ok := l.text(d.f, tn, d.path+".type", "a connector type")
	if !ok {
		return c
	}
	c.Type = typ
	conn, ok := l.reg.Get(typ)
	if !ok {
		hint := "registered: " + strings.Join(l.reg.Names(), ", ")
		if dym := didYouMean(typ, l.reg.Names()); dym != "" {
			hint = dym + " " + hint
		}
		l.report(d.f.pos(tn), d.path+".type", hint, fmt.Sprintf("unknown connector type %q", typ))
		return c
	}
	c.Settings = l.settings(d.f, d.path+".settings", d.vals["settings"], conn.Connection, d.pos, d.meant["settings"])
	return c
}

func (l *loader) operation(d *yamlDoc) *Operation {
	o := &Operation{Name: d.name, Pos: d.pos}
	actionNode := d.get("action")
	if actionNode == nil {
		l.report(d.pos, d.path, "add action: listen or action: send", "operation has no action")
	} else if a, ok := l.text(d.f, actionNode, d.path+".action", "listen or send"); ok {
		if a != Listen && a != Send {
			hint := didYouMean(a, []string{Listen, Send})
			if hint == "" {
				hint = "want listen or send"
			}
			l.report(d.f.pos(actionNode), d.path+".action", hint, fmt.Sprintf("unknown action %q", a))
		} else {
			o.Action = a
		}
	}
	cn := d.get("connection")
	if cn == nil {
		l.report(d.pos, d.path, "add connection: and the name of a connection", "operation has no connection")
		return o
	}
	name, ok := l.text(d.f, cn, d.path+".connection", "the name of a connection")
	if !ok {
		return o
	}
	o.Connection = name
	conn, ok := l.set.Connections[name]
	if !ok {
		l.report(d.f.pos(cn), d.path+".connection", refHint(name, l.set.Connections), fmt.Sprintf("unknown connection %q", name))
		return o
	}
	connector, ok := l.reg.Get(conn.Type)
	if !ok || o.Action == "" {
		return o // reported with the connection or the action
	}
	spec := connector.Listen
	if o.Action == Send {
		spec = connector.Send
	}
	if spec == nil {
		can := "it has no operations"
		switch {
		case connector.Listen != nil:
			can = "it can only listen"
		case connector.Send != nil:
			can = "it can only send"
		}
		l.report(d.f.pos(actionNode), d.path+".action", can,
			fmt.Sprintf("connection %q is of type %q, which cannot %s", name, connector.Name, o.Action))
		return o
	}
	o.Settings = l.settings(d.f, d.path+".settings", d.vals["settings"], *spec, d.pos, d.meant["settings"])
	return o
}

// refHint suggests a name among those defined, or lists them when few.
func refHint[T any](name string, defined map[string]T) string {
	all := make([]string, 0, len(defined))
	for n := range defined {
		all = append(all, n)
	}
	sort.Strings(all)
	if h := didYouMean(name, all); h != "" {
		return h
	}
	switch {
	case len(all) == 0:
		return "none is defined"
	case len(all) <= 8:
		return "defined: " + strings.Join(all, ", ")
	}
	return ""
}

// mapping builds a Mapping component, or an inline mapping of a step.
func (l *loader) mapping(f *srcFile, path string, o yamlMap, name string, pos Pos) *Mapping {
	m := &Mapping{Name: name, Pos: pos}
	before := len(l.diags)
	var given []string
	for _, k := range []string{"jq", "expr", "fields"} {
		if o.has(k) {
			given = append(given, k)
		}
	}
	switch len(given) {
	case 0:
		l.report(pos, path, "give exactly one of jq, expr and fields", "mapping has none of jq, expr and fields")
	case 1:
	default:
		l.report(f.pos(o.keys[given[1]]), path, "keep one of them", "mapping has "+strings.Join(given, " and ")+"; it needs exactly one")
	}
	if o.has("jq") {
		m.JQ, _ = l.text(f, o.vals["jq"], path+".jq", "a jq program")
	}
	if o.has("expr") {
		m.Expr, _ = l.text(f, o.vals["expr"], path+".expr", "an expr expression")
	}
	if o.has("fields") {
		fo, ok := l.object(f, path+".fields", o.vals["fields"], nil, "target")
		switch {
		case !ok:
			l.report(f.pos(o.vals["fields"]), path+".fields", "write target.path: expression, one a line",
				"want a mapping of target paths to expressions, got "+describeNode(o.vals["fields"]))
		case len(fo.list) == 0:
			l.report(f.pos(o.vals["fields"]), path+".fields", "write target.path: expression, one a line", "fields is empty")
		}
		for _, target := range fo.list {
			src, _ := l.text(f, fo.vals[target], path+".fields."+target, "an expr expression")
			m.Fields = append(m.Fields, FieldMap{Target: target, Expr: src, Pos: f.pos(fo.keys[target])})
		}
	}
	if o.has("lookups") {
		m.Lookups = l.lookups(f, path+".lookups", o.vals["lookups"])
	}
	if len(l.diags) == before {
		l.compileMapping(f, path, m, o)
	}
	return m
}

// lookups reads lookup tables: name -> key -> any JSON-like value.
func (l *loader) lookups(f *srcFile, path string, n *yaml.Node) map[string]map[string]any {
	const hint = "write lookups: {table: {key: value}}"
	tables, ok := l.object(f, path, n, nil, "table")
	if !ok {
		l.report(f.pos(n), path, hint, "want a mapping of lookup tables, got "+describeNode(n))
		return nil
	}
	out := map[string]map[string]any{}
	for _, name := range tables.list {
		entries, ok := l.object(f, path+"."+name, tables.vals[name], nil, "key")
		if !ok {
			l.report(f.pos(tables.vals[name]), path+"."+name, hint, "want a mapping of keys to values, got "+describeNode(tables.vals[name]))
			continue
		}
		t := make(map[string]any, len(entries.list))
		for _, k := range entries.list {
			t[k] = nodeValue(entries.vals[k])
		}
		out[name] = t
	}
	return out
}

// nodeValue turns a node into the JSON-like values documents hold: numbers
// are float64, mappings map[string]any.
func nodeValue(n *yaml.Node) any {
	n = deref(n)
	switch n.Kind {
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			m[deref(n.Content[i]).Value] = nodeValue(n.Content[i+1])
		}
		return m
	case yaml.SequenceNode:
		s := make([]any, len(n.Content))
		for i, c := range n.Content {
			s[i] = nodeValue(c)
		}
		return s
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!null":
			return nil
		case "!!bool":
			b, _ := strconv.ParseBool(n.Value)
			return b
		case "!!int", "!!float":
			var f float64
			if n.Decode(&f) == nil {
				return f
			}
		}
		return n.Value
	}
	return nil
}

func (l *loader) process(d *yamlDoc) *Process {
	p := &Process{Name: d.name, Pos: d.pos, Concurrency: 1}
	f := d.f
	if n := d.vals["listen"]; n != nil {
		if name, ok := l.text(f, n, d.path+".listen", "the name of a listen operation"); ok {
			p.Listen = name
			l.refs = append(l.refs, nameRef{kind: KindOperation, name: name, action: Listen, pos: f.pos(deref(n)), path: d.path + ".listen"})
		}
	}
	if n := d.get("concurrency"); n != nil {
		c, err := strconv.Atoi(n.Value)
		switch {
		case n.Kind != yaml.ScalarNode || isNull(n):
			l.report(f.pos(n), d.path+".concurrency", "1 runs events strictly in order", "want a whole number, got "+describeNode(n))
		case err != nil:
			l.report(f.pos(n), d.path+".concurrency", "1 runs events strictly in order", fmt.Sprintf("want a whole number, got %q", n.Value))
		case c < 1:
			l.report(f.pos(n), d.path+".concurrency", "1 runs events strictly in order", fmt.Sprintf("concurrency must be at least 1, got %d", c))
		default:
			p.Concurrency = c
		}
	}
	if n := d.get("track"); n != nil {
		p.Track = l.strings(f, d.path+".track", n, "property names")
	}
	if !d.has("steps") {
		l.report(d.pos, d.path, "add steps: and a list of steps", "process has no steps")
		return p
	}
	sc := stepCtx{f: f, proc: d.name, record: !d.dup && d.name != ""}
	p.Steps = l.steps(sc, d.path+".steps", d.vals["steps"], 0)
	if sn := deref(d.vals["steps"]); isNull(sn) || sn.Kind == yaml.SequenceNode && len(sn.Content) == 0 {
		l.report(f.pos(d.vals["steps"]), d.path+".steps", "add at least one step", "process has no steps")
	}
	return p
}

// strings reads a list of non-empty texts.
func (l *loader) strings(f *srcFile, path string, n *yaml.Node, want string) []string {
	n = deref(n)
	if n.Kind != yaml.SequenceNode {
		l.report(f.pos(n), path, "write [a, b]", fmt.Sprintf("want a list of %s, got %s", want, describeNode(n)))
		return nil
	}
	out := make([]string, 0, len(n.Content))
	for i, c := range n.Content {
		if s, ok := l.text(f, c, fmt.Sprintf("%s[%d]", path, i), "a name"); ok {
			out = append(out, s)
		}
	}
	return out
}

// stepCtx is what step decoding needs to know about its process.
type stepCtx struct {
	f      *srcFile
	proc   string
	record bool // record call edges (false for a second definition)
}

func (l *loader) steps(sc stepCtx, path string, n *yaml.Node, depth int) []Step {
	n = deref(n)
	if n == nil || n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		l.report(sc.f.pos(n), path, "write a list: - map: ..., - send: ...", "want a list of steps, got "+describeNode(n))
		return nil
	}
	if depth > maxDepth {
		l.report(sc.f.pos(n), path, "move some of them into a sub-process", fmt.Sprintf("steps nested more than %d deep", maxDepth))
		return nil
	}
	out := make([]Step, 0, len(n.Content))
	for i, c := range n.Content {
		if s, ok := l.step(sc, fmt.Sprintf("%s[%d]", path, i), c, depth); ok {
			out = append(out, s)
		}
	}
	return out
}

var stepNames = fieldNames(stepKinds)

// step decodes one step: a mapping with exactly one step kind, an
// optional name, and catch after a try.
func (l *loader) step(sc stepCtx, path string, n *yaml.Node, depth int) (Step, bool) {
	f := sc.f
	n = deref(n)
	s := Step{Pos: f.pos(n)}
	if n.Kind != yaml.MappingNode {
		hint := "write - " + StepCall + ": notify, - " + StepSend + ": target, ..."
		if n.Kind == yaml.ScalarNode && hasString(stepNames, n.Value) {
			hint = fmt.Sprintf("write %s: and what it works on", n.Value)
		}
		l.report(f.pos(n), path, hint, "a step is a mapping such as {call: notify}, got "+describeNode(n))
		return s, false
	}
	o, _ := l.object(f, path, n, nil, "field")
	var kinds []string
	for _, k := range o.list {
		if hasString(stepNames, k) {
			kinds = append(kinds, k)
		}
	}
	unknown := false
	for _, k := range o.list {
		if hasString(stepNames, k) || k == "name" || k == "catch" {
			continue
		}
		unknown = true
		what, cands := "step", append(append([]string(nil), stepNames...), "name")
		if len(kinds) > 0 {
			what, cands = "field", []string{"name"}
			if kinds[0] == StepTry {
				cands = append(cands, "catch")
			}
		}
		hint := didYouMean(k, cands)
		if hint == "" {
			hint = "want " + orList(cands)
		}
		l.report(f.pos(o.keys[k]), path, hint, fmt.Sprintf("unknown %s %q", what, k))
	}
	switch {
	case len(kinds) == 0:
		if !unknown {
			l.report(f.pos(n), path, "want one of "+orList(stepNames), "step has no kind")
		}
		return s, false
	case len(kinds) > 1:
		l.report(f.pos(o.keys[kinds[1]]), path, "split them into separate steps", fmt.Sprintf("step has both %q and %q", kinds[0], kinds[1]))
	}
	s.Kind = kinds[0]
	if o.has("name") {
		s.Name, _ = l.text(f, o.vals["name"], path+".name", "a label")
	}
	if o.has("catch") && s.Kind != StepTry {
		l.report(f.pos(o.keys["catch"]), path, "put the steps that may fail under try:, and these under catch:", "catch without try")
	}
	l.stepBody(sc, &s, path+"."+s.Kind, o, depth)
	return s, true
}

// stepBody decodes what a step kind works on.
func (l *loader) stepBody(sc stepCtx, s *Step, path string, o yamlMap, depth int) {
	f := sc.f
	raw := o.vals[s.Kind]
	v := deref(raw)
	null := v.Kind == yaml.ScalarNode && v.ShortTag() == "!!null"
	switch s.Kind {
	case StepMap:
		s.Map = l.mappingRef(sc, path, v, false)
	case StepReply:
		s.Reply = l.mappingRef(sc, path, v, true)
	case StepSet:
		const hint = `write set: {name: expression}, such as set: {priority: '"high"'}`
		props, ok := l.object(f, path, v, nil, "property")
		switch {
		case !ok:
			l.report(f.pos(v), path, hint, "want properties to set, got "+describeNode(v))
			return
		case len(props.list) == 0:
			l.report(f.pos(v), path, hint, "set has no properties")
			return
		}
		for _, p := range props.list {
			src := l.expr(f, props.vals[p], path+"."+p, "an expr expression")
			s.Set = append(s.Set, Assign{Prop: p, Expr: src, Pos: f.pos(props.keys[p])})
		}
	case StepRoute:
		s.Route = l.route(sc, path, v, depth)
	case StepBranch:
		const hint = "write branch: [[steps of path 1], [steps of path 2]]"
		switch {
		case v.Kind != yaml.SequenceNode:
			l.report(f.pos(v), path, hint, "want a list of paths, got "+describeNode(v))
			return
		case len(v.Content) == 0:
			l.report(f.pos(v), path, hint, "branch has no paths")
			return
		}
		for i, c := range v.Content {
			p := fmt.Sprintf("%s[%d]", path, i)
			if c = deref(c); c.Kind != yaml.SequenceNode {
				l.report(f.pos(c), p, "each path is a list of steps", "want a list of steps, got "+describeNode(c))
				continue
			}
			s.Branch = append(s.Branch, l.steps(sc, p, c, depth+1))
		}
	case StepCall:
		var targets []*yaml.Node
		switch {
		case v.Kind == yaml.SequenceNode:
			targets = v.Content
		case !null:
			targets = []*yaml.Node{v}
		}
		if len(targets) == 0 {
			l.report(f.pos(v), path, "write call: name, or call: [a, b] to fan out", "call names no process")
		}
		for i, t := range targets {
			p := path
			if v.Kind == yaml.SequenceNode {
				p = fmt.Sprintf("%s[%d]", path, i)
			}
			name, ok := l.text(f, t, p, "the name of a process")
			if !ok {
				continue
			}
			s.Call = append(s.Call, name)
			pos := f.pos(deref(t))
			l.refs = append(l.refs, nameRef{kind: KindProcess, name: name, pos: pos, path: p})
			if sc.record {
				l.calls[sc.proc] = append(l.calls[sc.proc], callEdge{to: name, pos: pos, path: p})
			}
		}
	case StepSend:
		s.Send = &SendStep{}
		opNode := v
		if v.Kind == yaml.MappingNode {
			so, _ := l.object(f, path, v, []string{"operation", "response"}, "field")
			opNode = so.get("operation")
			if opNode == nil {
				l.report(f.pos(v), path, "add operation: and the name of a send operation", "send has no operation")
			}
			if r := so.get("response"); r != nil {
				s.Send.Response = l.boolean(f, r, path+".response")
			}
		}
		if opNode != nil {
			if name, ok := l.text(f, opNode, path, "the name of a send operation"); ok {
				s.Send.Operation = name
				l.refs = append(l.refs, nameRef{kind: KindOperation, name: name, action: Send, pos: f.pos(opNode), path: path})
			}
		}
	case StepFilter:
		s.Filter = l.expr(f, raw, path, "a condition")
	case StepLog:
		s.Log = &LogStep{Level: "info"}
		switch {
		case null:
		case v.Kind == yaml.MappingNode:
			lo, _ := l.object(f, path, v, []string{"message", "level"}, "field")
			if lo.has("message") {
				s.Log.Message = l.expr(f, lo.vals["message"], path+".message", "an expr expression")
			}
			if lv := lo.get("level"); lv != nil {
				s.Log.Level = l.enum(f, lv, path+".level", []string{"debug", "info", "warn", "error"})
			}
		default:
			s.Log.Message = l.expr(f, raw, path, "an expr expression, or {message, level}")
		}
	case StepStop:
		s.Stop = &StopStep{}
		if null {
			return
		}
		if v.Kind != yaml.MappingNode {
			l.report(f.pos(v), path, `write stop: {}, or stop: {fail: '"why"'} to fail the run`, "want a mapping, got "+describeNode(v))
			return
		}
		so, _ := l.object(f, path, v, []string{"fail"}, "field")
		if so.has("fail") {
			s.Stop.Fail = l.expr(f, so.vals["fail"], path+".fail", "an expr expression giving the failure message")
		}
	case StepTry:
		s.Try = l.steps(sc, path, v, depth+1)
		if len(s.Try) == 0 && (v.Kind != yaml.SequenceNode || len(v.Content) == 0) {
			l.report(f.pos(v), path, "put the steps that may fail under try:", "try has no steps")
		}
		if o.has("catch") {
			s.Catch = l.steps(sc, strings.TrimSuffix(path, "."+StepTry)+".catch", o.vals["catch"], depth+1)
		}
	}
}

// mappingRef reads map: or reply:, a Mapping's name or an inline mapping;
// reply may also be empty.
func (l *loader) mappingRef(sc stepCtx, path string, v *yaml.Node, emptyOK bool) *MappingRef {
	f := sc.f
	switch {
	case emptyOK && v.Kind == yaml.ScalarNode && v.ShortTag() == "!!null":
		return &MappingRef{}
	case emptyOK && v.Kind == yaml.MappingNode && len(v.Content) == 0:
		return &MappingRef{}
	case v.Kind == yaml.MappingNode:
		mo, _ := l.object(f, path, v, fieldNames(mappingFields), "field")
		name := strings.TrimPrefix(path, kindPlural[KindProcess]+".")
		return &MappingRef{Inline: l.mapping(f, path, mo, name, f.pos(v))}
	}
	name, ok := l.text(f, v, path, "the name of a mapping, or an inline mapping {jq: ...}")
	if !ok {
		return &MappingRef{}
	}
	l.refs = append(l.refs, nameRef{kind: KindMapping, name: name, pos: f.pos(v), path: path})
	return &MappingRef{Name: name}
}

func (l *loader) route(sc stepCtx, path string, v *yaml.Node, depth int) *Route {
	f := sc.f
	r := &Route{Mode: RouteFirst}
	ro, ok := l.object(f, path, v, []string{"mode", "cases", "otherwise"}, "field")
	if !ok {
		l.report(f.pos(v), path, "write route: {cases: [{when: condition, steps: [...]}], otherwise: [...]}", "want a mapping, got "+describeNode(v))
		return r
	}
	if m := ro.get("mode"); m != nil {
		r.Mode = l.enum(f, m, path+".mode", []string{RouteFirst, RouteAll})
	}
	cases := ro.get("cases")
	if cases == nil || cases.Kind != yaml.SequenceNode || len(cases.Content) == 0 {
		at := f.pos(v)
		if cases != nil {
			at = f.pos(cases)
		}
		l.report(at, path, "add cases: [{when: condition, steps: [...]}]", "route has no cases")
	} else {
		for i, c := range cases.Content {
			p := fmt.Sprintf("%s.cases[%d]", path, i)
			co, ok := l.object(f, p, c, []string{"when", "steps"}, "field")
			if !ok {
				l.report(f.pos(c), p, "write {when: condition, steps: [...]}", "want a case, got "+describeNode(c))
				continue
			}
			rc := RouteCase{Pos: f.pos(deref(c))}
			if !co.has("when") {
				l.report(rc.Pos, p, "add when: and an expr condition", "case has no when")
			} else {
				rc.When = l.expr(f, co.vals["when"], p+".when", "a condition")
			}
			rc.Steps = l.steps(sc, p+".steps", co.vals["steps"], depth+1)
			r.Cases = append(r.Cases, rc)
		}
	}
	if ro.has("otherwise") {
		r.Otherwise = l.steps(sc, path+".otherwise", ro.vals["otherwise"], depth+1)
	}
	return r
}

// expr reads an expression and compile-checks it.
func (l *loader) expr(f *srcFile, n *yaml.Node, path, want string) string {
	src, ok := l.text(f, n, path, want)
	if !ok || l.opts.Compiler == nil {
		return src
	}
	if err := l.opts.Compiler.CompileExpr(src); err != nil {
		l.report(f.pos(deref(n)), path, "", "invalid expression: "+err.Error())
	}
	return src
}

// enum reads one of a few words.
func (l *loader) enum(f *srcFile, n *yaml.Node, path string, allowed []string) string {
	s, ok := l.text(f, n, path, orList(allowed))
	if !ok {
		return allowed[0]
	}
	if !hasString(allowed, s) {
		hint := didYouMean(s, allowed)
		if hint == "" {
			hint = "want " + orList(allowed)
		}
		l.report(f.pos(deref(n)), path, hint, fmt.Sprintf("unknown value %q", s))
		return allowed[0]
	}
	return s
}

func (l *loader) boolean(f *srcFile, n *yaml.Node, path string) bool {
	n = deref(n)
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!bool" {
		b, _ := strconv.ParseBool(n.Value)
		return b
	}
	l.report(f.pos(n), path, "", "want true or false, got "+describeNode(n))
	return false
}
