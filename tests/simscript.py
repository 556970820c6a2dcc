# simscript.py  the tests' one way to drive boards/unix/sim.py --script: a simulator process
# over a script of commands, the JSON lines it printed, and the frames, screens and
# statuses among them (test_sim, test_e2e_keypad, test_e2e_faults).
import json
import os
import subprocess

from conftest import FIRMWARE, ROOT, micropython_binary, path_env
from stsvend import profile

SIM = os.path.join(ROOT, "boards", "unix", "sim.py")


def demo():
    """The demo meter's profile (stsvend/profiles/demo.json)."""
    return profile.load(os.path.join(ROOT, "stsvend", "profiles", "demo.json"))


def run(state, lines, start, options=(), rc=0, error_lines=False, timeout=120):
    """The simulator on `state` (personalised from its meter.json) fed the script `lines`;
    the JSON lines it printed. It must exit with `rc`, print nothing on stderr and no
    traceback, and, unless error_lines, no {"error": ...} line."""
    cmd = [
        micropython_binary(),
        SIM,
        "--script",
        "--state",
        str(state),
        "--profile",
        os.path.join(str(state), "meter.json"),
        "--start",
        str(start),
    ] + list(options)
    r = subprocess.run(
        cmd,
        input="\n".join(lines) + "\n",
        capture_output=True,
        text=True,
        timeout=timeout,
        env=path_env(FIRMWARE),
    )
    what = "exit %d\nstdout tail:\n%s\nstderr:\n%s" % (
        r.returncode,
        r.stdout[-3000:],
        r.stderr[-3000:],
    )
    assert "Traceback" not in r.stdout + r.stderr, what
    assert r.returncode == rc and not r.stderr, what
    out = parse(r.stdout)
    assert error_lines or not [o for o in out if "error" in o], what
    return out


def parse(stdout):
    """Every line the simulator printed, as JSON; no traceback or stray text."""
    out = []
    for line in stdout.splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            raise AssertionError(
                "not a JSON line from the simulator: %r\n%s" % (line, stdout[-3000:])
            ) from None
    return out


def frames(out):
    return [o for o in out if "lines" in o]


def screen(o):
    return [s.rstrip() for s in o["lines"]]


def screens(out):
    return [screen(o) for o in frames(out)]


def statuses(out):
    return [o["status"] for o in out if "status" in o]
