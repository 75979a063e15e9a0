package atom

import (
	"context"
	"fmt"

	"github.com/rs/zerolog"

	"github.com/atomrt/atom/operations"
	"github.com/atomrt/atom/processes"
)

// RunOnce loads files and runs one document through a process, with no
// store and no listener: what `atom test` does. Sends are dry runs unless
// live.
func RunOnce(ctx context.Context, reg *operations.Registry, files []processes.File, process string, doc operations.Document, live bool) (*processes.Result, error) {
	set, err := processes.Load(reg, files)
	if err != nil {
		return nil, err
	}
	if _, ok := set.Processes[process]; !ok {
		return nil, fmt.Errorf("%w %q (defined: %s)", ErrUnknownProcess, process, names(set.Processes))
	}
	d, err := buildOffline(reg, set)
	if err != nil {
		return nil, err
	}
	defer d.close()
	return d.exec.Run(ctx, process, doc, processes.RunOptions{DryRun: !live, Trace: true}), nil
}

// buildOffline builds set's connections, senders and executor with no
// store, no listener and no metrics, for runs outside an atom.
func buildOffline(reg *operations.Registry, set *processes.Set) (*deployment, error) {
	rt := &Runtime{reg: reg, log: zerolog.Nop(), webhooks: NewWebhooks()}
	return rt.buildSenders(set)
}
