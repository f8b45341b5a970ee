// Command modelgate scans machine-learning model files for code that would
// run when they are loaded, without ever running it. See README.md.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"modelgate/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], cli.DefaultEnv())
	stop()
	os.Exit(code)
}
