package driver

import (
	"fmt"
	"strings"
)

// ConfigError is one problem with a declaration or a setting, printed as the single line
// "where: field: problem: fix". It matches ErrInvalidConfig with errors.Is, and its cause (Err)
// too, so callers branch with errors.Is and read the parts with errors.As instead of matching text.
// The runtime fills Where with the binding's location when a factory leaves it empty.
type ConfigError struct {
	Where   string // "ProcessOrder/function.json: bindings[0]", "host.json: extensions.queues"
	Field   string // "queueName", "batchSize"; "" for the whole declaration
	Problem string // what is wrong; Err's text when empty
	Fix     string // what to change; may be empty when Problem says it
	Err     error  // the cause, if any
}

func (e *ConfigError) Error() string {
	problem := strings.TrimSpace(e.problem())
	if strings.TrimSpace(e.Fix) != "" && strings.HasSuffix(problem, ".") && !strings.HasSuffix(problem, "..") {
		problem = strings.TrimSuffix(problem, ".") // (as extension.Problem: "…string: fix", not "…string.: fix")
	}
	parts := make([]string, 0, 4)
	for _, p := range []string{e.Where, e.Field, problem, e.Fix} {
		if p = strings.TrimSpace(p); p != "" {
			parts = append(parts, p)
		}
	}
	return strings.Join(parts, ": ")
}

func (e *ConfigError) problem() string {
	if e.Problem == "" && e.Err != nil {
		return e.Err.Error()
	}
	return e.Problem
}

// Unwrap returns ErrInvalidConfig and the cause.
func (e *ConfigError) Unwrap() []error {
	if e.Err == nil {
		return []error{ErrInvalidConfig}
	}
	return []error{ErrInvalidConfig, e.Err}
}

// Errorf returns a *ConfigError for the binding property field (empty: the whole binding). The
// problem is formatted from format and args; a %w verb keeps its operand as the cause, for
// errors.Is. fix says what to change.
func (bc *BindContext) Errorf(field, fix, format string, args ...any) error {
	err := fmt.Errorf(format, args...)
	ce := &ConfigError{Field: field, Problem: err.Error(), Fix: fix}
	if bc != nil && bc.Spec != nil {
		ce.Where = bc.Spec.Where
	}
	if u, ok := err.(interface{ Unwrap() error }); ok {
		ce.Err = u.Unwrap()
	} else if u, ok := err.(interface{ Unwrap() []error }); ok {
		ce.Err = joinCauses(u.Unwrap())
	}
	return ce
}

type causes []error

func (c causes) Error() string   { return c[0].Error() }
func (c causes) Unwrap() []error { return c }

func joinCauses(errs []error) error {
	if len(errs) == 1 {
		return errs[0]
	}
	return causes(errs)
}
