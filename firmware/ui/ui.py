# ui.py  the keypad-and-display state machine: key events and time in, frames out
# States: idle (balance and supply), entry (digits in groups of four), result (about 3 s,
# then the balance), info (a short code's answer). Time is milliseconds of a clock that may
# wrap (a board's time.ticks_ms()): only the time between readings counts, as for the meter.
# The ui reads the meter and never moves its time: the loop ticks the meter once a pass.
from meter import diff
from meter.results import ACCEPT, LOCKED, STORAGE, Result
from sts import amount
from sts.digits import grouped
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
            from ui.codes import screen  # loaded at the first short code (docs/emulation.md)

            self.info = screen(self, typed.decode())
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
            from meter.sections import sections_for

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
