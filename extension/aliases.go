package extension

import "github.com/azbind/azbind/extension/driver"

// The types and values an application shares with connectors. They are defined in the
// connector contract, package driver, and named here so that an application needs only this
// package.
type (
	// FunctionContext describes the running invocation (FromContext).
	FunctionContext = driver.FunctionContext
	// RetryContext describes the current attempt under the function's retry policy.
	RetryContext = driver.RetryContext
	// BindingSpec is one binding as declared (function.json or a connector's Go API helper).
	BindingSpec = driver.BindingSpec
	// Props are binding properties for the Go API.
	Props = driver.Props
	// Direction of a binding: DirIn, DirOut or DirInOut.
	Direction = driver.Direction
	// Services are the host services given to connectors (Host.Services).
	Services = driver.Services
	// HostStorage is the host's small blob store (HostOptions.Storage).
	HostStorage = driver.HostStorage
	// Record is a HostStorage value.
	Record = driver.Record
	// Cond is a HostStorage write condition.
	Cond = driver.Cond
	// ConnectionResolver resolves binding connections (HostOptions.Connections).
	ConnectionResolver = driver.ConnectionResolver
	// Clock abstracts time (HostOptions.Clock).
	Clock = driver.Clock
	// ConfigError is one declaration or setting problem, printed as "where: field: problem: fix".
	ConfigError = driver.ConfigError
	// Metadata is trigger binding data (FunctionContext.Metadata).
	Metadata = driver.Metadata
)

// Binding directions.
const (
	DirIn    = driver.DirIn
	DirOut   = driver.DirOut
	DirInOut = driver.DirInOut
)

// Errors an application may test with errors.Is.
var (
	ErrInvalidConfig   = driver.ErrInvalidConfig   // a declaration or setting problem (see ConfigError)
	ErrNotFound        = driver.ErrNotFound        // HostStorage: no such key
	ErrConflict        = driver.ErrConflict        // HostStorage: condition not met
	ErrUnsupportedType = driver.ErrUnsupportedType // a handler parameter type a binding cannot supply
	ErrFunctionTimeout = driver.ErrFunctionTimeout // the attempt ran past functionTimeout
	ErrShutdown        = driver.ErrShutdown        // the attempt was cancelled by the host's shutdown
)

// SystemClock is the real clock.
var SystemClock = driver.SystemClock

// Binding declares a binding for the Go API; connectors offer typed helpers built on it.
func Binding(typ, name string, dir Direction, props Props) *BindingSpec {
	return driver.Binding(typ, name, dir, props)
}
