// Package standard registers Atom's standard set of connectors.
package standard

import (
	"github.com/atomrt/atom/operations"
	httpconn "github.com/atomrt/atom/operations/http"
	"github.com/atomrt/atom/operations/salesforce"
)

// Registry returns a registry holding every standard connector.
func Registry() (*operations.Registry, error) {
	reg := operations.NewRegistry()
	for _, register := range []func(*operations.Registry) error{
		httpconn.Register,
		salesforce.Register,
	} {
		if err := register(reg); err != nil {
			return nil, err
		}
	}
	return reg, nil
}
