# meter.py  an STS meter's decisions: apply(digits, now) -> Result, with every change persisted
# `now` is milliseconds of a clock that may wrap and starts again at every power-up (a board's
# time.ticks_ms()). The meter uses only the time between two readings, never the reading
# itself: its waits (keypad lock, overload trip, key change window) are durations that the
# elapsed time runs down, stored as what is left of them. No clock, stepped or restarted, can
# lengthen a wait past its limit or change credit.
# The cipher's module (STA or MISTY1) is imported only when the key's EA asks for it (codec's
# cipher_class), so a meter never holds the other algorithm's tables.
import gc
import struct
import sys

from meter import diff
from meter import results as R
from meter.sections import DONE, KeyChange
from meter.store import FORMAT
from meter.tid_memory import OLD, TidMemory
from sts import amount, errors
from sts import kinds as K
from sts.codec import EA, Decoder, cipher
from sts.kinds import WHAT, field

MAX_BALANCE = 99999999  # tenths: 9,999,999.9 units, 8 digits on a display, < 2**30
# The guess count follows refused guesses over powered time: an accepted token does not
# clear it (a customer holds as many cheap real tokens as helps), an hour of powered time
# takes one off. A customer's typo now and then never reaches the lock; an attacker's
# guesses stay at its cap however many tokens they buy.
LOCK_AFTER = 3  # guesses counted before the keypad locks
LOCK_FIRST = 10  # seconds; doubles with each further guess
LOCK_MAX = 1280
DRAIN_MS = 3600000  # powered time that takes one guess off the count
_DRAIN_SAVE = 900000  # the drain's progress is written this often (a quarter of DRAIN_MS)
TRIP_SECONDS = 60  # an overload keeps the supply off this long before it is tried again
_EA_NAME = {code: name for name, code in EA.items()}
_CODEC_ERR = {
    errors.BAD_LENGTH: R.FORMAT,
    errors.NOT_DIGIT: R.FORMAT,
    errors.TOO_LARGE: R.FORMAT,
    errors.UNKNOWN_CLASS: R.FORMAT,
    errors.BAD_CRC: R.CRC,
    errors.UNKNOWN_SUBCLASS: R.FUNCTION,
}
# Key types (KT): 0 initialisation (DITK), 1 default (DDTK), 2 unique (DUTK), 3 common
# (DCTK). Only 2 and 3 may accept credit; a key change may move to 1, 2 or 3, never back
# to the initialisation key.

# The record holds what is left of the lock and the trip, and the age of the held key change
# sections, in ms: never a clock time. After this head: the 12 words of the held key change
# sections (or, with DONE in the held byte, of the set last completed, as typed: format 3
# only), then the TID memory. Format 1 stored only the `count` TIDs in use; format 2 every
# slot of the memory, so that the record has one length and is written whole from one buffer;
# format 3 (the store's FORMAT) adds to the head the drain's progress (ms of powered time),
# the last result's code, what token it was about (class << 4 | subclass, 255: none) and its
# amount or register (-1: none). All are read alike: the head says how many TIDs count.
_FMT2 = "<BBBBBBHI18s16s" + "i" * 4 + "HHHHBBBI" + "BI" + "BBI"
_FMT = _FMT2 + "IHBi"
_HEAD2 = struct.calcsize(_FMT2)
_HEAD = struct.calcsize(_FMT)


def provision_error(data):
    """Why provisioning data (a /meter.json) cannot personalise a meter, or "": checked
    whole before anything is touched, so bad data never costs a stored byte (see
    meter/provision.py)."""
    p = _provisioning()
    try:
        return p.error(data)
    finally:
        _unload(p)


def _provisioning():
    from meter import provision

    return provision


def _unload(module):
    # Provisioning is a first start's, once in a meter's life: its checks and their words
    # leave the heap of the meter that runs (a 64 KB heap counts them).
    sys.modules.pop(module.__name__, None)
    pkg = sys.modules.get("meter")
    if pkg is not None and getattr(pkg, "provision", None) is module:
        delattr(pkg, "provision")


def _key_changes():
    # The key change rules, loaded at the first section (or with a completed set held): a
    # meter given only credit never holds them (the sections' state is meter/sections.py's).
    from meter import key_change

    return key_change


class Meter:
    """A personalised meter whose state lives in `store` (a RecordStore)."""

    def __init__(self, store, tid_capacity=50, kct_window=120):
        self.store = store
        self.tids = TidMemory(tid_capacity)  # an impossible size is an error at start-up
        self._record = bytearray(_HEAD + 48 + 4 * tid_capacity)
        self.kct = KeyChange(kct_window)
        self.balance = [0, 0, 0, 0]
        self.last = 0  # code of the last result, for the short code
        self.last_what = 255  # class << 4 | subclass of the token it was about; 255: none
        self.last_value = -1  # its amount (tenths) or register; -1: none
        self.fails = 0  # the guess count (see LOCK_AFTER)
        self.drain_ms = 0  # powered time towards taking one off the count
        self._lock_saved = 0  # lock_ms as last written
        self._what = 255
        self.fault = ""
        # A blank or faulted meter has no registers; these keep its supply off and still.
        self.max_power = self.tripped = 0
        self.lock_ms = self.trip_ms = 0  # what is left of the keypad lock and of a trip
        self.now = None  # the clock reading (ms) last seen
        # Every other attribute now, while the heap is in one piece: an instance's table that
        # grows later (at personalisation) wants a new run of some 600 bytes that a small,
        # fragmented heap may not have.
        self.pan = self._pan = self.key = self._key16 = self._decoder = self.ea = None
        self.sgc = self.ti = self.kt = self.krn = self.ken = self.base_date = 0
        self.tariff = self.unbalance = self.water_factor = self.tamper = 0
        try:
            payload = store.load(self._record)  # (read into the record's buffer: no other)
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
                return
            # The cipher now, while the heap has room in one piece for its tables, with the
            # record's buffer free first. A key the cipher refuses (its length) is the
            # record's fault; a heap too small (MemoryError) is not, and is not shown as one.
            payload = None
            try:
                self.decoder()
            except ValueError as e:
                self.fault = "unreadable state: %r" % (e,)
                self.personalised = False
                return
            if store.format < FORMAT:
                # Both slots in this format at once: firmware of the older format, put back,
                # finds no state it reads (a fault), never the older slot with credit since
                # spent and TIDs since used.
                if self._commit():
                    self._commit()

    # -- personalisation ---------------------------------------------------------------
    def personalise(self, profile, manufacture_tid):
        """Load a vending profile's meter data and decoder key; fill the TID memory with
        the manufacture TID so that tokens older than the meter are OLD."""
        self.pan = profile["pan"]
        self._pan = self.pan.encode()  # as packed: made once, not at every write
        self.sgc = int(profile["sgc"])
        self.ti = int(profile["ti"])
        self.kt = profile["kt"]
        self.krn = profile["krn"]
        self.ken = profile["ken"]
        self.ea = profile["ea"]
        self.base_date = profile["base_date"]
        self._set_key(bytes(profile["decoder_key"]))
        self.balance = [0, 0, 0, 0]
        self.max_power = self.tariff = self.unbalance = self.water_factor = 0
        self.tamper = self.tripped = self.trip_ms = 0
        self.fails = self.lock_ms = self.drain_ms = 0
        self.last = 0
        self.last_what = 255
        self.last_value = -1
        self.kct.drop()
        self.tids.fill(manufacture_tid)
        self.fault = ""
        self._decoder = None
        self.decoder()  # now, while the heap has room in one piece for its tables
        self.personalised = True
        self._commit()

    def provision(self, data):
        """Personalise from provisioning data (a board's /meter.json, the simulator's): the
        decoder key as hex, never a vending key, and the manufacture TID. Bad data raises
        ValueError (see provision_error) and changes nothing."""
        p = _provisioning()
        try:
            why = p.error(data)
            if why:
                raise ValueError(why)
            data = p.profile(data)
        finally:
            _unload(p)
            p = None  # (the module is garbage before the state's first write, not held here)
        self.personalise(data, data["manufacture_tid"])

    # -- time ----------------------------------------------------------------------------
    def tick(self, now):
        """Let the time since the last reading pass (`now`: ms, see the module header). A
        clock that went back lets no time pass, and drops a held key change set: its first
        section would be from the clock's future. The loop calls this once a pass; every
        query reads what it left.

        Written as time passes: the end of a lock (else the lock written at the guess
        comes back whole at every power-up), what is left of it each time that has halved
        since it was written (a lock cut short by a power cut resumes with at most twice
        what was left, or 5 s, never less), and the drain of the guess count (each quarter
        hour, and whenever it takes one off)."""
        last = self.now
        self.now = now
        if last is None or self.fault or not self.personalised:
            return
        dt = diff(now, last)
        kc = self.kct
        if dt < 0:
            if kc.held:
                kc.drop()
                self._commit()
            return
        save = False
        if self.lock_ms:
            left = self.lock_ms - dt
            self.lock_ms = left = left if left > 0 else 0
            # (the halvings stop at 5 s: a lock writes at most 9 times, 1,280 s down to 0)
            save = not left or (left <= self._lock_saved // 2 and left >= 5000)
        if self.fails:
            d = self.drain_ms + dt
            if d >= DRAIN_MS:
                k = d // DRAIN_MS
                self.fails = self.fails - k if self.fails > k else 0
                d -= k * DRAIN_MS
                save = True
            elif d // _DRAIN_SAVE != self.drain_ms // _DRAIN_SAVE:
                save = True
            self.drain_ms = d if self.fails else 0
        if self.trip_ms:
            self.trip_ms = max(0, self.trip_ms - dt)
        if kc.held:  # stops just past the window: no int grows without end
            kc.age = min(kc.age + dt, kc.window * 1000 + 1000)
        if save:
            self._commit()

    def lock_left(self, now=None):
        """Whole seconds (rounded up) the keypad stays locked, at `now` if given: a read,
        the meter's time moves only in tick()."""
        left = self.lock_ms
        if now is not None and self.now is not None and left:
            dt = diff(now, self.now)
            if dt > 0:
                left = left - dt if left > dt else 0
        return (left + 999) // 1000

    def clear_lock(self):
        """No refused tokens counted and no keypad lock, saved: the classroom page's teacher's
        tool only (a real meter's lock runs out by itself). True once stored."""
        if not self.personalised or self.fault or not (self.fails or self.lock_ms):
            return False
        self.fails = self.lock_ms = self.drain_ms = 0  # (the next guess's hour starts anew)
        return self._commit()

    # -- the entry point ---------------------------------------------------------------
    def apply(self, digits, now=None):
        """Decide on a typed token, at `now` (ms) if given (else at the last tick); persist
        what changes, the result's code with it."""
        if now is not None:
            self.tick(now)
        self._what = 255
        r = self._apply(digits)
        if self.fault or r.code == R.LOCKED:
            # (RAM holds what the store holds: see _commit.) While locked nothing is decoded
            # and nothing written: the last result stays the last token's.
            return r
        if r.code != self.last or self._what != self.last_what:
            # A refusal that changed nothing else: written all the same, so that the short
            # code says it after a restart (the same refusal again writes nothing).
            self._last(r)
            if self.personalised:
                self._commit()
        return r

    def _last(self, r):
        self.last = r.code
        self.last_what = self._what
        v = r.amount if r.amount is not None else r.register
        self.last_value = -1 if v is None else v

    def _apply(self, digits):
        if self.fault or not self.personalised:
            return R.Result(R.STORAGE, self.fault or "not personalised")
        if self.lock_ms:
            return R.Result(R.LOCKED, seconds=self.lock_left())
        kc = self.kct
        sub = kc.done and _key_changes().typed_again(kc, digits, self.ea)
        if sub:  # codes 1 and 2 typed again after the change: done, changes nothing, no guess
            return R.Result(R.KCT_DONE, WHAT[2 << 4 | sub])
        dec = self.decoder()
        err = dec.decode(digits)
        if err:
            return self._refuse(_CODEC_ERR[err])
        cls = dec.cls
        sub = dec.subclass
        b = dec.block
        self._what = cls << 4 | sub
        what = WHAT[self._what]
        if cls == 1:
            mfr = field(b, K.MFR1 if sub == 0 else K.MFR2)
            if mfr and mfr != self.mfr():
                return self._refuse(R.MFR, what)
            control = field(b, K.CONTROL1 if sub == 0 else K.CONTROL2)
            # Anyone can make a test token (it is not encrypted): it changes no state, and
            # does not end a streak of guesses.
            return R.Result(R.ACCEPT, what, control=control, kind=cls << 4 | sub)
        if cls == 2 and sub in (3, 4, 8, 9):
            return _key_changes().apply(self, sub, b, what, digits)
        tid = field(b, K.TID)
        value = field(b, K.AMOUNT)  # (K.REGISTER for class 2: the same bits)
        if cls == 0:
            if self.kt not in (2, 3):  # a unique or common key (see KT above)
                return self._refuse(R.DDTK, what)
            if self.ken != 255 and (tid >> 16) > self.ken:
                return self._refuse(R.KEY_EXPIRED, what)
        seen = self.tids.check(tid)
        if seen:
            return self._refuse(R.OLD if seen == OLD else R.USED, what)
        if cls == 0:
            tenths = amount.decode(value)
            if self.balance[sub] + tenths > MAX_BALANCE:
                return self._refuse(R.OVERFLOW, what)
            self.balance[sub] += tenths
            self.tids.add(tid)
            return self._done(
                R.Result(R.ACCEPT, what, amount=tenths, balance=self.balance[sub], sub=sub)
            )
        code = self._manage(sub, value)
        if code:
            return self._refuse(code, what)
        self.tids.add(tid)
        if (K.WATTS >> sub) & 1:  # max power, phase unbalance: watts, like an amount
            value = amount.decode(value)
        return self._done(
            R.Result(R.ACCEPT, what, register=value, balance=self.balance[0], kind=cls << 4 | sub)
        )

    def _manage(self, sub, value):
        """Apply a class 2 register token; 0, or the refusal code."""
        if sub == 0:
            self.max_power = value  # as the token carries it; 0 means no limit
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
            self.unbalance = value  # as the token carries it
        elif sub == 7:
            self.water_factor = value
        return 0

    def _done(self, r):
        """Persist what `r` changed, and the result (for the short code)."""
        self._last(r)
        if not self._commit():
            return R.Result(R.STORAGE, self.fault)
        return r

    def _refuse(self, code, what=""):
        r = R.Result(code, what)
        if code not in R.GUESSES:
            return r  # changes nothing
        self.fails = min(self.fails + 1, 255)  # stored in a byte; the lock is capped anyway
        if self.fails >= LOCK_AFTER:
            lock = min(LOCK_FIRST << min(self.fails - LOCK_AFTER, 8), LOCK_MAX)
            self.lock_ms = lock * 1000
            r.seconds = lock
        return self._done(r)  # persisted, so that pulling the plug does not reset the count

    # -- the world outside tokens ------------------------------------------------------
    def consume(self, tenths, commodity=0):
        """Drain a register by what was used; it stops at zero (the relay opens)."""
        if tenths < 0:
            raise ValueError("consume(%d): a negative amount would add credit" % tenths)
        b = self.balance
        if self.fault or not self.personalised:
            return b[commodity]
        left = max(0, b[commodity] - tenths)
        if left != b[commodity]:  # (energy measured at no credit changes nothing: no write)
            b[commodity] = left
            self._commit()
        return left

    def load(self, watts, now=None):
        """Report the load, at `now` (ms) if given (else at the last tick). Above the max
        power limit the relay trips and stays open for TRIP_SECONDS, whatever is reported
        meanwhile (behind an open relay a board measures nothing); then it closes and the
        load is measured again."""
        if now is not None:
            self.tick(now)
        if self.fault or not self.personalised:
            return False
        changed = False
        if self.tripped:
            if self.trip_ms:
                return False
            self.tripped = 0
            changed = True
        if self.max_power and watts > amount.decode(self.max_power):
            self.tripped = 1
            self.trip_ms = TRIP_SECONDS * 1000
            changed = True
        if changed:
            self._commit()
        return not (self.tripped or self.fault)

    def relay_closed(self):
        return self.balance[0] > 0 and not (self.tripped or self.fault) and self.personalised

    def decoder(self):
        if self._decoder is None:
            # Made at start-up, personalisation and a key change only: the garbage of what
            # came before (a provisioning file parsed, a record read) is collected first, so
            # that the cipher's tables find room in one piece in a small heap.
            gc.collect()
            self._decoder = Decoder(cipher(self.ea, self.key))  # its module: only this EA's
        return self._decoder

    def status(self):
        """What the displays show: balances, key data, edition, TID memory use (its module
        loaded at the first call: the short codes, the page, MQTT; never at boot)."""
        from meter.status import status

        return status(self)

    # -- persistence ---------------------------------------------------------------------
    def _commit(self):
        """Write the state; True once it is stored. A write that fails puts RAM back to
        what the store holds (the state written last) and stops the meter (STORAGE, relay
        open) until it restarts: RAM never holds credit, or anything else, that the store
        does not."""
        try:
            self.store.save(self._pack())
            self._lock_saved = self.lock_ms
            return True
        except OSError as e:
            self.fault = "state write failed: %r" % (e,)
        try:
            p = self.store.load(self._record)
        except (OSError, ValueError):
            p = None
        if p is None:  # nothing stored (personalising), or nothing readable: a blank meter
            self.personalised = False
        else:
            self._unpack(p)
        return False

    def _set_key(self, key):
        self.key = key
        self._key16 = key + bytes(16 - len(key))  # as packed

    def _pack(self):
        """The state record (format 3), packed into the buffer made at start-up and
        returned whole: a board's heap soon has no free run as long as a record, so none is
        allocated per write."""
        kc = self.kct
        t = self.tids
        b = self.balance
        n = _HEAD
        p = self._record
        # Every argument named, none spread with *: a spread call builds its argument list
        # on the heap, a block as long as the record's head.
        struct.pack_into(
            _FMT,
            p,
            0,
            EA[self.ea],
            self.kt,
            self.krn,
            self.ken,
            self.ti,
            len(self.key),
            self.base_date,
            self.sgc,
            self._pan,
            self._key16,
            b[0],
            b[1],
            b[2],
            b[3],
            self.max_power,
            self.tariff,
            self.unbalance,
            self.water_factor,
            self.tamper,
            self.tripped,
            self.fails,
            self.lock_ms,
            kc.held | kc.done,
            kc.age,
            t.capacity,
            t.count,
            self.trip_ms,
            self.drain_ms,
            self.last,
            self.last_what,
            self.last_value,
        )
        for i in range(12):
            struct.pack_into("<I", p, n + 4 * i, kc.blocks[i])
        for i in range(t.capacity):  # the slots past `count` too: stale, never read
            struct.pack_into("<I", p, n + 48 + 4 * i, t.tids[i])
        return p

    def _unpack(self, p):
        """Read a record of format 1, 2 or 3 (see _FMT)."""
        if self.store.format >= 3:
            n = _HEAD
            (self.drain_ms, self.last, self.last_what, self.last_value) = struct.unpack_from(
                "<IHBi", p, _HEAD2
            )
        else:  # no drain yet, no last result: none
            n = _HEAD2
            self.drain_ms = self.last = 0
            self.last_what = 255
            self.last_value = -1
        (
            ea,
            self.kt,
            self.krn,
            self.ken,
            self.ti,
            klen,
            self.base_date,
            self.sgc,
            pan,
            key,
            b0,
            b1,
            b2,
            b3,
            self.max_power,
            self.tariff,
            self.unbalance,
            self.water_factor,
            self.tamper,
            self.tripped,
            self.fails,
            lock,
            held,
            age,
            cap,
            count,
            trip,
        ) = struct.unpack_from(_FMT2, p)
        self.ea = _EA_NAME[ea]
        self._pan = bytes(pan)
        self.pan = pan.decode()
        self._set_key(bytes(key[:klen]))
        self.balance = [b0, b1, b2, b3]
        # What was left of each wait when it was written, counted again from power-up (how
        # long the power was off, no clock here can tell), and never more than its limit.
        # (A lock may outlast the count that set it: the count drains while it runs.)
        self.lock_ms = self._lock_saved = min(lock, LOCK_MAX * 1000)
        self.trip_ms = min(trip, TRIP_SECONDS * 1000) if self.tripped else 0
        if not self.fails:
            self.drain_ms = 0
        self.drain_ms = min(self.drain_ms, DRAIN_MS - 1)
        kc = self.kct
        kc.held = held & ~DONE
        kc.done = held & DONE
        kc.age = min(age, kc.window * 1000 + 1000)
        for i, w in enumerate(struct.unpack_from("<12I", p, n)):
            kc.blocks[i] = w
        if kc.age > kc.window * 1000:  # older than the window already: dropped
            kc.drop()
        self.tids.load(struct.unpack_from("<%dI" % count, p, n + 48), count == cap)
        self._decoder = None  # (made again for this key: by the caller, or at the next token)

    def mfr(self):
        """The manufacturer code in the PAN: the first 2 digits of the 11-digit decoder
        reference number after the IIN 600727, the first 4 of a 13-digit one."""
        p = self.pan
        return int(p[6:8]) if int(p[:6]) == 600727 else int(p[4:8])
