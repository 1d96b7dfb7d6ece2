package customhandler_test

import (
	"context"
	"errors"
	"log"
	"os/signal"
	"syscall"

	"github.com/azbind/azbind/customhandler"
	"github.com/azbind/azbind/extension"
)

// What `azbind start` does, in a Go program's own binary: load the app folder, start its custom
// handler, and run a host whose functions all go to it.
func Example() {
	const dir = "./app" // host.json with "customHandler", */function.json, local.settings.json
	app, err := extension.LoadAppDir(dir, nil)
	if err != nil {
		log.Fatal(err)
	}
	cfg, err := customhandler.LoadConfig(dir, app.Settings)
	if errors.Is(err, customhandler.ErrNoCustomHandler) {
		log.Fatal("the app has no custom handler: give its functions Go handlers with Host.Handle")
	} else if err != nil {
		log.Fatal(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	w, err := customhandler.Start(ctx, customhandler.Options{AppDir: dir, Config: cfg, Settings: app.Settings, FunctionTimeout: app.Host.FunctionTimeout})
	if err != nil {
		log.Fatal(err)
	}
	defer w.Close(context.Background())
	host, err := extension.NewHost(extension.HostOptions{Settings: app.Settings, HostConfig: app.Host, HTTPAddr: ":7071", DefaultHandler: w.Handler()})
	if err != nil {
		log.Fatal(err)
	}
	if err := host.LoadAppDir(dir); err != nil {
		log.Fatal(err)
	}
	if err := host.Run(ctx); err != nil {
		log.Fatal(err)
	}
}
