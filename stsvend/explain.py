# explain.py  `stsvend explain`: the firmware's stages of one token, with the TID as a time
# and a max power or phase unbalance register as watts
from sts import amount
from sts.codec import cipher
from sts.stages import Stage, stages
from sts.vending import carries_watts
from stsvend import vend
from stsvend.tid import to_time


def explain(profile, token):
    """[Stage] (sts/stages.py); stops at the stage that refuses the token."""
    st = stages(token, cipher(profile.ea, profile.decoder_key()), profile.ea)
    by = {s.name: s for s in st}
    kind = by.get("token")
    reg = by.get("field register")
    if kind and kind.value >> 4 == 2 and carries_watts(kind.value & 15) and reg:
        w = amount.decode(reg.value)
        st.append(
            Stage("limit", w, reg.lo, reg.width, "%d W (%s)" % (w, vend.LIMITS[kind.value & 15]))
        )
    tid = by.get("field tid")
    if tid:
        t = to_time(tid.value, profile.base_date)
        st.append(
            Stage(
                "TID time",
                tid.value,
                tid.lo,
                tid.width,
                t.strftime("%Y-%m-%d %H:%M UTC (base date ") + str(profile.base_date) + ")",
            )
        )
    return st
