# typecheck.py  `make lint`: mypy over what touches `machine`, once per port, against the
# MicroPython stubs published for that port. Both stub sets define `machine`, so each lives
# in its own directory, build/stubs/PORT, installed here on first use (pip --target).
# Repo-only, like deploy.py: it reads firmware/ and boards/ as files.
import os
import shutil
import subprocess
import sys

from tools import FIRMWARE

ROOT = os.path.dirname(FIRMWARE)
BUILD = os.path.join(ROOT, "build")
# port: (its stubs on PyPI, of the newest MicroPython; its board, which needs 1.23 or later)
PORTS = {
    "rp2": ("micropython-rp2-stubs==1.29.*", "pico"),
    "esp32": ("micropython-esp32-stubs==1.29.*", "esp32"),
}
# What touches `machine`; the settings are pyproject.toml's [tool.mypy].
FILES = ["firmware/hal", "firmware/main.py", "firmware/startup.py"]


def stubs(port, requirement):
    """build/stubs/PORT with `requirement` installed in it; installed again if it changed."""
    d = os.path.join(BUILD, "stubs", port)
    stamp = os.path.join(d, ".requirement")
    try:
        with open(stamp) as f:
            if f.read() == requirement:
                return d
    except OSError:
        pass
    shutil.rmtree(d, ignore_errors=True)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-user",
            "--disable-pip-version-check",
            "--target",
            d,
            requirement,
        ],
        check=True,
    )
    with open(stamp, "w") as f:
        f.write(requirement)
    return d


def check(port):
    """mypy's exit code for the port: its stubs as the standard library (the stubs ship
    MicroPython's reduced typeshed) and on MYPYPATH with firmware/ and the port's board."""
    requirement, board = PORTS[port]
    d = stubs(port, requirement)
    board_dir = os.path.join(ROOT, "boards", board)
    env = dict(os.environ, MYPYPATH=os.pathsep.join([FIRMWARE, board_dir, d]))
    cmd = [
        sys.executable,
        "-m",
        "mypy",
        "--custom-typeshed-dir",
        d,
        "--cache-dir",
        os.path.join(BUILD, "mypy", port),
        *FILES,
        os.path.join("boards", board, "board.py"),
    ]
    print("typecheck %s (%s):" % (port, requirement), flush=True)
    return subprocess.run(cmd, cwd=ROOT, env=env).returncode


def main(argv=None):
    ports = (argv if argv is not None else sys.argv[1:]) or list(PORTS)
    failed = [p for p in ports if check(p)]
    if failed:
        raise SystemExit("typecheck: errors for %s" % ", ".join(failed))


if __name__ == "__main__":
    main()
