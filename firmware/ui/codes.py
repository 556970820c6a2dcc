# codes.py  the short codes' screens (digits then Enter: ui/texts.py CODES): the edition,
# balance, last result, TID memory, key data, PAN. Loaded at the first short code typed: a
# board's heap holds none of it while the meter is only given tokens (docs/emulation.md).
from meter.results import ACCEPT, STORAGE, Result
from meter.sections import sections_for
from sts.kinds import WHAT
from ui.ui import tenths


def screen(ui, code):
    """The screen of short code `code` (a key of texts.CODES) on Ui `ui`: its lines, or a
    tuple of screens shown one after the other."""
    s = ui.meter.status()
    name = ui.t.CODES[code]
    if "fault" in s:
        return list(ui.t.RESULT[STORAGE])
    if name == "edition":
        if ui.edition_form is None:
            return [line.format(**s) for line in ui.t.EDITION_SCREEN]
        shown = ui.t.EDITION_FORMS[ui.edition_form][s["edition"] - 1]
        if len(shown) == 1:
            return list(shown[0])
        return tuple(list(x) for x in shown)
    if name == "balance":
        return ["BALANCE", "%s %s" % (tenths(s["balance"]), ui.t.UNITS[0])]
    if name == "last_result":
        return last_result(ui)
    if name == "last_tokens":
        if not ui.last:
            return ["LAST TOKENS", "NONE"]
        tok, what = ui.last[0]
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
        return ["PAN " + pan[:iin], grouped if len(grouped) <= ui.cols else num]
    if name == "ea":
        return [s["ea"], "BASE %d" % s["base_date"]]
    return [name.upper(), str(s[name])]


def last_result(ui):
    """The last result's screen again, in the result screen's words (from what the meter
    stored, so that it reads the same after a restart), headed LAST where it fits."""
    m = ui.meter
    if not m.last:
        return list(ui.t.NO_LAST)
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
    top, bottom = ui._result_lines(r)
    head = ui.t.LAST + top
    return [head if len(head) <= ui.cols else top, bottom]
