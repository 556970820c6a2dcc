# keys.py  decoder key derivation: DKGA02 (DES) and DKGA04 (HMAC-SHA-256), IEC 62055-41
import functools
import hashlib
import hmac

from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives.ciphers import Cipher, modes

from sts.codec import EA


def _des(key8, block8):
    # TripleDES with K1 = K2 = K3 is single DES: the only DES `cryptography` still offers.
    enc = Cipher(TripleDES(key8 * 3), modes.ECB()).encryptor()
    return enc.update(block8) + enc.finalize()


def pan_block(iin, iain, kt):
    """The 16 PAN digits DKGA02 uses: IIN tail and IAIN (the IAIN zeroed for key type 3)."""
    if len(iain) == 11:
        head = iin[-5:]
    elif len(iain) == 13:
        head = iin[-3:]
    else:
        raise ValueError("IAIN must have 11 or 13 digits, not %d" % len(iain))
    if len(head) != 16 - len(iain):
        raise ValueError("IIN %r is too short for a %d-digit IAIN" % (iin, len(iain)))
    return head + ("0" * len(iain) if kt == 3 else iain)


# A meter's key is asked for more than once while its tokens are made (a key change set and
# the credit under the new key): the last few are kept, in this process only.
@functools.lru_cache(maxsize=8)
def dkga02(vending_key, iin, iain, sgc, ti, kt, krn):
    """8-byte decoder key: DES_VK(X) ^ X ^ VK with X = PAN block ^ control block."""
    if len(vending_key) != 8:
        raise ValueError("a DKGA02 vending key is 8 bytes")
    control = "%x%s%s%xFFFFFF" % (kt, sgc, ti, krn)
    x = (int(pan_block(iin, iain, kt), 16) ^ int(control, 16)).to_bytes(8, "big")
    out = _des(vending_key, x)
    return bytes(a ^ b ^ c for a, b, c in zip(out, x, vending_key))


@functools.lru_cache(maxsize=8)
def dkga04(vending_key, ea, base_date, pan, sgc, ti, kt, krn):
    """8-byte (STA) or 16-byte (MISTY1) decoder key from an HMAC-SHA-256 over the meter's data."""
    if len(vending_key) != 20:
        raise ValueError("a DKGA04 vending key is 20 bytes")
    bits = {"sta": 64, "misty1": 128}[ea]
    data = b"".join(
        (
            b"\x04\x02",
            b"04",
            b"\x02",
            b"%02d" % (base_date % 100),
            b"\x02",
            b"%02d" % EA[ea],  # the EA code: 07, 11
            b"\x02",
            ti.encode(),
            b"\x00\x04\x06",
            sgc.encode(),
            b"\x01",
            b"%x" % kt,
            b"\x01",
            b"%x" % krn,
            b"\x12",
            pan.encode(),
            bits.to_bytes(4, "big"),
        )
    )
    return hmac.new(vending_key, data, hashlib.sha256).digest()[: bits // 8]


def derive(spec, ea):
    """Decoder key from a vectors-style `key` object (dkga, vending_key hex, pan fields...)."""
    vk = bytes.fromhex(spec["vending_key"])
    if spec["dkga"] == 2:
        if ea != "sta":
            raise ValueError("DKGA02 makes 64-bit keys: STA only")
        return dkga02(
            vk, spec["iin"], spec["iain"], spec["sgc"], spec["ti"], spec["kt"], spec["krn"]
        )
    if spec["dkga"] == 4:
        return dkga04(
            vk,
            ea,
            spec["base_date"],
            spec["pan"],
            spec["sgc"],
            spec["ti"],
            spec["kt"],
            spec["krn"],
        )
    raise ValueError("unknown DKGA %r" % spec["dkga"])
