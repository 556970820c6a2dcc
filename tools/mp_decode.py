# mp_decode.py  runs inside `micropython`: decodes every token of a vectors file with the
# firmware's codec and prints one JSON line per case (id, error name, class, subclass,
# fields, the plaintext block in hex). The one micropython reader of the vectors: the
# conformance runner and tests/sts/test_codec_micropython.py both run it.
# Usage: MICROPYPATH=.frozen:firmware micropython -X heapsize=96K tools/mp_decode.py VECTORS.jsonl
import json
import sys
from binascii import unhexlify

from sts import amount, blocks, errors
from sts.codec import Decoder, cipher


def main(path):
    with open(path) as f:
        for line in f:
            case = json.loads(line)
            if case.get("kind") != "token":
                continue
            ea = case.get("ea")
            dec = Decoder(cipher(ea, unhexlify(case["decoder_key"])) if ea else None)
            err = dec.decode(case["token"])
            out = {"id": case["id"], "error": errors.NAMES[err]}
            if not err:
                out["class"] = dec.cls
                out["subclass"] = dec.subclass
                b = dec.block
                out["block"] = "%016x" % (b[0] | b[1] << 24 | b[2] << 48)
                fields = blocks.fields(dec.cls, dec.block)
                if dec.cls == 0:
                    fields["amount_tenths"] = amount.decode(fields["amount"])
                out["fields"] = fields
            print(json.dumps(out))


main(sys.argv[1])
