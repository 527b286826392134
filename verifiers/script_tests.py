"""Assert-script tests: Python test code that runs after the model's program, in its namespace.

A test ``{"script": SOURCE}`` passes only when the script runs to its end without an exception
(and then every pytest-style ``test_*`` function it defines returns), within the limits. This
module holds the harness that does that inside the sandbox (:data:`SCRIPT_HARNESS`, run as
``/code/main.py`` with the program at ``/code/solution.py``) and the host's side of it.

**How a pass is confirmed.** The program and the tests share one interpreter, so nothing the
process prints, no exit status and no fixed marker can be trusted: a program may call
``sys.exit(0)`` or ``os._exit(0)`` before the tests, print what a marker would say, or write to
every file descriptor it has. The host therefore sends a fresh random nonce per execution (on
stdin, with the script) and counts a pass only when the result channel holds exactly that nonce
and the process exited 0. The nonce never lives where the program can read it:

- the harness reads stdin before the program runs, points fd 0 at ``/dev/null`` and hands the
  nonce to an audit hook (:pep:`578`) it installs before the program's first line; no variable,
  frame or file of the harness keeps it;
- the hook writes it only on the audit event ``factory.script_done`` raised from the harness's
  own code object (checked by identity), i.e. after the script and the ``test_*`` functions
  returned; the same event from the program's code is ignored;
- while the program and the tests run, the hook ends the process (exit status 1, so never a
  pass) on what could read the hook's memory or forge that caller: ``gc.get_objects`` /
  ``get_referrers`` / ``get_referents``, ``ctypes``, opening anything under ``/proc`` (or a path
  given as an object other than ``str``/``bytes``/``int``), ``sys.settrace`` / ``setprofile`` /
  ``_current_frames``, another audit hook, building code objects (``code.__new__``) and running
  or rebuilding the harness's own code (``exec`` / ``function.__new__`` of it), so the harness
  cannot be entered a second time.

**What the tests see.** The program runs as module ``solution`` (also ``sys.modules["__main__"]``,
so ``from solution import f`` works and an ``if __name__ == "__main__":`` block does not run,
as in HumanEval's own harness) with stdin at ``/dev/null``. The script then runs in a copy of the
program's namespace whose builtins are the harness's untouched copy (a program that patched
``builtins.all``, ``isinstance`` or ``AssertionError`` does not change what the script calls), after
the standard modules the harness saved first have been put back as they were (a patched
``math.isclose`` is undone; :data:`RESTORED_MODULES`, and :data:`RESTORED_IF_LOADED` where the
interpreter had them loaded: always in the warm sandbox) and ``pytest`` is the harness's small
stand-in (below). A name the program defines and the script defines again (``check``) is the
script's. ``SystemExit`` raised during the tests, for any code, fails the test: only reaching
the end passes.

**pytest-style functions** (KodCode): after the script's top level, every function it defines
whose name starts with ``test`` is called with no arguments, in definition order, and so is
every ``test*`` method of a class whose name starts with ``Test`` (one fresh instance per method).
``pytest.raises`` (with ``match``), ``pytest.approx`` (``rel``/``abs``), ``pytest.fail``,
``pytest.skip`` (a skipped function counts as returned) and ``@pytest.mark.parametrize`` (each
argument set called in turn) are provided; fixtures are not: a test function with parameters
that no ``parametrize`` supplies fails the test with a message saying so.

**Failure reasons.** An ``AssertionError`` from the tests is ``wrong_answer``; any other
exception, a ``SystemExit`` or an exit without the nonce is ``runtime_error`` (with
``details["error"]``); ``timeout`` / ``memory_limit`` / ``output_limit`` as for every test.

**Not covered** (the program still shares the interpreter): values the program returns are
compared by the test's own ``==``, so an object whose ``__eq__`` is always true passes an
``assert candidate(x) == y``; a module the program imported and patched that the harness had not
imported first stays patched; a program that finds a way to read its own process memory that
is not listed above could read the nonce. The sandbox (:mod:`verifiers.sandbox`) bounds what any
of that can reach; these rules bound what a program can make the verdict say.
"""

from __future__ import annotations

import json
import secrets

# exit status the harness uses when a test raised AssertionError (only ever explains a failure)
ASSERTION_EXIT = 3
# standard modules put back as they were before the script runs: the harness imports the cheap
# ones itself; the others (preloaded by the warm sandbox's zygote) are saved where already loaded,
# so that a cold run does not pay for importing them
RESTORED_MODULES = (
    "math",
    "cmath",
    "re",
    "string",
    "collections",
    "itertools",
    "functools",
    "operator",
    "heapq",
    "bisect",
    "json",
    "copy",
)
RESTORED_IF_LOADED = ("fractions", "decimal", "random", "typing", "array", "types")

SCRIPT_HARNESS = r'''
import builtins, json, os, sys, traceback, types

# the harness's own functions resolve builtins here (captured when each is defined), so a program
# that patches the builtins module changes nothing the harness calls
__builtins__ = dict(vars(builtins))

def _guard(nonce, fd, harness_code, _type=type, _str=str, _bytes=bytes, _int=int, _exit=os._exit,
           _trunc=os.ftruncate, _pwrite=os.pwrite, _err=os.write, _getframe=sys._getframe):
    """The audit hook that alone knows the nonce (see verifiers.script_tests)."""
    refused = frozenset({"gc.get_objects", "gc.get_referrers", "gc.get_referents", "sys.settrace",
                         "sys.setprofile", "sys._current_frames", "sys.addaudithook", "code.__new__"})
    done = [False]

    def die(event):
        _err(2, b"refused in a script test: " + event.encode("ascii", "replace") + b"\n")
        _exit(1)

    def hook(event, args):
        if _type(event) is not _str:
            die("audit event of another type")
        if event == "factory.script_done":
            if not done[0] and _getframe(1).f_code is harness_code:
                done[0] = True
                _trunc(fd, 0)
                _pwrite(fd, nonce, 0)
            return
        if event in refused or event.startswith("ctypes."):
            die(event)
        if event == "open":
            path = args[0]
            if _type(path) is _str:
                if path.startswith("/proc"):
                    die("open " + path)
            elif _type(path) is _bytes:
                if path.startswith(b"/proc"):
                    die("open /proc")
            elif _type(path) is not _int:
                die("open of a path object")
        elif event == "exec" or event == "function.__new__":
            if args[0] is harness_code:
                die(event + " of the harness")
    return hook


class _Skip(BaseException):
    pass


class _Raises:
    def __init__(self, expected, match=None):
        self.expected, self.match, self.value = expected, match, None

    def __enter__(self):
        return self

    def __exit__(self, kind, value, tb):
        if kind is None:
            raise AssertionError("DID NOT RAISE %r" % (self.expected,))
        if not issubclass(kind, self.expected):
            return False
        if self.match is not None:
            import re
            if not re.search(self.match, str(value)):
                raise AssertionError("%r does not match %r" % (str(value), self.match))
        self.value = value
        return True


class _Approx:
    def __init__(self, expected, rel=None, abs=None):
        self.expected, self.rel, self.abs = expected, rel, abs

    def _close(self, want, got):
        if isinstance(want, (list, tuple)):
            return isinstance(got, (list, tuple)) and len(want) == len(got) and all(
                self._close(w, g) for w, g in zip(want, got))
        if isinstance(want, dict):
            return isinstance(got, dict) and want.keys() == got.keys() and all(
                self._close(want[k], got[k]) for k in want)
        if isinstance(want, bool) or not isinstance(want, (int, float, complex)):
            return want == got
        try:
            diff = abs(got - want)
        except TypeError:
            return False
        rel = 1e-6 if self.rel is None else self.rel
        tol = max(rel * abs(want), 1e-12 if self.abs is None else self.abs)
        return diff <= tol

    def __eq__(self, other):
        return self._close(self.expected, other)

    __hash__ = None


def _pytest():
    module = types.ModuleType("pytest")

    def raises(expected, *args, match=None, **kwargs):
        if args:  # the call form: pytest.raises(Exc, fn, *args)
            with _Raises(expected, match) as ctx:
                args[0](*args[1:], **kwargs)
            return ctx
        return _Raises(expected, match)

    def fail(reason="", pytrace=True):
        raise AssertionError(reason)

    def skip(reason="", **kwargs):
        raise _Skip(reason)

    def parametrize(names, values, **kwargs):
        names = [n.strip() for n in names.split(",")] if isinstance(names, str) else list(names)

        def mark(fn):
            sets = [dict(zip(names, v if len(names) > 1 else (v,))) for v in values]
            fn._factory_params = [{**old, **new} for old in getattr(fn, "_factory_params", [{}]) for new in sets]
            return fn
        return mark

    def skipped(fn):
        fn._factory_skip = True
        return fn

    class _Mark:
        def parametrize(self, names, values, **kwargs):
            return parametrize(names, values)

        def skip(self, *args, **kwargs):
            return skipped(args[0]) if len(args) == 1 and callable(args[0]) else skipped

        def skipif(self, condition, *args, **kwargs):
            return skipped if condition else (lambda fn: fn)

        xfail = skip

        def __getattr__(self, name):  # custom marks (slow, timeout...): no effect
            return lambda *a, **k: a[0] if len(a) == 1 and callable(a[0]) and not k else (lambda fn: fn)

    module.raises, module.fail, module.skip, module.mark = raises, fail, skip, _Mark()
    module.approx = lambda expected, rel=None, abs=None: _Approx(expected, rel, abs)
    module.fixture = lambda *a, **k: a[0] if a and callable(a[0]) else (lambda fn: fn)
    return module


def _call(fn, where):
    if getattr(fn, "_factory_skip", False):
        return
    code = fn.__code__
    names = [n for n in code.co_varnames[:code.co_argcount] if n != "self"]
    required = names[:len(names) - len(fn.__defaults__ or ())]
    for kwargs in getattr(fn, "_factory_params", [{}]):
        missing = [n for n in required if n not in kwargs]
        if missing:
            raise TypeError("%s needs %s: pytest fixtures are not supported in script tests" % (where, missing))
        try:
            fn(**kwargs)
        except _Skip:
            pass


def _run_test_functions(namespace):
    for name, value in list(namespace.items()):
        if name.startswith("test") and isinstance(value, types.FunctionType) \
                and value.__code__.co_filename == "/code/test.py":
            _call(value, name)
        elif name.startswith("Test") and isinstance(value, type):
            for attr, method in list(vars(value).items()):
                if attr.startswith("test") and isinstance(method, types.FunctionType):
                    _call(getattr(value(), attr), "%s.%s" % (name, attr))


def _harness():
    fd = int(sys.argv[1].split("=", 1)[1])
    _exit, _audit, _exec, _flush = os._exit, sys.audit, exec, sys.stdout.flush
    data = []
    while True:
        chunk = os.read(0, 1 << 16)
        if not chunk:
            break
        data.append(chunk)
    job = json.loads(b"".join(data))
    del data
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    script_source = job["script"]
    for name in job["restore"]:
        try:
            __import__(name)
        except ImportError:
            pass
    modules = dict(sys.modules)
    restored = job["restore"] + job["restore_if_loaded"]
    contents = {name: dict(modules[name].__dict__) for name in restored if name in modules}
    pristine = dict(__builtins__)
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "solution.py")
    with open(path, encoding="utf-8") as fh:
        program = compile(fh.read(), path, "exec")
    script = compile(script_source, "/code/test.py", "exec")
    stand_in = _pytest()
    sys.addaudithook(_guard(job.pop("nonce").encode(), fd, _harness.__code__))
    del job
    solution = types.ModuleType("solution")
    solution.__file__ = path
    sys.modules["solution"] = sys.modules["__main__"] = solution
    failed = None
    try:
        _exec(program, solution.__dict__)
        for name, module in modules.items():
            sys.modules[name] = module
        for name, saved in contents.items():
            namespace = modules[name].__dict__
            if namespace != saved:
                namespace.clear()
                namespace.update(saved)
        sys.modules["solution"] = sys.modules["__main__"] = solution
        sys.modules["pytest"] = stand_in
        namespace = dict(solution.__dict__)
        namespace["__builtins__"] = pristine
        namespace["__name__"] = "__test__"
        _exec(script, namespace)
        _run_test_functions(namespace)
    except BaseException as exc:  # SystemExit too: leaving before the end is not passing
        failed = 3 if isinstance(exc, AssertionError) else 1
        try:
            traceback.print_exc()
            sys.stderr.flush()
        except BaseException:
            pass
    if failed is not None:
        _exit(failed)
    try:
        _flush()
    except BaseException:
        _exit(1)
    _audit("factory.script_done")
    _exit(0)

_harness()
'''


def script_job(script: str) -> tuple[bytes, str]:
    """The stdin of one script-test execution and the nonce that confirms it ran to its end."""
    nonce = secrets.token_hex(16)
    job = {
        "nonce": nonce,
        "script": script,
        "restore": list(RESTORED_MODULES),
        "restore_if_loaded": list(RESTORED_IF_LOADED),
    }
    return json.dumps(job).encode(), nonce


__all__ = ["ASSERTION_EXIT", "RESTORED_IF_LOADED", "RESTORED_MODULES", "SCRIPT_HARNESS", "script_job"]
