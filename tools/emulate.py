# emulate.py  the meter on an emulated Cortex-M3 (qemu mps2-an385), booted from LittleFS
# Usage: python -m tools.emulate boot [--tokens N] [--heap-build DIR]
#        python -m tools.emulate imports     the heap after each module of the boot, in order
#        python -m tools.emulate rules [MODULE...]   tests/mp's rule modules on the board's port
# What a board does, on MicroPython's qemu port (../shared/EMULATION.md, docs/emulation.md):
# firmware/ as .mpy for armv7m (tools/build_mpy.py's board image) on a LittleFS made here
# (littlefs-python), which qemu loads into RAM outside the heap, as a board's flash is; a
# block device over that RAM is mounted at /, then `import main` boots the meter with
# tools/emulate_board.py as board.py: keys from /keys.txt, the heap printed where it says.
# Needs qemu-system-arm, MicroPython's source with the qemu port built (MICROPYTHON_SRC,
# default /work/build-mp/micropython; BUILD dirs in docs/emulation.md) and littlefs-python;
# where one is missing it says which and exits 0 (CI has none of them).
import argparse
import ast
import datetime as dt
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time

from tools import DEMO_MADE, FIRMWARE, ROOT, build_mpy

MARCH = "armv7m"
SRC = "/work/build-mp/micropython"  # MicroPython's source; $MICROPYTHON_SRC if set
BOOT_BUILD = "build-an385-64k"  # MICROPY_HEAP_SIZE=65536 MICROPY_VFS_LFS2=1
RULES_BUILD = "build-an385-1m"  # MICROPY_HEAP_SIZE=1048576: the rule modules' 1 MB, as in CI
BOARD = os.path.join(ROOT, "tools", "emulate_board.py")
FS_ADDR = 0x21400000  # the AN385's PSRAM, past the ROMFS partition the port knows of
BLOCK = 4096
BLOCKS = 640  # 2.5 MB: the firmware, 10,000 tokens' keys, the meter's records
RULES_BLOCKS = 2816  # 11 MB: the rule modules make a few hundred meters' records
LFS = {"read_size": 32, "prog_size": 32, "lookahead_size": 32, "cache_size": 128}  # VfsLfs2's
CHECKPOINT = 50  # tokens typed before the first heap reading after boot

# The block device the port lacks in C: the LittleFS image in RAM, read and written through a
# memoryview (no copy on the heap). Defined from the raw REPL before main is imported; what
# it costs is in the "mounted" reading, before the meter's first import.
MOUNT = """\
import gc, uctypes, vfs, os
class RamDisk:
    def __init__(s, addr, n, bs):
        s.m = memoryview(uctypes.bytearray_at(addr, n * bs))
        s.n = n
        s.bs = bs
    def readblocks(s, b, buf, off=0):
        a = b * s.bs + off
        buf[:] = s.m[a:a + len(buf)]
    def writeblocks(s, b, buf, off=None):
        a = b * s.bs + (off or 0)
        s.m[a:a + len(buf)] = buf
    def ioctl(s, op, arg):
        if op == 4:
            return s.n
        if op == 5:
            return s.bs
        return 0
vfs.mount(vfs.VfsLfs2(RamDisk(%d, %d, %d)), "/")
os.chdir("/")
del RamDisk
gc.collect()
print("MEM mounted alloc=%%d free=%%d" %% (gc.mem_alloc(), gc.mem_free()))
"""


class Missing(Exception):
    """Something the emulation needs is not on this machine (the message says what)."""


def elf(build):
    src = os.environ.get("MICROPYTHON_SRC", SRC)
    path = os.path.join(src, "ports", "qemu", build, "firmware.elf")
    if not os.path.exists(path):
        raise Missing(
            "no %s: build it with `make -C %s/ports/qemu BOARD=MPS2_AN385 BUILD=%s "
            "MICROPY_VFS_LFS2=1 MICROPY_HEAP_SIZE=%s FROZEN_MANIFEST=` (docs/emulation.md)"
            % (path, src, build, "65536" if build == BOOT_BUILD else "1048576")
        )
    return path


def need_tools():
    if not shutil.which("qemu-system-arm"):
        raise Missing("no qemu-system-arm on PATH (Debian: qemu-system-arm)")
    try:
        import littlefs  # noqa: F401
        from mpremote.transport_serial import SerialTransport  # noqa: F401
    except ImportError as e:
        raise Missing("%s (pip install littlefs-python mpremote)" % e) from None


# -- the image ---------------------------------------------------------------------------
def board_root(out, firmware=FIRMWARE, march=MARCH):
    """A board's file system root in out/: the firmware as .mpy (the board image of
    tools/build_mpy.py), main.py as source, and emulate_board.py as board.mpy."""
    build_mpy.image(out, march, BOARD, firmware)
    os.remove(os.path.join(out, "board.py"))
    build_mpy._compile(BOARD, os.path.join(out, "board.mpy"), march, "board.py")
    os.makedirs(os.path.join(out, "state"), exist_ok=True)
    return out


def demo_files(out, tokens, reboot_tokens=0, seed=2026, kind=None, key_change=False):
    """meter.json for the demo meter (or a meter of bench/kinds.py's `kind`) and keys.txt
    for its first power-up: no key held (no self-test), the heap at boot and the modules
    loaded, `tokens` credit tokens (the heap after CHECKPOINT of them and at the end). With
    reboot_tokens, keys2.txt for a second power-up on the state the first left: the same,
    with that many tokens (boot() moves it to keys.txt). key_change: the last power-up ends
    with a key change set to KRN + 1 and a credit token under the new key, the heap and the
    modules after them. Returns the tenths bought."""
    import json

    from stsvend import profile, vend
    from tools.deploy import meter_json

    if kind is None:
        prof = profile.load(os.path.join(ROOT, "stsvend", "profiles", "demo.json"))
        made = DEMO_MADE
    else:
        from bench import kinds

        prof = kinds.profile(kind)
        made = kinds._MADE[prof.base_date]
    with open(os.path.join(out, "meter.json"), "w") as f:
        json.dump(meter_json(prof, made), f)
    rng = random.Random(seed)
    t0 = made + dt.timedelta(days=1)
    total = 0
    minute = 0
    runs = [("keys.txt", tokens)] + ([("keys2.txt", reboot_tokens)] if reboot_tokens else [])
    for name, n in runs:
        with open(os.path.join(out, name), "w") as f:
            f.write("idle 30\nmem boot\nmodules\n")
            for i in range(n):
                if i == CHECKPOINT:
                    f.write("mem after %d tokens\n" % i)
                when = t0 + dt.timedelta(minutes=minute)
                minute += 1
                t = vend.credit(prof, "electricity", rng.randrange(1, 40), when, None, rng)
                total += t.extra["encoded_tenths"]
                f.write(t.digits + "#\n")
            f.write("mem after %d tokens\n" % n)
            if key_change and name == runs[-1][0]:
                kcts, target = vend.key_change(prof, {"krn": prof.krn % 9 + 1})
                moved = profile.Profile(
                    dict(target, name=prof.name, vending_key=prof.vending_key.hex())
                )
                when = t0 + dt.timedelta(minutes=minute)
                t = vend.credit(moved, "electricity", 10, when, None, rng)
                total += t.extra["encoded_tenths"]
                f.writelines(k.digits + "#\n" for k in kcts)
                f.write(t.digits + "#\nmem after the key change\nmodules\n")
    return total


def lfs_image(root, path, blocks=BLOCKS):
    """A LittleFS (vfs.VfsLfs2's settings) holding the tree at root, written to path."""
    import littlefs

    fs = littlefs.LittleFS(block_size=BLOCK, block_count=blocks, **LFS)
    for d, dirs, names in os.walk(root):
        rel = os.path.relpath(d, root).replace(os.sep, "/")
        at = "" if rel == "." else "/" + rel
        for n in sorted(dirs):
            fs.mkdir(at + "/" + n)
        for n in sorted(names):
            with open(os.path.join(d, n), "rb") as src, fs.open(at + "/" + n, "wb") as dst:
                dst.write(src.read())
    with open(path, "wb") as f:
        f.write(fs.context.buffer)
    return path


# -- qemu ----------------------------------------------------------------------------------
class Qemu:
    """qemu-system-arm running `firmware` with the image at FS_ADDR, its UART on a pty
    driven through mpremote's raw REPL."""

    def __init__(self, firmware, image):
        from mpremote.transport_serial import SerialTransport

        self.p = subprocess.Popen(
            [
                "qemu-system-arm",
                "-machine",
                "mps2-an385",
                "-nographic",
                "-monitor",
                "null",
                "-semihosting",
                "-serial",
                "pty",
                "-kernel",
                firmware,
                "-device",
                "loader,file=%s,addr=0x%x,force-raw=on" % (image, FS_ADDR),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        pty = None
        for line in self.p.stdout:
            m = re.search(r"redirected to (/dev/pts/\d+)", line)
            if m:
                pty = m.group(1)
                break
        if pty is None:
            self.p.kill()
            raise RuntimeError("qemu printed no pty")
        self.t = SerialTransport(pty, baudrate=115200)
        self.t.enter_raw_repl(soft_reset=False)

    def run(self, code, timeout=60, each=None):
        """Run code from the raw REPL; its output (each line to `each` as it comes), and
        what it raised."""
        self.t.exec_raw_no_follow(code)
        whole = []
        buf = [""]

        def consume(data):
            text = data.decode(errors="replace")
            whole.append(text)
            if each is not None:
                *lines, buf[0] = (buf[0] + text).split("\n")
                for line in lines:
                    each(line.rstrip("\r"))

        out, err = self.t.follow(timeout, consume)
        if each is not None and buf[0]:
            each(buf[0])
        return "".join(whole), err.decode(errors="replace")

    def close(self):
        try:
            self.t.close()
        finally:
            self.p.kill()
            self.p.wait()


def mem_readings(lines):
    """{label: {alloc, free, max_free}} from the board's MEM lines and mem_info() after each."""
    out = {}
    label = None
    for line in lines:
        m = re.match(r"MEM (.+) alloc=(\d+) free=(\d+)", line)
        if m:
            label = m.group(1)
            out[label] = {"alloc": int(m.group(2)), "free": int(m.group(3))}
            continue
        m = re.search(r"max free sz: (\d+)", line)
        if m and label is not None:
            out[label]["max_free"] = int(m.group(1)) * 16  # blocks of 16 bytes (32-bit)
            label = None
    return out


def power_up(q, args, label, shown, before="", heap=0):
    """One power-up of the board in qemu: mount, import main, until its keys run out. The
    heap readings {label: ...}, or None (the output's end is printed)."""
    lines = []

    def each(line):
        lines.append(line)
        if line.startswith("SHOW "):
            top = line[5:].split("|")[0].strip()
            shown[top] = shown.get(top, 0) + 1
        elif args.verbose or not line.startswith(("GC:", " No.", " Max", "mem:", "stack:")):
            print(line, flush=True)

    pad = 0
    if heap:  # the heap's first bytes taken for good: what is left is a smaller heap
        code = "import gc\n_pad = bytearray(gc.mem_free() + gc.mem_alloc() - %d)\nprint(len(_pad))"
        pad = int(re.search(r"\d+", q.run(code % heap)[0]).group())
    q.run(MOUNT % (FS_ADDR, BLOCKS, BLOCK) + before, each=each)
    out, err = q.run("import main", timeout=args.timeout, each=each)
    if "END" not in lines:
        print(err[-3000:])
        print("emulate: %s: the meter did not run to the end of its keys" % label)
        return None
    mem = {"%s: %s" % (label, k): v for k, v in mem_readings(lines).items()}
    for m in mem.values():
        m["alloc"] -= pad  # (rounded up to whole blocks: a few bytes more than the heap asked)
    return mem


def boot(args):
    firmware = elf(args.build)
    need_tools()
    tmp = tempfile.mkdtemp(prefix="stsmeter_emulate_")
    try:
        root = board_root(os.path.join(tmp, "root"), args.firmware)
        total = demo_files(
            root, args.tokens, args.reboot_tokens, kind=args.kind, key_change=args.key_change
        )
        image = lfs_image(root, os.path.join(tmp, "lfs.img"))
        q = Qemu(firmware, image)
        shown = {}
        started = time.time()
        try:
            first = args.heap if args.first_heap is None else args.first_heap
            mem = power_up(q, args, "first boot", shown, heap=first)
            if mem is not None and args.reboot_tokens:
                # a power cut: the heap starts again, the file system (RAM outside it) stays
                q.t.enter_raw_repl(soft_reset=True)
                keys = "os.remove('keys.txt')\nos.rename('keys2.txt', 'keys.txt')\n"
                again = power_up(q, args, "reboot", shown, keys, args.heap)
                mem = None if again is None else dict(mem, **again)
        finally:
            q.close()
        took = time.time() - started
        print("results shown: %s; tenths bought: %d; %.0f s" % (shown, total, took))
        if mem is None:
            return 1
        for label, m in mem.items():
            print(
                "%-30s in use %6d B  free %6d B  largest free block %s B"
                % (label, m["alloc"], m["free"], m.get("max_free", "?"))
            )
        return 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# -- where the heap goes at boot -----------------------------------------------------------
# What a board's power-up imports, in startup.run's order: startup, the cipher first (its
# cipher_first: the viper kernels, then the demo meter's STA), then the rest of the meter
# (app). tests/tools/test_emulate.py checks a boot against it.
BOOT = ("startup", "sts.kernels", "sts.codec", "sts.sta", "app")


def boot_sequence(firmware=FIRMWARE):
    """Every firmware module a board's boot loads before its first key, dependencies first,
    in the order it loads them (BOOT's, each with what it imports at module level)."""
    seen = []
    for top in BOOT:
        boot_order(top, firmware, seen)
    return seen


def boot_order(top="startup", firmware=FIRMWARE, seen=None):
    """The firmware modules `top` imports at module level, dependencies first (as the board
    loads them), from their source."""
    seen = [] if seen is None else seen
    path = os.path.join(firmware, *top.split(".")) + ".py"
    if not os.path.exists(path):
        path = os.path.join(firmware, *top.split("."), "__init__.py")
        if not os.path.exists(path):
            return seen  # micropython, gc, time: the port's own
    with open(path) as f:
        tree = ast.parse(f.read())
    for node in tree.body:  # module level only: what a function imports comes when it runs
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [node.module + "." + a.name for a in node.names]
        for name in names:
            if name not in seen and name != top:
                parent = name.rsplit(".", 1)[0] if "." in name else None
                if parent and parent not in seen:
                    boot_order(parent, firmware, seen)
                if os.path.exists(os.path.join(firmware, *name.split(".")) + ".py"):
                    boot_order(name, firmware, seen)
    if top not in seen:
        seen.append(top)
    return seen


def imports(args):
    firmware = elf(args.build)
    need_tools()
    order = boot_sequence(args.firmware)
    tmp = tempfile.mkdtemp(prefix="stsmeter_emulate_")
    try:
        root = board_root(os.path.join(tmp, "root"), args.firmware)
        demo_files(root, 0)
        image = lfs_image(root, os.path.join(tmp, "lfs.img"))
        q = Qemu(firmware, image)
        try:
            q.run(MOUNT % (FS_ADDR, BLOCKS, BLOCK), each=print)
            code = (
                "import gc\ngc.collect()\nlast = gc.mem_alloc()\nfor n in %r:\n"
                "    __import__(n)\n"
                "    gc.collect()\n"
                "    a = gc.mem_alloc()\n"
                "    f = gc.mem_free()\n"
                "    print('%%-20s +%%6d  in use %%6d  free %%7d' %% (n, a - last, a, f))\n"
                "    last = a\n"
            ) % (order,)
            out, err = q.run(code, timeout=args.timeout, each=print)
            if err:
                print(err)
                return 1
        finally:
            q.close()
        return 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# -- the rule modules on the board's port -----------------------------------------------------
RULES = (
    "meter_rules",
    "ui_rules",
    "hal_tests",
    "board_rules",
    "selftest_rules",
    "home_rules",
    "web_rules",
)
FAKE_MACHINE = ("board_rules", "selftest_rules")  # as tests/firmware/test_mp_rules.py
# The runner: mptest.py's loop, then scratch.cleanup() (the port has no sys.atexit).
RUN_RULES = """\
import sys
sys.path[:0] = ["/mp", "/web"]
if %r:
    import fake_machine
    sys.modules["machine"] = fake_machine
mod = __import__(%r)
for name in sorted(dir(mod)):
    if name.startswith("test_"):
        try:
            getattr(mod, name)()
            print("PASS " + name)
        except Exception as e:
            v = "SKIP" if type(e).__name__ == "SkipTest" else "FAIL"
            print("%%s %%s: %%s %%s" %% (v, name, type(e).__name__, e))
import scratch
scratch.cleanup()
print("DONE")
"""


def rules_root(out):
    """firmware/ as .mpy (every package, as tests run it), tests/mp/ and web/'s modules as
    .mpy under /mp and /web, tests/fixtures/ as /mp/fixtures."""
    build_mpy.build(out, MARCH)
    for src, dst in (("tests/mp", "mp"), ("web", "web")):
        for n in sorted(os.listdir(os.path.join(ROOT, src))):
            if n.endswith(".py"):
                build_mpy._compile(
                    os.path.join(ROOT, src, n),
                    os.path.join(out, dst, n[:-3] + ".mpy"),
                    MARCH,
                    n,
                )
    shutil.copytree(os.path.join(ROOT, "tests", "fixtures"), os.path.join(out, "mp", "fixtures"))
    return out


def rules(args):
    firmware = elf(args.build)
    need_tools()
    tmp = tempfile.mkdtemp(prefix="stsmeter_emulate_")
    counts = {}
    try:
        root = rules_root(os.path.join(tmp, "root"))
        image = lfs_image(root, os.path.join(tmp, "lfs.img"), RULES_BLOCKS)
        q = Qemu(firmware, image)
        try:
            for module in args.modules or RULES:
                q.t.enter_raw_repl(soft_reset=True)  # a fresh heap for each module
                q.run(MOUNT % (FS_ADDR, RULES_BLOCKS, BLOCK))
                seen = {"PASS": 0, "FAIL": 0, "SKIP": 0}

                def each(line, seen=seen, module=module):
                    verdict = line.split(" ", 1)[0]
                    if verdict in seen:
                        seen[verdict] += 1
                    if verdict in ("FAIL", "SKIP") or args.verbose:
                        print("%s: %s" % (module, line), flush=True)

                out, err = q.run(
                    RUN_RULES % (module in FAKE_MACHINE, module), timeout=args.timeout, each=each
                )
                if err or "DONE" not in out:
                    print("%s: stopped: %s" % (module, err.strip()[-1500:]))
                    seen["stopped"] = 1
                counts[module] = seen
                print(
                    "%s: %d pass, %d fail, %d skipped (the port lacks a module)"
                    % (module, seen["PASS"], seen["FAIL"], seen["SKIP"]),
                    flush=True,
                )
        finally:
            q.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 1 if any(c["FAIL"] or c.get("stopped") for c in counts.values()) else 0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__)
    sub = ap.add_subparsers(dest="what", required=True)
    b = sub.add_parser("boot", help="boot the demo meter from LittleFS and type tokens")
    b.add_argument("--tokens", type=int, default=200, help="typed after the first boot")
    b.add_argument("--reboot-tokens", type=int, default=0, help="typed after a second boot")
    b.add_argument(
        "--heap",
        type=int,
        default=0,
        help="bytes: a heap that small, out of a larger build's (the rest taken at power-up)",
    )
    b.add_argument(
        "--first-heap",
        type=int,
        help="bytes: the first boot's (provisioning) heap, when not --heap's (0: the build's)",
    )
    b.add_argument("--kind", help="a meter of bench/kinds.py's KINDS (default: the demo meter)")
    b.add_argument(
        "--key-change",
        action="store_true",
        help="the last power-up ends with a key change and a credit under the new key",
    )
    b.add_argument("--verbose", action="store_true", help="print every result shown")
    i = sub.add_parser("imports", help="the heap after each module of the boot")
    r = sub.add_parser("rules", help="tests/mp's rule modules, from .mpy on LittleFS")
    r.add_argument("modules", nargs="*", help="default: %s" % " ".join(RULES))
    r.add_argument("--verbose", action="store_true", help="print every PASS too")
    r.set_defaults(build=RULES_BUILD)
    for p in (b, i, r):
        p.add_argument(
            "--build",
            default=p.get_default("build") or BOOT_BUILD,
            help="the qemu port's BUILD dir",
        )
        p.add_argument("--timeout", type=float, default=3600)
        p.add_argument("--firmware", default=FIRMWARE, help="the tree to build (firmware/)")
    args = ap.parse_args(argv)
    try:
        return {"boot": boot, "imports": imports, "rules": rules}[args.what](args)
    except Missing as e:
        print("emulate: skipped: %s" % e)
        return 0


if __name__ == "__main__":
    sys.exit(main())
