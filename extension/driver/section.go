package driver

import (
	"context"
	"reflect"
)

// Validator is implemented by options types that check themselves after decoding.
type Validator interface {
	Validate() error
}

type sectionKey struct {
	ext string
	t   reflect.Type
}

// Section decodes the binding's host.json extension section (BindContext.Config) into a T once
// per host and returns the same *T to every binding of that extension: host-wide options
// (a batch size, a concurrency limit) are decoded, defaulted and validated in one place. Defaults
// are T's zero value (or whatever a func (*T) Defaults() sets); a *T that implements Validator is
// validated once, and its error is returned to every caller. The returned value must not be
// modified.
func Section[T any](ctx context.Context, bc *BindContext) (*T, error) {
	key := sectionKey{ext: bc.Extension, t: reflect.TypeFor[T]()}
	return Shared(ctx, bc.Host, key, func(context.Context) (*T, error) {
		v := new(T)
		if d, ok := any(v).(interface{ Defaults() }); ok {
			d.Defaults()
		}
		if err := bc.DecodeConfig(v); err != nil {
			return nil, err
		}
		if val, ok := any(v).(Validator); ok {
			if err := val.Validate(); err != nil {
				return nil, err
			}
		}
		return v, nil
	})
}
