package pysrc

import (
	"strings"
	"sync"
)

// Category is what a call can do.
type Category uint8

// Categories, in increasing order of concern.
const (
	// Deserialize: loads pickles or other code-carrying data.
	Deserialize Category = iota + 1
	// Network: opens connections or fetches URLs.
	Network
	// RemoteCode: loads another repository's code (trust_remote_code).
	RemoteCode
	// Exec: runs commands, evaluates code, or loads native or Python code
	// by name.
	Exec
)

func (c Category) String() string {
	switch c {
	case Deserialize:
		return "deserialises untrusted data"
	case Network:
		return "uses the network"
	case RemoteCode:
		return "loads remote code"
	case Exec:
		return "runs commands or code"
	}
	return "?"
}

// dangerous maps qualified names to what they do; built once, never
// changed.
var dangerous = sync.OnceValue(func() map[string]Category {
	m := map[string]Category{}
	add := func(c Category, mod string, names string) {
		for _, n := range strings.Fields(names) {
			m[mod+"."+n] = c
		}
	}
	add(Exec, "builtins", "exec eval compile __import__ execfile breakpoint")
	add(Exec, "os", "system popen popen2 popen3 popen4 execl execle execlp execlpe execv execve execvp execvpe spawnl spawnle spawnlp spawnlpe spawnv spawnve spawnvp spawnvpe posix_spawn posix_spawnp startfile fork forkpty")
	add(Exec, "posix", "system popen execv execve fork posix_spawn")
	add(Exec, "nt", "system popen startfile")
	add(Exec, "subprocess", "run Popen call check_call check_output getoutput getstatusoutput")
	add(Exec, "asyncio", "create_subprocess_shell create_subprocess_exec")
	add(Exec, "pty", "spawn fork")
	add(Exec, "commands", "getoutput getstatusoutput")
	add(Exec, "ctypes", "CDLL PyDLL WinDLL OleDLL cdll pydll windll oledll CFUNCTYPE")
	add(Exec, "ctypes.cdll", "LoadLibrary")
	add(Exec, "importlib", "import_module __import__ reload")
	add(Exec, "importlib.util", "spec_from_file_location module_from_spec")
	add(Exec, "importlib.machinery", "SourceFileLoader SourcelessFileLoader ExtensionFileLoader")
	add(Exec, "runpy", "run_path run_module")
	add(Exec, "code", "interact InteractiveInterpreter InteractiveConsole compile_command")
	add(Exec, "types", "FunctionType CodeType")
	add(Exec, "marshal", "loads load")
	add(Exec, "sys", "settrace setprofile addaudithook")
	add(Exec, "torch.utils.cpp_extension", "load load_inline")
	add(Exec, "torch.ops", "load_library")
	add(Network, "socket", "socket create_connection create_server socketpair fromfd")
	add(Network, "urllib.request", "urlopen urlretrieve Request build_opener")
	add(Network, "urllib", "urlopen urlretrieve")
	add(Network, "urllib2", "urlopen Request build_opener")
	add(Network, "requests", "get post put patch delete head options request Session")
	add(Network, "httpx", "get post put patch delete head request stream Client AsyncClient")
	add(Network, "http.client", "HTTPConnection HTTPSConnection")
	add(Network, "httplib", "HTTPConnection HTTPSConnection")
	add(Network, "aiohttp", "ClientSession request")
	add(Network, "urllib3", "PoolManager request HTTPConnectionPool HTTPSConnectionPool")
	add(Network, "ftplib", "FTP FTP_TLS")
	add(Network, "smtplib", "SMTP SMTP_SSL")
	add(Network, "telnetlib", "Telnet")
	add(Network, "paramiko", "SSHClient Transport")
	add(Network, "websocket", "create_connection WebSocket WebSocketApp")
	add(Network, "websockets", "connect")
	add(Network, "pycurl", "Curl")
	add(Network, "xmlrpc.client", "ServerProxy")
	add(Network, "webbrowser", "open open_new")
	add(Deserialize, "pickle", "load loads Unpickler")
	add(Deserialize, "_pickle", "load loads Unpickler")
	add(Deserialize, "cPickle", "load loads Unpickler")
	add(Deserialize, "dill", "load loads")
	add(Deserialize, "cloudpickle", "load loads")
	add(Deserialize, "joblib", "load")
	add(Deserialize, "torch", "load")
	add(Deserialize, "torch.jit", "load")
	add(Deserialize, "numpy", "load")
	add(Deserialize, "pandas", "read_pickle")
	add(Deserialize, "shelve", "open")
	add(Deserialize, "jsonpickle", "decode")
	add(Deserialize, "yaml", "load unsafe_load full_load load_all unsafe_load_all full_load_all")
	add(RemoteCode, "torch.hub", "load")
	add(RemoteCode, "transformers.dynamic_module_utils", "get_class_from_dynamic_module get_cached_module_file")
	return m
})

// builtinCalls are names that resolve to builtins when not imported.
var builtinCalls = map[string]bool{"exec": true, "eval": true, "compile": true, "__import__": true, "execfile": true, "breakpoint": true}

// sensitiveModules: a computed attribute of one of these (getattr(os, x))
// reaches code-running functions by a name the scan cannot see.
var sensitiveModules = map[string]bool{"os": true, "posix": true, "nt": true, "subprocess": true, "builtins": true,
	"sys": true, "importlib": true, "ctypes": true, "socket": true, "pickle": true, "marshal": true, "pty": true}

// lookup returns the category of a qualified name.
func lookup(qual string) (Category, bool) {
	c, ok := dangerous()[qual]
	return c, ok
}
