# explain.py  `stsvend explain`: the firmware's stages of one token, with the TID as a time
# and a max power or phase unbalance register as watts
import re

from sts import amount
from sts.explain import stages
from stsvend import vend
from stsvend.tid import to_time


def explain(profile, token):
    """Stages as a list of (name, value) pairs; stops at the stage that refuses the token."""
    st = stages(token, vend.cipher(profile.ea, profile.decoder_key()), profile.ea)
    named = dict(st)
    m = re.match(r"class 2 subclass (\d+):", named.get("token", ""))
    if m and int(m.group(1)) in vend.WATTS and "field register" in named:
        w = amount.decode(int(named["field register"].split()[0]))
        st.append(("limit", "%d W (%s)" % (w, vend.WATTS[int(m.group(1))])))
    tid = [v for k, v in st if k == "field tid"]
    if tid:
        t = to_time(int(tid[0].split()[0]), profile.base_date)
        st.append(
            (
                "TID time",
                t.strftime("%Y-%m-%d %H:%M UTC (base date ") + str(profile.base_date) + ")",
            )
        )
    return st
