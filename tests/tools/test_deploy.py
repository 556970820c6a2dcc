# test_deploy.py  the boards without hardware: what firmware/manifest.py names builds for both
# architectures, board.py wires the pins its README says, deploy and provision run through a
# stand-in for mpremote that copies into a directory standing for the board's file system,
# and mip installs firmware/package.json from a tree served on 127.0.0.1.
import ast
import datetime as dt
import functools
import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import tomllib

import pytest

from conftest import DEMO_KEY, FIRMWARE, ROOT, VECTORS, micropython_binary, path_env
from stsvend import tid
from tools import DEMO_MADE, build_mpy, deploy

BOARDS = {"pico": "armv6m", "esp32": "xtensawin"}
# MicroPython's MP_NATIVE_ARCH_*: the top six bits of an .mpy's third byte
NATIVE_ARCH = {"armv6m": 4, "xtensawin": 10}
DEMO = os.path.join(ROOT, "stsvend", "profiles", "demo.json")
DEMO_DECODER_KEY = DEMO_KEY  # (conftest)
DEMO_VENDING_KEY = "abababababababab"
MADE = DEMO_MADE.strftime("%Y-%m-%dT%H:%MZ")  # tools/__init__.py
UTC = dt.timezone.utc

# mpremote as deploy runs it: `connect PORT CMD ARGS [+ CMD ARGS]...`, with `fs cp [-r] SRC...
# DEST` (into a directory: by name; a file the same as the board's is skipped) and `reset`.
FAKE_MPREMOTE = r"""
import filecmp, json, os, shutil, sys

args = sys.argv[1:]
with open(os.environ["FAKE_LOG"], "a") as f:
    f.write(json.dumps(args) + "\n")
board = os.environ["FAKE_BOARD"]
if args[:1] != ["connect"] or len(args) < 3:
    sys.exit("fake mpremote: expected connect PORT COMMAND..., got %r" % args)
port, rest = args[1], args[2:]
if port == "/dev/gone":
    sys.stderr.write("mpremote: failed to access %s (it may be in use by another program)\n"
                     % port)
    sys.exit(1)


def remote(path):
    assert path.startswith(":"), path
    return os.path.join(board, *path[1:].strip("/").split("/"))


def put(src, dst):
    if os.path.exists(dst) and filecmp.cmp(src, dst, shallow=False):
        print("Up to date:", os.path.relpath(dst, board))
        return
    shutil.copyfile(src, dst)


def cp(recursive, srcs, dest):
    dst = remote(dest)
    into = os.path.isdir(dst)
    if len(srcs) > 1 and not into:
        sys.exit("mpremote: cp: destination is not a directory")
    for src in srcs:
        target = os.path.join(dst, os.path.basename(src)) if into else dst
        if os.path.isdir(src):
            if not recursive:
                sys.exit("mpremote: cp: -r not specified; omitting directory")
            for d, _, names in os.walk(src):
                here = os.path.join(target, os.path.relpath(d, src))
                os.makedirs(here, exist_ok=True)
                for n in sorted(names):
                    put(os.path.join(d, n), os.path.join(here, n))
        elif not os.path.isdir(os.path.dirname(target)):
            sys.stderr.write("mpremote: cp: %s: No such file or directory.\n" % dest)
            sys.exit(1)
        else:
            put(src, target)


while rest:
    cmd = rest[:rest.index("+")] if "+" in rest else rest
    rest = rest[len(cmd) + 1:]
    if cmd[:2] == ["fs", "cp"]:
        recursive = "-r" in cmd
        paths = [a for a in cmd[2:] if a != "-r"]
        cp(recursive, paths[:-1], paths[-1])
    elif cmd == ["reset"]:
        pass
    else:
        sys.exit("fake mpremote: not emulated: %r" % cmd)
"""
# Only the vending tools, the simulator and the classroom page use these: never on a board.
HOST_ONLY = {
    "sts/blocks.py",
    "sts/stages.py",
    "sts/vending.py",
    "sts/dates.py",
    "sts/words.py",
    "hal/virtual.py",
    "hal/ssd1306.py",
}
ENERGY_DRIVERS = {"s0": "hal/s0.py", "pzem": "hal/pzem.py"}


def firmware_sources(firmware=FIRMWARE):
    """Every module of the firmware, as paths relative to firmware/."""
    have = set()
    for pkg in build_mpy.PACKAGES:
        where = os.path.join(firmware, pkg)
        have |= {pkg + "/" + n for n in os.listdir(where) if n.endswith(".py")}
    return have | {n for n in os.listdir(firmware) if n.endswith(".py") and n != "manifest.py"}


def board_energy(board):
    with open(os.path.join(ROOT, "boards", board, "board.py")) as f:
        return re.search(r'^ENERGY = \("(\w+)"', f.read(), re.M).group(1)


def unused_energy(board):
    return set(ENERGY_DRIVERS.values()) - {ENERGY_DRIVERS[board_energy(board)]}


def data_files(firmware=FIRMWARE):
    """The packages' files a board reads as they are (net/page.html: build_mpy.DATA)."""
    return {
        pkg + "/" + n
        for pkg in build_mpy.PACKAGES
        for n in os.listdir(os.path.join(firmware, pkg))
        if n.endswith(build_mpy.DATA)
    }


def expected_board(board, firmware=FIRMWARE):
    """A board's root after deploy: the firmware less HOST_ONLY and the energy driver its
    board.py does not name, as .mpy; main.py and board.py as source; the data files."""
    keep = firmware_sources(firmware) - HOST_ONLY - unused_energy(board) - {"main.py"}
    return {n[:-3] + ".mpy" for n in keep} | {"main.py", "board.py"} | data_files(firmware)


def files_under(root):
    return {
        os.path.relpath(os.path.join(d, n), root).replace(os.sep, "/")
        for d, _, names in os.walk(root)
        for n in names
    }


# -- building: no board needed ---------------------------------------------------------------
@pytest.mark.parametrize("board", sorted(BOARDS))
def test_every_module_builds_for_the_boards_architecture(tmp_path, board):
    firmware = FIRMWARE
    out = tmp_path / "build"
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "tools.deploy",
            "build",
            "--board",
            board,
            "--out",
            str(out),
            "--firmware",
            firmware,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
    assert "mpy-cross -march=%s" % BOARDS[board] in r.stdout
    have = files_under(out)
    assert have == expected_board(board)
    assert {"sts", "meter"} <= {p.split("/")[0] for p in have if "/" in p}
    native = []
    for rel in sorted(have):
        data = (out / rel).read_bytes()
        if rel.endswith((".py",) + build_mpy.DATA):
            continue
        assert data[:2] == b"M\x06", "%s: not an .mpy of version 6: %r" % (rel, data[:4])
        assert data[3] <= 31, "%s: small ints wider than a 32-bit board's" % rel
        if data[2] >> 2:
            native.append(rel)
            assert data[2] >> 2 == NATIVE_ARCH[BOARDS[board]], "%s: native code for arch %d" % (
                rel,
                data[2] >> 2,
            )
    assert native, "the viper kernels compile to %s machine code" % BOARDS[board]
    with open(os.path.join(ROOT, "boards", board, "board.py")) as f:
        assert (out / "board.py").read_text() == f.read()
    with open(os.path.join(firmware, "main.py")) as f:
        assert (out / "main.py").read_text() == f.read(), "main.py goes as source"


# -- the architecture check: no .mpy for another -march reaches a board ---------------------
@pytest.mark.parametrize("board", sorted(BOARDS))
def test_board_build_has_the_boards_arch_in_the_viper_header(tmp_path, board):
    out = str(tmp_path / "build")
    _, files = deploy.build(board, out, FIRMWARE)
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
    subprocess.run(
        [build_mpy.mpy_cross(), "-march=" + march, "-o", str(dst), str(src)], check=True
    )
    return dst


@pytest.mark.parametrize(
    "board,other",
    [("pico", "xtensawin"), ("esp32", "armv6m"), ("pico", "armv7m"), ("pico", "x64")],
)
def test_a_viper_mpy_for_another_arch_is_refused(tmp_path, board, other):
    out = str(tmp_path / "build")
    _, files = deploy.build(board, out, FIRMWARE)
    wrong = _mpy(
        tmp_path, open(os.path.join(FIRMWARE, "sts", "_viper.py")).read(), other, "_viper.py"
    )
    shutil.copyfile(wrong, os.path.join(out, "sts", "_viper.mpy"))
    with pytest.raises(deploy.DeployError) as e:
        deploy.check_arch(board, out, files)
    assert str(e.value).startswith(
        "the build for %s is refused: sts/_viper.mpy holds %s "
        "machine code, not %s" % (board, other, BOARDS[board])
    )


def test_a_viper_mpy_without_machine_code_is_refused(tmp_path):
    out = str(tmp_path / "build")
    _, files = deploy.build("pico", out, FIRMWARE)
    shutil.copyfile(_mpy(tmp_path, "X = 1\n", "armv6m"), os.path.join(out, "sts", "_viper.mpy"))
    with pytest.raises(deploy.DeployError, match="sts/_viper.mpy holds no machine code"):
        deploy.check_arch("pico", out, files)
    os.remove(os.path.join(out, "sts", "_viper.mpy"))
    with pytest.raises(deploy.DeployError, match="no sts/_viper.mpy"):
        deploy.check_arch("pico", out, [f for f in files if f != build_mpy.VIPER])


def test_another_modules_machine_code_for_another_arch_is_refused(tmp_path):
    out = str(tmp_path / "build")
    _, files = deploy.build("esp32", out, FIRMWARE)
    native = "import micropython\n@micropython.native\ndef f():\n    return 1\n"
    shutil.copyfile(_mpy(tmp_path, native, "armv6m"), os.path.join(out, "sts", "amount.mpy"))
    with pytest.raises(
        deploy.DeployError, match="sts/amount.mpy holds armv6m machine code, not xtensawin"
    ):
        deploy.check_arch("esp32", out, files)


FAKE_MPY_CROSS = r"""
import os, sys
# mpy-cross that builds for another architecture than asked: an old or a mixed-up one
args = [a.replace("-march=armv6m", "-march=armv7m") for a in sys.argv[1:]]
os.execv(os.environ["REAL_MPY_CROSS"], [os.environ["REAL_MPY_CROSS"]] + args)
"""


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
    assert (
        "deploy: error: the build for pico is refused: sts/_viper.mpy holds armv7m machine "
        "code, not armv6m" in r.stderr
    )
    assert run.calls() == [] and files_under(board_dir) == set(), "nothing reached the board"


# -- a wrong-arch _viper.mpy on a board: the portable path, and kernels.fallback says why -----
WRONG_ARCH = """
import json
from binascii import unhexlify
from sts import errors, kernels
from sts.codec import Decoder, cipher

print(json.dumps([kernels.VIPER is not None, kernels.fallback, kernels.expected,
                  kernels.__file__]))
with open(%r) as f:
    for line in f:
        case = json.loads(line)
        ea = case.get("ea")
        dec = Decoder(cipher(ea, unhexlify(case["decoder_key"])) if ea else None)
        err = dec.decode(case["token"])
        b = dec.block
        print(json.dumps([case["id"], errors.NAMES[err], dec.cls, dec.subclass,
                          "%%016x" %% (b[0] | b[1] << 24 | b[2] << 48)]))
"""


def host_march():
    """The -march of the micropython binary the tests run (x64, or x86 for a 32-bit build)."""
    r = subprocess.run(
        [micropython_binary(), "-c", "import sys; print(sys.implementation._mpy >> 10)"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    return build_mpy.ARCH_NAME[int(r.stdout)]


@pytest.mark.parametrize("loaded", [False, True], ids=["armv6m", "host_arch"])
def test_a_wrong_arch_viper_mpy_falls_back_with_a_reason_and_still_decodes(board_root, loaded):
    march = host_march() if loaded else "armv6m"
    build_mpy.build(board_root, march, packages=("sts",))
    r = subprocess.run(
        [micropython_binary(), "-X", "heapsize=256K", "-c", WRONG_ARCH % VECTORS],
        capture_output=True,
        text=True,
        timeout=120,
        env=path_env(board_root),
    )
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


def firmware_module(name, firmware=FIRMWARE):
    """The source of a dotted module name under firmware/ ("sts/sta.py", a package's
    __init__.py), or None when it is not the firmware's."""
    path = name.replace(".", "/")
    for rel in (path + ".py", path + "/__init__.py"):
        if os.path.isfile(os.path.join(firmware, rel)):
            return rel
    return None


def firmware_imports(path, firmware=FIRMWARE):
    """The firmware modules a file imports anywhere in it (in a function too), as sources."""
    with open(path) as f:
        tree = ast.parse(f.read())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names |= {node.module + "." + a.name for a in node.names}  # a submodule
    return {m for m in (firmware_module(n, firmware) for n in names) if m}


def needed_on_board(board):
    """Every firmware module main.py and board.py import, and what those import, on."""
    todo = firmware_imports(os.path.join(FIRMWARE, "main.py"))
    todo |= firmware_imports(os.path.join(ROOT, "boards", board, "board.py"))
    seen = {"main.py"}
    while todo:
        rel = todo.pop()
        if rel not in seen:
            seen.add(rel)
            todo |= firmware_imports(os.path.join(FIRMWARE, rel))
    return seen


@pytest.mark.parametrize("board", sorted(BOARDS))
def test_board_build_has_what_the_board_imports_and_nothing_host_only(tmp_path, board):
    _, files = deploy.build(board, str(tmp_path / "build"), FIRMWARE)
    on_board = {f[:-4] + ".py" if f.endswith(".mpy") else f for f in files}
    needed = needed_on_board(board)
    assert {"app.py", "startup.py", "selftest.py", "hal/wiring.py", "hal/energy.py"} <= needed, (
        "the closure reaches the loop and the drivers"
    )
    # hal/wiring.py imports both energy drivers, each only when ENERGY names it
    missing = sorted(needed - on_board - unused_energy(board))
    assert not missing, "imported on the board, not in its build: %s" % missing
    assert not (HOST_ONLY | unused_energy(board)) & on_board
    assert ENERGY_DRIVERS[board_energy(board)] in on_board and "hal/energy.py" in on_board
    with open(os.path.join(FIRMWARE, "hal", "clock.py")) as f:
        assert "FakeClock" not in f.read(), "the fake clock is the tests' (tests/mp/fake_clock.py)"
    assert files[-1] == "main.py", "main.py is copied last"


@pytest.mark.parametrize("board", sorted(BOARDS))
def test_a_board_build_carries_only_what_the_board_imports(tmp_path, board):
    """Nothing a meter never loads takes a board's flash (sts/blocks.py did)."""
    _, files = deploy.build(board, str(tmp_path / "build"), FIRMWARE)
    on_board = {f[:-4] + ".py" if f.endswith(".mpy") else f for f in files}
    # sts/_viper.py is loaded by sts/kernels.py by name (its .mpy holds machine code); a
    # package's __init__ with its package; net/page.html is read by net/web.py
    needed = needed_on_board(board) | {"board.py", "sts/_viper.py", "net/page.html"}
    extra = sorted(f for f in on_board - needed if not f.endswith("/__init__.py"))
    assert not extra, "on the board, imported by nothing there: %s" % extra


@pytest.mark.parametrize("board", sorted(BOARDS))
def test_no_board_ships_the_simulators_load(tmp_path, board):
    """SimLoad (a load of so many watts) is the simulator's and the page's: hal/virtual.py."""
    _, files = deploy.build(board, str(tmp_path / "build"), FIRMWARE)
    for f in files:
        src = os.path.join(FIRMWARE, f[:-4] + ".py" if f.endswith(".mpy") else f)
        if os.path.exists(src):
            with open(src) as fh:
                assert "class SimLoad" not in fh.read(), "%s ships SimLoad to %s" % (f, board)


def test_every_firmware_module_is_in_the_manifest_or_host_only():
    _, files = build_mpy.read_manifest(os.path.join(FIRMWARE, "manifest.py"))
    named = {t for t, _ in files}
    assert not named & HOST_ONLY
    left = sorted(firmware_sources() - named - HOST_ONLY)
    assert not left, "neither in firmware/manifest.py nor host-only: %s" % left


def test_build_refuses_to_empty_a_directory_that_is_not_a_build(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(deploy.DeployError, match="not emptying"):
        deploy.build("pico", str(tmp_path))
    assert (tmp_path / "notes.txt").exists()


def run_manifest(path, calls=None):
    """Exec a manifest.py with stand-ins for makemanifest's functions, following include()
    to the real file (relative to the manifest that includes it); returns the calls as
    (kind, name, path on disk or None, files or metadata)."""
    calls = [] if calls is None else calls
    here = os.path.dirname(os.path.abspath(path))

    def include(p, **kw):
        calls.append(("include", p, None, None))
        if not p.startswith("$("):
            target = os.path.normpath(os.path.join(here, p))
            if os.path.isdir(target):
                target = os.path.join(target, "manifest.py")
            run_manifest(target, calls)

    def package(p, files=None, base_path=".", opt=None):
        assert "$(" not in base_path, "paths relative to the manifest"
        calls.append(("package", p, os.path.normpath(os.path.join(here, base_path, p)), files))

    def module(p, base_path=".", opt=None):
        assert "$(" not in base_path, "paths relative to the manifest"
        calls.append(("module", p, os.path.normpath(os.path.join(here, base_path, p)), None))

    def metadata(**kw):
        calls.append(("metadata", None, path, kw))

    with open(path) as f:
        exec(
            compile(f.read(), path, "exec"),
            {"include": include, "package": package, "module": module, "metadata": metadata},
        )
    return calls


def manifest_files(calls):
    """{path on the board: source path} of the packages and modules a manifest names; a
    whole package by its .py files."""
    files = {}
    for kind, name, where, listed in calls:
        if kind == "module":
            files[name] = where
        elif kind == "package":
            names = (
                listed
                if listed is not None
                else [
                    os.path.relpath(os.path.join(d, n), where).replace(os.sep, "/")
                    for d, _, ns in os.walk(where)
                    for n in ns
                    if n.endswith((".py",) + build_mpy.DATA)
                ]
            )
            assert listed is not None or os.path.isdir(where), "no package %s" % where
            files |= {name + "/" + n: os.path.join(where, n) for n in names}
    return files


def pyproject_version():
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
        return tomllib.load(f)["project"]["version"]


@pytest.mark.parametrize("board", sorted(BOARDS))
def test_manifest_freezes_the_firmware_manifest_and_board(board):
    here = os.path.join(ROOT, "boards", board)
    calls = run_manifest(os.path.join(here, "manifest.py"))
    includes = [name for kind, name, _, _ in calls if kind == "include"]
    assert includes == ["$(PORT_DIR)/boards/manifest.py", "../../firmware/manifest.py"]
    meta = [m for kind, _, where, m in calls if kind == "metadata"]
    assert len(meta) == 1 and meta[0]["version"] == pyproject_version()
    assert meta[0]["description"].startswith("stsmeter")
    packages = [p for kind, p, _, _ in calls if kind == "package"]
    assert packages == list(build_mpy.PACKAGES)
    assert sorted(p for kind, p, _, _ in calls if kind == "module") == [
        "app.py",
        "board.py",
        "main.py",
        "selftest.py",
        "startup.py",
    ]
    files = manifest_files(calls)
    missing = sorted(t for t, src in files.items() if not os.path.isfile(src))
    assert not missing, "the manifest names modules that are not there: %s" % missing
    assert files["board.py"] == os.path.join(here, "board.py")
    assert set(files) == firmware_sources() - HOST_ONLY | {"board.py"} | data_files()


def test_a_module_the_manifest_names_that_is_gone_fails(tmp_path):
    shutil.copytree(FIRMWARE, tmp_path / "firmware")
    shutil.copytree(os.path.join(ROOT, "boards", "pico"), tmp_path / "boards" / "pico")
    os.remove(tmp_path / "firmware" / "main.py")
    os.remove(tmp_path / "firmware" / "sts" / "crc.py")
    files = manifest_files(run_manifest(str(tmp_path / "boards" / "pico" / "manifest.py")))
    assert sorted(t for t, src in files.items() if not os.path.isfile(src)) == [
        "main.py",
        "sts/crc.py",
    ]
    with pytest.raises(deploy.DeployError, match="names sts/crc.py: no "):
        deploy.build("pico", str(tmp_path / "build"), str(tmp_path / "firmware"))
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "tools.deploy",
            "build",
            "--board",
            "pico",
            "--out",
            str(tmp_path / "out"),
            "--firmware",
            str(tmp_path / "firmware"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 2 and "deploy: error: the build for pico is refused" in r.stderr


# -- mip: firmware/package.json, installed from a served tree as a user would ---------------
def test_package_json_is_the_manifest_as_mip_reads_it():
    with open(os.path.join(FIRMWARE, "package.json")) as f:
        text = f.read()
    assert text == build_mpy.package_json_text(), (
        "firmware/package.json is stale: python -m tools.build_mpy --package-json "
        "firmware/package.json"
    )
    pkg = json.loads(text)
    assert sorted(pkg) == ["deps", "urls", "version"]
    assert pkg["version"] == pyproject_version() and pkg["deps"] == []
    calls = run_manifest(os.path.join(FIRMWARE, "manifest.py"))
    want = manifest_files(calls)
    assert [dest for dest, _ in pkg["urls"]][-1] == "main.py", "main.py last"
    assert {dest: os.path.join(FIRMWARE, *src.split("/")) for dest, src in pkg["urls"]} == {
        t: os.path.normpath(p) for t, p in want.items()
    }
    assert all(
        src.endswith((".py",) + build_mpy.DATA)
        and not src.startswith(("/", "..", "http", "github:"))
        for _, src in pkg["urls"]
    ), "sources relative to package.json, as mip takes"


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def served_tree():
    """The repository served read-only on 127.0.0.1 at a free port: its base URL."""
    handler = functools.partial(_Quiet, directory=ROOT)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield "http://127.0.0.1:%d" % server.server_address[1]
    server.shutdown()
    server.server_close()


DEMO_DECODE = """
from binascii import unhexlify
import app, selftest, startup
import sts.codec
from sts import amount, errors, kinds
from sts.codec import Decoder
from sts.sta import Sta
print(sts.codec.__file__, startup.__file__)
dec = Decoder(Sta(unhexlify(%r)))
err = dec.decode("23716100501183194197")
t = amount.decode(kinds.field(dec.block, kinds.AMOUNT))
print("%%s class %%d.%%d: %%s units, TID %%d" %% (errors.NAMES[err], dec.cls, dec.subclass,
                                             amount.text(t), kinds.field(dec.block, kinds.TID)))
"""


def test_mip_installs_the_firmware_from_a_url_and_it_decodes(tmp_path, served_tree):
    mp = micropython_binary()
    r = subprocess.run([mp, "-c", "import mip"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, "this micropython has no mip: %s" % r.stderr
    target = str(tmp_path / "lib")
    r = subprocess.run(
        [mp, "-m", "mip", "install", "--target", target, served_tree + "/firmware/package.json"],
        cwd=str(tmp_path),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0 and r.stdout.rstrip().endswith("Done"), r.stdout + r.stderr
    with open(os.path.join(FIRMWARE, "package.json")) as f:
        want = {dest for dest, _ in json.load(f)["urls"]}
    assert files_under(target) == want
    for dest in want:
        with open(os.path.join(FIRMWARE, *dest.split("/")), "rb") as f:
            assert (tmp_path / "lib" / dest).read_bytes() == f.read(), dest
    # the demo decode, from the installed tree only (cwd: tmp_path, no firmware/ on the path)
    r = subprocess.run(
        [mp, "-X", "heapsize=256K", "-c", DEMO_DECODE % (DEMO_KEY,)],
        cwd=str(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
        env=path_env(target),
    )
    assert r.returncode == 0, r.stdout + r.stderr
    where, result = r.stdout.splitlines()
    assert where.split() == [target + "/sts/codec.py", target + "/startup.py"]
    assert result == "OK class 0.0: 0.1 units, TID 5871715"
    demo = subprocess.run(
        [mp, os.path.join(ROOT, "boards", "unix", "demo.py"), "2371 6100 5011 8319 4197"],
        capture_output=True,
        text=True,
        timeout=120,
        env=path_env(target),
    )
    assert "class 0.0 electricity credit: 0.1 units, TID 5871715" in demo.stdout, demo.stdout


# -- board.py: the pins, with machine and the drivers faked in micropython ------------------
STUB_MACHINE = """
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
"""
STUB_OS = """
made = []


def stat(path):
    raise OSError(2)


def mkdir(path):
    made.append(path)
"""
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
REPORT = """
import sys
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
"""


def board_setup(tmp_path, board):
    stubs = tmp_path / "stubs"
    (stubs / "hal").mkdir(parents=True)
    (stubs / "stub_machine.py").write_text(STUB_MACHINE)
    (stubs / "stub_os.py").write_text(STUB_OS)
    for name, text in STUB_HAL.items():
        (stubs / "hal" / (name + ".py")).write_text(text)
    # The wiring itself is under test: the real module, over the stand-in drivers.
    shutil.copyfile(
        os.path.join(ROOT, "firmware", "hal", "wiring.py"), stubs / "hal" / "wiring.py"
    )
    r = subprocess.run(
        [micropython_binary(), "-c", REPORT],
        capture_output=True,
        text=True,
        timeout=60,
        env=path_env(str(stubs), os.path.join(ROOT, "boards", board)),
    )
    assert r.returncode == 0, r.stdout + r.stderr
    return json.loads(r.stdout)


PIN_MAPS = {
    "pico": {
        "rows": [6, 7, 8, 9],
        "cols": [10, 11, 12, 13],
        "sda": 4,
        "scl": 5,
        "relay": 15,
        "led": "LED",
        "uart": 0,
        "tx": 0,
        "rx": 1,
    },
    "esp32": {
        "rows": [13, 14, 27, 26],
        "cols": [25, 33, 32, 4],
        "sda": 21,
        "scl": 22,
        "relay": 23,
        "led": 2,
        "uart": 2,
        "tx": 19,
        "rx": 36,
    },
}
# ESP32: flash (6..11), USB serial (1, 3), PSRAM on WROVER (16, 17), strapping pins a
# keypad or relay could pull the wrong way at reset (0, 5, 12, 15), input-only (34..39)
ESP32_AVOID = {0, 1, 3, 5, 6, 7, 8, 9, 10, 11, 12, 15, 16, 17, 34, 35, 36, 37, 38, 39}


@pytest.mark.parametrize("board", sorted(BOARDS))
def test_board_setup_wires_the_pins_of_its_readme(tmp_path, board):
    got = board_setup(tmp_path, board)
    want = PIN_MAPS[board]
    assert got["keys"] == sorted(
        ["keypad", "display", "relay", "led", "clock", "state", "profile", "energy", "i2c"]
    )
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
    assert got["energy"] == {
        "id": want["uart"],
        "baudrate": 9600,
        "bits": 8,
        "parity": None,
        "stop": 1,
        "tx": want["tx"],
        "rx": want["rx"],
    }  # PZEM-004T: 8N1
    used = (
        want["rows"]
        + want["cols"]
        + [want["sda"], want["scl"], want["relay"], want["led"], want["tx"], want["rx"]]
    )
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
    firmware = FIRMWARE
    env = dict(os.environ, MPREMOTE=str(script), FAKE_BOARD=str(board_dir), FAKE_LOG=str(log))

    def run(*args):
        cmd = [sys.executable, "-m", "tools.deploy"] + list(args)
        if args[0] == "deploy":
            cmd += ["--out", str(tmp_path / "build"), "--firmware", firmware]
        return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)

    def calls():
        if not log.exists():
            return []
        return [json.loads(line) for line in log.read_text().splitlines()]

    run.calls = calls
    run.firmware = firmware
    return run, board_dir


@pytest.mark.parametrize("board", sorted(BOARDS))
def test_deploy_copies_the_build_and_resets_in_one_mpremote_run(fake_board, board):
    run, board_dir = fake_board
    r = run("deploy", "--board", board, "--port", "/dev/ttyACM0")
    assert r.returncode == 0, r.stdout + r.stderr
    have = files_under(board_dir)
    assert have == expected_board(board)
    assert {p for p in have if p.startswith("sts/")} >= {"sts/codec.mpy", "sts/sta.mpy"}
    assert {p for p in have if p.startswith("meter/")} >= {"meter/meter.mpy", "meter/store.mpy"}
    assert (board_dir / "main.py").read_bytes().startswith(b"#")
    assert (board_dir / "sts" / "sta.mpy").read_bytes()[:1] == b"M"
    calls = run.calls()
    assert len(calls) == 1, "one mpremote run: %r" % calls
    call = calls[0]
    assert call[:5] == ["connect", "/dev/ttyACM0", "fs", "cp", "-r"]
    assert call[-3:] == [":", "+", "reset"]
    srcs = [os.path.basename(a) for a in call[5:-3]]
    assert srcs[-1] == "main.py", "main.py last: it starts at the next reset"
    assert {"sts", "meter", "hal", "ui", "board.py"} <= set(srcs)
    assert "copying %d files to /dev/ttyACM0" % len(have) in r.stdout

    again = run("deploy", "--board", board, "--port", "/dev/ttyACM0")
    assert again.returncode == 0, "a second deploy over the first: " + again.stderr
    assert files_under(board_dir) == have and len(run.calls()) == 2
    assert "Up to date: sts/sta.mpy" in again.stdout, "mpremote's output goes through"


def test_provision_writes_the_decoder_key_never_the_vending_key(fake_board):
    run, board_dir = fake_board
    r = run(
        "provision",
        "--board",
        "pico",
        "--port",
        "/dev/ttyACM0",
        "--profile",
        DEMO,
        "--manufactured",
        MADE,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    text = (board_dir / "meter.json").read_text()
    meter = json.loads(text)
    assert sorted(meter) == sorted(
        [
            "pan",
            "sgc",
            "ti",
            "kt",
            "krn",
            "ken",
            "ea",
            "base_date",
            "decoder_key",
            "manufacture_tid",
        ]
    )
    assert meter["decoder_key"] == DEMO_DECODER_KEY
    assert DEMO_VENDING_KEY not in text and "vending" not in text
    assert meter["manufacture_tid"] == tid.from_time(dt.datetime(2024, 1, 1, tzinfo=UTC), 1993)
    assert meter["pan"] == "600727000000000009" and meter["ea"] == "sta"
    assert meter["base_date"] == 1993 and meter["krn"] == 1
    calls = run.calls()
    assert len(calls) == 1 and calls[0][2:4] == ["fs", "cp"]
    assert calls[0][5:] == [":meter.json", "+", "reset"]
    assert DEMO_DECODER_KEY not in r.stdout, "the key is not printed"


def test_provision_after_deploy_leaves_a_complete_board(fake_board):
    run, board_dir = fake_board
    assert run("deploy", "--board", "esp32", "--port", "auto").returncode == 0
    assert (
        run(
            "provision",
            "--board",
            "esp32",
            "--port",
            "auto",
            "--profile",
            DEMO,
            "--manufactured",
            MADE,
        ).returncode
        == 0
    )
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
    assert len(lines) == 1 and lines[0].endswith(" + reset"), lines
    if command == "deploy":
        assert " fs cp -r " in lines[0] and lines[0].endswith("/main.py : + reset")
        assert "/sts " in lines[0] and "/meter " in lines[0]
    else:
        assert lines[0].endswith(" :meter.json + reset")
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


@pytest.mark.parametrize(
    "change, message",
    [
        ({"pan": "600727000000000008"}, "pan: check digit"),
        ({"krn": 12}, "krn"),
        ({"vending_key": None}, "vending_key"),
    ],
)
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
    for path, message in (
        (tmp_path / "broken.json", "not JSON"),
        (tmp_path / "none.json", "cannot read"),
    ):
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
    r = run(
        "provision",
        "--board",
        "pico",
        "--port",
        "/dev/gone",
        "--profile",
        DEMO,
        "--manufactured",
        MADE,
    )
    assert r.returncode == 1 and "failed to access /dev/gone" in r.stderr


def test_make_targets_name_both_boards():
    make = shutil.which("make")
    if not make:
        pytest.skip("no make")
    r = subprocess.run(
        [make, "-n", "boards", "deploy", "provision", "PORT=/dev/ttyACM0"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "tools.deploy build --board pico" in out
    assert "tools.deploy build --board esp32" in out
    assert 'tools.deploy deploy --board pico --port "/dev/ttyACM0"' in out
    assert "--profile stsvend/profiles/demo.json --manufactured %s" % MADE in out
