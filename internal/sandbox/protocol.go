package sandbox

// The parent and the sandbox's init talk over two pipes: the parent writes
// one initConfig (JSON) on init's fd 3, init writes status lines (JSON,
// one statusMsg each) on its fd 4 until it exits.

// Fixed file descriptors in init.
const (
	fdConfig    = 3
	fdStatus    = 4
	fdFirstBind = 5 // detached binds, then Config.ExtraFiles
)

// maxConfigSize bounds what init reads from the parent.
const maxConfigSize = 1 << 20

type initConfig struct {
	Argv []string   `json:"argv"`
	Env  []string   `json:"env"`
	Dir  string     `json:"dir"`
	Bind []bindSpec `json:"bind,omitempty"`
	// Namespaces is false when init runs in the caller's namespaces
	// (AllowWeaker after namespaces could not be created).
	Namespaces  bool   `json:"namespaces"`
	NoExec      bool   `json:"no_exec,omitempty"`
	AllowWeaker bool   `json:"allow_weaker,omitempty"`
	Limits      Limits `json:"limits"`
	// OwnUser: the sandbox runs as a host user of its own, so
	// RLIMIT_NPROC counts only its processes.
	OwnUser bool `json:"own_user,omitempty"`
	// ExtraFiles is how many descriptors follow the detached binds.
	ExtraFiles int `json:"extra_files,omitempty"`
}

// bindSpec is a host file or folder made visible at Path. When modelgate
// runs as root the sandbox runs as nobody, who may not be able to walk to
// the path: the parent then clones the mount tree itself (open_tree) with
// the right attributes and hands init the detached tree as descriptor FD.
// Otherwise FD is -1 and init, running as the caller, opens Path before
// it builds the new root.
type bindSpec struct {
	Path     string `json:"path"`
	FD       int    `json:"fd"`
	Writable bool   `json:"writable,omitempty"`
	File     bool   `json:"file,omitempty"`
	// opened: init opened Path itself (FD was -1 from the parent).
	opened bool
}

// firstExtraFD is init's descriptor for Config.ExtraFiles[0].
func (c *initConfig) firstExtraFD() int {
	n := fdFirstBind
	for _, b := range c.Bind {
		if b.FD >= 0 {
			n++
		}
	}
	return n
}

// Status message types.
const (
	msgApplied = "applied" // What: a protection in force
	msgWeaker  = "weaker"  // What: a required protection that is missing (AllowWeaker)
	msgNote    = "note"    // What: an optional protection that is missing
	msgStarted = "started" // PID: the command's PID as the parent sees it (only without a PID namespace)
	msgExec    = "exec"    // Exec
	msgError   = "error"   // Step, Error, Required: init gave up
	msgExit    = "exit"    // Code, Signal
)

type statusMsg struct {
	Type     string `json:"type"`
	What     string `json:"what,omitempty"`
	PID      int    `json:"pid,omitempty"`
	Exec     *Exec  `json:"exec,omitempty"`
	Step     string `json:"step,omitempty"`
	Error    string `json:"error,omitempty"`
	Required bool   `json:"required,omitempty"`
	Code     int    `json:"code,omitempty"`
	Signal   int    `json:"signal,omitempty"`
}
