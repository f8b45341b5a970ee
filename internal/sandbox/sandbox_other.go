//go:build !linux

package sandbox

import (
	"context"
	"fmt"
	"os"
)

// Run is not available off Linux.
func Run(ctx context.Context, cfg Config) (*Result, error) { return nil, ErrUnsupported }

// InitMain is not available off Linux.
func InitMain() {
	fmt.Fprintln(os.Stderr, ErrUnsupported)
	os.Exit(ExitSetupFailed)
}
