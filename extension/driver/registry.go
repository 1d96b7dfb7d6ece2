package driver

import (
	"context"

	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/azbind/azbind/connection"
)

var (
	regMu      sync.RWMutex
	registry   = map[string]*registered{} // lower-case type -> binding
	extensions = map[string]*Extension{}  // lower-case name -> extension
)

type registered struct {
	ext *Extension
	bt  BindingType
}

// Register makes an extension's binding types available to every host, by their function.json
// type names (case-insensitive). It panics if a type is registered twice or a BindingType has no
// factory, like database/sql.Register: both are programming errors found at init.
func Register(ext Extension) {
	regMu.Lock()
	defer regMu.Unlock()
	if ext.Name == "" {
		panic("driver: Register: empty extension name")
	}
	e := &ext
	for _, bt := range ext.Bindings {
		key := strings.ToLower(bt.Type)
		if key == "" {
			panic("driver: Register " + ext.Name + ": binding type with empty name")
		}
		if bt.NewTrigger == nil && bt.NewInput == nil && bt.NewOutput == nil {
			panic("driver: Register " + ext.Name + ": binding type " + bt.Type + " has no factory")
		}
		if prev, dup := registry[key]; dup {
			panic(fmt.Sprintf("driver: Register called twice for binding type %q (extensions %q and %q)", bt.Type, prev.ext.Name, ext.Name))
		}
		registry[key] = &registered{ext: e, bt: bt}
	}
	extensions[strings.ToLower(ext.Name)] = e
}

// Lookup returns the registered binding type and its extension.
func Lookup(bindingType string) (BindingType, *Extension, bool) {
	regMu.RLock()
	defer regMu.RUnlock()
	r, ok := registry[strings.ToLower(bindingType)]
	if !ok {
		return BindingType{}, nil, false
	}
	return r.bt, r.ext, true
}

// LookupExtension returns the registered extension whose host.json section is name
// (case-insensitive).
func LookupExtension(name string) (*Extension, bool) {
	regMu.RLock()
	defer regMu.RUnlock()
	e, ok := extensions[strings.ToLower(name)]
	return e, ok
}

// BindingTypes lists the registered binding type names, sorted.
func BindingTypes() []string {
	regMu.RLock()
	defer regMu.RUnlock()
	out := make([]string, 0, len(registry))
	for _, r := range registry {
		out = append(out, r.bt.Type)
	}
	sort.Strings(out)
	return out
}

// CheckFor returns the Check of the registered extension whose bindings use svc.
func CheckFor(svc connection.Service) (func(context.Context, *connection.Connection) error, bool) {
	regMu.RLock()
	defer regMu.RUnlock()
	for _, r := range registry {
		if r.bt.Service == svc && r.ext.Check != nil {
			return r.ext.Check, true
		}
	}
	return nil, false
}
