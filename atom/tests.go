package atom

import (
	"context"

	"github.com/atomrt/atom/operations"
	"github.com/atomrt/atom/processes"
)

// RunTests loads files and runs their Test components (every one, or
// those named) with no store and no listener: what `atom test` does
// without --input. Each test is a dry run: senders describe what they
// would send and send nothing. The error is for components that do not
// load or build, or a name no Test has; a test that fails is a
// TestResult with Failures.
func RunTests(ctx context.Context, reg *operations.Registry, files []processes.File, names ...string) ([]processes.TestResult, error) {
	set, err := processes.Load(reg, files)
	if err != nil {
		return nil, err
	}
	if len(set.Tests) == 0 && len(names) == 0 {
		return nil, nil
	}
	d, err := buildOffline(reg, set)
	if err != nil {
		return nil, err
	}
	defer d.close()
	return processes.RunTests(ctx, d.exec, set, names...)
}
