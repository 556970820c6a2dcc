# webbuild.py  the classroom page: web/ and the firmware into one static directory, web/dist/
# Usage: python -m tools.webbuild [--out web/dist]
# The page runs the firmware itself in MicroPython's WebAssembly port (npm's
# @micropython/micropython-webassembly-pyscript, installed in web/node_modules by `make
# web`): dist/ gets the page, the port, page.json (webmeter.py, explainer.py, teacher.py),
# firmware.json (every .py of firmware/sts, meter and ui, and the board's loop app.py with
# the one driver it needs here, by path) and demo.json (the demo meter's data and decoder
# keys, never a vending key).
import argparse
import json
import os
import shutil
import sys

from stsvend import profile
from tools import DEMO_MADE, FIRMWARE, ROOT
from tools.deploy import meter_json

WEB = os.path.join(ROOT, "web")
PORT_DIR = os.path.join("node_modules", "@micropython", "micropython-webassembly-pyscript")
PAGE = ("index.html", "app.js", "style.css")
# The page's Python beside the firmware: the bridge app.js calls, the explainer's words, the
# teacher's panel; into page.json.
PAGE_PY = ("webmeter.py", "explainer.py", "teacher.py")
PORT = ("micropython.mjs", "micropython.wasm")
PACKAGES = ("sts", "meter", "ui")  # not hal (drivers) but for LOOP, nor main.py (a board's)
LOOP = ("app.py", "hal/__init__.py", "hal/energy.py", "hal/virtual.py")  # the loop, drivers
DEMO = os.path.join(ROOT, "stsvend", "profiles", "demo.json")
MADE = DEMO_MADE  # as `make sim`: edition 1 ran out


class WebBuildError(Exception):
    """Something the person building must fix; the message says what."""


def firmware_files(firmware=FIRMWARE):
    """{"sts/sta.py": source, ...}: the firmware the page writes into its file system."""
    files = {}
    for pkg in PACKAGES:
        for name in sorted(os.listdir(os.path.join(firmware, pkg))):
            if name.endswith(".py"):
                with open(os.path.join(firmware, pkg, name), encoding="utf-8") as f:
                    files[pkg + "/" + name] = f.read()
    for name in LOOP:
        with open(os.path.join(firmware, name), encoding="utf-8") as f:
            files[name] = f.read()
    return files


def page_files(web=WEB):
    """{"webmeter.py": source, ...}: the page's own Python, which app.js puts in /web."""
    files = {}
    for name in PAGE_PY:
        with open(os.path.join(web, name), encoding="utf-8") as f:
            files[name] = f.read()
    return files


def demo(path=DEMO):
    """dist/demo.json: the demo meter as provisioned, and its key after the 2024 migration."""
    prof = profile.load(path)
    return {
        "meter": meter_json(prof, MADE),
        "next_key": prof.decoder_key(krn=prof.krn + 1, base_date=2014).hex(),
        "profile": prof.name,
    }


def build(out, web=WEB):
    """dist/ afresh in out; returns the names written."""
    if os.path.isdir(out) and os.listdir(out):
        if not os.path.exists(os.path.join(out, "index.html")):
            raise WebBuildError("%s is not empty and holds no page build: not emptying it" % out)
    port = os.path.join(web, PORT_DIR)
    if not os.path.isdir(port):
        raise WebBuildError("%s is missing: run make web (it runs npm ci in web/)" % port)
    if os.path.isdir(out) and os.listdir(out):
        shutil.rmtree(out)  # a file gone from web/ must not linger in the page
    os.makedirs(out)
    written = []
    for name in PAGE:
        src = os.path.join(web, name)
        if not os.path.exists(src):
            raise WebBuildError("%s is missing" % src)
        shutil.copyfile(src, os.path.join(out, name))
        written.append(name)
    for name in PORT:
        shutil.copyfile(os.path.join(port, name), os.path.join(out, name))
        written.append(name)
    for name, data in (
        ("firmware.json", firmware_files()),
        ("page.json", page_files(web)),
        ("demo.json", demo()),
    ):
        with open(os.path.join(out, name), "w", encoding="utf-8") as f:
            json.dump(data, f, indent=1, sort_keys=True)
        written.append(name)
    return written


def main(argv=None):
    ap = argparse.ArgumentParser(description="build the classroom page into a static directory")
    ap.add_argument("--out", default=os.path.join(WEB, "dist"))
    args = ap.parse_args(argv)
    try:
        written = build(args.out)
    except WebBuildError as e:
        print("webbuild: error: %s" % e, file=sys.stderr)
        return 2
    print("webbuild: %d files in %s" % (len(written), args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
