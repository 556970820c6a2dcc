# mqtt.py  a small MQTT 3.1.1 client on asyncio streams: connect (with a last will),
# publish at QoS 0, ping, disconnect. Nothing else: the meter only publishes.
import asyncio

from micropython import const

_CONNECT = const(0x10)
_CONNACK = const(0x20)
_PUBLISH = const(0x30)
_PINGREQ = const(0xC0)
_PINGRESP = const(0xD0)
_DISCONNECT = const(0xE0)
_TIMEOUT_MS = const(5000)  # for the broker to answer a connect, or to take a packet


def _str(s):
    b = s.encode() if isinstance(s, str) else s
    return bytes((len(b) >> 8, len(b) & 0xFF)) + b


def _head(kind, n):
    """A fixed header: the packet type and its remaining length (7 bits a byte)."""
    out = bytearray((kind,))
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | 0x80 if n else b)
        if not n:
            return out


class Client:
    """One connection to a broker; `alive` is False once it fails (make a new Client)."""

    def __init__(self, client_id, host, port=1883, keepalive=60, user=None, password=None):
        self.id = client_id
        self.host = host
        self.port = port
        self.keepalive = keepalive
        self.user = user
        self.password = password
        self.r = self.w = None
        self.alive = False
        self.pongs = 0  # PINGRESPs read: the broker is still there

    async def connect(self, will_topic, will_msg):
        """Open the connection and send CONNECT; raises OSError if the broker refuses or does
        not answer within a few seconds."""
        self.r, self.w = await asyncio.wait_for_ms(
            asyncio.open_connection(self.host, self.port), _TIMEOUT_MS
        )
        flags = 0x02 | 0x04 | 0x20  # clean session, a will, retained (QoS 0)
        payload = _str(self.id) + _str(will_topic) + _str(will_msg)
        if self.user:
            flags |= 0x80
            payload += _str(self.user)
            if self.password:
                flags |= 0x40
                payload += _str(self.password)
        var = b"\x00\x04MQTT\x04" + bytes((flags, self.keepalive >> 8, self.keepalive & 0xFF))
        await self._send(_head(_CONNECT, len(var) + len(payload)), var, payload)
        ack = await asyncio.wait_for_ms(self.r.readexactly(4), _TIMEOUT_MS)
        if ack[0] != _CONNACK or ack[3] != 0:
            raise OSError("broker refused: %d" % ack[3])
        self.alive = True
        asyncio.create_task(self._read())

    async def _read(self):
        """Read what the broker sends (PINGRESP; nothing else is asked for) until it closes."""
        try:
            while self.alive:
                h = await self.r.readexactly(2)
                n = h[1]
                if n & 0x80:  # a packet with a long body is nothing this client asked for
                    break
                if n:
                    await self.r.readexactly(n)
                if h[0] == _PINGRESP:
                    self.pongs += 1
        except (OSError, EOFError):
            pass
        self.alive = False

    async def _send(self, *parts):
        """Write the parts (bytes, or ASCII str) one after the other: no packet is copied
        whole on the heap (the stream writes what the socket takes at once)."""
        try:
            for p in parts:
                if p:
                    self.w.write(p.encode() if isinstance(p, str) else p)
            await asyncio.wait_for_ms(self.w.drain(), _TIMEOUT_MS)
        except (OSError, asyncio.TimeoutError):
            self.alive = False
            raise OSError("broker gone") from None

    async def publish(self, topic, msg, retain=False):
        """msg: bytes or str, or a list of ASCII str pieces sent one after the other."""
        if not isinstance(msg, list):
            msg = (msg,)
        n = 2 + len(topic)
        for p in msg:
            n += len(p)
        t = len(topic)
        await self._send(
            _head(_PUBLISH | (1 if retain else 0), n), bytes((t >> 8, t & 0xFF)), topic, *msg
        )

    async def ping(self):
        await self._send(bytes((_PINGREQ, 0)))

    async def close(self, clean=True):
        """Close; clean sends DISCONNECT (the broker then drops the will)."""
        was = self.alive
        self.alive = False
        if self.w is None:
            return
        try:
            if clean and was:
                self.w.write(bytes((_DISCONNECT, 0)))
                await asyncio.wait_for_ms(self.w.drain(), 1000)
        except Exception:  # noqa: BLE001, S110 - the connection is going anyway
            pass
        try:
            self.w.close()
            await self.w.wait_closed()
        except Exception:  # noqa: BLE001, S110
            pass
