# test_web.py  the classroom page in headless Chromium: runs web/test/*.test.mjs with node
# The page is built afresh (tools.webbuild) into a temporary directory; web/node_modules
# comes from `npm ci` if it is missing. In CI (CI set) a missing Chromium, node or npm is a
# failure; elsewhere the test is skipped with the reason.
import contextlib
import glob
import json
import os
import re
import shutil
import subprocess
import sys

import pytest

from stsvend import profile
from tools import path_env, webbuild

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
WEB = os.path.join(ROOT, "web")
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")


def _missing(what):
    if os.environ.get("CI"):
        pytest.fail(
            "%s: the page test must run in CI (.ci/run installs Chromium and "
            "runs npm ci in web/)" % what
        )
    pytest.skip(what)


def test_classroom_page_in_chromium(tmp_path):
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        _missing("no node/npm on PATH (Node.js 20 or later)")
    if not os.path.exists(CHROMIUM):
        _missing("no Chromium at %s (apt-get install chromium, or set CHROMIUM)" % CHROMIUM)
    if not os.path.isdir(os.path.join(WEB, "node_modules", "playwright-core")):
        r = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund"],
            cwd=WEB,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert r.returncode == 0, "npm ci in web/ failed:\n%s\n%s" % (r.stdout, r.stderr)
    dist = str(tmp_path / "dist")
    webbuild.build(dist)
    with _served(dist) as url:
        _run_page_tests(node, dist, url, tmp_path)


@contextlib.contextmanager
def _served(dist):
    """The page served as `make web` serves it: python -m http.server on loopback."""
    p = subprocess.Popen(
        [
            sys.executable,
            "-u",
            "-m",
            "http.server",
            "--bind",
            "127.0.0.1",
            "--directory",
            dist,
            "0",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        line = p.stdout.readline()  # Serving HTTP on 127.0.0.1 port N (http://...) ...
        m = re.search(r"port (\d+)", line)
        assert m, "http.server did not start: %r" % line
        yield "http://127.0.0.1:%s/" % m.group(1)
    finally:
        p.kill()
        p.wait()


def _run_page_tests(node, dist, url, tmp_path):
    tests = sorted(glob.glob(os.path.join(WEB, "test", "*.test.mjs")))
    assert tests, "no page tests in web/test/"
    shot = tmp_path / "web.png"
    shots = tmp_path / "shots"  # as make web-shot writes them: the projector's two sizes
    r = subprocess.run(
        [node, "--test"] + tests,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env=dict(
            os.environ,
            WEB_DIST=dist,
            WEB_URL=url,
            CHROMIUM=CHROMIUM,
            SCREENSHOT=str(shot),
            SHOT_DIR=str(shots),
        ),
    )
    assert r.returncode == 0, "node --test web/test/ failed:\n%s\n%s" % (r.stdout, r.stderr)
    for png, size in (
        (shot, None),
        (shots / "web-1024x768.png", (1024, 768)),
        (shots / "web-1920x1080.png", (1920, 1080)),
    ):
        data = png.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n", "no screenshot %s" % png.name
        if size:  # the IHDR chunk: width and height, big-endian
            assert (
                int.from_bytes(data[16:20], "big"),
                int.from_bytes(data[20:24], "big"),
            ) == size, png.name


def test_the_build_holds_the_firmware_and_decoder_keys_but_no_vending_key(tmp_path):
    if not os.path.isdir(os.path.join(WEB, webbuild.PORT_DIR)):
        _missing("web/node_modules has no MicroPython port (npm ci in web/)")
    out = tmp_path / "dist"
    written = webbuild.build(str(out))
    for name in (
        "index.html",
        "app.js",
        "style.css",
        "page.json",
        "micropython.mjs",
        "micropython.wasm",
        "firmware.json",
        "demo.json",
    ):
        assert name in written and (out / name).is_file(), name
    page = json.loads((out / "page.json").read_text())
    assert set(page) == {"webmeter.py", "explainer.py", "teacher.py"}
    fw = json.loads((out / "firmware.json").read_text())
    # the page vends, dates and words with stsvend's own portable modules
    assert {"sts/vending.py", "sts/dates.py", "sts/words.py"} <= set(fw)
    assert {"sts/codec.py", "meter/meter.py", "ui/ui.py", "app.py"} <= set(fw)
    with open(os.path.join(ROOT, "firmware", "meter", "meter.py"), encoding="utf-8") as f:
        assert fw["meter/meter.py"] == f.read()  # the firmware itself, not a copy of it
    # The board's loop runs the page, with the one driver it needs (its load): no other
    # driver, no board's main.py
    assert not any(p.startswith(("hal/", "main")) for p in fw if p not in webbuild.LOOP)
    prof = profile.load(webbuild.DEMO)
    demo = json.loads((out / "demo.json").read_text())
    assert demo["meter"]["decoder_key"] == prof.decoder_key().hex()
    vk = prof.vending_key.hex()
    for f in out.iterdir():
        if f.suffix in (".json", ".js", ".html", ".py"):
            assert vk not in f.read_text().lower(), f.name


def test_the_build_refuses_to_empty_a_directory_that_is_not_a_page_build(tmp_path):
    keep = tmp_path / "notes.txt"
    keep.write_text("mine")
    with pytest.raises(webbuild.WebBuildError, match="not emptying"):
        webbuild.build(str(tmp_path))
    assert keep.read_text() == "mine"


def test_the_build_says_to_run_npm_ci_when_the_port_is_missing(tmp_path):
    with pytest.raises(webbuild.WebBuildError, match="npm ci"):
        webbuild.build(str(tmp_path / "dist"), web=str(tmp_path))


def test_the_page_benchmark_reports_medians_and_ratios_to_the_unix_port():
    node = shutil.which("node")
    if not node or not os.path.exists(CHROMIUM):
        _missing("no node or no Chromium at %s" % CHROMIUM)
    if not os.path.isdir(os.path.join(WEB, "node_modules", "playwright-core")):
        _missing("web/node_modules is not installed (npm ci in web/)")
    r = subprocess.run(
        [sys.executable, os.path.join(ROOT, "bench", "web.py"), "--tokens", "3", "--loads", "1"],
        capture_output=True,
        text=True,
        timeout=300,
        env=dict(path_env(ROOT), CHROMIUM=CHROMIUM),  # tools/, for bench/
    )
    assert r.returncode == 0, r.stdout + r.stderr
    rows = {line[:34].strip(): line[34:].split() for line in r.stdout.splitlines()}
    for call in ("20 digit keys, together", "Enter (decode, apply, explain)"):
        unix, page, ratio = (float(x) for x in rows[call])
        assert unix > 0 and page > 0 and abs(ratio - page / unix) < 0.05 + ratio * 0.01
    assert "median" in r.stdout and "over 1 fresh loads" in r.stdout
