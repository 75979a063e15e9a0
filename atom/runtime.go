package atom

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"sort"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/atomrt/atom/operations"
	"github.com/atomrt/atom/persistence"
	"github.com/atomrt/atom/processes"
)

// Options configure a Runtime.
type Options struct {
	Registry *operations.Registry
	Store    *persistence.Store
	Log      zerolog.Logger
	// Webhooks is where webhook listeners serve; nil makes a new router,
	// available from Runtime.Webhooks.
	Webhooks *Webhooks
	// DrainTimeout bounds how long Stop and a redeploy wait for runs in
	// flight before cancelling them (default 30s).
	DrainTimeout time.Duration
}

// Runtime runs one deployment at a time.
type Runtime struct {
	reg      *operations.Registry
	store    *persistence.Store
	log      zerolog.Logger
	webhooks *Webhooks
	drain    time.Duration

	ctx        context.Context // the runtime's life
	workCtx    context.Context // process runs; outlives ctx by the drain
	cancelWork context.CancelFunc

	mu  sync.Mutex // serialises deploys and stop
	dep *deployment

	metrics *metrics
}

// New returns a runtime that runs nothing until Start or Deploy.
func New(opts Options) (*Runtime, error) {
	if opts.Registry == nil || opts.Store == nil {
		return nil, errors.New("atom: a registry and a store are required")
	}
	if opts.Webhooks == nil {
		opts.Webhooks = NewWebhooks()
	}
	if opts.DrainTimeout <= 0 {
		opts.DrainTimeout = 30 * time.Second
	}
	rt := &Runtime{
		reg: opts.Registry, store: opts.Store, log: opts.Log,
		webhooks: opts.Webhooks, drain: opts.DrainTimeout,
	}
	rt.metrics = newMetrics(rt)
	return rt, nil
}

// Webhooks returns the router webhook listeners serve on; the web server
// mounts it.
func (rt *Runtime) Webhooks() *Webhooks { return rt.webhooks }

// Registry returns the connectors the runtime knows.
func (rt *Runtime) Registry() *operations.Registry { return rt.reg }

// Start begins the runtime's life: listeners of this and later deployments
// run until ctx ends or Stop is called. If the store holds an active
// deployment and nothing is deployed yet, Start runs it.
func (rt *Runtime) Start(ctx context.Context) error {
	rt.mu.Lock()
	rt.ctx = ctx
	rt.workCtx, rt.cancelWork = context.WithCancel(context.WithoutCancel(ctx))
	rt.mu.Unlock()
	d, ok, err := rt.store.Active()
	if err != nil || !ok {
		return err
	}
	set, err := processes.Load(rt.reg, filesOf(d.Files))
	if err != nil {
		return fmt.Errorf("start deployment v%d: %w", d.Version, err)
	}
	return rt.activate(set, func() (int, error) { return d.Version, nil })
}

// Stop stops every listener, waits up to the drain timeout for runs in
// flight, commits what finished and flushes the store. The store stays
// open; its owner closes it.
func (rt *Runtime) Stop(ctx context.Context) error {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if rt.dep != nil {
		rt.dep.stop(ctx, rt.drain, rt.cancelWork)
		rt.dep.close()
		rt.dep = nil
	}
	if rt.cancelWork != nil {
		rt.cancelWork()
	}
	return rt.store.Flush()
}

// Validate loads files and reports every problem without deploying.
func (rt *Runtime) Validate(files []processes.File) (*processes.Set, error) {
	return processes.Load(rt.reg, files)
}

// EnsureDeployed deploys files unless exactly they already run, in which
// case nothing changes: an atom restarted with the same --processes keeps
// its version and does not restart its listeners.
func (rt *Runtime) EnsureDeployed(files []processes.File, who, note string) (persistence.Deployment, error) {
	if cur, err := rt.current(); err == nil && maps.EqualFunc(cur.set.Files, filesMap(files), bytes.Equal) {
		d, err := rt.store.Deployment(cur.version)
		d.Active = err == nil
		return d, err
	}
	return rt.Deploy(files, who, note)
}

// Deploy validates files, builds the deployment, saves it as a new version
// and switches to it. If anything fails before the switch, the running
// deployment is untouched.
func (rt *Runtime) Deploy(files []processes.File, who, note string) (persistence.Deployment, error) {
	set, err := processes.Load(rt.reg, files)
	if err != nil {
		return persistence.Deployment{}, err
	}
	var d persistence.Deployment
	err = rt.activate(set, func() (int, error) {
		d, err = rt.store.SaveDeployment(filesMap(files), who, note)
		if err != nil {
			return 0, fmt.Errorf("save deployment: %w", err)
		}
		return d.Version, nil
	})
	d.Active = err == nil
	return d, err
}

// Rollback switches to an earlier saved version.
func (rt *Runtime) Rollback(version int) (persistence.Deployment, error) {
	d, err := rt.store.Deployment(version)
	if err != nil {
		return persistence.Deployment{}, err
	}
	set, err := processes.Load(rt.reg, filesOf(d.Files))
	if err != nil {
		return persistence.Deployment{}, fmt.Errorf("load deployment v%d: %w", version, err)
	}
	err = rt.activate(set, func() (int, error) { return version, nil })
	d.Active = err == nil
	return d, err
}

// Undeploy stops everything and leaves nothing deployed.
func (rt *Runtime) Undeploy(ctx context.Context) error {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if rt.dep != nil {
		rt.dep.stop(ctx, rt.drain, nil)
		rt.dep.close()
		rt.dep = nil
	}
	if err := rt.store.Flush(); err != nil {
		return err
	}
	return rt.store.Deactivate()
}

// activate builds set, saves it (version says under which number), and
// swaps it in for the running deployment: the old listeners drain and
// commit before the new ones start from the committed positions. Nothing
// is saved or stopped when the build fails.
func (rt *Runtime) activate(set *processes.Set, version func() (int, error)) error {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if rt.ctx == nil {
		return errors.New("atom: runtime not started")
	}
	next, err := rt.build(set)
	if err != nil {
		return err
	}
	v, err := version()
	if err != nil {
		next.close()
		return err
	}
	next.version = v
	if old := rt.dep; old != nil {
		ctx, cancel := context.WithTimeout(context.Background(), rt.drain)
		old.stop(ctx, rt.drain, nil)
		cancel()
		next.inherit(old)
		old.close()
	}
	if err := rt.store.Flush(); err != nil {
		next.close()
		return fmt.Errorf("flush positions before switching: %w", err)
	}
	if err := next.loadPositions(rt); err != nil {
		next.close()
		return err
	}
	if err := rt.store.Activate(v); err != nil {
		next.close()
		return fmt.Errorf("activate deployment v%d: %w", v, err)
	}
	rt.dep = next
	next.start(rt.ctx)
	rt.log.Info().Int("version", v).Int("listeners", len(next.listeners)).
		Int("processes", len(set.Processes)).Msg("deployment active")
	return nil
}

func (rt *Runtime) current() (*deployment, error) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if rt.dep == nil {
		return nil, ErrNoDeployment
	}
	return rt.dep, nil
}

func filesMap(files []processes.File) map[string][]byte {
	m := make(map[string][]byte, len(files))
	for _, f := range files {
		m[f.Name] = f.Data
	}
	return m
}

func filesOf(m map[string][]byte) []processes.File {
	files := make([]processes.File, 0, len(m))
	for name, data := range m {
		files = append(files, processes.File{Name: name, Data: data})
	}
	sort.Slice(files, func(i, j int) bool { return files[i].Name < files[j].Name })
	return files
}
