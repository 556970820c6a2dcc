# mp_decode.py  runs inside `micropython`: decodes every token of a vectors file with the
# firmware's codec and prints one JSON line per case (id, error name, class, fields).
# Usage: MICROPYPATH=.frozen:firmware micropython -X heapsize=96K tools/mp_decode.py VECTORS.jsonl
import json
import sys
from binascii import unhexlify

from sts import amount, blocks, errors
from sts.codec import Decoder
from sts.misty1 import Misty1
from sts.sta import Sta

_CIPHERS = {"sta": Sta, "misty1": Misty1}


def main(path):
    with open(path) as f:
        for line in f:
            case = json.loads(line)
            if case.get("kind") != "token":
                continue
            ea = case.get("ea")
            cipher = _CIPHERS[ea](unhexlify(case["decoder_key"])) if ea else None
            dec = Decoder(cipher)
            err = dec.decode(case["token"])
            out = {"id": case["id"], "error": errors.NAMES[err]}
            if not err:
                out["class"] = dec.cls
                fields = blocks.fields(dec.cls, dec.block)
                if dec.cls == 0:
                    fields["amount_tenths"] = amount.decode(fields["amount"])
                out["fields"] = fields
            print(json.dumps(out))


main(sys.argv[1])
