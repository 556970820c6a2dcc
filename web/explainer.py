# explainer.py  the classroom page's explainer: a token's stages (sts/stages.py) and what the
# meter did, in words for a learner. Takes the meter and the demo data as arguments; the TID
# as a date, the field names and the refusal words are stsvend's own (sts/dates.py,
# sts/words.py).
from teacher import key_for

from meter import results as R
from meter.results import LOCKED, NAMES
from sts import amount, dates, words
from sts.codec import cipher
from sts.stages import Stage, stages


def tid_words(base_date, tid):
    """A TID as the minute it stands for, and the end of its base date's window."""
    last = dates.TID_LIMIT - 1
    return "%s: minutes since the base date %d-01-01; the last TID of that base, %d, is %s" % (
        dates.text(base_date, tid),
        base_date,
        last,
        dates.text(base_date, last),
    )


def _made(m, demo):
    """How many of the memory's slots still hold the manufacture TID (filled at manufacture;
    accepted TIDs are all different, so a repeated oldest TID is that fill)."""
    t = m.tids
    n = 0
    while n < t.count and t.tids[n] == t.tids[0]:
        n += 1
    if n > 1:
        return n
    d = demo["meter"]
    made = m.base_date == d["base_date"] and t.count and t.tids[0] == d.get("manufacture_tid")
    return n if n == 1 and t.count == 1 and made else 0


def tids(m, demo):
    """The TID memory in words, for the explainer."""
    t = m.tids
    head = "%d of %d" % (t.count, t.capacity)
    if not t.count:
        return head + ": empty (a rollover cleared it): any TID of the new base date is new"
    made = _made(m, demo)
    first = "%d (%s)" % (t.tids[0], dates.text(m.base_date, t.tids[0]))
    if made == t.count:
        return (
            "%s: every slot is pre-filled with the manufacture TID %s, so tokens older "
            "than the meter are OLD" % (head, first)
        )
    newest = [t.tids[i] for i in range(max(made, t.count - 3), t.count)]
    text = ", ".join("%d (%s)" % (x, dates.text(m.base_date, x)) for x in newest)
    if made:
        return "%s: %d slots still hold the manufacture TID %s; newest: %s" % (
            head,
            made,
            first,
            text,
        )
    if t.count == 1:
        return "%s: %s" % (head, first)
    return "%s; oldest %s; newest: %s" % (head, first, text)


def tids_short(m, demo):
    """The TID memory for the status line: a fresh meter's is full only of its manufacture
    TID, which is not 50 tokens typed."""
    t = m.tids
    made = _made(m, demo)
    if t.count and made == t.count:
        return "TID memory pre-filled with the manufacture TID (%s)" % dates.text(
            m.base_date, t.tids[0]
        )
    if made:
        return "TID memory %d accepted, %d slots still the manufacture TID" % (
            t.count - made,
            made,
        )
    return "TID memory %d/%d" % (t.count, t.capacity)


def why_not(m, typed):
    """Why the meter refused an entry before decoding it."""
    if m.last == LOCKED:
        return "the keypad is locked after refused tokens: the meter did not look at it"
    if len(typed) != 20:
        return "a token has 20 digits: the meter refuses it before decoding"
    return "the meter is out of service (%s)" % ("a fault" if m.fault else "not personalised")


# What each result means, for a learner (the display shows the meter's short words).
_MEANS = {
    R.ACCEPT: "the meter accepted the token",
    R.KCT_STAGED: "the meter holds this key change token (KCT) section and waits, for two "
    "minutes at most, for the rest of its set",
    R.KEY_CHANGED: "the key change set is complete: the new decoder key is in use from now on",
    R.OVERFLOW: "the credit would pass what the register can hold, so none was added",
    R.KEY_TYPE: "a key change to a key type this meter may not take",
    R.FORMAT: "not a token: it must be 20 digits, below 2**66, and not of class 3",
    R.RANGE: "the value it carries is outside what this meter accepts",
    R.FUNCTION: "a kind of token this meter does not support",
    R.OLD: "its TID is older than every TID the meter remembers, with the memory full: it "
    "might be one already used, so it is refused",
    R.USED: "the meter has accepted this TID before: a token works once",
    R.KEY_EXPIRED: "its TID is past the key expiry number (KEN): the meter needs a new key",
    R.DDTK: "the meter holds a default key, which takes no credit",
    R.CRC: "the check does not match after decryption: another meter's token, a typo, or "
    "an old key",
    R.MFR: "a test token for another manufacturer's meters",
    R.LOCKED: "after too many refused tokens the keypad is locked for a while: the meter did "
    "not read this one",
    R.KCT_TIMEOUT: "the held key change section waited too long and was dropped: type the "
    "whole set again",
    R.KCT_MIXED: "this section does not belong with the one held: both were dropped",
    R.STORAGE: "the meter cannot read or write its state, so it takes no token",
    R.SAME_KEY: "the new key is the key in use: refused",
    R.LAST_BASE: "a rollover on a meter already at the last base date: refused",
    R.KCT_DONE: "a section of the key change just completed, typed again: the change is done; "
    "nothing changed, and it is not counted as a refused token",
}


def result_words(code, lines):
    """ "1 ACCEPT: what it means. The display shows ...": the display's lines that the name
    does not already say, so nothing is said twice."""
    name = NAMES[code]
    n = "" if code > LOCKED else "%d " % code  # the meter's own outcomes: no number
    same = (name, "REJECT %d" % code, "ACCEPT" if code == R.ACCEPT else name)
    rest = [line for line in lines if line not in same]
    text = "%s%s: %s." % (n, name, _MEANS.get(code, "the meter's answer"))
    if rest:
        text += " The display shows %s." % " / ".join(rest)
    return text


def stages_of(e, demo):
    """[Stage] of a history entry: the decoder's stages under the key it was typed with, the
    TID memory, the result; or, for an entry the meter refused unread, why."""
    d = e["digits"]
    if "why" in e:
        if e.get("code"):  # a short code: the meter answers on its display, decodes nothing
            return [Stage("short code", words=d), Stage("result", words=e.get("result", ""))]
        return [
            Stage("digits", len(d), words="%s (%d digits)" % (d, len(d))),
            Stage("not decoded", words=e["why"]),
            Stage("result", words=e.get("result", "")),
        ]
    st = stages(d, cipher(e["ea"], key_for(demo, e["krn"])), e["ea"])
    st.append(Stage("TID memory before", words=e.get("before", "")))
    st.append(Stage("TID memory after", words=e.get("after", "")))
    st.append(Stage("result", words=e.get("result", "")))
    return st


def explain(e, demo):
    """The explainer's rows of a history entry (none for None): each stage with its name in
    words, one plain sentence, its data."""
    if not e:
        return []
    rows = stages_of(e, demo)
    got = {s.name: s.value for s in rows}
    return [dress(s, got, e.get("base", 1993), e.get("ea", "sta")) for s in rows]


# The explainer's words: stage -> (its name, one plain sentence shown before its data).
_STAGES = {
    "digits": ("The digits", "What was typed on the keypad: a token is 20 decimal digits."),
    "66 bits": (
        "One number, 66 bits",
        "The 20 digits are one number below 2**66; written in "
        "binary it is 66 bits, bit 65 on the left and bit 0 on the right.",
    ),
    "class bits": (
        "The token class",
        "Bits 28 and 27 carry the token class, which says how "
        "to read the rest: 0 credit, 1 test/display, 2 management.",
    ),
    "transposition": (
        "Transposition",
        "To make room for the class, the vending side moved "
        "block bits 28 and 27 up to bits 65 and 64; the meter puts them back.",
    ),
    "cipher block": (
        "The data block, as sent",
        "What is left is the 64-bit data block, shown in hexadecimal.",
    ),
    "CRC": (
        "The check (CRC)",
        "Bits 0 to 15 are a CRC-16 over the rest of the block: the "
        "meter works it out again, and the two must be equal.",
    ),
    "token": (
        "Which token",
        "Bits 60 to 63 are the subclass: with the class, they name the kind of token.",
    ),
    "amount": (
        "The amount, read",
        "The amount field is a 2-bit exponent and a 14-bit mantissa, counted in tenths of a unit.",
    ),
    "refused": (
        "Refused by the decoder",
        "The decoder stopped here: nothing after this point was read.",
    ),
    "not decoded": ("Not decoded", "The meter refused this entry before decoding it."),
    "short code": (
        "A short code",
        "A few digits and #: the meter answers on its display and decodes nothing.",
    ),
    "TID memory before": (
        "TID memory, before",
        "The meter remembers the TIDs it has accepted, so that each token works only once.",
    ),
    "TID memory after": (
        "TID memory, after",
        "What the meter remembers now: a new TID is added, and a rollover empties the memory.",
    ),
    "result": ("What the meter did", "The meter's answer, by its number and name."),
}


# The story of 2024, told where it happens: at the TID and at each key change section.
_CUSTOMER = (
    "What the customers were told to do: ENEO (Cameroon) sent each customer the codes by SMS "
    "or WhatsApp, with no purchase; CEET (Togo) gave three codes with a purchase of at least "
    "150 FCFA: codes 1 and 2 typed within two minutes, then code 3, the kWh bought."
)


def _next_base(base):
    later = [b for b in dates.BASE_DATES if b > base]
    return min(later) if later else None


def tid_story(base):
    """Why the 2024 rollover happened, at the TID stage."""
    last = dates.TID_LIMIT - 1
    new = _next_base(base)
    text = (
        "The TID has 24 bits: it counts minutes from the base date %d-01-01 and %s at "
        "%s, its last minute (TID %d). A token made later cannot say its minute."
        % (
            base,
            "ran out" if base == 1993 else "runs out",
            dates.text(base, last),
            last,
        )
    )
    if new and base == 1993:
        text += (
            " So every meter was moved to base date %d by a key change with RO = 1 before "
            "then." % new
        )
    return text


def _kct_story(sub, base):
    """What a key change section does, and what the customer typed, at the token stage."""
    n = {3: 1, 4: 2, 8: 3, 9: 4}[sub]
    new = _next_base(base) or base
    return (
        "Key change section %d (an STA meter takes 2 sections, a MISTY1 meter 4): the meter "
        "holds each section and waits, two minutes at most, for the rest of the set. The set "
        "complete, the new key is in use; with RO = 1 the meter moves to base date %d and "
        "the set's KRN (2 in the 2024 migration) and empties its TID memory. %s"
        % (n, new, _CUSTOMER)
    )


def _ro_story(n, base):
    if not n:
        return "RO = 0: the meter keeps its base date and its TID memory."
    new = _next_base(base) or base
    return (
        "RO = 1: the key change moves the meter from base date %d to %d and empties its TID "
        "memory, so the TIDs counted from %d-01-01 start afresh (the 2024 migration)."
        % (base, new, new)
    )


def _story(k, s, got, base):
    """The story's words for this stage, or "" where it has none."""
    if k == "field tid":
        return tid_story(base)
    if k == "field ro":
        return _ro_story(s.value, base)
    tok = got.get("token")
    if k == "token" and tok in (0x23, 0x24, 0x28, 0x29):  # class 2: the KCT sections
        return _kct_story(tok & 15, base)
    return ""


def dress(s, got, base, ea):
    """One stage for the page: {stage, name, say, value, story, bits}; `got` is {stage:
    value} of the token's stages (its class and kind); bits is [first bit, width, "token"
    (the 66 bits) or "block" (the 64-bit block)] where the stage is one place."""
    row = _dress(s, got, base, ea)
    row["story"] = _story(s.name, s, got, base)
    if s.lo is not None and s.width:
        where = "token" if s.name in ("66 bits", "class bits", "transposition") else "block"
        row["bits"] = [s.lo, s.width, where]
    return row


def _dress(s, got, base, ea):
    k = s.name
    name, say = _STAGES.get(k, (k, ""))
    v = s.words
    if k == "plaintext":
        v = "%016x" % s.value
        if got.get("class bits") == 1:
            name, say = (
                "The data block, in the clear",
                "Test/display tokens are not encrypted: the block is read as it is.",
            )
        else:
            name, say = (
                "The data block, decrypted",
                "The meter decrypts the block with its own decoder key (%s): only the meter "
                "the token was made for gets sense out of it." % ea.upper(),
            )
    elif k == "CRC":
        v = "stored %04x, computed %04x: %s" % (
            s.value,
            s.want,
            "they match" if s.value == s.want else "they differ",
        )
    elif k == "refused":
        v = words.refused(s.value, got.get("class bits"))
    elif k.startswith("field "):
        f = k[6:]
        name, say = words.FIELDS.get(f, (f, ""))
        n = s.value
        if s.width == 1:
            where = "(bit %d)" % s.lo
        else:
            where = "(bits %d..%d)" % (s.lo, s.lo + s.width - 1)
        if f == "tid":
            v = "%d %s = %s" % (n, where, tid_words(base, n))
        elif f == "ro":
            v = "%d %s: %s" % (n, where, "yes, empty the TID memory" if n else "no")
        elif f in ("nkho", "nklo", "nkmo1", "nkmo2"):
            v = "%08x (hex) %s" % (n, where)
        else:
            v = "%d %s" % (n, where)
    elif k == "amount":
        unit = "kWh" if got.get("token") == 0x00 else "units"  # electricity credit
        v = "%s %s" % (amount.text(s.value), unit)
    return {"stage": k, "name": name, "say": say, "value": v}
