# explain.py  `stsvend explain`: the firmware's stages of one token, with the TID as a time
from host_tools import vend
from host_tools.tid import to_time
from sts.explain import stages


def explain(profile, token):
    """Stages as a list of (name, value) pairs; stops at the stage that refuses the token."""
    st = stages(token, vend.cipher(profile.ea, profile.decoder_key()), profile.ea)
    tid = [v for k, v in st if k == "field tid"]
    if tid:
        t = to_time(int(tid[0].split()[0]), profile.base_date)
        st.append(("TID time", t.strftime("%Y-%m-%d %H:%M UTC (base date ")
                   + str(profile.base_date) + ")"))
    return st
