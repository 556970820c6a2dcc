# test_hal.py  the hardware drivers (tests/mp/hal_tests.py against the stand-ins of
# tests/mp/hal_sim.py), run in the micropython binary; one pytest test per behaviour.
import os
import re
import subprocess

import pytest

from conftest import FIRMWARE, ROOT, micropython_binary

TESTS = os.path.join(ROOT, "tests", "mp", "hal_tests.py")
RUNNER = os.path.join(ROOT, "tests", "mp", "mptest.py")
with open(TESTS) as _f:
    NAMES = re.findall(r"^def (test_\w+)", _f.read(), re.M)
_cache = {}


def _results():
    # the drivers need `micropython.const` and `framebuf`: micropython only, one run for all
    if not _cache:
        r = subprocess.run([micropython_binary(), "-X", "heapsize=1M", RUNNER, FIRMWARE, TESTS],
                           capture_output=True, text=True, timeout=120)
        for line in r.stdout.splitlines():
            m = re.match(r"(PASS|FAIL) (\w+)(?::\s*(.*))?$", line)
            if m:
                _cache[m.group(2)] = (m.group(1), m.group(3))
        _cache[None] = r.stdout[-3000:] + r.stderr[-3000:]
    return _cache


@pytest.mark.parametrize("name", NAMES)
def test_hal(name):
    got = _results()
    assert name in got, "the runner did not report %s:\n%s" % (name, got[None])
    verdict, why = got[name]
    assert verdict == "PASS", why
