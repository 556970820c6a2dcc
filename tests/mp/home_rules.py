# home_rules.py  the home meter on a board (startup.run with /home.json's settings), in
# micropython: the same passes as a keypad meter with the network beside them, the fail-safe
# as before, and settings that never show a secret.
import json

import startup
from board_rules import FAULT, Watchdog, _credit, _dev, _read, _run, _typed
from net import settings

from scratch import needs


def _home(**parts):
    return settings.parse(dict({"low_credit": 5}, **parts))


def test_with_the_network_gone_the_home_meter_shows_what_a_keypad_meter_shows():
    needs("asyncio")
    keys = _typed(_credit(2000, 100)) + [None] * 60 + _typed("12345678901234567890") + [None] * 5
    plain = _dev(list(keys), wdt=Watchdog())
    _run(plain)
    # no broker at port 1 (refused); the page served beside the passes
    http = {"host": "127.0.0.1", "port": 39217, "pin": "4821"}
    dev = _dev(
        list(keys), wdt=Watchdog(), home=_home(mqtt={"host": "127.0.0.1", "port": 1}, http=http)
    )
    _run(dev)
    assert dev["display"].frames == plain["display"].frames, dev["display"].frames
    assert dev["relay"].states == plain["relay"].states
    assert dev["wdt"].feeds == plain["wdt"].feeds == len(keys)
    assert "mqtt:" in _read(dev["log"]), _read(dev["log"])


def test_an_error_in_a_pass_of_the_home_meter_opens_the_relay_and_shows_the_fault():
    needs("asyncio")

    class Boom(Exception):
        pass

    def boom():
        raise Boom

    dev = _dev(_typed(_credit(2000, 100)) + [None] * 5 + [boom], home=_home())
    try:
        startup.run(dev, period_ms=0)
        raise AssertionError("the error did not come through")
    except Boom:
        pass
    assert True in dev["relay"].states and dev["relay"].states[-1] is False
    assert dev["display"].frames[-1] == FAULT


def test_settings_never_show_a_secret():
    s = _home(
        wifi={"ssid": "home", "password": "wifi-secret"},
        mqtt={"host": "10.0.0.2", "user": "u", "password": "mqtt-secret"},
        http={"port": 80, "pin": "482193"},
    )
    text = repr(s)
    for secret in ("wifi-secret", "mqtt-secret", "482193"):
        assert secret not in text, text
    assert s.low_credit == 50 and s.http["port"] == 80 and s.mqtt["port"] == 1883


def test_a_home_json_that_does_not_parse_leaves_a_keypad_meter_and_a_log_without_the_pin():
    for bad in (
        {"http": {"pin": "482"}},
        {"http": {"pin": "4821x"}},
        {"mqtt": {"port": 1883}},
        {"mqtt": {"host": "h", "port": 70000}},
        {"low_credit": -1},
        {"wifi": {"password": "x"}},
    ):
        dev = _dev([None])
        path = dev["log"] + ".home.json"
        with open(path, "w") as f:
            json.dump(bad, f)
        dev["settings"] = path
        assert startup.home_settings(dev) is None, bad
        text = _read(dev["log"])
        assert "home.json:" in text, text
        assert "482" not in text.split("home.json:")[1], text
    dev = _dev([None])
    dev["settings"] = dev["log"] + ".none"
    assert startup.home_settings(dev) is None  # no file: a keypad meter, nothing logged
    assert _read(dev["log"]) == ""


class _Meter:
    """A meter seen as Home.read sees it: the states it reads, one per pass."""

    def __init__(self, states):
        self.states = list(states)

    def read(self, a, i):
        s = self.states.pop(0)
        for j in range(7):
            a[i + j] = s[j]
        return True


def _sent(log):
    out = []
    while log.n:
        out.append(json.loads(log.oldest()))
        log.drop()
    return out


# balance, energy (tenths), power, relay, locked, last result, low credit
_ZERO = (0, 0, 0, 0, 0, 0, 1)
_CREDIT = (250, 0, 0, 1, 0, 1, 0)  # ACCEPT (code 1): 25 kWh, the relay closed


def test_the_backlog_keeps_each_change_in_order_and_folds_consumption_into_one():
    needs("asyncio")  # net.ha imports it (the qemu port has none)
    from net.ha import Backlog

    log = Backlog(keep=16)
    states = [_ZERO, _ZERO, _CREDIT, _CREDIT]  # the same state again is no change
    states += [(249, 1, 3000, 1, 0, 1, 0), (240, 10, 3000, 1, 0, 1, 0)]  # consumption
    states += [(40, 210, 3000, 1, 0, 1, 1)]  # low credit: a change of its own
    states += [(0, 250, 0, 0, 0, 1, 1)]  # no credit: the relay opens
    m = _Meter(states)
    for _ in states:
        assert log.read(m)
    got = _sent(log)
    assert [(s["balance"], s["relay"], s["last_result"], s["low_credit"]) for s in got] == [
        (0.0, "OFF", "NONE", "ON"),
        (25.0, "ON", "ACCEPT", "OFF"),
        (24.0, "ON", "ACCEPT", "OFF"),  # 24.9 then 24.0: one entry, the latest
        (4.0, "ON", "ACCEPT", "ON"),
        (0.0, "OFF", "ACCEPT", "ON"),
    ], got
    assert got[2]["energy"] == 1.0 and got[2]["power"] == 3000
    assert log.lost == 0 and json.loads(log.now())["balance"] == 0.0


def test_a_full_backlog_drops_the_oldest_change_and_counts_it():
    needs("asyncio")  # net.ha imports it (the qemu port has none)
    from net.ha import Backlog

    log = Backlog(keep=3)
    states = [(10 * k, 0, 0, 1, 0, 1, 0) for k in range(1, 6)]  # five credits: five changes
    m = _Meter(states)
    for _ in states:
        log.read(m)
    assert log.lost == 2
    assert [s["balance"] for s in _sent(log)] == [3.0, 4.0, 5.0]


def test_startup_looks_for_the_settings_where_net_keeps_them_and_loads_them():
    # startup.py names the file itself, so that a keypad meter never loads net/ to learn
    # there is none; the two names are one fact.
    assert startup.HOME == settings.PATH
    dev = _dev([None])
    path = dev["log"] + ".home.json"
    with open(path, "w") as f:
        json.dump({"mqtt": {"host": "10.0.0.2"}, "low_credit": 2.5}, f)
    dev["settings"] = path
    s = startup.home_settings(dev)
    assert s.mqtt["host"] == "10.0.0.2" and s.low_credit == 25, s
