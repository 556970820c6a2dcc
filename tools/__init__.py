# tools  what only makes sense in a checkout: build .mpy, deploy and provision a board, build
# the classroom page, prepare the simulator, type-check the hardware code, run the
# conformance vectors. Not in the wheel (a vending office installs `stsvend`, not these).
import datetime as dt
import os

# firmware/ beside this folder, read as files by the tools that build, deploy and simulate
# the meter.
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIRMWARE = os.path.join(ROOT, "firmware")
# The demo meter's manufacture date: edition 1's TID window (base 1993) closed on
# 2024-11-24, so a demo meter is made before it (simulator, page, board, tests). The
# Makefile's MANUFACTURED says it again for `make provision` (tests/test_deploy.py checks).
DEMO_MADE = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
TESTS_MP = os.path.join(ROOT, "tests", "mp")

# No module edits sys.path: whoever starts an interpreter gives it its import path. The
# Makefile exports it for its targets; a program that starts `micropython` (or another
# python) hands it this environment.


def path_env(*dirs, env=None):
    """A copy of `env` (default os.environ) whose `micropython` imports from `dirs`
    (MICROPYPATH; `.frozen` first, which MICROPYPATH would otherwise drop) and whose python
    imports from them too (PYTHONPATH)."""
    env = dict(os.environ if env is None else env)
    env["MICROPYPATH"] = os.pathsep.join((".frozen",) + dirs)
    env["PYTHONPATH"] = os.pathsep.join(dirs)
    return env
