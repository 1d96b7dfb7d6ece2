package extension

import (
	"errors"
	"fmt"
	"strings"
)

// Declare adds a function declared in an app folder (one of AppSpec.Functions, or a spec from
// ParseFunctionJSON) without loading the whole folder: a caller can check or run each function on
// its own, as `azbind validate` does so that one function's problems do not hide another's.
// Handlers are matched by name (Handle), as for LoadAppDir.
func (h *Host) Declare(f *FunctionSpec) error {
	if f == nil {
		return fmt.Errorf("extension: Declare: nil function: %w", ErrInvalidConfig)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.running {
		return errors.New("extension: Declare called after Run")
	}
	for _, s := range h.specs {
		if strings.EqualFold(s.Name, f.Name) {
			return fmt.Errorf("%s: function %q declared twice (also in %s): %w", f.Where, f.Name, s.Where, ErrInvalidConfig)
		}
	}
	h.specs = append(h.specs, f)
	return nil
}
