# pzem.py  a PZEM-004T v3.0 energy monitor on a UART (9600 8N1, Modbus-RTU), polled without
# blocking: read(now_ms) sends a request every period_ms and takes the reply on a later call.
# The frames (PZEM-004T V3.0 user manual, section 2.3). The manual's text names the CRC bytes
# high then low, but modules send the Modbus CRC-16 low byte first, as Modbus does: the request
# below, sent by every driver, and captured answers check only that way round.
#   request, 8 bytes:  addr 04 00 00 00 0A crc crc   read 10 input registers from 0x0000
#                      (F8 04 00 00 00 0A 64 64 at the general address 0xF8)
#   reply, 25 bytes:   addr 04 14, 10 registers high byte first, crc crc:
#                      [3:5] voltage 0.1 V           [5:9] current 0.001 A, low word first
#                      [9:13] power 0.1 W, low word first   [13:17] energy 1 Wh, low word first
#                      [17:19] frequency 0.1 Hz   [19:21] power factor 0.01   [21:23] alarm
#   exception, 5 bytes: addr 84 code crc crc   code 1 illegal function, 2 illegal address,
#                      3 illegal data, 4 slave error
# 0xF8 is the address every module answers to; only for a module alone on its UART.
# What can only be a fault, never free energy, stops the readings until a restart (`fault`
# says why; the loop opens the relay at once): a good reply from another address (a second
# module on the line), an energy register that goes back (a reset command, another module's
# register), and power above a few watts while the register does not move (a module that
# measures power but counts no energy).
from hal.energy import ticks_diff

try:
    from micropython import const
except ImportError:  # CPython

    def const(x):
        return x


_REPLY = const(25)
_HEAD = const(5)  # an exception reply is this long
_J_PER_WH = const(3600)
_STUCK_W = const(5)  # power at or above this moves the register (1 Wh) within minutes
_STUCK_J = const(10800)  # 3 Wh of measured power and the register has not moved: a fault
_STUCK_DT = const(10000)  # ms: a longer gap between readings counts as this much
# the reasons a reading failed: a small closed set, so nothing is built when one fails
_EXCEPTION = ("exception", "exception 1", "exception 2", "exception 3", "exception 4")


def crc16(buf, n):
    """The Modbus CRC-16 of buf[:n] (reflected 0xA001, from 0xFFFF)."""
    crc = 0xFFFF
    for i in range(n):
        crc ^= buf[i]
        for _ in range(8):
            if crc & 1:
                crc = (crc >> 1) ^ 0xA001
            else:
                crc >>= 1
    return crc


class Pzem:
    """A PZEM-004T v3.0 on uart (machine.UART at 9600 8N1); read(now_ms) -> joules."""

    def __init__(self, uart, addr=0xF8, period_ms=1000, timeout_ms=200):
        if not 1 <= addr <= 0xF8:  # 0 is broadcast: no module answers it
            raise ValueError("addr outside 0x01..0xF8")
        self.uart = uart
        self.addr = addr
        self.period_ms = period_ms
        # 33 bytes at 9600 baud take 35 ms; the module answers well inside 100 ms
        self.timeout_ms = timeout_ms
        req = bytearray(8)
        req[0] = addr
        req[1] = 0x04
        req[5] = 10
        c = crc16(req, 6)
        req[6] = c & 0xFF
        req[7] = c >> 8
        self._req = req
        self._buf = bytearray(_REPLY)
        self._one = bytearray(1)
        self._sent = 0  # ticks of the last request
        self._fresh = True  # no request sent yet
        self._got = -1  # bytes of the reply in _buf; -1: no request waiting for one
        self._wh = -1  # the energy register at the last good reading; -1: no baseline
        self._good_at = 0  # ticks of the last good reading
        self._stuck_j = 0  # J of measured power since the register last moved
        self.fault = ""  # why the readings stopped (until a restart); "" while they go on
        self.volts_x10 = None
        self.amps_x1000 = None
        self.wh = None
        self.watts = None
        self.error = ""
        self.errors = 0

    def read(self, now_ms):
        """Joules since the last read (0 until a reply has come); sends when one is due."""
        if self.fault:
            return 0
        j = 0
        if self._got >= 0:
            j = self._receive(now_ms)
        if self._got < 0 and (self._fresh or ticks_diff(now_ms, self._sent) >= self.period_ms):
            self._send(now_ms)
        return j

    def _send(self, now_ms):
        uart = self.uart
        # the rest of a bad or late reply is not the answer to this request
        while uart.any() and uart.readinto(self._one):
            pass
        uart.write(self._req)
        self._sent = now_ms
        self._fresh = False
        self._got = 0

    def _receive(self, now_ms):
        # a byte at a time: some ports' any() says 1 however many are waiting, and a
        # slice of the buffer to read into would be a new memoryview each call
        uart = self.uart
        buf = self._buf
        one = self._one
        got = self._got
        while got < _REPLY and uart.any():
            if not uart.readinto(one):
                break
            buf[got] = one[0]
            got += 1
            if got == _HEAD:  # enough to tell a reading from an exception
                if buf[1] == 0x84:
                    if crc16(buf, 3) != buf[3] | buf[4] << 8:
                        return self._fail("bad CRC")
                    if buf[0] != self.addr:
                        return self._latch("reply from another address")
                    code = buf[2]
                    return self._fail(_EXCEPTION[code if code < 5 else 0])
                if buf[1] != 0x04 or buf[2] != 20:
                    return self._fail("bad reply")
        if got == _REPLY:
            self._got = -1
            return self._parse(now_ms)
        self._got = got
        if ticks_diff(now_ms, self._sent) >= self.timeout_ms:
            return self._fail("no answer" if got == 0 else "short reply")
        return 0

    def _latch(self, why):
        self._fail(why)
        self.fault = why
        return 0

    def _fail(self, why):
        self._got = -1
        self.error = why
        self.errors += 1
        self.watts = None
        return 0

    def _parse(self, now_ms):
        b = self._buf
        if crc16(b, 23) != b[23] | b[24] << 8:
            return self._fail("bad CRC")
        if b[0] != self.addr:  # a whole, good reply: another module is on the line
            return self._latch("reply from another address")
        # the high words of current, power and energy stay far below 0x2000 in range (100 A,
        # 23 kW, 9999.99 kWh): above it the value is nonsense, and sums with it would reach
        # 2**30 and allocate on a 32-bit port
        if (b[7] | b[11] | b[15]) & 0xE0:
            return self._fail("bad value")
        self.volts_x10 = b[3] << 8 | b[4]
        self.amps_x1000 = (b[7] << 24 | b[8] << 16) | (b[5] << 8 | b[6])
        p = (b[11] << 24 | b[12] << 16) | (b[9] << 8 | b[10])
        self.watts = (p + 5) // 10
        wh = (b[15] << 24 | b[16] << 16) | (b[13] << 8 | b[14])
        self.wh = wh
        self.error = ""
        last = self._wh
        since = self._good_at
        self._wh = wh
        self._good_at = now_ms
        if last < 0:  # the first reading is the baseline
            return 0
        if wh < last:  # reset (a command on the line), or another module's register
            return self._latch("energy went back")
        dt = ticks_diff(now_ms, since)
        if wh == last:
            w = self.watts
            if w >= _STUCK_W and dt > 0:
                self._stuck_j += w * (dt if dt < _STUCK_DT else _STUCK_DT) // 1000
                if self._stuck_j > _STUCK_J:
                    return self._latch("energy stuck")
            return 0
        self._stuck_j = 0
        # No more than the module can measure (100 A at 260 V: 26 kW, 65/9 Wh a second)
        # since the last good reading: a larger step is another module's register (swapped,
        # or a second one answering at 0xF8), never charged; counting starts again from it.
        s = dt // 1000 + 1
        if wh - last > (s if s > 0 else 1) * 65 // 9 + 1:
            self.error = "energy jump"
            self.errors += 1
            return 0
        return (wh - last) * _J_PER_WH
