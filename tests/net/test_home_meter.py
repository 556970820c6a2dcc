# test_home_meter.py  the home meter through a real mosquitto on 127.0.0.1, as Home Assistant
# sees it: discovery configs, tokens typed on the keypad and sent over HTTP in the state, the
# PIN and its lockout, the broker stopped and started again, clients that send nothing.
import json
import os
import socket

import pytest

from conftest import ROOT
from homenet import PIN, Broker, Meter, Observer, demo, free_port, tok, until

ENTITIES = {  # object: (component, unit, state_class)
    "balance": ("sensor", "kWh", "measurement"),
    "energy": ("sensor", "kWh", "total_increasing"),
    "power": ("sensor", "W", "measurement"),
    "relay": ("binary_sensor", None, None),
    "locked": ("binary_sensor", None, None),
    "last_result": ("sensor", None, None),
    "low_credit": ("binary_sensor", None, None),
}


@pytest.fixture
def rig(tmp_path):
    """A broker, an observer on it, a demo meter headless with MQTT and the page."""
    broker = Broker(tmp_path)
    broker.start()
    obs = Observer(broker.port)
    state, tokens = demo(tmp_path)
    pan = json.load(open(state + "/meter.json"))["pan"]
    meter = Meter(state, broker.port, free_port())
    rig = type("Rig", (), {})()
    rig.broker, rig.obs, rig.meter, rig.tokens, rig.pan = broker, obs, meter, tokens, pan
    yield rig
    err = meter.stop()
    obs.close()
    broker.stop()
    assert not err, err
    assert PIN not in "".join(meter.raw), "the PIN was shown"


def online(rig):
    return until(
        "the meter online",
        lambda: (
            rig.obs.topic("stsmeter/%s/availability" % rig.pan) == "online"
            and rig.obs.state(rig.pan)
        ),
    )


def test_discovery_configs_one_device_as_home_assistant_reads_them(rig):
    online(rig)
    node = "stsmeter_" + rig.pan
    state = rig.obs.state(rig.pan)
    for obj, (comp, unit, sc) in ENTITIES.items():
        topic = "homeassistant/%s/%s/%s/config" % (comp, node, obj)
        c = json.loads(until(topic, lambda t=topic: rig.obs.topic(t)))
        assert c["device"]["identifiers"] == [node]
        assert c["unique_id"] == node + "_" + obj
        assert c["state_topic"] == "stsmeter/%s/state" % rig.pan
        assert c["availability_topic"] == "stsmeter/%s/availability" % rig.pan
        assert c.get("unit_of_measurement") == unit
        assert c.get("state_class") == sc
        # the template reads a key the state carries
        key = c["value_template"].split("value_json.")[1].split()[0]
        assert key in state, (obj, state)
    # balance goes up and down: never total_increasing (HA would take a top-up as a reset)
    assert state["balance"] == 0.0 and state["low_credit"] == "ON" and state["relay"] == "OFF"
    # retained: Home Assistant started later (a second client) gets them all
    late = Observer(rig.broker.port)
    try:
        until("retained configs", lambda: len([t for t, _, r in late.log if r]) >= 9)
        retained = {t for t, _, r in late.log if r}
    finally:
        late.close()
    for obj, (comp, _, _) in ENTITIES.items():
        assert "homeassistant/%s/%s/%s/config" % (comp, node, obj) in retained
    assert "stsmeter/%s/state" % rig.pan in retained


def test_keypad_and_http_tokens_both_in_the_state_topic(rig):
    online(rig)
    m = rig.meter
    n = len(m.lines)
    m.send("type " + tok(rig.tokens, "credit 25 kWh"))
    m.wait("the keypad's credit on the LCD", lambda o: "25.0" in "".join(o.get("lines", "")), n)
    until("25 kWh in HA", lambda: rig.obs.state(rig.pan).get("balance") == 25.0)
    s = rig.obs.state(rig.pan)
    assert s["last_result"] == "ACCEPT" and s["relay"] == "ON" and s["low_credit"] == "OFF"
    # the same token again from the page's API: the meter's own answer, the same path
    code, a = m.http("POST", "/api/token", {"token": tok(rig.tokens, "credit 25 kWh")})
    assert code == 200 and a["result"] == "USED" and a["code"] == 10 and a["balance"] == 25.0
    until("USED in HA", lambda: rig.obs.state(rig.pan).get("last_result") == "USED")
    # the key change and the credit under the new key, all from the page
    for label in ("key change 1 of 2", "key change 2 of 2"):
        code, a = m.http("POST", "/api/token", {"token": tok(rig.tokens, label)})
        assert code == 200 and a["result"] in ("KCT STAGED", "KEY CHANGED"), a
    n = len(m.lines)
    code, a = m.http("POST", "/api/token", {"token": tok(rig.tokens, "credit 10 kWh")})
    assert code == 200 and a["result"] == "ACCEPT" and a["code"] == 1, a
    assert a["balance"] == 35.0 and a["lines"][0]
    # the LCD shows the page's token as it shows the keypad's
    m.wait(
        "the page's result on the LCD",
        lambda o: o.get("lines", [""])[0].strip() == a["lines"][0],
        n,
    )
    until("the page's credit in HA", lambda: rig.obs.state(rig.pan).get("balance") == a["balance"])
    code, s = m.http("GET", "/api/status")
    assert code == 200 and s["balance"] == a["balance"] and s["supply"] is True


def test_wrong_pin_refused_and_counted_with_keypad_guesses(rig):
    online(rig)
    m = rig.meter
    assert m.http("GET", "/api/status", pin=None)[0] == 401
    m.send("type 12345678901234567890")  # a guess on the keypad (1 of 3)
    m.wait(
        "the keypad guess refused", lambda o: "CRC" in json.dumps(o) or "REJECT" in json.dumps(o)
    )
    for _ in range(2):  # two wrong PINs: the third refused guess
        code, a = m.http("GET", "/api/status", pin="000000")
        assert code == 401 and "balance" not in a
    # locked: the right PIN is not even compared, a real token on the keypad is refused
    code, a = m.http("GET", "/api/status")
    assert code == 429 and a["result"] == "LOCKED" and a["locked"] > 0
    n = len(m.lines)
    m.send("type " + tok(rig.tokens, "credit 25 kWh"))
    m.wait("LOCKED on the LCD", lambda o: "LOCKED" in "".join(o.get("lines", "")), n)
    until("locked in HA", lambda: rig.obs.state(rig.pan).get("locked") == "ON")
    assert rig.obs.state(rig.pan)["balance"] == 0.0


def test_broker_stopped_and_started_meter_goes_on_and_republishes(rig):
    online(rig)
    m = rig.meter
    rig.broker.stop()
    m.wait(
        "the meter sees the broker gone",
        lambda o: "mqtt:" in o.get("net", "") and "connected" not in o.get("net", ""),
    )
    # the meter works as a keypad meter meanwhile
    n = len(m.lines)
    m.send("type " + tok(rig.tokens, "credit 25 kWh"))
    m.wait("credit accepted with no broker", lambda o: "25.0" in "".join(o.get("lines", "")), n)
    m.wait("supply on with no broker", lambda o: o.get("relay") is True, n)
    rig.obs.forget()
    rig.broker.start()  # a new broker: it remembers nothing
    until("the state republished", lambda: rig.obs.state(rig.pan).get("balance") == 25.0)
    assert rig.obs.state(rig.pan)["last_result"] == "ACCEPT"
    node = "stsmeter_" + rig.pan
    until(
        "discovery again", lambda: rig.obs.topic("homeassistant/sensor/%s/balance/config" % node)
    )
    assert rig.obs.topic("stsmeter/%s/availability" % rig.pan) == "online"


def test_broker_away_every_change_meanwhile_reaches_home_assistant_in_order(tmp_path):
    """Home Assistant keeps history: a token's result and the relay closing and opening while
    the broker was stopped are in it once the broker is back, in order, each once."""
    broker = Broker(tmp_path, keep=True)  # it keeps Home Assistant's session over the restart
    broker.start()
    ha = Observer(broker.port, session="home-assistant")
    state, tokens = demo(tmp_path)
    pan = json.load(open(state + "/meter.json"))["pan"]
    m = Meter(state, broker.port)
    topic = "stsmeter/%s/state" % pan
    try:
        until("online", lambda: ha.state(pan).get("relay") == "OFF")
        broker.stop()
        m.wait("the broker gone", lambda o: "again in" in o.get("net", ""))
        start = len(ha.log)
        credit = tok(tokens, "credit 25 kWh")
        n = len(m.lines)
        m.send("type " + credit)  # ACCEPT: 25 kWh, the relay closes
        m.wait("credit accepted", lambda o: "ACCEPT" in "".join(o.get("lines", "")), n)
        n = len(m.lines)
        m.send("type " + credit)  # USED
        m.wait("USED", lambda o: "USED" in "".join(o.get("lines", "")), n)
        n = len(m.lines)
        m.send("load 100000")  # 25 kWh used in 15 minutes: low credit, then the relay opens
        m.send("wait 1000000")
        m.wait("the relay open", lambda o: o.get("relay") is False, n)
        broker.start()
        until(
            "the relay open in HA",
            lambda: any(
                t == topic and json.loads(p)["relay"] == "OFF" for t, p, _ in ha.log[start:]
            ),
        )
        seen = [json.loads(p) for t, p, _ in ha.log[start:] if t == topic]
    finally:
        err = m.stop()
        ha.close()
        broker.stop()
    assert not err, err
    # each change once: no message twice in a row
    assert all(a != b for a, b in zip(seen, seen[1:])), seen
    # in order: the credit with the relay closed, the token typed again, low credit, no credit
    want = [
        lambda s: s["last_result"] == "ACCEPT" and s["balance"] == 25.0 and s["relay"] == "ON",
        lambda s: s["last_result"] == "USED" and s["balance"] == 25.0 and s["relay"] == "ON",
        lambda s: s["low_credit"] == "ON" and s["relay"] == "ON",
        lambda s: s["relay"] == "OFF" and s["balance"] == 0.0 and s["low_credit"] == "ON",
    ]
    at = 0
    for s in seen:
        if at < len(want) and want[at](s):
            at += 1
    assert at == len(want), "changes missing or out of order: %s" % seen
    # the balance only went down once the credit was in
    after = [s["balance"] for s in seen if s["last_result"] == "USED"]
    assert after == sorted(after, reverse=True), seen
    assert seen[-1]["relay"] == "OFF" and seen[-1]["balance"] == 0.0
    # the energy used is the credit used up (the count carried its rest into the meter's)
    assert seen[-1]["energy"] == 25.0, seen[-1]


def test_silent_clients_and_a_flood_do_not_stall_the_meter(rig):
    online(rig)
    m = rig.meter
    silent = [socket.create_connection(("127.0.0.1", m.http_port)) for _ in range(5)]
    flood = []
    for _ in range(60):
        s = socket.create_connection(("127.0.0.1", m.http_port))
        s.sendall(b"GET /api/status HTTP/1.0\r\nAuthorization: Bearer 1\r\n")  # never ends
        flood.append(s)
    n = len(m.lines)
    m.send("type " + tok(rig.tokens, "credit 25 kWh"))
    m.wait("credit accepted beside them", lambda o: "25.0" in "".join(o.get("lines", "")), n)
    until("the state published beside them", lambda: rig.obs.state(rig.pan).get("balance") == 25.0)
    for s in silent + flood:
        s.close()

    # the page answers again once they are gone, and none of them was counted as a guess
    def answered():
        try:
            r = m.http("GET", "/api/status")
        except OSError:  # closed at once while the slots are still held
            return None
        return r if r[0] == 200 else None

    code, s = until("the API again", answered)
    assert s["locked"] == 0 and s["balance"] == 25.0


def test_no_broker_the_meter_is_a_keypad_meter(tmp_path):
    state, tokens = demo(tmp_path)
    m = Meter(state, free_port())  # nothing listens there
    try:
        m.wait("a failed connection, retried", lambda o: "again in" in o.get("net", ""))
        n = len(m.lines)
        m.send("type " + tok(tokens, "credit 25 kWh"))
        m.wait("credit accepted", lambda o: "25.0" in "".join(o.get("lines", "")), n)
        m.wait("supply on", lambda o: o.get("relay") is True, n)
    finally:
        assert not m.stop()


def test_provision_checks_the_home_settings_and_never_prints_a_secret(tmp_path, capsys):
    from tools import deploy

    args = ["provision", "--board", "esp32", "--port", "/dev/ttyUSB0", "--dry-run"]
    args += ["--profile", os.path.join(ROOT, "stsvend", "profiles", "demo.json")]
    args += ["--manufactured", "2024-01-01T00:00Z"]
    good = tmp_path / "home.json"
    good.write_text(
        json.dumps(
            {"wifi": {"ssid": "home", "password": "wifi-secret"}, "http": {"pin": "482193"}}
        )
    )
    assert deploy.main(args + ["--home", str(good)]) == 0
    out = capsys.readouterr()
    assert "%s :home.json" % good in out.out
    bad = tmp_path / "bad.json"
    bad.write_text(
        json.dumps({"wifi": {"ssid": "home", "password": "wifi-secret"}, "http": {"pin": "48x"}})
    )
    assert deploy.main(args + ["--home", str(bad)]) == 2
    out = capsys.readouterr()
    assert "http: pin" in out.err and ":home.json" not in out.out
    assert "wifi-secret" not in out.out + out.err and "48x" not in out.out + out.err


def test_the_low_credit_threshold_from_the_settings_on_the_lcd_and_in_home_assistant(tmp_path):
    broker = Broker(tmp_path)
    broker.start()
    obs = Observer(broker.port)
    state, tokens = demo(tmp_path)
    pan = json.load(open(state + "/meter.json"))["pan"]
    m = Meter(state, broker.port, extra=["--low-credit", "30"])
    try:
        until("online", lambda: obs.state(pan))
        n = len(m.lines)
        m.send("type " + tok(tokens, "credit 25 kWh"))
        m.send("wait 4000")  # past the result screen: the idle screen
        m.wait("LOW CREDIT under 30 kWh", lambda o: "LOW CREDIT" in "".join(o.get("lines", "")), n)
        until("low credit in HA", lambda: obs.state(pan).get("balance") == 25.0)
        assert obs.state(pan)["low_credit"] == "ON" and obs.state(pan)["relay"] == "ON"
    finally:
        err = m.stop()
        obs.close()
        broker.stop()
    assert not err, err
