package driver_test

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"

	"github.com/azbind/azbind/extension"
	"github.com/azbind/azbind/extension/driver"
)

// lines is the trigger of the example connector: it delivers each line of its "text" property
// once, then waits for the stop.
type lines struct{ items []string }

func (l *lines) Run(ctx context.Context, exec driver.Executor) error {
	for i, s := range l.items {
		res := exec.Execute(ctx, &driver.Event{Data: s, ID: fmt.Sprint(i), Metadata: driver.MapMetadata{"Line": i}})
		if res.Status != driver.Succeeded {
			// A real trigger releases the item so that it comes back (at-least-once).
			fmt.Println("line", i, res.Status)
		}
	}
	<-ctx.Done()
	return nil
}

// board is the output of the example connector: a sink per invocation whose items become
// visible only at Flush (after the handler succeeded).
type board struct {
	name *driver.Template
}

var (
	mu    sync.Mutex
	notes = map[string][]string{}
)

type sink struct {
	key   string
	items []string
}

func (b *board) Open(ctx context.Context, fc *driver.FunctionContext) (driver.Sink, error) {
	key, err := b.name.Eval(fc) // "{Line}" and other binding data resolve here
	return &sink{key: key}, err
}

func (s *sink) Add(ctx context.Context, item any) error {
	v, ok := item.(string)
	if !ok {
		return fmt.Errorf("board takes strings, got %T", item)
	}
	s.items = append(s.items, v)
	return nil
}

func (s *sink) Flush(ctx context.Context) error {
	mu.Lock()
	defer mu.Unlock()
	notes[s.key] = append(notes[s.key], s.items...)
	return nil
}

func init() {
	// A connector registers its binding types once, from init, as database/sql drivers do.
	driver.Register(driver.Extension{
		Name:       "example",
		ConfigKeys: []string{}, // host.json extensions.example takes no keys
		Bindings: []driver.BindingType{
			{Type: "linesTrigger", NewTrigger: func(ctx context.Context, bc *driver.BindContext) (driver.Trigger, error) {
				var cfg struct {
					Text string `binding:"text,required"`
				}
				if err := bc.Decode(&cfg); err != nil {
					return nil, err // names the file, the field and the fix
				}
				return &lines{items: strings.Split(cfg.Text, "\n")}, nil
			}},
			{Type: "board", NewOutput: func(ctx context.Context, bc *driver.BindContext) (driver.Output, error) {
				t, err := bc.Template("board")
				if err != nil {
					return nil, err
				}
				return &board{name: t}, nil
			}},
		},
	})
}

// A minimal connector: a trigger and an output, registered with Register and used by a host
// like any other binding type.
func Example() {
	host, _ := extension.NewHost(extension.HostOptions{Logger: slog.New(slog.DiscardHandler), Storage: extension.NewMemoryStorage()})
	handled := make(chan struct{}, 2)
	_ = host.Func("Shout",
		extension.Func(func(ctx context.Context, line string) (string, error) {
			defer func() { handled <- struct{}{} }()
			return strings.ToUpper(line), nil
		}),
		driver.Binding("linesTrigger", "line", driver.DirIn, driver.Props{"text": "hello\nworld"}),
		driver.Binding("board", "$return", driver.DirOut, driver.Props{"board": "line-{Line}"}),
	)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- host.Run(ctx) }()
	<-handled
	<-handled
	cancel()
	<-done // Run returns after the drain: both invocations' outputs are flushed
	mu.Lock()
	keys := make([]string, 0, len(notes))
	for k := range notes {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Println(k, notes[k])
	}
	mu.Unlock()
	// Output:
	// line-0 [HELLO]
	// line-1 [WORLD]
}
