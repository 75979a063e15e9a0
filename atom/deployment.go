package atom

import (
	"context"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/atomrt/atom/operations"
	"github.com/atomrt/atom/processes"
)

// deployment is one built Set: open connections, its executor and its
// listeners.
type deployment struct {
	version   int
	set       *processes.Set
	exec      *processes.Executor
	conns     map[string]operations.Connection
	senders   map[string]operations.Sender
	listeners map[string]*listener // by name
	order     []string             // listener names, sorted
	closers   []io.Closer          // listeners' own resources (webhook routes)

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// build opens every connection and makes every listener and sender of set,
// without I/O; on any error it closes what it opened.
func (rt *Runtime) build(set *processes.Set) (*deployment, error) {
	d, err := rt.buildSenders(set)
	if err != nil {
		return nil, err
	}
	if err := rt.makeListeners(d); err != nil {
		d.close()
		return nil, err
	}
	return d, nil
}

// buildSenders opens the connections of set, makes its senders and
// compiles its executor: everything but listeners, which is all a test run
// needs. On any error it closes what it opened.
func (rt *Runtime) buildSenders(set *processes.Set) (_ *deployment, err error) {
	d := &deployment{
		set: set, conns: map[string]operations.Connection{},
		senders: map[string]operations.Sender{}, listeners: map[string]*listener{},
	}
	defer func() {
		if err != nil {
			d.close()
		}
	}()
	if err := rt.openConnections(d); err != nil {
		return nil, err
	}
	if err := rt.makeSenders(d); err != nil {
		return nil, err
	}
	d.exec, err = processes.Compile(set, processes.Deps{Senders: d.senders, Log: rt.log})
	if err != nil {
		return nil, err
	}
	return d, nil
}

func (rt *Runtime) openConnections(d *deployment) error {
	for name, c := range d.set.Connections {
		conn, ok := rt.reg.Get(c.Type)
		if !ok {
			return fmt.Errorf("%s: connection %q: unknown connector %q", c.Pos, name, c.Type)
		}
		env := operations.Env{
			Log:      rt.log.With().Str("connection", name).Logger(),
			Webhooks: rt.webhooks,
		}
		if rt.store != nil { // a typed nil would not compare equal to nil
			env.Inbox = rt.store
		}
		if rt.metrics != nil {
			env.Meter = connMeter{m: rt.metrics, conn: name}
		}
		opened, err := conn.Open(name, c.Settings, env)
		if err != nil {
			return fmt.Errorf("%s: connection %q: %w", c.Pos, name, err)
		}
		d.conns[name] = opened
	}
	return nil
}

func (rt *Runtime) makeSenders(d *deployment) error {
	for name, op := range d.set.Operations {
		if op.Action != processes.Send {
			continue
		}
		s, err := d.conns[op.Connection].Sender(name, op.Settings)
		if err != nil {
			return fmt.Errorf("%s: operation %q: %w", op.Pos, name, err)
		}
		if rt.metrics != nil {
			s = rt.metrics.timed(name, s)
		}
		d.senders[name] = s
	}
	return nil
}

// makeListeners makes one listener per (connection, key) and subscribes
// every process that listens there to it.
func (rt *Runtime) makeListeners(d *deployment) error {
	byOp := map[string]*listener{}
	for _, p := range sortedProcesses(d.set) {
		if p.Listen == "" {
			continue
		}
		l, ok := byOp[p.Listen]
		if !ok {
			var err error
			if l, err = rt.listenerFor(d, p.Listen); err != nil {
				return err
			}
			byOp[p.Listen] = l
		}
		l.processes = append(l.processes, p.Name)
		l.track[p.Name] = rt.trackList(d, p)
		if c := max(p.Concurrency, 1); c < l.concurrency || len(l.processes) == 1 {
			// Several processes on one listener: the strictest order wins.
			l.concurrency = c
		}
	}
	return nil
}

// trackList is what a process records and indexes with each execution:
// its own track list, else the properties its connector says identify an
// event.
func (rt *Runtime) trackList(d *deployment, p *processes.Process) []string {
	if len(p.Track) > 0 {
		return p.Track
	}
	op := d.set.Operations[p.Listen]
	if c, ok := rt.reg.Get(d.set.Connections[op.Connection].Type); ok && c.Listen != nil {
		return c.Listen.Tracked
	}
	return nil
}

// listenerFor returns the listener an operation subscribes to, making it
// when it is the first operation on its key. Two operations on one key
// must agree on their settings, since only one subscription runs.
func (rt *Runtime) listenerFor(d *deployment, opName string) (*listener, error) {
	op := d.set.Operations[opName]
	src, err := d.conns[op.Connection].Listener(opName, op.Settings)
	if err != nil {
		return nil, fmt.Errorf("%s: operation %q: %w", op.Pos, opName, err)
	}
	name := op.Connection + ":" + src.Key()
	if l, ok := d.listeners[name]; ok {
		closeQuietly(src)
		if first := d.set.Operations[l.op]; !reflect.DeepEqual(first.Settings, op.Settings) {
			return nil, fmt.Errorf("%s: operation %q listens on %s like operation %q (%s) but with other settings; one subscription serves both, so give them the same settings or use one operation",
				op.Pos, opName, name, l.op, first.Pos)
		}
		return l, nil
	}
	if c, ok := src.(io.Closer); ok {
		d.closers = append(d.closers, c)
	}
	l := &listener{
		name: name, conn: op.Connection, op: opName, src: src, rt: rt, dep: d,
		track:    map[string][]string{},
		counters: map[string]int64{},
		state:    operations.Starting,
		log:      rt.log.With().Str("listener", name).Str("connection", op.Connection).Logger(),
	}
	d.listeners[name] = l
	d.order = append(d.order, name)
	return l, nil
}

// inherit carries what an operator set on the old deployment's listeners
// (paused) and their counts over to the listeners of the same name.
func (d *deployment) inherit(old *deployment) {
	for name, l := range d.listeners {
		o, ok := old.listeners[name]
		if !ok {
			continue
		}
		if o.isPaused() {
			l.pause()
		}
		l.received.Store(o.received.Load())
		l.processed.Store(o.processed.Load())
		l.failed.Store(o.failed.Load())
		l.deadLettered.Store(o.deadLettered.Load())
		o.mu.Lock()
		for k, v := range o.counters {
			l.counters[k] = v
		}
		o.mu.Unlock()
	}
}

// loadPositions reads every listener's committed position. It runs after
// the deployment being replaced has stopped and committed, never before.
func (d *deployment) loadPositions(rt *Runtime) error {
	for name, l := range d.listeners {
		props, err := rt.store.Properties(name)
		if err != nil {
			return fmt.Errorf("read position of listener %s: %w", name, err)
		}
		pos := props[PositionKey]
		l.committed.Store(&pos)
	}
	return nil
}

func (d *deployment) start(ctx context.Context) {
	ctx, d.cancel = context.WithCancel(ctx)
	for _, name := range d.order {
		l := d.listeners[name]
		d.wg.Add(1)
		go func() {
			defer d.wg.Done()
			l.run(ctx)
		}()
	}
}

// stop stops every listener's source and waits for the runs in flight to
// finish and commit, up to ctx; past that, cancelWork (if given) cancels
// the runs themselves.
func (d *deployment) stop(ctx context.Context, drain time.Duration, cancelWork context.CancelFunc) {
	if d.cancel == nil {
		return
	}
	d.cancel()
	done := make(chan struct{})
	go func() { d.wg.Wait(); close(done) }()
	timer := time.NewTimer(drain)
	defer timer.Stop()
	select {
	case <-done:
		return
	case <-ctx.Done():
	case <-timer.C:
	}
	if cancelWork != nil {
		cancelWork()
	}
	<-done
}

// close releases connections and listener resources.
func (d *deployment) close() {
	for _, c := range d.closers {
		closeQuietly(c)
	}
	for _, c := range d.conns {
		_ = c.Close()
	}
}

func closeQuietly(v any) {
	if c, ok := v.(io.Closer); ok {
		_ = c.Close()
	}
}

func sortedProcesses(set *processes.Set) []*processes.Process {
	ps := make([]*processes.Process, 0, len(set.Processes))
	for _, p := range set.Processes {
		ps = append(ps, p)
	}
	slices.SortFunc(ps, func(a, b *processes.Process) int { return strings.Compare(a.Name, b.Name) })
	return ps
}
