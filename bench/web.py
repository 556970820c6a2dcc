# web.py  `make bench-web`: the classroom page's speed in headless Chromium (MicroPython's
# WebAssembly port), as ratios to the same calls in the unix micropython in the same run.
# Not a test: figures vary with the machine. Needs what the page test needs (Node.js,
# web/node_modules from npm ci, Debian's Chromium).
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

from tools import FIRMWARE, path_env, webbuild

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def _json_run(cmd, label):
    print("  running %s ..." % label, file=sys.stderr, flush=True)
    r = subprocess.run(
        cmd, stdout=subprocess.PIPE, text=True, env=path_env(FIRMWARE, os.path.join(ROOT, "web"))
    )
    if r.returncode:
        raise SystemExit("%s failed (exit %d)" % (label, r.returncode))
    return json.loads(r.stdout.strip().splitlines()[-1])


def main(argv=None):
    ap = argparse.ArgumentParser(
        description="the classroom page's speed against the unix micropython"
    )
    ap.add_argument("--tokens", type=int, default=200, help="credit tokens typed (200)")
    ap.add_argument("--loads", type=int, default=5, help="fresh page loads timed (5)")
    args = ap.parse_args(argv)
    mp = shutil.which("micropython", path=os.path.dirname(sys.executable)) or shutil.which(
        "micropython"
    )
    node = shutil.which("node")
    if not mp or not node:
        raise SystemExit("bench-web needs micropython (make setup) and node on PATH")
    with tempfile.TemporaryDirectory() as tmp:
        dist = os.path.join(tmp, "dist")
        try:
            webbuild.build(dist)
        except webbuild.WebBuildError as e:
            raise SystemExit("bench-web: %s" % e) from None
        state = os.path.join(tmp, "state")
        os.mkdir(state)
        unix = _json_run(
            [
                mp,
                "-X",
                "heapsize=4M",
                os.path.join(HERE, "web_mp.py"),
                state,
                os.path.join(dist, "demo.json"),
                str(args.tokens),
            ],
            "the unix micropython (baseline)",
        )
        page = _json_run(
            [
                node,
                os.path.join(ROOT, "web", "bench.mjs"),
                dist,
                str(args.tokens),
                str(args.loads),
            ],
            "the page in Chromium",
        )
    med = {
        k: statistics.median(v)
        for k, v in (
            ("unix digits", unix["digits"]),
            ("unix enter", unix["enter"]),
            ("page digits", page["digits"]),
            ("page enter", page["enter"]),
        )
    }
    print(
        "the classroom page: webmeter calls as app.js makes them, median over %d credit "
        "tokens" % args.tokens
    )
    print("%-34s %10s %10s %10s" % ("call", "unix ms", "page ms", "page/unix"))
    for what, key in (
        ("20 digit keys, together", "digits"),
        ("Enter (decode, apply, explain)", "enter"),
    ):
        u, p = med["unix " + key], med["page " + key]
        print("%-34s %10.3f %10.3f %10.1f" % (what, u, p, p / u))
    print(
        "page load to a ready meter (fetch, MicroPython start, firmware written, boot): "
        "median %d ms over %d fresh loads" % (statistics.median(page["boot"]), args.loads)
    )
    print(
        "(the WebAssembly port has no viper, so the page decodes on the portable path; the "
        "unix micropython uses its viper kernels)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
