# test_ui_rules.py  the keypad-and-display rules (tests/mp/ui_rules.py), run in the micropython
# binary and in CPython; one pytest test per rule.
import os
import re
import subprocess
import sys

import pytest

from conftest import FIRMWARE, ROOT, micropython_binary

RULES = os.path.join(ROOT, "tests", "mp", "ui_rules.py")
RUNNER = os.path.join(ROOT, "tests", "mp", "mptest.py")
with open(RULES) as _f:
    NAMES = re.findall(r"^def (test_\w+)", _f.read(), re.M)
_cache = {}


def _results(interp):
    if interp not in _cache:
        exe = [micropython_binary(), "-X", "heapsize=1M"] if interp == "mp" else [sys.executable]
        r = subprocess.run(exe + [RUNNER, FIRMWARE, RULES], capture_output=True, text=True,
                           timeout=600)
        got = {}
        for line in r.stdout.splitlines():
            m = re.match(r"(PASS|FAIL) (\w+)(?::\s*(.*))?$", line)
            if m:
                got[m.group(2)] = (m.group(1), m.group(3))
        _cache[interp] = (got, r.stdout[-3000:] + r.stderr[-3000:])
    return _cache[interp]


@pytest.mark.parametrize("interp", ["mp", "cpython"])
@pytest.mark.parametrize("name", NAMES)
def test_rule(name, interp):
    got, tail = _results(interp)
    assert name in got, "the runner did not report %s:\n%s" % (name, tail)
    verdict, why = got[name]
    assert verdict == "PASS", why
