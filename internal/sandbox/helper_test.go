package sandbox

import (
	"context"
	"fmt"
	"net"
	"os"
	"sort"
	"strings"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The test binary doubles as the program the tests run inside the sandbox:
// `TEST_BINARY __helper ARGS` with MODELGATE_SANDBOX_HELPER=MODE.
const (
	helperEnv = "MODELGATE_SANDBOX_HELPER"
	helperArg = "__helper"
)

func helperMain(mode string, args []string) int {
	switch mode {
	case "net":
		return helperNet(args)
	case "env":
		env := os.Environ()
		sort.Strings(env)
		for _, kv := range env {
			fmt.Println(kv)
		}
		return 0
	case "execveat":
		return helperExecveat()
	case "nested":
		return helperNested(args)
	}
	fmt.Fprintln(os.Stderr, "unknown helper mode", mode)
	return 2
}

// helperNet prints the network interfaces the sandbox sees, then tries to
// reach args[0] (the host's loopback server) and prints what happened.
func helperNet(args []string) int {
	b, err := os.ReadFile("/proc/net/dev")
	if err != nil {
		fmt.Println("interfaces: error", err)
		return 1
	}
	var names []string
	for _, line := range strings.Split(string(b), "\n") {
		if name, _, ok := strings.Cut(line, ":"); ok && !strings.Contains(name, "|") {
			names = append(names, strings.TrimSpace(name))
		}
	}
	fmt.Println("interfaces:", strings.Join(names, ","))
	c, err := net.DialTimeout("tcp", args[0], 3*time.Second)
	if err != nil {
		fmt.Println("dial: failed:", err)
		return 0
	}
	c.Close()
	fmt.Println("dial: connected")
	return 0
}

// helperExecveat runs /bin/true through execveat(fd, "", AT_EMPTY_PATH),
// the other way into a new program.
func helperExecveat() int {
	fd, err := unix.Open("/bin/true", unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		fmt.Println("open:", err)
		return 1
	}
	empty := []byte{0}
	argv0 := []byte("true\x00")
	argv := []uintptr{uintptr(unsafe.Pointer(&argv0[0])), 0}
	envp := []uintptr{0}
	_, _, errno := unix.Syscall6(unix.SYS_EXECVEAT, uintptr(fd), uintptr(unsafe.Pointer(&empty[0])),
		uintptr(unsafe.Pointer(&argv[0])), uintptr(unsafe.Pointer(&envp[0])), unix.AT_EMPTY_PATH, 0)
	fmt.Println("execveat:", errno)
	return 0
}

// helperNested tries to start a sandbox from inside one, where the filter
// forbids new namespaces: it must refuse, unless args[0] is "weaker".
func helperNested(args []string) int {
	weaker := len(args) > 0 && args[0] == "weaker"
	res, err := Run(context.Background(), Config{
		Command:     []string{"/bin/sh", "-c", "echo nested-ran"},
		AllowWeaker: weaker,
		Stdout:      os.Stdout, Stderr: os.Stderr,
		Limits: Limits{Wall: 20 * time.Second},
	})
	if err != nil {
		fmt.Println("nested: error:", err)
		fmt.Println("nested: unavailable:", isUnavailable(err))
		return 0
	}
	fmt.Println("nested: exit", res.ExitCode)
	for _, w := range res.Weaker {
		fmt.Println("nested: weaker:", w)
	}
	return 0
}
