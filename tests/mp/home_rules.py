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
