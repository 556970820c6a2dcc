# test_emulate.py  tools/emulate.py's board (tools/emulate_board.py) boots the meter from .mpy
# as a board does (main.py, startup.boot), here on the 64-bit unix port in a pinned heap;
# the emulated Cortex-M3 itself needs qemu and MicroPython's source, which CI has not: the
# tool says so and exits 0 (docs/emulation.md gives the figures and the commands).
import datetime as dt
import json
import os
import random
import subprocess

import pytest

from conftest import micropython_binary
from stsvend import profile, vend
from tools import FIRMWARE, ROOT, TESTS_MP, emulate, path_env

# The smallest heap in which the 64-bit port boots the demo meter from .mpy and types
# tokens, with a few KB to spare (a 32-bit board's objects are half the size: 64 KB there).
# Before net/ and the short codes were left out of the boot, 88K was too small.
HEAP = "84K"


def boot(root, heap, tokens, extra=(), build=True, before="", **files):
    """The emulated board's boot in micropython (unix, x64 .mpy) in root/: its output lines.
    build=False: a power-up of the board already there (its state kept), with only `extra`
    as its keys. `before`: code run before main is imported; `files`: demo_files' options."""
    if build:
        emulate.board_root(root, march="x64")
        emulate.demo_files(root, tokens, **files)
    with open(os.path.join(root, "keys.txt"), "a" if build else "w") as f:
        f.writelines(line + "\n" for line in extra)
    r = subprocess.run(
        [micropython_binary(), "-X", "heapsize=" + heap, "-c", before + "import main"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=root,
        env=path_env(""),  # the working directory, as a board's root
    )
    out = r.stdout.splitlines()
    assert "END" in out, "the meter did not boot and type its keys:\n%s\n%s" % (
        r.stdout[-2000:],
        r.stderr[-2000:],
    )
    return out


def modules(out):
    return [line.split()[1:] for line in out if line.startswith("MODULES")]


def test_the_meter_boots_from_mpy_and_types_tokens_in_a_pinned_heap(board_root):
    out = boot(board_root, HEAP, 60, ["0#", "modules"])
    shown = [line[5:].split("|")[0].strip() for line in out if line.startswith("SHOW")]
    assert shown == ["ACCEPT"] * 60 + ["BALANCE"], shown
    mem = emulate.mem_readings(out)
    assert mem["after 60 tokens"]["free"] > 4096, mem  # the readings the tool reports
    # Tokens do not break up the heap's longest free run (a state write's file object needs
    # one): the loop collects as it goes (startup.GC_EVERY), not only when the heap is full,
    # which left each token's objects strewn over every run (after 60: a seventh of boot's).
    assert mem["after 60 tokens"]["max_free"] * 2 >= mem["boot"]["max_free"], mem
    # And the boot leaves its free heap in a long run, not in the holes each import left
    # (the collections run from the first import on): a third of it or more (a quarter before)
    assert mem["boot"]["max_free"] * 3 >= mem["boot"]["free"], mem
    first, last = modules(out)
    # The first screen and the tokens need neither the home meter's network nor the short
    # codes' screens; the first short code loads those.
    assert not [m for m in first if m.startswith("net") or m == "ui.codes"], first
    assert "ui.codes" in last, last


def test_a_misty1_meter_boots_types_tokens_and_changes_its_key_in_the_pinned_heap(board_root):
    # In 80K, 4K less than the STA meter: its key schedule is filled in place (lists grown to
    # 76 words wanted a run of 512 bytes, on a board too, that the heap no longer had once the
    # meter was loaded: 80K did not boot it).
    out = boot(board_root, "80K", 60, kind="misty1-dkga04-ed1", key_change=True)
    shown = [line[5:].split("|")[0].strip() for line in out if line.startswith("SHOW")]
    changes = ["KEY CHANGE %d/4" % n for n in (1, 2, 3)] + ["KEY CHANGED"]
    assert shown == ["ACCEPT"] * 60 + changes + ["ACCEPT"], shown
    assert "sts.misty1" in modules(out)[0] and "sts.sta" not in modules(out)[-1], modules(out)


def test_the_board_is_not_in_the_self_test_when_no_key_is_held(board_root):
    out = boot(board_root, "256K", 1)
    assert not [line for line in out if "SELF TEST" in line.upper()], out
    assert [line for line in out if line.startswith("SHOW")][0].startswith("SHOW ACCEPT"), out


def test_boot_order_puts_what_a_module_imports_first():
    order = emulate.boot_sequence()
    assert order[0] == "startup" and order[-1] == "app"
    assert order.index("sts.sta") < order.index("meter.meter")
    assert order.index("meter.store") < order.index("meter.meter") < order.index("app")
    assert "ui.codes" not in order and "net.settings" not in order  # imported when used
    assert "meter.key_change" not in order and "meter.status" not in order


# Each module's name as it first appears in sys.modules, from every import statement's return.
TRACE = """\
import builtins, sys
_imp = builtins.__import__
_seen = set(sys.modules)
def _trace(name, *a):
    r = _imp(name, *a)
    for n in list(sys.modules):
        if n not in _seen:
            _seen.add(n)
            print("LOADED " + n)
    return r
builtins.__import__ = _trace
"""


def test_the_boot_loads_the_cipher_before_the_rest_of_the_meter(board_root):
    # The viper kernels' machine code and STA's 2 KB tables each want a run of the heap in one
    # piece, which a 64 KB heap from a file system has only before the meter's modules are in:
    # a board's boot loads them first, at the first start (the provisioning file names the
    # cipher) and after it (the state record does), in the order tools/emulate.py measures.
    for first in (True, False):
        out = boot(board_root, "256K", 1, ["idle 30", "0#"], build=first, before=TRACE)
        loaded = [line.split()[1] for line in out if line.startswith("LOADED ")]
        meter = [m for m in loaded if m.split(".")[0] in ("meter", "ui", "app")]
        assert "sts.sta" in loaded and meter, loaded
        assert loaded.index("sts.kernels") < loaded.index("sts.sta") < loaded.index(meter[0]), (
            loaded
        )
        assert [m for m in loaded if m in emulate.BOOT] == list(emulate.BOOT), loaded


def test_startup_names_each_cipher_by_the_code_the_state_record_holds(tmp_path):
    # startup.cipher_ea reads the record's first byte (sts.codec.EA's code) before the meter
    # is loaded; with no record, the provisioning file's "ea"; else nothing.
    import startup

    from sts.codec import EA

    dev = {"state": str(tmp_path / "state"), "profile": str(tmp_path / "meter.json")}
    assert startup.cipher_ea(dev, EA) is None
    for name, code in EA.items():
        if (tmp_path / "state.1").exists():
            (tmp_path / "state.1").unlink()
        (tmp_path / "meter.json").write_text(json.dumps({"ea": name}))
        assert startup.cipher_ea(dev, EA) == name
        (tmp_path / "meter.json").unlink()
        (tmp_path / "state.1").write_bytes(b"STM3" + bytes(6) + bytes((code,)) + bytes(40))
        assert startup.cipher_ea(dev, EA) == name
    (tmp_path / "state.1").write_bytes(b"STM3" + bytes(6) + bytes((99,)) + bytes(40))
    assert startup.cipher_ea(dev, EA) is None


def _demo_tokens():
    """The demo meter's credit, a key change set to KRN 2, and credit under the new key."""
    prof = profile.load(os.path.join(ROOT, "stsvend", "profiles", "demo.json"))
    rng = random.Random(5)
    when = dt.datetime(2024, 1, 2, tzinfo=dt.timezone.utc)
    credit = vend.credit(prof, "electricity", 100, when, None, rng).digits
    kcts, target = vend.key_change(prof, {"krn": 2})
    moved = profile.Profile(dict(target, name=prof.name, vending_key=prof.vending_key.hex()))
    after = vend.credit(moved, "electricity", 50, when + dt.timedelta(hours=1), None, rng)
    return credit, [t.digits for t in kcts], after.digits


def test_a_credit_token_loads_neither_key_change_nor_status_and_both_work_after_a_reboot(
    board_root,
):
    credit, kcts, after = _demo_tokens()
    assert len(kcts) == 2
    out = boot(board_root, HEAP, 0, [credit + "#", "modules", kcts[0] + "#", "modules"])
    at_boot, first, staged = modules(out)  # (demo_files lists them at boot too)
    # What a meter given only credit never needs stays off its heap: the key change rules, the
    # status the short codes read, the provisioning checks (a first start's, unloaded after).
    for name in ("meter.key_change", "meter.status", "meter.provision", "ui.codes"):
        assert name not in first, (name, first)
    assert "meter.key_change" in staged and "meter.status" not in staged, staged
    # a power cut with the first section held: the second completes the change after it, the
    # new key's credit is accepted, and the short codes read the status
    out += boot(board_root, HEAP, 0, ["idle 30", kcts[1] + "#", after + "#", "0#", "4#"], False)
    shown = [line[5:] for line in out if line.startswith("SHOW")]
    assert [s.split("|")[0].strip() for s in shown] == [
        "ACCEPT",
        "KEY CHANGE 1/2",
        "KEY CHANGED",
        "ACCEPT",
        "BALANCE",
        "KRN",
    ], shown
    assert shown[-2].split("|")[1].strip() == "15.0 kWh" and shown[-1].split("|")[1].strip() == "2"


def test_without_qemu_or_the_build_it_says_what_is_missing_and_exits_0(capsys, monkeypatch):
    monkeypatch.setenv("MICROPYTHON_SRC", "/nonexistent/micropython")
    assert emulate.main(["boot", "--tokens", "1"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("emulate: skipped: no /nonexistent/micropython/ports/qemu/"), out


def test_the_littlefs_image_holds_the_tree(tmp_path):
    littlefs = pytest.importorskip("littlefs", reason="littlefs-python is not installed")
    root = tmp_path / "root"
    (root / "state").mkdir(parents=True)
    (root / "sts").mkdir()
    (root / "sts" / "a.mpy").write_bytes(bytes(range(256)) * 20)
    (root / "main.py").write_text("import board\n")
    image = emulate.lfs_image(str(root), str(tmp_path / "lfs.img"), blocks=64)
    with open(image, "rb") as f:
        data = f.read()
    assert len(data) == 64 * emulate.BLOCK
    ctx = littlefs.UserContext(len(data))
    ctx.buffer[:] = data
    fs = littlefs.LittleFS(ctx, block_size=emulate.BLOCK, block_count=64, **emulate.LFS)
    assert sorted(fs.listdir("/")) == ["main.py", "state", "sts"]
    with fs.open("/sts/a.mpy", "rb") as f:
        assert f.read() == bytes(range(256)) * 20


def test_a_rule_the_port_cannot_run_is_skipped_not_failed(tmp_path):
    # tests/mp/scratch.needs: the qemu port has no asyncio, so the home meter's rules say SKIP
    # there (tools/emulate.py rules); a rule that fails still says FAIL.
    (tmp_path / "port_rules.py").write_text(
        "from scratch import needs\n"
        "def test_needs_a_module():\n    needs('no_such_module_here')\n"
        "def test_fails():\n    raise AssertionError('no')\n"
        "def test_passes():\n    needs('json')\n"
    )
    r = subprocess.run(
        [micropython_binary(), os.path.join(TESTS_MP, "mptest.py"), "port_rules"],
        capture_output=True,
        text=True,
        timeout=60,
        env=path_env(FIRMWARE, TESTS_MP, str(tmp_path)),
    )
    assert r.stdout.splitlines() == [
        "FAIL test_fails: AssertionError no",
        "SKIP test_needs_a_module: SkipTest no no_such_module_here on this port",
        "PASS test_passes",
    ], r.stdout + r.stderr
