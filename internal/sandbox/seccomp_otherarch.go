//go:build linux && !amd64 && !arm64

package sandbox

import "golang.org/x/net/bpf"

// auditArch 0 makes buildFilter refuse: the filter is only written for
// amd64 and arm64, and a filter for the wrong syscall table is no filter.
const auditArch = 0

var archDeniedSyscalls []uintptr

func archPrologue() []bpf.Instruction { return nil }
