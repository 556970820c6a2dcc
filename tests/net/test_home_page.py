# test_home_page.py  the home meter's page on a phone (Chromium at 390x844, web/test/
# home_phone.mjs) beside its keypad: a token typed on the phone and one typed on the keypad
# both reach Home Assistant's entities through a real mosquitto.
import json
import os
import shutil
import subprocess

from conftest import ROOT
from homenet import PIN, Broker, Meter, Observer, demo, free_port, missing, tok, until

WEB = os.path.join(ROOT, "web")
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")


def test_a_token_from_a_phone_and_one_from_the_keypad_reach_home_assistant(tmp_path):
    node = shutil.which("node")
    if not node:
        missing("no node on PATH (Node.js 20 or later)")
    if not os.path.exists(CHROMIUM):
        missing("no Chromium at %s" % CHROMIUM)
    if not os.path.isdir(os.path.join(WEB, "node_modules", "playwright-core")):
        missing("no playwright-core: npm ci in web/")
    broker = Broker(tmp_path)
    broker.start()
    obs = Observer(broker.port)
    state, tokens = demo(tmp_path)
    pan = json.load(open(os.path.join(state, "meter.json")))["pan"]
    meter = Meter(state, broker.port, free_port())
    phone = None
    try:
        until("online", lambda: obs.state(pan))
        phone = subprocess.Popen(
            [node, os.path.join(WEB, "test", "home_phone.mjs")],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=dict(
                os.environ,
                CHROMIUM=CHROMIUM,
                METER_URL="http://127.0.0.1:%d/" % meter.http_port,
                PIN=PIN,
                TOKEN=tok(tokens, "credit 25 kWh"),
                WANT="ACCEPT",
                BALANCE="25.0",
                LATER="35.0",
                SCREENSHOT=str(tmp_path / "phone.png"),
            ),
        )
        # the phone's token in Home Assistant's entities
        until("the phone's credit in HA", lambda: obs.state(pan).get("balance") == 25.0)
        assert obs.state(pan)["last_result"] == "ACCEPT" and obs.state(pan)["relay"] == "ON"
        # the keypad's: a key change and a credit under the new key
        for label in ("key change 1 of 2", "key change 2 of 2", "credit 10 kWh"):
            meter.send("type " + tok(tokens, label))
        until("the keypad's credit in HA", lambda: obs.state(pan).get("balance") == 35.0)
        out, err = phone.communicate(timeout=120)
        assert phone.returncode == 0, "the phone's page failed:\n%s\n%s" % (out, err)
        assert "keypad token seen" in out
        png = (tmp_path / "phone.png").read_bytes()
        assert png[:8] == b"\x89PNG\r\n\x1a\n"
        # 390x844 CSS pixels at 3 device pixels each
        assert (int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")) == (
            1170,
            2532,
        )
        # the page's wrong PIN was counted as a guess, and one guess does not lock
        assert obs.state(pan)["locked"] == "OFF"
    finally:
        if phone is not None and phone.poll() is None:
            phone.kill()
            phone.wait()
        err = meter.stop()
        obs.close()
        broker.stop()
    assert not err, err
    assert PIN not in "".join(meter.raw)
