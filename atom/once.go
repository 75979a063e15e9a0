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
		return nil, fmt.Errorf("%w %q", ErrUnknownProcess, process)
	}
	rt := &Runtime{reg: reg, log: zerolog.Nop(), webhooks: NewWebhooks()}
	d := &deployment{set: set, conns: map[string]operations.Connection{}, senders: map[string]operations.Sender{}}
	defer d.close()
	if err := rt.openConnections(d); err != nil {
		return nil, err
	}
	if err := rt.makeSenders(d); err != nil {
		return nil, err
	}
	exec, err := processes.Compile(set, processes.Deps{Senders: d.senders, Log: zerolog.Nop()})
	if err != nil {
		return nil, err
	}
	return exec.Run(ctx, process, doc, processes.RunOptions{DryRun: !live, Trace: true}), nil
}
