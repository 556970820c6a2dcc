# meter.py  an STS meter's decisions: apply(digits, now) -> Result, with every change persisted
# `now` is whole seconds on the meter's clock; the meter keeps no clock of its own.
import struct

from meter import results as R
from meter.key_change import COMPLETE, MIXED, TIMED_OUT, KeyChange, sections_for
from meter.tid_memory import OLD, TidMemory
from sts import amount, errors
from sts.blocks import LAYOUT, bits
from sts.codec import Decoder
from sts.sta import Sta  # at import: its 6 KB table wants the heap still in one piece

COMMODITIES = ("electricity", "water", "gas", "time")
MAX_BALANCE = 99999999  # tenths: 9,999,999.9 units, 8 digits on a display, < 2**30
NEXT_BASE = {1993: 2014, 2014: 2035}
LOCK_AFTER = 3  # refused guesses in a row before the keypad locks
LOCK_FIRST = 10  # seconds; doubles with each further guess
LOCK_MAX = 1280
TRIP_SECONDS = 60  # an overload keeps the supply off this long before it is tried again
_EA_CODE = {"sta": 7, "misty1": 11}
_EA_NAME = {7: "sta", 11: "misty1"}
_CODEC_ERR = {errors.BAD_LENGTH: R.FORMAT, errors.NOT_DIGIT: R.FORMAT,
              errors.TOO_LARGE: R.FORMAT, errors.UNKNOWN_CLASS: R.FORMAT,
              errors.BAD_CRC: R.CRC, errors.UNKNOWN_SUBCLASS: R.FUNCTION}
# Key types (KT): 0 initialisation (DITK), 1 default (DDTK), 2 unique (DUTK), 3 common
# (DCTK). Only 2 and 3 may accept credit; a key change may move to 1, 2 or 3, never back
# to the initialisation key.
CREDIT_KEY_TYPES = (2, 3)
KCT_KEY_TYPES = (1, 2, 3)
_FMT = "<BBBBBBHI18s16s" + "i" * 4 + "HHHHBBBI" + "BI" + "BBI"


class Meter:
    """A personalised meter whose state lives in `store` (a RecordStore)."""

    def __init__(self, store, tid_capacity=50, kct_window=120, mfr=0):
        self.store = store
        self.mfr = mfr
        self.tids = TidMemory(tid_capacity)
        self.kct = KeyChange(kct_window)
        self.balance = [0, 0, 0, 0]
        self.last = 0  # code of the last result, for the short code
        self.fault = ""
        # A blank or faulted meter has no registers; these keep its supply off and still.
        self.max_power = self.tripped = self.trip_until = 0
        try:
            payload = store.load()
        except ValueError as e:
            self.fault = str(e)
            payload = None
        self.personalised = payload is not None
        if payload:
            try:
                self._unpack(payload)
            except Exception as e:  # noqa: BLE001
                # A record that checks but does not unpack (another firmware's layout): a
                # fault to show, not a crash at every boot. (What unpacking raises differs:
                # struct.error in CPython, ValueError in MicroPython, KeyError, ...)
                self.fault = "unreadable state: %r" % (e,)
                self.personalised = False

    # -- personalisation ---------------------------------------------------------------
    def personalise(self, profile, manufacture_tid):
        """Load a vending profile's meter data and decoder key; fill the TID memory with
        the manufacture TID so that tokens older than the meter are OLD."""
        self.pan = profile["pan"]
        self.sgc = int(profile["sgc"])
        self.ti = int(profile["ti"])
        self.kt = profile["kt"]
        self.krn = profile["krn"]
        self.ken = profile["ken"]
        self.ea = profile["ea"]
        self.base_date = profile["base_date"]
        self.key = bytes(profile["decoder_key"])
        self.balance = [0, 0, 0, 0]
        self.max_power = self.tariff = self.unbalance = self.water_factor = 0
        self.tamper = self.tripped = self.trip_until = 0
        self.fails = 0
        self.locked_until = 0
        self.kct.drop()
        self.tids.fill(manufacture_tid)
        self.fault = ""
        self._decoder = None
        self._commit()
        self.personalised = True

    def provision(self, data):
        """Personalise from provisioning data (a board's /meter.json, the simulator's): the
        decoder key as hex, never a vending key, and the manufacture TID."""
        from binascii import unhexlify

        p = dict(data)
        p["decoder_key"] = unhexlify(p["decoder_key"])
        self.personalise(p, p["manufacture_tid"])

    # -- the entry point ---------------------------------------------------------------
    def apply(self, digits, now):
        """Decide on a typed token at time `now` (seconds); persist what changes."""
        r = self._apply(digits, now)
        self.last = r.code
        return r

    def _apply(self, digits, now):
        if self.fault or not self.personalised:
            return R.Result(R.STORAGE, self.fault or "not personalised")
        if now < self.locked_until:
            return R.Result(R.LOCKED, seconds=self.locked_until - now)
        dec = self.decoder()
        err = dec.decode(digits)
        if err:
            return self._refuse(_CODEC_ERR[err], now)
        cls = dec.cls
        sub = dec.subclass
        b = dec.block
        what = LAYOUT[(cls, sub)][0]
        if cls == 1:
            mfr = bits(b, 16, 8 if sub == 0 else 16)
            if mfr and mfr != self.mfr:
                return self._refuse(R.MFR, now, what)
            control = bits(b, 24, 36) if sub == 0 else bits(b, 32, 28)
            # Not _accept: anyone can make a test token (it is not encrypted), so it must
            # not reset the lockout count between guesses; nor does it change any state.
            return R.Result(R.ACCEPT, what, control=control)
        if cls == 2 and sub in (3, 4, 8, 9):
            return self._key_change(sub, b, now, what)
        tid = bits(b, 32, 24)
        value = bits(b, 16, 16)
        if cls == 0:
            if self.kt not in CREDIT_KEY_TYPES:
                return self._refuse(R.DDTK, now, what)
            if self.ken != 255 and (tid >> 16) > self.ken:
                return self._refuse(R.KEY_EXPIRED, now, what)
        seen = self.tids.check(tid)
        if seen:
            return self._refuse(R.OLD if seen == OLD else R.USED, now, what)
        if cls == 0:
            tenths = amount.decode(value)
            if self.balance[sub] + tenths > MAX_BALANCE:
                return self._refuse(R.OVERFLOW, now, what)
            self.balance[sub] += tenths
            self.tids.add(tid)
            return self._accept(R.Result(R.ACCEPT, what, amount=tenths,
                                         balance=self.balance[sub]))
        code = self._manage(sub, value)
        if code:
            return self._refuse(code, now, what)
        self.tids.add(tid)
        return self._accept(R.Result(R.ACCEPT, what, register=value,
                                     balance=self.balance[0]))

    def _manage(self, sub, value):
        """Apply a class 2 register token; 0, or the refusal code."""
        if sub == 0:
            self.max_power = value  # watts; 0 means no limit
        elif sub == 1:
            if value == 0xFFFF:  # all registers
                self.balance = [0, 0, 0, 0]
            elif value < 4:
                self.balance[value] = 0
            elif value > 7:  # 4..7 are the standard's currency registers: none here to clear
                return R.RANGE
        elif sub == 2:
            self.tariff = value
        elif sub == 5:
            self.tamper = 0
        elif sub == 6:
            self.unbalance = value
        elif sub == 7:
            self.water_factor = value
        return 0

    def _key_change(self, sub, b, now, what):
        if sub not in sections_for(self.ea):
            return self._refuse(R.FUNCTION, now, what)
        kc = self.kct
        outcome = kc.offer(sub, b, now, self.ea)
        m = len(sections_for(self.ea))
        if outcome != COMPLETE:
            code = {TIMED_OUT: R.KCT_TIMEOUT, MIXED: R.KCT_MIXED}.get(outcome, R.KCT_STAGED)
            return self._accept(R.Result(code, what, n=kc.count(), m=m))
        kt = kc.field(3, 48, 2)
        if kt not in KCT_KEY_TYPES:
            kc.drop()
            self._commit()  # the dropped sections must stay dropped after a reboot
            return self._refuse(R.KEY_TYPE, now, what)
        self.key = kc.new_key(self.ea)
        self.kt = kt
        self.krn = kc.field(3, 52, 4)
        self.ken = (kc.field(3, 56, 4) << 4) | kc.field(4, 56, 4)
        self.ti = kc.field(4, 48, 8)
        if self.ea == "misty1":
            self.sgc = (kc.field(9, 48, 12) << 12) | kc.field(8, 48, 12)
        if kc.field(3, 51, 1):  # RO: the TID memory starts again, from the next base date
            self.tids.clear()
            self.base_date = NEXT_BASE.get(self.base_date, self.base_date)
        kc.drop()
        self._decoder = None
        return self._accept(R.Result(R.KEY_CHANGED, what, n=m, m=m))

    def _accept(self, r):
        self.fails = 0
        self._commit()
        return r

    def _refuse(self, code, now, what=""):
        r = R.Result(code, what)
        if code in R.GUESSES:
            self.fails = min(self.fails + 1, 255)  # stored in a byte; the lock is capped anyway
            if self.fails >= LOCK_AFTER:
                lock = min(LOCK_FIRST << min(self.fails - LOCK_AFTER, 8), LOCK_MAX)
                self.locked_until = now + lock
                r.seconds = lock
            self._commit()  # persisted, so that pulling the plug does not reset the count
        return r

    # -- the world outside tokens ------------------------------------------------------
    def consume(self, tenths, commodity=0):
        """Drain a register by what was used; it stops at zero (the relay opens)."""
        b = self.balance
        if self.fault or not self.personalised:
            return b[commodity]
        b[commodity] = max(0, b[commodity] - tenths)
        self._commit()
        return b[commodity]

    def load(self, watts, now):
        """Report the load at `now` (seconds). Above the max power limit the relay trips and
        stays open for TRIP_SECONDS, whatever is reported meanwhile (behind an open relay a
        board measures nothing); then it closes and the load is measured again."""
        if self.fault or not self.personalised:
            return False
        changed = False
        if self.tripped:
            if now < self.trip_until:
                return False
            self.tripped = 0
            changed = True
        if self.max_power and watts > self.max_power:
            self.tripped = 1
            self.trip_until = now + TRIP_SECONDS
            changed = True
        if changed:
            self._commit()
        return not self.tripped

    def relay_closed(self):
        return self.balance[0] > 0 and not self.tripped

    def decoder(self):
        if self._decoder is None:
            if self.ea == "sta":
                cipher = Sta
            else:  # imported only by a MISTY1 meter: 6 KB of heap
                from sts.misty1 import Misty1 as cipher
            self._decoder = Decoder(cipher(self.key))
        return self._decoder

    def status(self):
        """What the displays show: balances, key data, edition, TID memory use."""
        return {
            "balance": self.balance[0], "balances": list(self.balance),
            "krn": self.krn, "kt": self.kt, "sgc": "%06d" % self.sgc, "ti": "%02d" % self.ti,
            "ea": "EA%02d" % _EA_CODE[self.ea], "ken": self.ken, "base_date": self.base_date,
            "edition": 1 if self.base_date == 1993 else 2, "pan": self.pan,
            "tids_used": self.tids.count, "tids_capacity": self.tids.capacity,
            "relay": self.relay_closed(), "tripped": bool(self.tripped),
            "tamper": bool(self.tamper), "max_power": self.max_power,
            "kct_held": self.kct.count(), "kct_of": len(sections_for(self.ea)),
            "last": self.last, "locked_until": self.locked_until,
            "storage": self.store.report,
        } if self.personalised and not self.fault else {"fault": self.fault or "blank"}

    # -- persistence ---------------------------------------------------------------------
    def _commit(self):
        self.store.save(self._pack())

    def _pack(self):
        kc = self.kct
        head = struct.pack(_FMT, _EA_CODE[self.ea], self.kt, self.krn, self.ken, self.ti,
                           len(self.key), self.base_date, self.sgc, self.pan.encode(),
                           self.key + bytes(16 - len(self.key)), *self.balance,
                           self.max_power, self.tariff, self.unbalance, self.water_factor,
                           self.tamper, self.tripped, self.fails, self.locked_until,
                           kc.held, kc.started, self.tids.capacity, self.tids.count,
                           self.trip_until)
        t = self.tids
        return (head + struct.pack("<12I", *kc.blocks)
                + struct.pack("<%dI" % t.count, *t.tids[:t.count]))

    def _unpack(self, p):
        (ea, self.kt, self.krn, self.ken, self.ti, klen, self.base_date, self.sgc, pan, key,
         b0, b1, b2, b3, self.max_power, self.tariff, self.unbalance, self.water_factor,
         self.tamper, self.tripped, self.fails, self.locked_until, held, started, cap, count,
         self.trip_until) = struct.unpack_from(_FMT, p)
        self.ea = _EA_NAME[ea]
        self.pan = pan.decode()
        self.key = bytes(key[:klen])
        self.balance = [b0, b1, b2, b3]
        n = struct.calcsize(_FMT)
        kc = self.kct
        kc.held = held
        kc.started = started
        for i, w in enumerate(_words(p, n, 12)):
            kc.blocks[i] = w
        if cap != self.tids.capacity:  # the configured size wins; keep the newest TIDs
            count = min(count, self.tids.capacity)
        start = n + 48
        have = (len(p) - start) // 4
        words = _words(p, start, have)
        self.tids.count = 0
        for tid in words[have - count:]:
            self.tids.tids[self.tids.count] = tid
            self.tids.count += 1
        self._decoder = None


def _words(p, off, n):
    return struct.unpack_from("<%dI" % n, p, off)
