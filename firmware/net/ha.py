# ha.py  Home Assistant over MQTT: discovery configs (retained), the state on change and at an
# interval, availability with a last will; reconnects with backoff. Topics:
#   homeassistant/<component>/<node>/<object>/config   one device per meter (node: stsmeter_PAN)
#   stsmeter/<PAN>/state          JSON, retained: balance, energy, power, relay, locked, ...
#   stsmeter/<PAN>/availability   online / offline (the last will), retained
#   stsmeter/<PAN>/lost           state changes dropped while the broker was away (retained)
# Every change of the state is kept, in order, until it is published: with the broker away
# the changes wait in a backlog of fixed size (the oldest dropped, and counted, when full) and
# go out in order at the next connection, so Home Assistant's history has each of them.
import asyncio
import time
from array import array

from micropython import const

from meter.results import NAMES
from net.mqtt import Client

_PASS_MS = const(250)  # how often the state is read and compared with the last one
_BACKOFF_MS = const(1000)  # the first wait after a failed connection; doubles up to a minute
_BACKOFF_MAX_MS = const(60000)
_N = const(7)  # a state's fields: balance, energy (tenths), power (W), relay, locked, last, low
KEEP = 16  # state changes the backlog holds (7 fields of 4 bytes: 500 B on any board)

# object, component, name, unit, device_class, state_class (the state's key is the object)
ENTITIES = (
    ("balance", "sensor", "Balance", "kWh", "energy_storage", "measurement"),
    ("energy", "sensor", "Energy used", "kWh", "energy", "total_increasing"),
    ("power", "sensor", "Power", "W", "power", "measurement"),
    ("relay", "binary_sensor", "Supply", None, "power", None),
    ("locked", "binary_sensor", "Keypad locked", None, None, None),
    ("last_result", "sensor", "Last token", None, None, None),
    ("low_credit", "binary_sensor", "Low credit", None, "problem", None),
)
_STATE = (
    '{"balance": %d.%d, "energy": %d.%d, "power": %d, "relay": "%s", "locked": "%s", '
    '"last_result": "%s", "low_credit": "%s"}'
)


def _onoff(b):
    return "ON" if b else "OFF"


def node(pan):
    return "stsmeter_" + pan


def config(nid, pan, entity):
    """One entity's discovery config: (topic, its JSON as a list of short pieces, sent one
    after the other: no config is ever whole on the heap)."""
    obj, comp, name, unit, dc, sc = entity
    base = '"stsmeter/' + pan
    c = ['{"name": "', name, '", "unique_id": "', nid, "_", obj, '", "object_id": "', nid]
    c += ["_", obj, '", "state_topic": ', base, '/state", "value_template": ']
    c += ['"{{ value_json.', obj, ' }}", "availability_topic": ', base, '/availability", ']
    c += ['"device": {"identifiers": ["', nid, '"], "name": "STS meter ', pan]
    c.append('", "manufacturer": "stsmeter", "model": "STS prepaid meter"}')
    for k, v in (("unit_of_measurement", unit), ("device_class", dc), ("state_class", sc)):
        if v:
            c += [', "', k, '": "', v, '"']
    if comp == "binary_sensor":
        c.append(', "payload_on": "ON", "payload_off": "OFF"')
    c.append("}")
    return "homeassistant/%s/%s/%s/config" % (comp, nid, obj), c


def state(a, i=0):
    """The state message from a's fields at i (Backlog's layout): what the entities read (no
    LCD lines: they may hold the digits of a token being typed); kWh written exactly."""
    b, e, last = a[i], a[i + 1], a[i + 5]
    return _STATE % (
        b // 10,
        b % 10,
        e // 10,
        e % 10,
        a[i + 2],
        _onoff(a[i + 3]),
        _onoff(a[i + 4]),
        NAMES.get(last, str(last)) if last else "NONE",
        _onoff(a[i + 6]),
    )


class Backlog:
    """The state changes not yet published, oldest first, in fixed memory (no allocation per
    change): a ring of `keep` states, then the last state read, then the reading. read() runs
    after every pass of the loop (Home.passed), so no change is missed, however short.
    A change of consumption alone (energy and power, the balance going down) updates the
    newest change kept when that one is consumption too; every other change (a token's result,
    credit added, the relay, the lock, low credit) takes a slot of its own. When the ring is
    full the oldest change is dropped and counted in `lost`."""

    def __init__(self, keep=KEEP):
        self.keep = keep
        self.a = array("i", bytes(4 * _N * (keep + 2)))
        self.first = self.n = self.lost = 0
        self.seen = False  # a state read yet
        self.using = False  # the newest change kept is consumption alone

    def read(self, home):
        """Read the meter's state; keep it if it changed. False for a blank or faulty meter."""
        a, k = self.a, _N * (self.keep + 1)
        if not home.read(a, k):
            return False
        last = k - _N
        changed = not self.seen
        use = self.seen  # consumption alone: only energy, power and a balance going down
        for j in range(_N):
            if a[last + j] != a[k + j]:
                changed = True
                if j > 2 or j == 0 and a[k] > a[last]:
                    use = False
        if not changed:
            return True
        self.seen = True
        for j in range(_N):
            a[last + j] = a[k + j]
        if use and self.using and self.n > 1:  # (the oldest may be on its way out)
            at = _N * ((self.first + self.n - 1) % self.keep)
        else:
            if self.n == self.keep:  # full: the oldest change goes
                self.first = (self.first + 1) % self.keep
                self.n -= 1
                self.lost += 1
            at = _N * ((self.first + self.n) % self.keep)
            self.n += 1
        self.using = use
        for j in range(_N):
            a[at + j] = a[k + j]
        return True

    def oldest(self):
        return state(self.a, _N * self.first)

    def drop(self):
        self.first = (self.first + 1) % self.keep
        self.n -= 1

    def now(self):
        return state(self.a, _N * self.keep)


async def session(home, c, pan, log):
    """One connection: discovery, online, the changes kept meanwhile in order (or, when
    there are none, the state as it is: the broker may have forgotten it), then each change
    as it comes and the state at the interval, a ping at half the keep-alive; returns when
    the connection fails."""
    base = "stsmeter/" + pan
    nid = node(pan)
    for e in ENTITIES:
        topic, payload = config(nid, pan, e)
        await c.publish(topic, payload, retain=True)
    await c.publish(base + "/availability", "online", retain=True)
    if log.lost:
        home.log("mqtt: %d state changes dropped while the broker was away" % log.lost)
    await c.publish(base + "/lost", str(log.lost), retain=True)
    if not log.n:
        await c.publish(base + "/state", log.now(), retain=True)
    sent_at = pinged = time.ticks_ms()
    pongs = -1  # (no ping sent yet)
    interval = home.settings.interval * 1000
    while c.alive:
        while log.n:  # each change once, in order (taken off only once it is sent)
            await c.publish(base + "/state", log.oldest(), retain=True)
            log.drop()
            sent_at = time.ticks_ms()
        now = time.ticks_ms()
        if time.ticks_diff(now, sent_at) >= interval:
            await c.publish(base + "/state", log.now(), retain=True)
            sent_at = now
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
    log = home.backlog = Backlog()  # read after every pass from now on
    wait = _BACKOFF_MS
    while True:
        if not (log.seen or log.read(home)):  # a blank or faulty meter: no name to publish
            await asyncio.sleep_ms(_BACKOFF_MS)
            continue
        pan = home.pan()
        c = Client(node(pan), m["host"], m["port"], user=m["user"], password=m["password"])
        home.mqtt = "connecting"
        try:
            await c.connect("stsmeter/%s/availability" % pan, "offline")
            home.mqtt = "connected"
            home.log("mqtt: connected to %s:%d" % (m["host"], m["port"]))
            wait = _BACKOFF_MS
            await session(home, c, pan, log)
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
