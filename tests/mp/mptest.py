# mptest.py  a tiny test runner for micropython (and CPython): runs every test_* function
# of a module and prints one line per test: "PASS name" or "FAIL name: reason".
# Usage: micropython mptest.py FIRMWARE_DIR MODULE_PATH [NAME]
import sys

sys.path.insert(0, sys.argv[1])
_dir, _file = sys.argv[2].rsplit("/", 1)
sys.path.insert(0, _dir)
mod = __import__(_file[:-3])
only = sys.argv[3] if len(sys.argv) > 3 else None
for name in sorted(dir(mod)):
    if not name.startswith("test_") or (only and name != only):
        continue
    try:
        getattr(mod, name)()
        print("PASS " + name)
    except Exception as e:  # report every failure, then go on to the next test
        print("FAIL %s: %s %s" % (name, type(e).__name__, e))
