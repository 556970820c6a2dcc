# demo.py  sample tokens decoded by the firmware's codec alone: no meter rules, no state
# Usage: micropython boards/unix/demo.py [20 DIGITS]
# The decode path every typed token takes; the whole meter is the simulator, boards/unix/sim.py
# (`make sim`).
import sys

_HERE = __file__.rsplit("/", 1)[0] if "/" in __file__ else "."
sys.path.insert(0, _HERE + "/../../firmware")

from binascii import unhexlify  # noqa: E402

from sts import amount, blocks, digits, errors  # noqa: E402
from sts.codec import Decoder  # noqa: E402
from sts.sta import Sta  # noqa: E402

# The demo meter: the decoder key of conformance test CTSA01 (PAN 600727 00000000000 9,
# SGC 123456, TI 01, KRN 1, DKGA02 from the vending key abababababababab).
KEY = "e653341f9d5bf36f"
SAMPLES = (
    "23716100501183194197",
    "42502136492215507402",
    "50901894209860263092",
    "56493153725450313471",
    "23716100501183194198",
)


def show(dec, token):
    err = dec.decode(token)
    grouped = digits.grouped(token)
    if err:
        print("%-24s -> refused: %s" % (grouped, errors.NAMES[err]))
        return
    f = blocks.fields(dec.cls, dec.block)
    name = blocks.LAYOUT[(dec.cls, dec.subclass)][0]
    extra = ""
    if dec.cls == 0:
        tenths = amount.decode(f["amount"])
        extra = " %s units, TID %d" % (amount.text(tenths), f["tid"])
    elif "tid" in f:
        extra = " register %d, TID %d" % (f["register"], f["tid"])
    elif "control" in f:
        extra = " control %d" % f["control"]
    print("%-24s -> class %d.%d %s:%s" % (grouped, dec.cls, dec.subclass, name, extra))


def main():
    dec = Decoder(Sta(unhexlify(KEY)))
    print("stsmeter demo: decoding tokens for a meter with STA decoder key %s" % KEY)
    for token in sys.argv[1:] or SAMPLES:
        show(dec, token.replace(" ", "").replace("-", ""))


main()
