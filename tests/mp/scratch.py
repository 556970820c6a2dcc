# scratch.py  helpers the rule modules share: an empty state directory per meter, and one
# cipher at a time for making tokens (runs in micropython and CPython)
import gc
import os
import sys

from meter.store import RecordStore

_count = [0]
_cipher = [None, None]  # the last key and its cipher


def fresh_dir(name):
    """An empty directory /tmp/<name>_<interpreter>/<n>, a new n each call."""
    root = "/tmp/%s_%s" % (name, sys.implementation.name)
    _count[0] += 1
    for d in (root, "%s/%d" % (root, _count[0])):
        try:
            os.mkdir(d)
        except OSError:
            pass
    for f in os.listdir(d):
        try:
            os.remove(d + "/" + f)
        except OSError:  # a directory (a board's state directory): its files, then it
            for g in os.listdir(d + "/" + f):
                os.remove(d + "/" + f + "/" + g)
            os.rmdir(d + "/" + f)
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
