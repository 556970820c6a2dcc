# test_web.py  the classroom page in headless Chromium: runs web/test/*.test.mjs with node
# The page is built afresh (host_tools.webbuild) into a temporary directory; web/node_modules
# comes from `npm ci` if it is missing. In CI (CI set) a missing Chromium, node or npm is a
# failure; elsewhere the test is skipped with the reason.
import contextlib
import glob
import os
import re
import shutil
import subprocess
import sys

import pytest

from host_tools import webbuild

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WEB = os.path.join(ROOT, "web")
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")


def _missing(what):
    if os.environ.get("CI"):
        pytest.fail("%s: the page test must run in CI (.ci/run installs Chromium and "
                    "runs npm ci in web/)" % what)
    pytest.skip(what)


def test_classroom_page_in_chromium(tmp_path):
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        _missing("no node/npm on PATH (Node.js 20 or later)")
    if not os.path.exists(CHROMIUM):
        _missing("no Chromium at %s (apt-get install chromium, or set CHROMIUM)" % CHROMIUM)
    if not os.path.isdir(os.path.join(WEB, "node_modules", "playwright-core")):
        r = subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=WEB,
                           capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, "npm ci in web/ failed:\n%s\n%s" % (r.stdout, r.stderr)
    dist = str(tmp_path / "dist")
    webbuild.build(dist)
    with _served(dist) as url:
        _run_page_tests(node, dist, url, tmp_path)


@contextlib.contextmanager
def _served(dist):
    """The page served as `make web` serves it: python -m http.server on loopback."""
    p = subprocess.Popen([sys.executable, "-u", "-m", "http.server", "--bind", "127.0.0.1",
                          "--directory", dist, "0"], stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, text=True)
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
    r = subprocess.run([node, "--test"] + tests, cwd=ROOT, capture_output=True, text=True,
                       timeout=600, env=dict(os.environ, WEB_DIST=dist, WEB_URL=url,
                                         CHROMIUM=CHROMIUM, SCREENSHOT=str(shot)))
    assert r.returncode == 0, "node --test web/test/ failed:\n%s\n%s" % (r.stdout, r.stderr)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", "no screenshot of the page"
