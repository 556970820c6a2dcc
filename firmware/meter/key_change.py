# key_change.py  key change sections held until their set is complete (IEC 62055-41 KCT)
# A 64-bit STA key comes in 2 sections (class 2 subclasses 3 and 4), a 128-bit MISTY1 key in
# 4 (3, 4, 8 and 9). Sections may come in any order, within `window` seconds of the first;
# the key changes only when the whole set is there. A key change token carries no TID: what
# stops a replay is that, once the key has changed, the old set no longer decrypts.
# The window is measured as the age of the held set (elapsed time the meter was told of), not
# as a clock time: a clock that restarts or steps cannot stretch it.
# Once a set is complete its sections are kept as they were typed, until the next set begins:
# a customer who types codes 1 and 2 again is told the change is done, and is not counted a
# guess (a section typed again after the change no longer decrypts). A retype is recognised by
# comparing what was typed, never by decrypting under the old key, which the meter no longer
# has. An STA section is kept as typed from the start, in the words a MISTY1 set's third and
# fourth sections use (encrypting it again would cost STA's 6 KB encryption table); MISTY1's
# four fill the words, and are encrypted again at completion (its cipher holds the keys).
# This module is loaded at the first key change section (meter/sections.py holds the state
# it works on, `kc`: a Meter's kct).
from meter import results as R
from meter.sections import DONE, SLOTS, sections_for
from sts import kinds as K
from sts.digits import parse
from sts.kinds import NEXT_BASE, NK, field

STAGED = 0
COMPLETE = 1
TIMED_OUT = 2
MIXED = 3


def offer(kc, sub, block, ea, typed=None):
    """Hold one section (plaintext limbs; `typed`: its digits); returns STAGED,
    COMPLETE, TIMED_OUT or MIXED.

    TIMED_OUT and MIXED mean the sections held before were dropped and this one starts
    a new set.
    """
    i = SLOTS.index(sub)
    outcome = STAGED
    kc.done = 0  # a new set begins: the one completed before is forgotten
    if kc.held and kc.age > kc.window * 1000:
        kc.drop()
        outcome = TIMED_OUT
    b = kc.blocks
    if kc.held & (1 << i) and (
        b[3 * i] != block[0] or b[3 * i + 1] != block[1] or b[3 * i + 2] != block[2]
    ):
        kc.drop()  # a second, different section of the same kind: another set
        outcome = MIXED
    b[3 * i] = block[0]
    b[3 * i + 1] = block[1]
    b[3 * i + 2] = block[2]
    if typed is not None and ea == "sta":
        _keep_typed(kc, i, typed)
    kc.held |= 1 << i
    want = (1 << len(sections_for(ea))) - 1
    if outcome == STAGED and kc.held == want:
        return COMPLETE
    return outcome


def _keep_typed(kc, i, typed):
    # An STA section as typed, in the words a MISTY1 set's third and fourth sections use.
    t = kc._t
    parse(typed, t)
    b = kc.blocks
    b[3 * i + 6] = t[0]
    b[3 * i + 7] = t[1]
    b[3 * i + 8] = t[2]


def held_field(kc, sub, where):
    """The field at `where` (a position of sts.kinds) of held section `sub`."""
    i = SLOTS.index(sub)
    return field(kc.blocks[3 * i : 3 * i + 3], where)


def new_key(kc, ea):
    """The assembled key: NKHO, NKLO for STA; NKHO, NKMO2, NKMO1, NKLO for MISTY1."""
    parts = (3, 4) if ea == "sta" else (3, 8, 9, 4)
    out = bytearray()
    for sub in parts:
        w = held_field(kc, sub, NK)
        out += bytes(((w >> 24) & 255, (w >> 16) & 255, (w >> 8) & 255, w & 255))
    return bytes(out)


def keep_done(kc, ea, cipher):
    """Keep the set just completed as it was typed: STA's as offer() kept them, MISTY1's
    encrypted again under the old key (`cipher`, the meter's until now). The held
    sections are dropped."""
    b = kc.blocks
    if ea == "sta":
        for j in range(6):
            b[j] = b[j + 6]
    else:
        t = kc._t
        for j in range(0, 12, 3):
            t[0] = b[j]
            t[1] = b[j + 1]
            t[2] = b[j + 2]
            cipher.encrypt(t)
            b[j] = t[0]
            b[j + 1] = t[1]
            b[j + 2] = t[2]
    kc.held = 0
    kc.age = 0
    kc.done = DONE


def typed_again(kc, digits, ea):
    """The subclass of the completed set's section that `digits` are (as typed), or 0."""
    if not kc.done:
        return 0
    t = kc._t
    if parse(digits, t) != 2:  # key change sections are class 2
        return 0
    b = kc.blocks
    for i in range(2 if ea == "sta" else 4):
        j = 3 * i
        if b[j] == t[0] and b[j + 1] == t[1] and b[j + 2] == t[2]:
            return SLOTS[i]
    return 0


def apply(m, sub, b, what, typed):
    """Meter m given key change section `sub` (class 2; `b` its plaintext limbs, `typed` its
    digits): the section held, or the set complete and the new key in use; the Result."""
    if sub not in sections_for(m.ea):
        return m._refuse(R.FUNCTION, what)
    kc = m.kct
    outcome = offer(kc, sub, b, m.ea, typed)
    n = len(sections_for(m.ea))
    if outcome != COMPLETE:
        # Held, not accepted: a section a customer keeps (every 2024 customer holds a
        # first one) must not end a streak of guesses.
        code = {TIMED_OUT: R.KCT_TIMEOUT, MIXED: R.KCT_MIXED}.get(outcome, R.KCT_STAGED)
        return m._done(R.Result(code, what, n=kc.count(), m=n))
    refused = _refused(m, kc)
    if refused:
        kc.drop()  # persisted: the dropped sections must stay dropped after a reboot
        return m._done(R.Result(refused, what))
    _change(m, kc)
    return m._done(R.Result(R.KEY_CHANGED, what, n=n, m=n))


# (apply's parts: a module loaded after boot finds runs of a few hundred bytes, not 422)
def _refused(m, kc):
    """Why meter m refuses the complete set (a result code), or 0."""
    if held_field(kc, 3, K.KT) not in (1, 2, 3):
        return R.KEY_TYPE
    if new_key(kc, m.ea) == m.key:
        # The same key again, perhaps with RO: the TID memory would be emptied and
        # every credit token typed before would be accepted again.
        return R.SAME_KEY
    if held_field(kc, 3, K.RO) and m.base_date not in NEXT_BASE:
        return R.LAST_BASE  # no base date after this one: RO would only wipe memory
    return 0


def _change(m, kc):
    """The complete set's key and key data into meter m, the set kept as typed."""
    m._set_key(new_key(kc, m.ea))
    m.kt = held_field(kc, 3, K.KT)
    m.krn = held_field(kc, 3, K.KRN)
    m.ken = (held_field(kc, 3, K.KENHO) << 4) | held_field(kc, 4, K.KENLO)
    m.ti = held_field(kc, 4, K.TI)
    if m.ea == "misty1":
        m.sgc = (held_field(kc, 9, K.SGC12) << 12) | held_field(kc, 8, K.SGC12)
    if held_field(kc, 3, K.RO):  # the TID memory starts again, from the next base date
        m.tids.clear()
        m.base_date = NEXT_BASE[m.base_date]
    keep_done(kc, m.ea, m._decoder.cipher)  # (the old key's, until the next line)
    m._decoder = None
    m.decoder()  # now, while the heap has room in one piece for its tables
