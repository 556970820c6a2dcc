# ui.py  the keypad-and-display state machine: key events and time in, frames out
# States: idle (balance and supply), entry (digits in groups of four), result (about 3 s,
# then the balance), info (a short code's answer). Time is milliseconds of a clock that may
# wrap (a board's time.ticks_ms()): only the time between readings counts, as for the meter.
from meter import diff
from meter.key_change import sections_for
from meter.results import ACCEPT, KCT_STAGED, LOCKED, NAMES, STORAGE
from ui import texts as T

IDLE = 0
ENTRY = 1
RESULT = 2
INFO = 3

ENTRY_TIMEOUT = 20000  # ms without a key before the typed digits are dropped
RESULT_TIME = 3000
INFO_TIME = 5000
LOW_CREDIT = 50  # tenths: below 5.0 units the idle screen warns
HISTORY = 3  # accepted tokens remembered for the short code


def tenths(v):
    return "%d.%d" % (v // 10, v % 10)


class Ui:
    low_credit = LOW_CREDIT  # tenths; a home meter's settings set their own (net/home.py)

    def __init__(self, meter, rows=2, cols=16, texts=T):
        self.meter = meter
        self.rows = rows
        self.cols = cols
        self.t = texts
        self.state = IDLE
        self.digits = bytearray()
        self.since = 0  # ms of the last key, or when the state began
        self.last = []  # (token, result line) of recent accepted tokens
        self.result = self.info = None  # the lines of the RESULT and INFO screens

    # -- input ---------------------------------------------------------------------------
    def key(self, k, now):
        """One key press: "0".."9", "#" enter, "*" back (cancel when empty), "C" clear."""
        self.tick(now)  # a timeout that passed since the last frame counts before this key
        if self.state in (RESULT, INFO):
            self.state = IDLE
        self.since = now
        if "0" <= k <= "9":
            if len(self.digits) < 20:
                self.digits.append(ord(k))
            self.state = ENTRY
        elif k == "*":
            if self.digits:
                self.digits = self.digits[:-1]
            else:
                self.state = IDLE
        elif k == "C":
            self.digits = bytearray()
            self.state = IDLE
        elif k == "#" and self.digits:
            self._enter(now)
        if self.state == ENTRY and not self.digits:
            self.state = IDLE

    def tick(self, now):
        """Let time pass: entry and result screens time out."""
        age = diff(now, self.since)
        if self.state == ENTRY and age >= ENTRY_TIMEOUT:
            self.digits = bytearray()
            self.state = IDLE
        elif self.state == RESULT and age >= RESULT_TIME:
            self.state = IDLE
        elif self.state == INFO and age >= INFO_TIME:
            self.state = IDLE

    def _enter(self, now):
        typed = bytes(self.digits)
        self.digits = bytearray()
        self.since = now
        if len(typed) < 20 and typed.decode() in self.t.CODES:
            self.info = self._code(typed.decode())
            self.state = INFO
            return
        if len(typed) < 20 and len(typed) <= 4:
            self.info = [s.format(code=typed.decode()) for s in self.t.UNKNOWN_CODE]
            self.state = INFO
            return
        r = self.meter.apply(typed, now)
        self.result = self._result_lines(r)
        if r.code == ACCEPT:
            self.last.insert(0, (typed.decode(), self.result[1]))
            del self.last[HISTORY:]
        self.state = RESULT

    # -- output --------------------------------------------------------------------------
    def frame(self, now):
        """The lines the display shows now (each exactly `cols` wide)."""
        lines = list(self.lines(now)) + [""] * self.rows
        return [(s + " " * self.cols)[: self.cols] for s in lines[: self.rows]]

    def lines(self, now):
        """The text of the screen now, before it is cut or padded to the display."""
        self.tick(now)
        if self.state == ENTRY:
            return self._entry_lines()
        if self.state == RESULT:
            return self.result
        if self.state == INFO:
            return self.info
        return self._idle_lines(now)

    def _entry_lines(self):
        d = self.digits.decode()
        groups = [d[i : i + 4] for i in range(0, len(d), 4)]
        per = max(1, (self.cols + 1) // 5)  # groups of "dddd " that fit a line
        if len(groups) <= per:
            return [self.t.ENTER, " ".join(groups)]
        return [" ".join(groups[:per]), " ".join(groups[per : 2 * per])]

    def _idle_lines(self, now):
        # Drawn every pass of a board's loop: read from the meter, not from a status() dict.
        m = self.meter
        left = m.lock_left(now)  # (the time passes first)
        if m.fault:
            return self.t.RESULT[STORAGE]
        if not m.personalised:  # a board never provisioned: nothing is wrong with it
            return self.t.BLANK
        balance = m.balance[0]
        unit = self.t.UNITS[0]
        first = "%s %s %s" % (self.t.IDLE_TITLE, tenths(balance), unit)
        if len(first) > self.cols:  # a large balance: the number matters, not the title
            first = "%s %s" % (tenths(balance), unit)
        if left:
            second = self.t.RESULT[LOCKED][1].format(seconds=left)
        elif m.kct.held and m.kct.age <= m.kct.window * 1000:  # gone once the window passed
            second = self.t.RESULT[KCT_STAGED][0].format(
                n=m.kct.count(), m=len(sections_for(m.ea))
            )
        elif m.tripped:
            second = self.t.TRIPPED
        elif balance == 0:
            second = self.t.NO_CREDIT
        elif balance < self.low_credit:
            second = self.t.LOW_CREDIT
        else:
            second = self.t.SUPPLY_ON
        return [first, second]

    def _result_lines(self, r):
        if r.code == ACCEPT and r.amount is not None:
            top, bottom = self.t.ACCEPT_CREDIT
            return [top, bottom.format(amount=tenths(r.amount), unit=self.t.UNITS[r.sub or 0])]
        top, bottom = self.t.RESULT.get(r.code, ("RESULT %d" % r.code, ""))
        if r.code == ACCEPT and r.what in self.t.ACCEPT_TOKEN:
            bottom = self.t.ACCEPT_TOKEN[r.what]
            if r.register == 0:
                bottom = self.t.ACCEPT_ZERO.get(r.what, bottom)
        v = {
            "what": r.what.upper(),
            "n": r.n,
            "m": r.m,
            "seconds": r.seconds,
            "register": r.register,
            "control": r.control,
        }
        return [top.format(**v), bottom.format(**v)]

    def _code(self, code):
        s = self.meter.status()
        name = self.t.CODES[code]
        if "fault" in s:
            return list(self.t.RESULT[STORAGE])
        if name == "edition":
            return ["STS EDITION %d" % s["edition"], "KRN %d BASE %d" % (s["krn"], s["base_date"])]
        if name == "balance":
            return ["BALANCE", "%s %s" % (tenths(s["balance"]), self.t.UNITS[0])]
        if name == "last_result":
            # The number of the standard's table and the result's name; the meter's own
            # outcomes have no number there: their name alone. No token yet: no number.
            last = s["last"]
            if not last:
                return ["LAST RESULT", "NONE"]
            return ["LAST RESULT", NAMES[last] if last > LOCKED else "%d %s" % (last, NAMES[last])]
        if name == "last_tokens":
            if not self.last:
                return ["LAST TOKENS", "NONE"]
            tok, what = self.last[0]
            return ["%s..%s" % (tok[:4], tok[-4:]), what]
        if name == "tid_memory":
            return ["TID MEMORY", "%d/%d" % (s["tids_used"], s["tids_capacity"])]
        if name == "pan":
            return ["PAN " + s["pan"][:12], s["pan"][12:]]
        if name == "ea":
            return [s["ea"], "BASE %d" % s["base_date"]]
        return [name.upper(), str(s[name])]
