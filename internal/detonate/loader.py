# modelgate detonate: the loader that runs INSIDE modelgate's sandbox.
#
# It loads one model file with the real loader for its format and reports,
# through a PEP 578 audit hook, what the load tries to do: one JSON object
# per line on an inherited descriptor. modelgate passes this script on
# standard input:
#
#     python3 -I - AUDIT_FD MODEL_FD LOADER
#
# The framework is imported before the hook is installed, so its own
# imports are not the model's. Events raised while a library module is
# being imported (its body, the namedtuples and dataclasses it builds) are
# tagged with that module ("ctx"); code, imports and plain reads inside
# them are not reported at all, everything that reaches the system is.
#
# This script is ours, but what it loads is hostile: nothing here calls a
# method of a loaded object except through the loader, and values are
# described by their real type, never by their own __repr__.
import _compat_pickle
import json
import os
import sys
import threading

MAX_EVENTS = 20000
MAX_TEXT = 300

# Frequent events that say nothing about what a model does.
NOISE = frozenset((
    "object.__getattr__", "object.__setattr__", "object.__delattr__",
    "builtins.id", "sys._getframe", "sys._getframemodulename", "os.listdir",
    "os.scandir", "os.walk", "os.fwalk", "os.getxattr", "os.listxattr",
    "os.chdir", "glob.glob", "glob.glob/2", "sys.excepthook", "function.__new__",
    "array.__new__", "gc.get_referrers", "gc.get_referents", "gc.get_objects",
    "time.sleep", "os.add_dll_directory", "cpython._PySys_ClearAuditHooks",
    "sys.unraisablehook",
))

# Events reported whatever the context (module prefixes and exact names).
REACHES_SYSTEM = (
    "os.", "subprocess.", "pty.", "socket.", "ctypes.", "shutil.", "urllib.",
    "http.", "ftplib.", "smtplib.", "poplib.", "imaplib.", "nntplib.",
    "telnetlib.", "webbrowser.", "sqlite3.", "tempfile.", "resource.",
    "mmap.", "signal.", "syslog.", "sys.addaudithook", "sys.settrace",
    "sys.setprofile", "sys.remote_exec", "builtins.input",
)
# Events about code: reported only outside library imports.
CODE = frozenset((
    "exec", "compile", "code.__new__", "marshal.loads", "marshal.load",
    "cpython.run_file", "cpython.run_command",
))

WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND

# Events that write or change files; those inside a temporary folder the
# load made with tempfile (torch's old tar format extracts there) are
# marked "tmp".
WRITES = frozenset((
    "open", "os.remove", "os.rmdir", "os.rename", "os.link", "os.symlink", "os.mkdir",
    "os.chmod", "os.chown", "os.truncate", "os.utime", "os.mkfifo", "os.mknod",
    "shutil.rmtree", "shutil.copyfile", "shutil.copymode", "shutil.copystat",
    "shutil.copytree", "shutil.move", "shutil.chown", "shutil.unpack_archive",
    "tempfile.mkstemp", "tempfile.mkdtemp",
))


def type_name(t):
    try:
        return "%s.%s" % (t.__module__, t.__qualname__)
    except Exception:
        return "?"


def text(v, limit=MAX_TEXT):
    """Describes a value from its real type, without calling its methods."""
    t = type(v)
    try:
        if v is None or t is bool or t is int or t is float:
            return str(v)
        if issubclass(t, str):
            return str.__str__(v)[:limit]
        if issubclass(t, (bytes, bytearray)):
            return repr(bytes(v[:limit]))
        if t is tuple or t is list:
            return "[" + ", ".join(text(x, 100) for x in list(v)[:16]) + "]"
        if t.__name__ == "code" and t.__module__ == "builtins":
            return "<code %s at %s>" % (text(v.co_name, 80), text(v.co_filename, 200))
    except Exception:
        pass
    return "<%s>" % type_name(t)


def writes(mode, flags):
    if type(mode) is str:
        return any(c in mode for c in "wax+")
    return type(flags) is int and flags & WRITE_FLAGS != 0


def from_ast_parse():
    """Whether the event comes from ast.parse (numpy's header reader, say),
    which compiles to a syntax tree and never runs anything."""
    f = sys._getframe(3)
    while f is not None and f.f_code.co_filename == "<stdin>":
        f = f.f_back
    return f is not None and f.f_code.co_name == "parse" and f.f_code.co_filename.endswith("/ast.py")


def in_tempfile():
    """Whether the event comes from inside the tempfile module."""
    f = sys._getframe(3)
    while f is not None:
        if f.f_code.co_filename.endswith("/tempfile.py"):
            return True
        f = f.f_back
    return False


def py3_name(module, name):
    """The global find_class resolves for a Python 2 name (the audit event
    carries the name as written; protocols 0-2 are renamed after it)."""
    if (module, name) in _compat_pickle.NAME_MAPPING:
        return _compat_pickle.NAME_MAPPING[(module, name)]
    return _compat_pickle.IMPORT_MAPPING.get(module, module), name


def import_context():
    """The module whose import is running, or None outside imports."""
    f = sys._getframe(2)
    importing, module = False, None
    while f is not None:
        code = f.f_code
        if code.co_filename.startswith("<frozen importlib._bootstrap"):
            importing = True
        elif module is None and code.co_name == "<module>" and code.co_filename != "<stdin>":
            name = f.f_globals.get("__name__")
            module = name if type(name) is str else "?"
        f = f.f_back
    if not importing:
        return None
    return module or "?"


class Channel:
    def __init__(self, fd):
        self.fd = fd
        self.count = 0
        self.lock = threading.Lock()
        self.broken = False

    def send(self, obj):
        with self.lock:
            if self.broken:
                return
            self.count += 1
            if self.count > MAX_EVENTS:
                if self.count == MAX_EVENTS + 1:
                    obj = {"ev": "truncated"}
                else:
                    return
            data = (json.dumps(obj, ensure_ascii=True) + "\n").encode()
            try:
                while data:
                    data = data[os.write(self.fd, data):]
            except OSError:
                self.broken = True


class Hook:
    def __init__(self, channel):
        self.channel = channel
        self.phase = "setup"
        self.busy = set()
        self.scratch = []  # folders tempfile.mkdtemp made during the load

    def __call__(self, event, args):
        if self.phase == "setup" or event in NOISE:
            return
        me = threading.get_ident()
        if me in self.busy:
            return
        self.busy.add(me)
        try:
            rec = self.describe(event, args)
            if rec is not None:
                rec["ph"] = self.phase
                self.channel.send(rec)
        except Exception:
            pass
        finally:
            self.busy.discard(me)

    def describe(self, event, args):
        ctx = import_context()
        if event == "pickle.find_class":
            module, name = text(args[0]), text(args[1])
            rec = {"ev": event, "module": module, "name": name, "ctx": ctx or ""}
            m3, n3 = py3_name(module, name)
            if (m3, n3) != (module, name):
                rec.update(module=m3, name=n3, raw=module + "." + name)
            return rec
        if event == "import":
            if ctx is not None:
                return None
            return {"ev": event, "module": text(args[0])}
        if event in CODE:
            if ctx is not None or (event == "compile" and from_ast_parse()):
                return None
            return {"ev": event, "args": [text(a) for a in args[:2]]}
        if event == "open":
            if len(args) < 3 or not writes(args[1], args[2]):
                return None
            rec = {"ev": event, "args": [text(args[0]), text(args[1])], "ctx": ctx or ""}
        elif event.startswith(REACHES_SYSTEM):
            rec = {"ev": event, "args": [text(a) for a in args[:6]], "ctx": ctx or ""}
        else:
            return None
        if event in WRITES:
            path = rec["args"][0] if rec["args"] else ""
            if event == "tempfile.mkdtemp":
                self.scratch.append(path.rstrip("/") + "/")
            if in_tempfile() or event.startswith("tempfile.") or any(path.startswith(d) for d in self.scratch):
                rec["tmp"] = True
        return rec


def make_loader(name):
    if name == "pickle":
        import pickle
        return pickle.load
    if name == "torch":
        import inspect
        import torch
        kwargs = {"map_location": "cpu"}
        if "weights_only" in inspect.signature(torch.load).parameters:
            kwargs["weights_only"] = False  # the point is to see what a full load does
        return lambda f: torch.load(f, **kwargs)
    if name == "joblib":
        import joblib
        return joblib.load
    if name == "numpy":
        import numpy

        def load(f):
            loaded = numpy.load(f, allow_pickle=True)
            if type(loaded).__name__ == "NpzFile":
                for key in loaded.files:
                    loaded[key]  # members are unpickled when read
            return loaded
        return load
    raise ImportError("unknown loader " + name)


def main():
    audit_fd, model_fd, loader = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    channel = Channel(audit_fd)
    try:
        load = make_loader(loader)
    except ImportError as e:
        channel.send({"ev": "loader-unavailable", "loader": loader, "message": text(str(e))})
        return 3
    model = os.fdopen(model_fd, "rb", closefd=False)
    hook = Hook(channel)
    sys.addaudithook(hook)
    channel.send({"ev": "start", "loader": loader, "python": sys.version.split()[0]})
    hook.phase = "load"
    try:
        obj = load(model)
    except BaseException as e:  # SystemExit too: a payload may call sys.exit
        hook.phase = "exit"
        try:
            message = text(str(e))
        except BaseException:
            message = "?"
        channel.send({"ev": "load-error", "type": type_name(type(e)), "message": message})
        return 4
    hook.phase = "exit"
    channel.send({"ev": "loaded", "type": type_name(type(obj))})
    return 0


sys.exit(main())
