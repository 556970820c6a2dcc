# deploy.py  the meter onto a board over USB with mpremote: build, copy, reset; and provisioning
# Usage:
#   python -m tools.deploy deploy --board pico --port /dev/ttyACM0 [--dry-run]
#   python -m tools.deploy provision --board pico --port /dev/ttyACM0 --profile P.json
#                                         [--manufactured 2024-01-01T00:00Z] [--dry-run]
#                                         [--home home.json]   (a home meter's settings)
#   python -m tools.deploy build --board esp32 [--out DIR]     (no board needed)
# The board's root gets main.py and board.py as source, what firmware/manifest.py names as
# .mpy for its architecture (less the energy driver board.py's ENERGY does not use), and,
# from `provision`, /meter.json: the meter's data and its decoder key, never the vending key.
# One mpremote run copies the build and resets the board: `fs cp -r` skips each file whose
# SHA-256 on the board is the same, so a deploy after a small change is quick. mpremote is
# the one next to this Python, on PATH, or $MPREMOTE.
# Each board is built with its own -march and the build is checked before anything is
# copied: an .mpy header naming another architecture, or viper kernels with no machine code,
# and the build is refused. On the board that _viper would not load: sts/kernels.py would
# fall back to portable code (an STA decode 8x to 18x slower) with only kernels.fallback
# to say why.
import argparse
import datetime as dt
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile

from stsvend import profile, tid
from tools import FIRMWARE, build_mpy

ROOT = os.path.dirname(FIRMWARE)
BOARDS = {"pico": "armv6m", "esp32": "xtensawin"}  # board -> mpy-cross -march
METER_JSON = (
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
)
UTC = dt.timezone.utc


class DeployError(Exception):
    """Something the person running the tool must fix; the message says what."""

    status = 2


class MpremoteError(DeployError):
    """mpremote did not do what it was asked: the board, its port or its file system."""

    status = 1


def board_arch(board):
    if board not in BOARDS:
        raise DeployError("unknown board %r: one of %s" % (board, ", ".join(sorted(BOARDS))))
    return BOARDS[board]


def mpremote():
    """The mpremote command as a list: $MPREMOTE, the venv's, or the one on PATH."""
    env = os.environ.get("MPREMOTE")
    if env:  # a path, or a command line such as "python3 fake_mpremote.py"
        return [env] if os.path.exists(env) else shlex.split(env)
    exe = os.path.join(os.path.dirname(sys.executable), "mpremote")
    if os.path.exists(exe):
        return [exe]
    found = shutil.which("mpremote")
    if not found:
        raise DeployError("no mpremote: `make setup` installs it, or set MPREMOTE")
    return [found]


def build(board, out=None, firmware=FIRMWARE):
    """The board's file system root, built afresh in out (build/<board>/) and checked for
    the board's architecture; returns the files as paths relative to out, in the order to
    copy them: main.py last."""
    arch = board_arch(board)
    out = out or os.path.join(ROOT, "build", board)
    if os.path.isdir(out) and os.listdir(out):
        if not os.path.exists(os.path.join(out, "board.py")):
            raise DeployError("%s is not empty and holds no board build: not emptying it" % out)
        shutil.rmtree(out)  # a module deleted from firmware/ must not linger in the image
    try:
        made = build_mpy.image(
            out, arch, os.path.join(ROOT, "boards", board, "board.py"), firmware=firmware
        )
    except build_mpy.BuildError as e:
        raise DeployError("the build for %s is refused: %s" % (board, e)) from None
    check_arch(board, out, made)
    rel = [os.path.relpath(p, out).replace(os.sep, "/") for p in made]
    # main.py last: it starts at the next reset, and by then everything it imports is there
    return out, sorted(rel, key=lambda p: (p == "main.py", p.count("/") == 0, p))


def check_arch(board, out, files):
    """Refuse (DeployError) a build in out whose machine code is not the board's: every .mpy
    with native code, and the viper kernels' above all, must name the board's -march."""
    arch = board_arch(board)
    paths = [f if os.path.isabs(f) else os.path.join(out, f) for f in files]
    try:
        build_mpy.check(out, paths, arch)
    except build_mpy.BuildError as e:
        raise DeployError("the build for %s is refused: %s" % (board, e)) from None
    viper = os.path.join(out, *build_mpy.VIPER.split("/"))
    if not os.path.exists(viper):
        raise DeployError(
            "the build for %s is refused: no %s in %s: the board would decode on "
            "the portable path" % (board, build_mpy.VIPER, out)
        )


def deploy_commands(port, out, files):
    """[(label, mpremote arguments)]: one run that copies the build's top-level entries into
    the board's root (`fs cp -r`, unchanged files skipped), main.py last, then resets."""
    top = []
    for f in files:  # in build()'s order: the packages' directories first, main.py last
        name = f.split("/")[0]
        if name not in top:
            top.append(name)
    srcs = [os.path.join(out, name) for name in top]
    return [
        (
            "copying %d files to %s (unchanged ones skipped), then a reset" % (len(files), port),
            ["connect", port, "fs", "cp", "-r"] + srcs + [":", "+", "reset"],
        )
    ]


def meter_json(prof, manufactured):
    """What a board's /meter.json holds: the meter's data and decoder key (hex), and the
    manufacture TID; the vending key stays on this side."""
    d = {f: getattr(prof, f) for f in METER_JSON[:8]}
    d["decoder_key"] = prof.decoder_key().hex()
    d["manufacture_tid"] = tid.from_time(manufactured, prof.base_date)
    return d


def _say(text):
    print(text, flush=True)  # progress shows as it happens, through a pipe too


def run(steps, dry_run=False, say=_say):
    """Run each mpremote step (or, with dry_run, print it)."""
    try:
        exe = mpremote()
    except DeployError:
        if not dry_run:
            raise
        exe = ["mpremote"]
    for label, args in steps:
        cmd = exe + args
        if dry_run:
            say(shlex.join(cmd))
            continue
        say(label)
        try:  # mpremote's own output (a line a file skipped) goes straight through
            r = subprocess.run(cmd, stderr=subprocess.PIPE, text=True)
        except OSError as e:
            raise DeployError("cannot run %s: %s" % (cmd[0], e)) from None
        if r.returncode:
            raise MpremoteError(
                "mpremote failed (exit %d): %s\n%s"
                % (r.returncode, shlex.join(cmd), r.stderr.strip())
            )


def cmd_build(args):
    out, files = build(args.board, args.out, args.firmware)
    print(
        "built %d files for %s (mpy-cross -march=%s) in %s"
        % (len(files), args.board, BOARDS[args.board], out)
    )
    print(
        "checked: %s and every other .mpy with machine code are %s"
        % (build_mpy.VIPER, BOARDS[args.board])
    )
    return out, files


def cmd_deploy(args):
    port = _port(args)
    out, files = cmd_build(args)
    run(deploy_commands(port, out, files), args.dry_run)
    if not args.dry_run:
        print("deployed to %s on %s; it restarts with the new firmware" % (args.board, port))


def cmd_provision(args):
    port = _port(args)
    try:
        prof = profile.load(args.profile)
        when = tid.parse_time(args.manufactured)
        data = meter_json(prof, when)
    except profile.ProfileError as e:
        raise DeployError("bad profile: %s" % e) from None
    except tid.TidError as e:
        raise DeployError(
            "manufacture time: %s (give --manufactured inside the window)" % e
        ) from None
    print(
        "meter %s: PAN %s, %s, KRN %d, base date %d, manufacture TID %d (%s UTC)"
        % (
            prof.name,
            prof.pan,
            prof.ea.upper(),
            prof.krn,
            prof.base_date,
            data["manufacture_tid"],
            when.astimezone(UTC).strftime("%Y-%m-%d %H:%M"),
        )
    )
    home = home_json(args.home) if args.home else None
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "meter.json")
        with open(path, "w") as f:
            json.dump(data, f)
        cp = ["fs", "cp", path, ":meter.json"]
        if home is not None:  # the home meter's settings (checked first, copied as given)
            cp += ["+", "fs", "cp", args.home, ":home.json"]
        run(
            [
                (
                    "copying meter.json%s, then a reset" % (" and home.json" if home else ""),
                    ["connect", port] + cp + ["+", "reset"],
                )
            ],
            args.dry_run,
        )
    if not args.dry_run:
        print(
            "provisioned %s on %s: at this reset it personalises itself and deletes "
            "/meter.json (a meter already personalised deletes it unread)" % (args.board, port)
        )


def home_json(path):
    """Check a home meter's settings file (firmware/net/settings.py) before it is copied:
    DeployError naming the field, never a value (it holds the WiFi password and the PIN)."""
    sys.path.insert(0, FIRMWARE)
    try:
        from net import settings
    finally:
        sys.path.remove(FIRMWARE)
    try:
        with open(path) as f:
            settings.parse(json.load(f))
    except OSError as e:
        raise DeployError("home settings: %s" % e) from None
    except ValueError as e:  # (a JSON error names a position, not the text)
        raise DeployError("home settings %s: %s" % (path, e)) from None
    return path


def _port(args):
    if not args.port:
        raise DeployError(
            "no serial port: give --port (PORT= for make), e.g. /dev/ttyACM0 "
            "or COM3; `mpremote devs` lists them, `auto` takes the first"
        )
    return args.port


def main(argv=None):
    ap = argparse.ArgumentParser(
        prog="deploy", description="put the meter on a board with mpremote, and provision it"
    )
    sub = ap.add_subparsers(dest="command", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--board", required=True, help=", ".join(sorted(BOARDS)))
    common.add_argument("--firmware", default=FIRMWARE, help=argparse.SUPPRESS)
    building = argparse.ArgumentParser(add_help=False)
    building.add_argument(
        "--out", help="where to build the board's files; default build/BOARD/ (emptied first)"
    )
    on_board = argparse.ArgumentParser(add_help=False)
    on_board.add_argument("--port", help="serial port, e.g. /dev/ttyACM0, COM3 or auto")
    on_board.add_argument(
        "--dry-run",
        action="store_true",
        help="print the mpremote commands instead of running them",
    )
    p = sub.add_parser(
        "build", parents=[common, building], help="build the board's files, no board needed"
    )
    p.set_defaults(func=cmd_build)
    p = sub.add_parser(
        "deploy",
        parents=[common, building, on_board],
        help="build, copy the files that changed, reset: one mpremote run",
    )
    p.set_defaults(func=cmd_deploy)
    p = sub.add_parser(
        "provision",
        parents=[common, on_board],
        help="write /meter.json from a profile (the decoder key, never the vending key)",
    )
    p.add_argument("--profile", required=True, help="a meter profile JSON file")
    p.add_argument(
        "--manufactured",
        default="now",
        help="ISO time (e.g. 2024-01-01T00:00Z): tokens older than it are OLD; default now",
    )
    p.add_argument(
        "--home",
        help="a home meter's settings (WiFi, MQTT broker, page PIN, low credit) to copy to "
        "/home.json: see docs/home-meter.md",
    )
    p.set_defaults(func=cmd_provision)
    args = ap.parse_args(argv)
    try:
        board_arch(args.board)
        args.func(args)
    except DeployError as e:
        print("deploy: error: %s" % e, file=sys.stderr)
        return e.status
    except (OSError, subprocess.CalledProcessError) as e:  # mpy-cross, or the build dir
        print("deploy: error: %s" % e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
