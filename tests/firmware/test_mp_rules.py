# test_mp_rules.py  the rule modules of tests/mp/ (plain test_* functions run by mptest.py),
# in the micropython binary and, where the code is portable, in CPython: one pytest test
# per rule and interpreter.
import os
import re
import subprocess
import sys

import pytest

from conftest import FIRMWARE, ROOT, micropython_binary, path_env

RUNNER = os.path.join(ROOT, "tests", "mp", "mptest.py")
# module -> interpreters. The drivers need micropython's `const` and `framebuf`, the board's
# loop time.sleep_ms and the wrap of time.ticks_ms.
FAKE_MACHINE = {"board_rules", "selftest_rules"}  # the board's code on fake_machine
MODULES = {
    "meter_rules": ("mp", "cpython"),
    "ui_rules": ("mp", "cpython"),
    "web_rules": ("mp", "cpython"),
    "hal_tests": ("mp",),
    "board_rules": ("mp",),
    "home_rules": ("mp",),
    "selftest_rules": ("mp",),
}


def _path(module):
    return os.path.join(ROOT, "tests", "mp", module + ".py")


def _cases():
    for module, interps in MODULES.items():
        with open(_path(module)) as f:
            for name in re.findall(r"^def (test_\w+)", f.read(), re.M):
                for interp in interps:
                    yield module, name, interp


CASES = list(_cases())
_cache = {}


def _results(module, interp):
    """Run a whole module once per interpreter; {name: (PASS|FAIL, why)} and the output."""
    if (module, interp) not in _cache:
        exe = [micropython_binary(), "-X", "heapsize=1M"] if interp == "mp" else [sys.executable]
        r = subprocess.run(
            exe + [RUNNER, module] + (["--fake-machine"] if module in FAKE_MACHINE else []),
            capture_output=True,
            text=True,
            timeout=600,
            env=path_env(FIRMWARE, os.path.join(ROOT, "web")),  # web/: webmeter for web_rules
        )
        got = {}
        for line in r.stdout.splitlines():
            m = re.match(r"(PASS|FAIL|SKIP) (\w+)(?::\s*(.*))?$", line)
            if m:
                got[m.group(2)] = (m.group(1), m.group(3))
        _cache[module, interp] = (got, r.stdout[-3000:] + r.stderr[-3000:])
    return _cache[module, interp]


@pytest.mark.parametrize("module,name,interp", CASES, ids=["%s-%s-%s" % c for c in CASES])
def test_rule(module, name, interp):
    got, tail = _results(module, interp)
    assert name in got, "the runner did not report %s:\n%s" % (name, tail)
    verdict, why = got[name]
    if verdict == "SKIP":  # a module this interpreter lacks (scratch.needs)
        pytest.skip(why)
    assert verdict == "PASS", why
