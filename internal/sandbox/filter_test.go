package sandbox

import (
	"encoding/binary"
	"slices"
	"strings"
	"testing"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// seccompInput encodes a struct seccomp_data for x/net/bpf's VM, which
// loads 32-bit words big-endian (the kernel loads them in host order; the
// filter only ever loads whole words, so the words' values are what count).
func seccompInput(arch uint32, nr uint32, args ...uint64) []byte {
	b := make([]byte, 64)
	binary.BigEndian.PutUint32(b[0:], nr)
	binary.BigEndian.PutUint32(b[4:], arch)
	for i, a := range args {
		binary.BigEndian.PutUint32(b[16+8*i:], uint32(a))     // low word first, as on little-endian
		binary.BigEndian.PutUint32(b[20+8*i:], uint32(a>>32)) // high word
	}
	return b
}

func TestFilterDecisions(t *testing.T) {
	if auditArch == 0 {
		t.Skip("no filter for this architecture")
	}
	raw, err := buildFilter(execNotify)
	if err != nil {
		t.Fatal(err)
	}
	if len(raw) > 4096 {
		t.Fatalf("filter has %d instructions, over the kernel's 4096", len(raw))
	}
	ins, ok := bpf.Disassemble(raw)
	if !ok {
		t.Fatal("filter does not disassemble")
	}
	vm, err := bpf.NewVM(ins)
	if err != nil {
		t.Fatal(err)
	}
	eperm := unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM)
	tests := []struct {
		name string
		in   []byte
		want uint32
	}{
		{"read", seccompInput(auditArch, unix.SYS_READ), unix.SECCOMP_RET_ALLOW},
		{"wrong arch", seccompInput(auditArch^1, unix.SYS_READ), unix.SECCOMP_RET_KILL_PROCESS},
		{"mount", seccompInput(auditArch, unix.SYS_MOUNT), eperm},
		{"ptrace", seccompInput(auditArch, unix.SYS_PTRACE), eperm},
		{"bpf", seccompInput(auditArch, unix.SYS_BPF), eperm},
		{"keyctl", seccompInput(auditArch, unix.SYS_KEYCTL), eperm},
		{"init_module", seccompInput(auditArch, unix.SYS_INIT_MODULE), eperm},
		{"perf_event_open", seccompInput(auditArch, unix.SYS_PERF_EVENT_OPEN), eperm},
		{"unshare", seccompInput(auditArch, unix.SYS_UNSHARE, unix.CLONE_NEWNET), eperm},
		{"setns", seccompInput(auditArch, unix.SYS_SETNS), eperm},
		{"io_uring_setup", seccompInput(auditArch, unix.SYS_IO_URING_SETUP), eperm},
		{"clone thread", seccompInput(auditArch, unix.SYS_CLONE, unix.CLONE_VM|unix.CLONE_THREAD|unix.CLONE_SIGHAND), unix.SECCOMP_RET_ALLOW},
		{"clone newuser", seccompInput(auditArch, unix.SYS_CLONE, unix.CLONE_NEWUSER), eperm},
		{"clone newns", seccompInput(auditArch, unix.SYS_CLONE, unix.CLONE_NEWNS|unix.CLONE_VFORK), eperm},
		{"clone3", seccompInput(auditArch, unix.SYS_CLONE3), unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS)},
		{"socket inet", seccompInput(auditArch, unix.SYS_SOCKET, unix.AF_INET), unix.SECCOMP_RET_ALLOW},
		{"socket unix", seccompInput(auditArch, unix.SYS_SOCKET, unix.AF_UNIX), unix.SECCOMP_RET_ALLOW},
		{"socket netlink", seccompInput(auditArch, unix.SYS_SOCKET, unix.AF_NETLINK), unix.SECCOMP_RET_ERRNO | uint32(unix.EAFNOSUPPORT)},
		{"socket packet", seccompInput(auditArch, unix.SYS_SOCKET, unix.AF_PACKET), unix.SECCOMP_RET_ERRNO | uint32(unix.EAFNOSUPPORT)},
		{"ioctl TIOCSTI", seccompInput(auditArch, unix.SYS_IOCTL, 0, unix.TIOCSTI), eperm},
		{"ioctl TIOCLINUX", seccompInput(auditArch, unix.SYS_IOCTL, 0, ioctlTIOCLINUX), eperm},
		{"ioctl TCGETS", seccompInput(auditArch, unix.SYS_IOCTL, 0, unix.TCGETS), unix.SECCOMP_RET_ALLOW},
		{"execve", seccompInput(auditArch, unix.SYS_EXECVE), unix.SECCOMP_RET_USER_NOTIF},
		{"execveat", seccompInput(auditArch, unix.SYS_EXECVEAT), unix.SECCOMP_RET_USER_NOTIF},
	}
	if auditArch == unix.AUDIT_ARCH_X86_64 {
		tests = append(tests, struct {
			name string
			in   []byte
			want uint32
		}{"x32 read", seccompInput(auditArch, 0x40000000), unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS)})
	}
	for _, tt := range tests {
		got, err := vm.Run(tt.in)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if uint32(got) != tt.want {
			t.Errorf("%s: filter returns %#x, want %#x", tt.name, uint32(got), tt.want)
		}
	}

	// Without supervision execve is simply allowed.
	raw, _ = buildFilter(execAllow)
	ins, _ = bpf.Disassemble(raw)
	vm, _ = bpf.NewVM(ins)
	if got, _ := vm.Run(seccompInput(auditArch, unix.SYS_EXECVE)); uint32(got) != unix.SECCOMP_RET_ALLOW {
		t.Errorf("execAllow: execve returns %#x", uint32(got))
	}
}

func TestBuildEnv(t *testing.T) {
	env, err := buildEnv([]string{"A=1", "HOME=/work", "HF_HUB_OFFLINE=0", "B=x=y"})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"A=1", "HOME=/work", "HF_HUB_OFFLINE=1", "B=x=y", "TRANSFORMERS_OFFLINE=1"} {
		if !slices.Contains(env, want) {
			t.Errorf("env lacks %q: %q", want, env)
		}
	}
	for _, kv := range env {
		if kv == "HOME=/tmp" || kv == "HF_HUB_OFFLINE=0" {
			t.Errorf("env keeps %q", kv)
		}
	}
	for _, bad := range []string{"NOEQUALS", "=value", "A\x00B=1"} {
		if _, err := buildEnv([]string{bad}); err == nil {
			t.Errorf("buildEnv accepted %q", bad)
		}
	}
}

func TestHandledAccessByABI(t *testing.T) {
	for abi, want := range map[int][3]uint64{
		1:  {1<<13 - 1, 0, 0},
		3:  {1<<15 - 1, 0, 0},
		4:  {1<<15 - 1, 3, 0},
		6:  {1<<16 - 1, 3, 3},
		7:  {1<<16 - 1, 3, 3},
		10: {1<<17 - 1, 15, 3},
	} {
		fs, net, scoped := handled(abi)
		if [3]uint64{fs, net, scoped} != want {
			t.Errorf("ABI %d: handled %#x %#x %#x, want %#x", abi, fs, net, scoped, want)
		}
	}
}

func TestBindTargetsRefused(t *testing.T) {
	for _, p := range []string{"/", "/proc", "/proc/1", "/dev", "/dev/sda"} {
		if err := checkBindTarget(p); err == nil {
			t.Errorf("checkBindTarget(%q) accepted", p)
		}
	}
	for _, p := range []string{"/models", "/tmp/x", "/devices", "/process"} {
		if err := checkBindTarget(p); err != nil {
			t.Errorf("checkBindTarget(%q): %v", p, err)
		}
	}
}

func TestLimitsDefaults(t *testing.T) {
	l := Limits{Memory: 1 << 20}.withDefaults()
	d := DefaultLimits()
	if l.Memory != 1<<20 || l.CPU != d.CPU || l.Wall != d.Wall || l.OpenFiles != d.OpenFiles {
		t.Errorf("withDefaults = %+v", l)
	}
}

func TestExecString(t *testing.T) {
	s := Exec{PID: 3, Path: "/bin/sh", Argv: []string{"sh", "-c", "echo pwned"}}.String()
	if !strings.Contains(s, "refused") || !strings.Contains(s, "sh -c echo pwned") {
		t.Errorf("Exec.String() = %q", s)
	}
}
