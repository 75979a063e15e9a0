package atom

import (
	"context"
	"testing"

	"github.com/atomrt/atom/operations"
)

type plainSender struct{}

func (plainSender) Send(_ context.Context, d operations.Document) (operations.Document, error) {
	return d, nil
}

type describingSender struct{ plainSender }

func (describingSender) DryRun(operations.Document) (operations.Document, error) {
	return operations.Document{Body: "described"}, nil
}

// Measuring a sender keeps what it can do, and adds nothing it cannot:
// the executor tells dry-run-capable senders apart by their type.
func TestTimedSenderKeepsDryRunAbility(t *testing.T) {
	m := newMetrics(&Runtime{})
	if _, ok := m.timed("plain", plainSender{}).(operations.DryRunner); ok {
		t.Error("a sender without DryRun looks dry-run capable once measured")
	}
	d, ok := m.timed("desc", describingSender{}).(operations.DryRunner)
	if !ok {
		t.Fatal("a dry-run capable sender lost DryRun once measured")
	}
	if out, _ := d.DryRun(operations.Document{}); out.Body != "described" {
		t.Errorf("DryRun = %v, want the sender's own description", out.Body)
	}
}
