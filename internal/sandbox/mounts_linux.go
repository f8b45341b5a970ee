package sandbox

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// systemDirs are made visible read-only: what programs and Python need to
// start. Home folders, /root, /var, /run (and its sockets), /srv, /mnt and
// the host's /tmp are not.
var systemDirs = []string{"/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc"}

// devices are bound from the host's /dev into the sandbox's.
var devices = []string{"null", "zero", "full", "random", "urandom"}

// stagingRoot is where init builds the new root before pivot_root. A tmpfs
// mounted over it hides the host's /tmp in the sandbox's mount namespace;
// binds come from descriptors, so paths under it still work.
const stagingRoot = "/tmp"

const (
	attrRO    = unix.MOUNT_ATTR_RDONLY | unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV
	attrRW    = unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV
	attrDevRO = unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NOEXEC // device nodes must stay usable
)

// buildRoot makes the sandbox's filesystem: a read-only tmpfs root holding
// read-only binds of the system folders and of cfg's binds, a fresh /proc
// for the new PID namespace, a minimal /dev, and writable tmpfs /tmp and
// /dev/shm. It ends in the new root, in cfg.Dir.
func buildRoot(cfg *initConfig) error {
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("making mounts private: %w", err)
	}
	root := stagingRoot
	if err := unix.Mount("modelgate", root, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "size=1m,mode=0755"); err != nil {
		return fmt.Errorf("mounting the root tmpfs: %w", err)
	}
	for _, d := range systemDirs {
		fi, err := os.Lstat(d)
		if err != nil {
			continue
		}
		if fi.Mode()&os.ModeSymlink != 0 {
			target, err := os.Readlink(d)
			if err != nil {
				return err
			}
			if err := os.Symlink(target, root+d); err != nil {
				return err
			}
			continue
		}
		if !fi.IsDir() {
			continue
		}
		if err := bindMount(d, root+d, true, attrRO); err != nil {
			return err
		}
	}
	if err := mountProc(root + "/proc"); err != nil {
		return err
	}
	if err := buildDev(root+"/dev", cfg.Limits.TmpSize/8); err != nil {
		return err
	}
	if err := mountTmpfs(root+"/tmp", cfg.Limits.TmpSize, "1777"); err != nil {
		return err
	}
	for _, b := range cfg.Bind {
		if err := mountBind(b, root+b.Path); err != nil {
			return fmt.Errorf("making %s visible: %w", b.Path, err)
		}
	}
	// pivot_root(".", ".") stacks the old root on the new one; detaching
	// it leaves only the new root (runc's way, no put_old folder needed).
	if err := unix.Chdir(root); err != nil {
		return err
	}
	if err := unix.PivotRoot(".", "."); err != nil {
		return fmt.Errorf("pivot_root: %w", err)
	}
	if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
		return fmt.Errorf("detaching the old root: %w", err)
	}
	if err := unix.MountSetattr(unix.AT_FDCWD, "/", 0, &unix.MountAttr{Attr_set: attrRO}); err != nil {
		return fmt.Errorf("making the root read-only: %w", err)
	}
	if err := unix.Chdir(cfg.Dir); err != nil {
		return fmt.Errorf("working folder %s: %w", cfg.Dir, err)
	}
	return nil
}

// openBindPaths opens, as the caller and before the new root hides
// anything, the binds the parent did not detach itself.
func openBindPaths(cfg *initConfig) error {
	for i := range cfg.Bind {
		b := &cfg.Bind[i]
		if b.FD >= 0 {
			continue
		}
		fd, err := unix.Open(b.Path, unix.O_PATH|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("%s: %w", b.Path, err)
		}
		b.FD, b.opened = fd, true
	}
	return nil
}

// mountBind attaches a bind at target: a detached tree from the parent is
// moved there as it is; a path init opened is bound and given its
// attributes.
func mountBind(b bindSpec, target string) error {
	if !b.opened {
		if err := makeMountPoint(target, !b.File); err != nil {
			return err
		}
		return unix.MoveMount(b.FD, "", unix.AT_FDCWD, target, unix.MOVE_MOUNT_F_EMPTY_PATH)
	}
	attr := uint64(attrRO)
	if b.Writable {
		attr = attrRW
	}
	return bindMount("/proc/self/fd/"+strconv.Itoa(b.FD), target, !b.File, attr)
}

// makeMountPoint creates target as a folder (dir) or an empty file.
func makeMountPoint(target string, dir bool) error {
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		return err
	}
	if dir {
		return os.MkdirAll(target, 0o755)
	}
	if _, err := os.Lstat(target); errors.Is(err, os.ErrNotExist) {
		f, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY, 0o644)
		if err != nil {
			return err
		}
		f.Close()
	}
	return nil
}

// bindMount makes src visible at target with attr (recursively), creating
// target as a folder (dir) or an empty file.
func bindMount(src, target string, dir bool, attr uint64) error {
	if err := makeMountPoint(target, dir); err != nil {
		return err
	}
	if err := unix.Mount(src, target, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("bind %s: %w", strings.TrimPrefix(target, stagingRoot), err)
	}
	if err := unix.MountSetattr(unix.AT_FDCWD, target, unix.AT_RECURSIVE, &unix.MountAttr{Attr_set: attr}); err != nil {
		return fmt.Errorf("mount_setattr %s: %w", strings.TrimPrefix(target, stagingRoot), err)
	}
	return nil
}

func mountTmpfs(target string, size int64, mode string) error {
	if err := os.MkdirAll(target, 0o755); err != nil {
		return err
	}
	opts := fmt.Sprintf("size=%d,mode=%s", max(size, 4096), mode)
	if err := unix.Mount("tmpfs", target, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, opts); err != nil {
		return fmt.Errorf("tmpfs %s: %w", strings.TrimPrefix(target, stagingRoot), err)
	}
	return nil
}

// mountProc mounts a procfs of the sandbox's PID namespace (it shows only
// the sandbox's processes), with /proc/sys read-only.
func mountProc(target string) error {
	if err := os.MkdirAll(target, 0o555); err != nil {
		return err
	}
	if err := unix.Mount("proc", target, "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		return fmt.Errorf("mounting /proc: %w", err)
	}
	return bindMount(target+"/sys", target+"/sys", true, attrRO)
}

// buildDev makes a /dev with the harmless devices, the usual symlinks and
// a small /dev/shm.
func buildDev(dev string, shmSize int64) error {
	if err := mountTmpfs(dev, 64<<10, "0755"); err != nil {
		return err
	}
	for _, d := range devices {
		if err := bindMount("/dev/"+d, dev+"/"+d, false, attrDevRO); err != nil {
			return err
		}
	}
	links := map[string]string{"fd": "/proc/self/fd", "stdin": "/proc/self/fd/0", "stdout": "/proc/self/fd/1", "stderr": "/proc/self/fd/2"}
	for name, target := range links {
		if err := os.Symlink(target, dev+"/"+name); err != nil {
			return err
		}
	}
	if err := mountTmpfs(dev+"/shm", max(shmSize, 1<<20), "1777"); err != nil {
		return err
	}
	return unix.MountSetattr(unix.AT_FDCWD, dev, 0, &unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY | unix.MOUNT_ATTR_NOEXEC})
}

// onlyLoopback checks the network namespace from /proc/net/dev: the
// sandbox must see no interface but lo.
func onlyLoopback() error {
	b, err := os.ReadFile("/proc/net/dev")
	if err != nil {
		return err
	}
	for _, line := range strings.Split(string(b), "\n")[2:] {
		name, _, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		if name = strings.TrimSpace(name); name != "lo" {
			return fmt.Errorf("interface %q is visible in the sandbox", name)
		}
	}
	return nil
}

// loopbackUp brings lo up in the new network namespace (it starts down).
func loopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return err
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	return unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr)
}
