# test_emulate.py  tools/emulate.py's board (tools/emulate_board.py) boots the meter from .mpy
# as a board does (main.py, startup.boot), here on the 64-bit unix port in a pinned heap;
# the emulated Cortex-M3 itself needs qemu and MicroPython's source, which CI has not: the
# tool says so and exits 0 (docs/emulation.md gives the figures and the commands).
import os
import subprocess

import pytest

from conftest import micropython_binary
from tools import FIRMWARE, TESTS_MP, emulate, path_env

# The smallest heap in which the 64-bit port boots the demo meter from .mpy and types
# tokens, with a few KB to spare (a 32-bit board's objects are half the size: 64 KB there).
# Before net/ and the short codes were left out of the boot, 88K was too small.
HEAP = "84K"


def boot(root, heap, tokens, extra=()):
    """The emulated board's boot in micropython (unix, x64 .mpy) in root/: its output lines."""
    emulate.board_root(root, march="x64")
    emulate.demo_files(root, tokens)
    with open(os.path.join(root, "keys.txt"), "a") as f:
        f.writelines(line + "\n" for line in extra)
    r = subprocess.run(
        [micropython_binary(), "-X", "heapsize=" + heap, "-c", "import main"],
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
    first, last = modules(out)
    # The first screen and the tokens need neither the home meter's network nor the short
    # codes' screens; the first short code loads those.
    assert not [m for m in first if m.startswith("net") or m == "ui.codes"], first
    assert "ui.codes" in last, last


def test_the_board_is_not_in_the_self_test_when_no_key_is_held(board_root):
    out = boot(board_root, "256K", 1)
    assert not [line for line in out if "SELF TEST" in line.upper()], out
    assert [line for line in out if line.startswith("SHOW")][0].startswith("SHOW ACCEPT"), out


def test_boot_order_puts_what_a_module_imports_first():
    order = emulate.boot_order("startup")
    assert order[-1] == "startup"
    assert order.index("meter.store") < order.index("meter.meter") < order.index("app")
    assert "ui.codes" not in order and "net.settings" not in order  # imported when used


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
