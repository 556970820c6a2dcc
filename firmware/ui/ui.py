# ui.py  the keypad-and-display state machine: key events and time in, frames out
# States: idle (balance and supply), entry (digits in groups of four), result (about 3 s,
# then the balance), info (a short code's answer). Time is milliseconds of a clock that may
# wrap (a board's time.ticks_ms()): only the time between readings counts, as for the meter.
# The ui reads the meter and never moves its time: the loop ticks the meter once a pass.
from meter import diff
from meter.key_change import sections_for
from meter.results import ACCEPT, LOCKED, STORAGE, Result
from sts import amount
from sts.digits import grouped
from sts.kinds import WHAT
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


def edition_forms(texts=T):
    """The names of the 873 forms a meter may pick, as one string."""
    return ", ".join(sorted(texts.EDITION_FORMS))


tenths = amount.text  # (sts/amount.py: "12.5")


def fit(lines, rows, cols):
    """A frame of `rows` lines of exactly `cols` characters: cut or padded."""
    lines = list(lines) + [""] * rows
    return [(s + " " * cols)[:cols] for s in lines[:rows]]


class Ui:
    low_credit = LOW_CREDIT  # tenths; a home meter's settings set their own (net/home.py)

    def __init__(self, meter, rows=2, cols=16, texts=T, edition_form=None):
        if edition_form is not None and edition_form not in texts.EDITION_FORMS:
            raise ValueError("no 873 form %r (forms: %s)" % (edition_form, edition_forms(texts)))
        self.edition_form = edition_form
        self.meter = meter
        self.rows = rows
        self.cols = cols
        self.t = texts
        self.state = IDLE
        self.digits = bytearray()
        self.since = 0  # ms of the last key, or when the state began
        self.last = []  # (token, result line) of recent accepted tokens
        self.result = self.info = None  # the lines of the RESULT and INFO screens

    def typed(self):
        """The digits typed so far, as text."""
        return self.digits.decode()

    # -- input ---------------------------------------------------------------------------
    def key(self, k, now):
        """One key press: "0".."9", "#" enter, "*" back (cancel when empty), "C" clear."""
        self.tick(now)  # a timeout that passed since the last frame counts before this key
        if self.state in (RESULT, INFO):
            self.state = IDLE
        self.since = now
        m = self.meter
        left = m.lock_left(now) if m.personalised and not m.fault else 0
        if left and self.state == IDLE:  # no entry while locked: the lock and its time
            self.result = self._result_lines(Result(LOCKED, seconds=left))
            self.state = RESULT
            return
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
        r = self.meter.apply(typed)
        self.result = self._result_lines(r)
        if r.code == ACCEPT:
            self.last.insert(0, (typed.decode(), self.result[1]))
            del self.last[HISTORY:]
        self.state = RESULT

    # -- output --------------------------------------------------------------------------
    def frame(self, now):
        """The lines the display shows now (each exactly `cols` wide)."""
        return fit(self.lines(now), self.rows, self.cols)

    def lines(self, now):
        """The text of the screen now, before it is cut or padded to the display."""
        self.tick(now)
        if self.state == ENTRY:
            return self._entry_lines()
        if self.state == RESULT:
            return self.result
        if self.state == INFO:
            i = self.info
            if isinstance(i, tuple):  # screens one after the other (873 on some meters)
                return i[min(len(i) - 1, diff(now, self.since) * len(i) // INFO_TIME)]
            return i
        return self._idle_lines(now)

    def _entry_lines(self):
        groups = grouped(self.digits.decode()).split(" ")
        per = max(1, (self.cols + 1) // 5)  # groups of "dddd " that fit a line
        if len(groups) <= per:
            return [self.t.ENTER, " ".join(groups)]
        return [" ".join(groups[:per]), " ".join(groups[per : 2 * per])]

    def _idle_lines(self, now):
        # Drawn every pass of a board's loop: read from the meter, not from a status() dict.
        m = self.meter
        left = m.lock_left(now)  # (read at `now`: the loop has ticked the meter to it)
        if m.fault:
            return self.t.RESULT[STORAGE]
        if not m.personalised:  # a board never provisioned: nothing is wrong with it
            return self.t.BLANK
        balance = m.balance[0]
        unit = self.t.UNITS[0]
        first = "%s %s %s" % (self.t.IDLE_TITLE, tenths(balance), unit)
        if len(first) > self.cols:  # a large balance: the number matters, not the title
            first = "%s %s" % (tenths(balance), unit)
        kc = m.kct
        if left:  # the supply's state stays in sight
            second = self.t.LOCKED_IDLE.format(
                supply=self.t.SUPPLY_WORD[m.relay_closed()], seconds=left
            )
        elif kc.held and kc.age <= kc.window * 1000:  # gone once the window passed
            second = self.t.KCT_HELD.format(
                n=kc.count(), m=len(sections_for(m.ea)), seconds=kc.window - kc.age // 1000
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
        if r.seconds and r.code != LOCKED:  # the refusal that locks the keypad says so
            r = Result(LOCKED, seconds=r.seconds)
        # What a text may name ({amount} {unit} {balance} {what} {n} {m} {seconds} {register}
        # {control}); the balance is the meter's after the token, refused or not.
        v = {
            "what": r.what.upper(),
            "n": r.n,
            "m": r.m,
            "seconds": r.seconds,
            "register": r.register,
            "control": r.control,
            "balance": tenths(self.meter.balance[0] if r.balance is None else r.balance),
            "amount": "" if r.amount is None else tenths(r.amount),
            "unit": self.t.UNITS[r.sub or 0],
        }
        if r.code == ACCEPT and r.amount is not None:
            top, bottom = self.t.ACCEPT_CREDIT
            return [top.format(**v), bottom.format(**v)]
        top, bottom = self.t.RESULT.get(r.code, ("RESULT %d" % r.code, ""))
        if (
            r.code == ACCEPT
            and r.kind in self.t.ACCEPT_TOKEN
            and (r.register, r.control) != (None, None)
        ):
            bottom = self.t.ACCEPT_TOKEN[r.kind]
            if r.register == 0:
                bottom = self.t.ACCEPT_ZERO.get(r.kind, bottom)
        return [top.format(**v), bottom.format(**v)]

    def _code(self, code):
        s = self.meter.status()
        name = self.t.CODES[code]
        if "fault" in s:
            return list(self.t.RESULT[STORAGE])
        if name == "edition":
            if self.edition_form is None:
                return [line.format(**s) for line in self.t.EDITION_SCREEN]
            shown = self.t.EDITION_FORMS[self.edition_form][s["edition"] - 1]
            if len(shown) == 1:
                return list(shown[0])
            return tuple(list(x) for x in shown)
        if name == "balance":
            return ["BALANCE", "%s %s" % (tenths(s["balance"]), self.t.UNITS[0])]
        if name == "last_result":
            return self._last_result()
        if name == "last_tokens":
            if not self.last:
                return ["LAST TOKENS", "NONE"]
            tok, what = self.last[0]
            return ["%s..%s" % (tok[:4], tok[-4:]), what]
        if name == "tid_memory":
            return ["TID MEMORY", "%d/%d" % (s["tids_used"], s["tids_capacity"])]
        if name == "pan":
            # Read out over the phone: the IIN, then the meter number in groups of four
            # (all of it on one line, without spaces where the groups do not fit).
            pan = s["pan"]
            iin = 6 if pan[:6] == "600727" else 4
            num = pan[iin:]
            grouped = " ".join([num[i : i + 4] for i in range(0, len(num), 4)])
            return ["PAN " + pan[:iin], grouped if len(grouped) <= self.cols else num]
        if name == "ea":
            return [s["ea"], "BASE %d" % s["base_date"]]
        return [name.upper(), str(s[name])]

    def _last_result(self):
        """The last result's screen again, in the result screen's words (from what the meter
        stored, so that it reads the same after a restart), headed LAST where it fits."""
        m = self.meter
        if not m.last:
            return list(self.t.NO_LAST)
        what = WHAT.get(m.last_what, "")
        v = m.last_value if m.last_value >= 0 else None
        credit = m.last == ACCEPT and m.last_what >> 4 == 0 and v is not None
        r = Result(
            m.last,
            what,
            amount=v if credit else None,
            sub=m.last_what & 15,
            register=None if credit else v,
            kind=None if credit or m.last_what == 255 else m.last_what,
            n=m.kct.count(),
            m=len(sections_for(m.ea)),
        )
        top, bottom = self._result_lines(r)
        head = self.t.LAST + top
        return [head if len(head) <= self.cols else top, bottom]
