# ha.py  Home Assistant over MQTT: discovery configs (retained), the state on change and at an
# interval, availability with a last will; reconnects with backoff. Topics:
#   homeassistant/<component>/<node>/<object>/config   one device per meter (node: stsmeter_PAN)
#   stsmeter/<PAN>/state          JSON, retained: balance, energy, power, relay, locked, ...
#   stsmeter/<PAN>/availability   online / offline (the last will), retained
import asyncio
import json
import time

from net.home import dumps
from net.mqtt import Client

_PASS_MS = 250  # how often the state is compared with the one sent
_BACKOFF_MS = 1000  # the first wait after a failed connection; doubles up to _BACKOFF_MAX_MS
_BACKOFF_MAX_MS = 60000

# object, component, name, unit, device_class, state_class, value
ENTITIES = (
    ("balance", "sensor", "Balance", "kWh", "energy_storage", "measurement", "balance"),
    ("energy", "sensor", "Energy used", "kWh", "energy", "total_increasing", "energy"),
    ("power", "sensor", "Power", "W", "power", "measurement", "power"),
    ("relay", "binary_sensor", "Supply", None, "power", None, "relay"),
    ("locked", "binary_sensor", "Keypad locked", None, None, None, "locked"),
    ("last_result", "sensor", "Last token", None, None, None, "last_result"),
    ("low_credit", "binary_sensor", "Low credit", None, "problem", None, "low_credit"),
)


def _onoff(b):
    return "ON" if b else "OFF"


def node(pan):
    return "stsmeter_" + pan


def config(nid, pan, entity):
    """One entity's discovery config: (topic, JSON payload)."""
    obj, comp, name, unit, dc, sc, value = entity
    base = "stsmeter/" + pan
    c = {
        "name": name,
        "unique_id": nid + "_" + obj,
        "object_id": nid + "_" + obj,
        "state_topic": base + "/state",
        "value_template": "{{ value_json.%s }}" % value,
        "availability_topic": base + "/availability",
        "device": {
            "identifiers": [nid],
            "name": "STS meter " + pan,
            "manufacturer": "stsmeter",
            "model": "STS prepaid meter",
        },
    }
    if unit:
        c["unit_of_measurement"] = unit
    if dc:
        c["device_class"] = dc
    if sc:
        c["state_class"] = sc
    if comp == "binary_sensor":
        c["payload_on"] = "ON"
        c["payload_off"] = "OFF"
    return "homeassistant/%s/%s/%s/config" % (comp, nid, obj), json.dumps(c)


def state(s):
    """The state message from Home.status(): what the entities read (no LCD lines: they may
    hold the digits of a token being typed)."""
    return dumps(
        {
            "balance": s["balance"],
            "energy": s["energy"],
            "power": s["power"],
            "relay": _onoff(s["supply"]),
            "locked": _onoff(s["locked"]),
            "last_result": s["last_result"],
            "low_credit": _onoff(s["low_credit"]),
        }
    )


async def session(home, c, nid, pan):
    """One connection: discovery, online, then the state on change and at the interval, a
    ping at half the keep-alive; returns when the connection fails."""
    base = "stsmeter/" + pan
    for e in ENTITIES:
        topic, payload = config(nid, pan, e)
        await c.publish(topic, payload, retain=True)
    await c.publish(base + "/availability", "online", retain=True)
    sent = None
    sent_at = pinged = time.ticks_ms()
    pongs = -1  # (no ping sent yet)
    interval = home.settings.interval * 1000
    while c.alive:
        s = home.status()
        now = time.ticks_ms()
        if "fault" not in s:
            msg = state(s)
            if msg != sent or time.ticks_diff(now, sent_at) >= interval:
                await c.publish(base + "/state", msg, retain=True)
                sent, sent_at = msg, now
        if time.ticks_diff(now, pinged) >= c.keepalive * 500:
            if c.pongs == pongs:  # no answer to the last ping: a broker gone quiet
                raise OSError("no answer to ping")
            pongs = c.pongs
            await c.ping()
            pinged = now
        await asyncio.sleep_ms(_PASS_MS)


async def run(home):
    """Connect, and again after every failure, waiting longer each time (up to a minute)."""
    m = home.settings.mqtt
    wait = _BACKOFF_MS
    while True:
        s = home.status()
        pan = s.get("pan")
        if not pan:  # a blank or faulty meter has no name to publish under
            await asyncio.sleep_ms(_BACKOFF_MS)
            continue
        nid = node(pan)
        c = Client(nid, m["host"], m["port"], user=m["user"], password=m["password"])
        home.mqtt = "connecting"
        try:
            await c.connect("stsmeter/%s/availability" % pan, "offline")
            home.mqtt = "connected"
            home.log("mqtt: connected to %s:%d" % (m["host"], m["port"]))
            wait = _BACKOFF_MS
            await session(home, c, nid, pan)
            home.log("mqtt: connection lost; again in %d s" % (wait // 1000))
        except (OSError, asyncio.TimeoutError, EOFError) as e:
            home.log("mqtt: %s; again in %d s" % (_why(e), wait // 1000))
        except Exception as e:  # noqa: BLE001 - a bug here must not stop the meter
            home.log("mqtt: error %r; again in %d s" % (e, wait // 1000))
        await c.close(clean=False)
        home.mqtt = "waiting"
        await asyncio.sleep_ms(wait)
        wait = min(wait * 2, _BACKOFF_MAX_MS)


def _why(e):
    return "broker gone" if not e.args else str(e.args[0])
