package sandbox

import (
	"errors"
	"fmt"
	"os"

	ll "github.com/landlock-lsm/go-landlock/landlock/syscall"
	"golang.org/x/sys/unix"
)

// Landlock is applied to the starter thread only (the command inherits
// it), not to init: go-landlock's Restrict gives every thread a domain of
// its own, and sibling domains may not ptrace each other, which would stop
// init's supervisor from reading the command's execve arguments. So the
// ruleset is built here from go-landlock's syscall package.

// handled returns the access rights the kernel's ABI version knows: all of
// them are restricted, then granted back by the rules.
func handled(abi int) (fs, net, scoped uint64) {
	switch {
	case abi >= 9:
		fs = 1<<17 - 1
	case abi >= 5:
		fs = 1<<16 - 1
	case abi >= 3:
		fs = 1<<15 - 1
	case abi >= 2:
		fs = 1<<14 - 1
	default:
		fs = 1<<13 - 1
	}
	switch {
	case abi >= 10:
		net = 1<<4 - 1
	case abi >= 4:
		net = 1<<2 - 1
	}
	if abi >= 6 {
		scoped = 1<<2 - 1
	}
	return fs, net, scoped
}

const (
	accessRead     = ll.AccessFSExecute | ll.AccessFSReadFile | ll.AccessFSReadDir
	accessFileRead = ll.AccessFSExecute | ll.AccessFSReadFile
	accessFileRW   = ll.AccessFSReadFile | ll.AccessFSWriteFile | ll.AccessFSTruncate
)

// landlockRule grants access beneath path (or beneath fd, when >= 0: a
// bind's descriptor, which init may be able to use where it could not
// walk the path).
type landlockRule struct {
	path   string
	access uint64
	fd     int
}

// landlockRules: read and execute in the system folders, /proc, /dev and
// read-only binds; read and write in /tmp, /dev/shm and writable binds;
// the harmless devices; listing folders from / down (the mount namespace
// already limits what there is to list). No TCP bind or connect at all
// (ABI 4+), no signals or abstract sockets outside the sandbox (ABI 6+).
func landlockRules(cfg *initConfig, fsMask uint64) []landlockRule {
	rwDir := fsMask &^ ll.AccessFSIoctlDev &^ ll.AccessFSMakeChar &^ ll.AccessFSMakeBlock
	var rules []landlockRule
	add := func(access uint64, paths ...string) {
		for _, p := range paths {
			rules = append(rules, landlockRule{p, access & fsMask, -1})
		}
	}
	if cfg.Namespaces {
		add(ll.AccessFSReadDir, "/")
		add(rwDir, "/tmp", "/dev/shm")
	}
	add(accessRead, "/proc", "/dev")
	add(accessRead, systemDirs...)
	for _, d := range devices {
		add(accessFileRW, "/dev/"+d)
	}
	for _, b := range cfg.Bind {
		access := uint64(accessRead)
		switch {
		case b.File && b.Writable:
			access = accessFileRW | ll.AccessFSExecute
		case b.File:
			access = accessFileRead
		case b.Writable:
			access = rwDir
		}
		rules = append(rules, landlockRule{b.Path, access & fsMask, b.FD})
	}
	return rules
}

// errNoLandlock: the kernel has no Landlock (or it is disabled).
var errNoLandlock = errors.New("not supported by this kernel")

// applyLandlock restricts the calling thread, which must have
// no_new_privs. It returns the kernel's Landlock ABI version.
func applyLandlock(cfg *initConfig) (int, error) {
	abi, err := ll.LandlockGetABIVersion()
	if err != nil || abi < 1 {
		return 0, errNoLandlock
	}
	fsMask, netMask, scoped := handled(abi)
	attr := ll.RulesetAttr{HandledAccessFS: fsMask, HandledAccessNet: netMask, Scoped: scoped}
	rs, err := ll.LandlockCreateRuleset(&attr, 0)
	if err != nil {
		return abi, fmt.Errorf("landlock_create_ruleset: %w", err)
	}
	defer unix.Close(rs)
	for _, r := range landlockRules(cfg, fsMask) {
		fd := r.fd
		if fd < 0 {
			var err error
			if fd, err = unix.Open(r.path, unix.O_PATH|unix.O_CLOEXEC, 0); err != nil {
				if errors.Is(err, os.ErrNotExist) {
					continue // a system folder this machine lacks
				}
				return abi, fmt.Errorf("landlock: %s: %w", r.path, err)
			}
			defer unix.Close(fd)
		}
		err = ll.LandlockAddPathBeneathRule(rs, &ll.PathBeneathAttr{AllowedAccess: r.access, ParentFd: fd}, 0)
		if err != nil {
			return abi, fmt.Errorf("landlock: rule for %s: %w", r.path, err)
		}
	}
	if err := ll.LandlockRestrictSelf(rs, 0); err != nil {
		return abi, fmt.Errorf("landlock_restrict_self: %w", err)
	}
	return abi, nil
}
