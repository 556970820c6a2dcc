# scratch.py  helpers the rule modules share: an empty state directory per meter, and one
# cipher at a time for making tokens (runs in micropython and CPython)
import gc
import os
import sys
from binascii import hexlify

from meter.store import RecordStore

_count = [0]
_root = []  # this run's own directory under /tmp, made on first use
_cipher = [None, None]  # the last key and its cipher


def _rmtree(path):
    for f in os.listdir(path):
        p = path + "/" + f
        if os.stat(p)[0] & 0x4000:  # S_IFDIR
            _rmtree(p)
        else:
            os.remove(p)
    os.rmdir(path)


def _candidate():
    return "/tmp/stsmeter_%s_%s" % (sys.implementation.name, hexlify(os.urandom(6)).decode())


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
    """This run's own directory, /tmp/stsmeter_<interpreter>_<random>, removed at exit."""
    if not _root:
        _root.append(_make_root())
        if hasattr(sys, "atexit"):
            sys.atexit(_cleanup)  # micropython: one exit function
        else:
            import atexit

            atexit.register(_cleanup)
    return _root[0]


def _cleanup():
    try:
        _rmtree(_root[0])
    except OSError:  # a file a test left open elsewhere: leave the rest in /tmp
        pass


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
