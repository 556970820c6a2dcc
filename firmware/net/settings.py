# settings.py  the home meter's settings: a JSON file written at provisioning (/home.json)
# {"wifi": {"ssid": "...", "password": "..."},
#  "mqtt": {"host": "192.168.1.10", "port": 1883, "user": "", "password": "", "interval": 60},
#  "http": {"host": "0.0.0.0", "port": 80, "pin": "4821"},
#  "low_credit": 5.0}
# Every part is optional: no "mqtt", no MQTT; no "http", no page. The secrets (the WiFi
# password, the broker's password, the PIN) are never logged or shown: repr() hides them.
# Needed once, at power-up: net/home.py lets this module go once the meter runs (its
# Settings, in net/__init__.py, stay).
import json

from net import LOW_CREDIT, Settings

PATH = "/home.json"


def _addr(d, what, port):
    host = d.get("host")
    p = d.get("port", port)
    if not isinstance(host, str) or not host:
        raise ValueError(what + ": host is missing")
    if not isinstance(p, int) or not 0 < p < 65536:
        raise ValueError(what + ": port must be 1..65535")
    return host, p


def parse(data):
    """Settings from the file's data (a dict); ValueError saying what is wrong."""
    if not isinstance(data, dict):
        raise ValueError("settings: not a JSON object")
    s = Settings()
    w = data.get("wifi")
    if w is not None:
        if not isinstance(w, dict) or not isinstance(w.get("ssid"), str) or not w["ssid"]:
            raise ValueError("wifi: ssid is missing")
        s.wifi = {"ssid": w["ssid"], "password": str(w.get("password", ""))}
    m = data.get("mqtt")
    if m is not None:
        if not isinstance(m, dict):
            raise ValueError("mqtt: not an object")
        host, port = _addr(m, "mqtt", 1883)
        s.mqtt = {"host": host, "port": port, "user": m.get("user") or None}
        s.mqtt["password"] = m.get("password") or None
        n = m.get("interval", 60)
        if not isinstance(n, int) or not 5 <= n <= 3600:
            raise ValueError("mqtt: interval must be 5..3600 s")
        s.interval = n
    h = data.get("http")
    if h is not None:
        if not isinstance(h, dict):
            raise ValueError("http: not an object")
        if "host" not in h:
            h = dict(h)
            h["host"] = "0.0.0.0"  # noqa: S104 - the home network is the point
        host, port = _addr(h, "http", 80)
        pin = h.get("pin")
        if not isinstance(pin, str) or not 4 <= len(pin) <= 32 or not pin.isdigit():
            raise ValueError("http: pin must be 4 to 32 digits")
        s.http = {"host": host, "port": port, "pin": pin}
    low = data.get("low_credit", LOW_CREDIT / 10)
    if not isinstance(low, (int, float)) or not 0 <= low <= 100000:
        raise ValueError("low_credit: kWh, 0..100000")
    s.low_credit = int(low * 10 + 0.5)
    return s


def load(path=PATH):
    """The settings in `path`, or None when there is no such file."""
    try:
        f = open(path)
    except OSError:
        return None
    with f:
        return parse(json.load(f))
