# web_mp.py  the baseline for bench/web.py: the page's loop (web/bench.mjs) through webmeter
# in the unix micropython. Usage: micropython web_mp.py STATE DEMO_JSON N, with firmware/ and
# web/ on MICROPYPATH (bench/web.py sets it)
# Prints one JSON line: ms of the 20 digit keys and of the Enter key, per token.
import json
import sys
import time

import webmeter

state, demo_path, n = sys.argv[1:4]

webmeter.STATE = state
with open(demo_path) as f:
    demo = f.read()
webmeter.reset()
t = int(time.time()) * 1000
webmeter.boot(demo, str(t))
digits = []
enter = []
for i in range(int(n)):
    tok = json.loads(webmeter.vend("credit", "1", str(t)))["tokens"][0]["token"]
    a = time.ticks_us()
    for d in tok.replace(" ", ""):
        webmeter.key(d, str(t))
    digits.append(time.ticks_diff(time.ticks_us(), a) / 1000)
    a = time.ticks_us()
    f = json.loads(webmeter.key("#", str(t)))
    enter.append(time.ticks_diff(time.ticks_us(), a) / 1000)
    if not f["lines"][0].startswith("ACCEPT"):
        raise SystemExit("token %d: %s" % (i, f["lines"]))
    t += 5000
print(json.dumps({"digits": digits, "enter": enter}))
