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
