package operations

import (
	"fmt"
	"sort"
)

// Registry holds connectors by name. It is a value, not a package global,
// so a test can start from an empty one and add just the connector it tests.
type Registry struct {
	connectors map[string]*Connector
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{connectors: map[string]*Connector{}} }

// Register adds a connector; registering one name twice is a programming
// error and returns an error.
func (r *Registry) Register(c *Connector) error {
	if c.Name == "" || c.Open == nil {
		return fmt.Errorf("register connector %q: name and Open are required", c.Name)
	}
	if _, dup := r.connectors[c.Name]; dup {
		return fmt.Errorf("register connector %q: already registered", c.Name)
	}
	r.connectors[c.Name] = c
	return nil
}

// Get returns the named connector.
func (r *Registry) Get(name string) (*Connector, bool) {
	c, ok := r.connectors[name]
	return c, ok
}

// Names returns the registered connector names, sorted.
func (r *Registry) Names() []string {
	names := make([]string, 0, len(r.connectors))
	for n := range r.connectors {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
