# mptest.py  a tiny test runner for micropython (and CPython): runs every test_* function
# of a module and prints one line per test: "PASS name", "FAIL name: reason", or "SKIP name:
# reason" for a rule the port cannot run (scratch.needs).
# Usage: MICROPYPATH=.frozen:FIRMWARE_DIR micropython mptest.py MODULE [NAME] [--fake-machine]
# (tests/mp/, this file's folder, is on the path as the script's own.) --fake-machine puts
# fake_machine.py in the place of `machine` before the module, and the board code it
# imports, are loaded.
import sys

args = [a for a in sys.argv[1:] if a != "--fake-machine"]
if "--fake-machine" in sys.argv:
    import fake_machine

    sys.modules["machine"] = fake_machine
mod = __import__(args[0])
only = args[1] if len(args) > 1 else None
for name in sorted(dir(mod)):
    if not name.startswith("test_") or (only and name != only):
        continue
    try:
        getattr(mod, name)()
        print("PASS " + name)
    except Exception as e:  # report every failure, then go on to the next test
        verdict = "SKIP" if type(e).__name__ == "SkipTest" else "FAIL"
        print("%s %s: %s %s" % (verdict, name, type(e).__name__, e))
