# demo.py  sample tokens decoded by the firmware's codec alone: no meter rules, no state
# Usage: MICROPYPATH=.frozen:firmware micropython boards/unix/demo.py [20 DIGITS]
# The decode path every typed token takes; the whole meter is the simulator, boards/unix/sim.py
# (`make sim`).
import sys
from binascii import unhexlify

try:
    from sts import amount, digits, errors, kinds
    from sts.codec import Decoder
    from sts.sta import Sta
except ImportError as e:  # no firmware on the path
    sys.exit("demo.py: %s: run MICROPYPATH=.frozen:firmware micropython boards/unix/demo.py" % e)

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
    # The meter's own view of a block (sts/kinds.py), which every board has: blocks.py, the
    # vending side's named layouts, is not on a board.
    b = dec.block
    name = kinds.WHAT[dec.cls << 4 | dec.subclass]
    extra = ""
    if dec.cls == 0:
        tenths = amount.decode(kinds.field(b, kinds.AMOUNT))
        extra = " %s units, TID %d" % (amount.text(tenths), kinds.field(b, kinds.TID))
    elif dec.cls == 2 and dec.subclass not in (3, 4, 8, 9):
        tid = kinds.field(b, kinds.TID)
        extra = " register %d, TID %d" % (kinds.field(b, kinds.REGISTER), tid)
    elif dec.cls == 1:
        extra = " control %d" % kinds.field(
            b, kinds.CONTROL1 if dec.subclass == 0 else kinds.CONTROL2
        )
    print("%-24s -> class %d.%d %s:%s" % (grouped, dec.cls, dec.subclass, name, extra))


def main():
    dec = Decoder(Sta(unhexlify(KEY)))
    print("stsmeter demo: decoding tokens for a meter with STA decoder key %s" % KEY)
    for token in sys.argv[1:] or SAMPLES:
        show(dec, token.replace(" ", "").replace("-", ""))


main()
