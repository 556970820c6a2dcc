# scratch.py  helpers the rule modules share: an empty state directory per meter, and one
# cipher at a time for making tokens (runs in micropython and CPython)
# The same rule modules run on a board's port (the qemu Cortex-M0/M3 builds of
# ../shared/EMULATION.md), which has no sys.atexit, no os.urandom, no /tmp, and modules
# whose __file__ a ROMFS does not resolve: what differs is looked up here, once (the seam).
import gc
import os
import sys
from binascii import hexlify

from meter.store import RecordStore

_count = [0]
_root = []  # this run's own directory under BASE, made on first use
_cipher = [None, None]  # the last key and its cipher

# What the port offers (a board runner, or a test, may set them before the first use):
# urandom(n) for the directory's name (else the ticks and a counter: a board runs one test
# run at a time, and mkdir refuses a taken name anyway); at_exit(f) to remove it at exit
# (else nothing: the runner calls cleanup()); BASE, the directory that holds it.
urandom = getattr(os, "urandom", None)
at_exit = getattr(sys, "atexit", None)  # micropython's unix port: one exit function
if at_exit is None:
    try:
        from atexit import register as at_exit  # CPython
    except ImportError:  # a board's port
        pass


class SkipTest(Exception):
    """A rule this port cannot run (a module it lacks): the runner says SKIP, not FAIL."""


def needs(name):
    """Raise SkipTest unless the port has module `name` (the qemu port has no asyncio)."""
    try:
        __import__(name)
    except ImportError:
        raise SkipTest("no %s on this port" % name) from None


def _base():
    try:
        if os.stat("/tmp")[0] & 0x4000:
            return "/tmp"
    except OSError:
        pass
    return os.getcwd()  # a board: its file system's working directory


BASE = _base()


def _rmtree(path):
    for f in os.listdir(path):
        p = path + "/" + f
        if os.stat(p)[0] & 0x4000:  # S_IFDIR
            _rmtree(p)
        else:
            os.remove(p)
    os.rmdir(path)


def _tag():
    if urandom:
        return hexlify(urandom(6)).decode()
    import time

    _count[0] += 1
    return "%x_%d" % (time.ticks_ms() if hasattr(time, "ticks_ms") else 0, _count[0])


def _candidate():
    return "%s/stsmeter_%s_%s" % (BASE.rstrip("/"), sys.implementation.name, _tag())


def _make_root():
    """A new directory; mkdir fails on a name another run holds, so it is never shared."""
    while True:
        d = _candidate()
        try:
            os.mkdir(d)
            return d
        except OSError as e:
            if e.args[0] != 17:  # EEXIST: taken, draw again; anything else is a fault
                raise


def run_root():
    """This run's own directory, BASE/stsmeter_<interpreter>_<random>, removed at exit
    (or by cleanup() where the port has no exit functions)."""
    if not _root:
        _root.append(_make_root())
        if at_exit:
            at_exit(cleanup)
    return _root[0]


def cleanup():
    """Remove this run's directory (at exit; a board's runner calls it itself)."""
    if not _root:
        return
    try:
        _rmtree(_root[0])
    except OSError:  # a file a test left open elsewhere: leave the rest where it is
        pass


def fixture(name):
    """The directory of tests/fixtures/<name>: beside this module's directory where the
    port gives modules a __file__, else found through sys.path (a board's runner puts the
    fixtures beside the rule modules, or one level up, as in the checkout)."""
    here = globals().get("__file__", "")
    dirs = [here.rsplit("/", 1)[0]] if "/" in here else []
    for d in dirs + sys.path:
        for f in (d + "/../fixtures/" + name, d + "/fixtures/" + name):
            try:
                if os.stat(f)[0] & 0x4000:
                    return f
            except OSError:
                pass
    raise OSError(2, "no fixture " + name)  # ENOENT


def fresh_dir(name):
    """A new empty directory <run_root>/<name>_<n>, a new n each call."""
    _count[0] += 1
    d = "%s/%s_%d" % (run_root(), name, _count[0])
    os.mkdir(d)
    return d


class FailingStore(RecordStore):
    """A record store whose writes fail (flash full, worn, an I/O error) once `failing` is
    set."""

    failing = False

    def _write(self, path, parts):
        if self.failing:
            raise OSError(28)  # ENOSPC
        RecordStore._write(self, path, parts)


def cipher(key):
    """Sta for an 8-byte key, Misty1 for a 16-byte one; the last one is kept."""
    if _cipher[0] != key:
        _cipher[1] = None
        gc.collect()
        if len(key) == 8:
            from sts.sta import Sta

            _cipher[1] = Sta(key)
        else:
            from sts.misty1 import Misty1

            _cipher[1] = Misty1(key)
        _cipher[0] = key
    return _cipher[1]
