package store_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"modelgate/internal/finding"
	"modelgate/internal/store"
	"modelgate/internal/store/storetest"
)

const crashEnv = "MODELGATE_STORE_CRASH_CHILD"

// TestCrashDurability records verdicts in a child process that prints the
// ID of each one once RecordVerdict has returned, kills the child with
// SIGKILL mid-stream, and checks that every acknowledged verdict is there
// after reopening: an acknowledged verdict is never lost.
func TestCrashDurability(t *testing.T) {
	if spec := os.Getenv(crashEnv); spec != "" {
		crashChild(spec)
		return
	}
	for _, kind := range storetest.Kinds {
		t.Run(kind, func(t *testing.T) {
			ctx := context.Background()
			var spec string
			if kind == "sqlite" {
				spec = "sqlite:" + filepath.Join(t.TempDir(), "crash.db")
			} else {
				spec = storetest.Schema(t)
			}
			b, err := store.Open(ctx, spec, "", store.Options{})
			if err != nil {
				t.Fatal(err)
			}
			tenants(t, b, "acme")
			b.Close()
			acked := map[int]bool{}
			for round := range 3 {
				cmd := exec.Command(os.Args[0], "-test.run=^TestCrashDurability$")
				cmd.Env = append(os.Environ(), crashEnv+"="+spec, "MODELGATE_CRASH_BASE="+strconv.Itoa(round*100000))
				out, err := cmd.StdoutPipe()
				if err != nil {
					t.Fatal(err)
				}
				cmd.Stderr = os.Stderr
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				sc := bufio.NewScanner(out)
				n := 0
				for sc.Scan() {
					line := sc.Text()
					num, ok := strings.CutPrefix(line, "acked ")
					if !ok {
						continue
					}
					i, _ := strconv.Atoi(num)
					acked[i] = true
					if n++; n == 40+round*7 {
						cmd.Process.Signal(syscall.SIGKILL)
						break
					}
				}
				cmd.Wait()
				if n < 40 {
					t.Fatalf("child acknowledged only %d verdicts", n)
				}
			}
			b, err = store.Open(ctx, spec, "", store.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			for i := range acked {
				if _, fr, err := b.LookupVerdict(ctx, "acme", sha(i), v1); err != nil || fr != store.Current {
					t.Errorf("acknowledged verdict %d lost: %v", i, err)
				}
			}
			t.Logf("%d acknowledged verdicts survived 3 SIGKILLs", len(acked))
		})
	}
}

func crashChild(spec string) {
	ctx := context.Background()
	b, err := store.Open(ctx, spec, "", store.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(3)
	}
	base, _ := strconv.Atoi(os.Getenv("MODELGATE_CRASH_BASE"))
	deadline := time.Now().Add(30 * time.Second)
	for i := base; time.Now().Before(deadline); i++ {
		v, err := store.NewVerdict("acme", v1, store.Deny, result(i, finding.High))
		if err == nil {
			_, _, err = b.RecordVerdict(ctx, v, store.Observation{Tenant: "acme", SHA256: sha(i), Source: store.SourceUpload, Path: "x"})
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(3)
		}
		fmt.Printf("acked %d\n", i)
	}
	os.Exit(0)
}
