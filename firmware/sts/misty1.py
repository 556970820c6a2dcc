# misty1.py  EA11, MISTY1 (RFC 2994) on the 64-bit STS block, 128-bit decoder key
# Everything runs on 16-bit words, so no int exceeds 2**16 on any port. The key schedule is
# laid out in the order decryption reads it, so a decrypt is one pass over one array.
from array import array
from binascii import unhexlify

from sts.kernels import VIPER

# S7 and S9 exactly as printed in RFC 2994 section 2.
_S7_HEX = (
    "1b32335a3b1017545b1a72736b2c66491f24136c372e3f4a5d0f405625511c040b46200d7b3544422b1e4114"
    "4b79156f0e550936740c6753280a7e38020760291912652f303908685f782a4c6445753d594803577c4f623c"
    "1d215e276a704d3a016d6e6318772305267600312d7a7f61502211064716524e713e6943345c587d"
)
_S9_HEX = (
    "01c300cb0153019f01e300e900fb0035018100b9011701eb01330009002d00d300c7014a0037007e00eb0164"
    "019301d800a3011e0055002c001d01a201630118014b015201d2000f002b0030013a00e501110138018e0063"
    "00e300c801f4001b0001009d00f801a0016d01f3001c0146007d00d1008201ea0183012d00f4019e01d300dd"
    "01e2012801e000ec005900910011012f002600dc00b0018c010f01f700e7016c00b600f900d801510101014c"
    "010300b80154012b01ae00170071000c00470058007f01a4013401290084015d019d01b201a30048007c0051"
    "01ca0023013d01a70165003b004200da019200ce00c1006b009f01f1012c018400fa019601e10169017d0031"
    "0180010a009401da0186013e011c0060017501cf00670119006500680099015000080007017c00b700240019"
    "00de012700db00e401a9005201090090019c01c1002801b30135016a017600df01e5018800c5016e01de01b1"
    "00c301df003600ee01ee00f000930049009a01b6006900810125000b005e00b4014901c70174003e013b01b7"
    "008e01c600ae0010009501ef004e00f201fd008500fd00f600a0016f0083008a0156009b013c010701670098"
    "01d001e9000301fe00bd0122008900d2018f00120033006a014200ed0170011b00e2014f015801310147005d"
    "011301cd0079016101a50179009e01b400cc00220132001a00e80004018701ed0197003901bf01d70027018b"
    "00c6009c00d0014e006c003401f2006e00ca002500ba019100fe00130106002f01ad017201db00c0010b01d6"
    "00f501ec010d0076011401ab0075010c01e401590054011f004b00c401be00f7002900a4000e01f00077004d"
    "017a0086008b00b3017100bf010e01040097015b0160016800d700bb006601ce00fc009201c5006f0016004a"
    "00a1013900af00f10190000a01aa0143017b0056018d016600d401fb014d0194019a008701f8012300a701b8"
    "0141003c01f90140002a0155011a01a1019800d5012601af0061012e015701dc0072018a00aa0096011500ef"
    "0045007b008d01450053005f017800b2002e002001d5003f01c901e701ac00440038001400b1016b00ab00b5"
    "005a018201c801d400180177006400cf006d010001990130015a0005012001bb01bd00e0004f00d6013f01c4"
    "012a0015000600ff019b00a6004300880050015f01e801210073017e00bc00c200c90173018901f5007401cc"
    "01e601a80195001f0041000d01ba0032003d01d1008000a8005701b90162014800d901050062007a002101ff"
    "0112010801c000a9011d01b001a600cd00f3005c0102005b01d9014401f600ad00a5003a01cb0136017f0046"
    "00e1001e01dd00e6013701fa0185008c008f004001b500be0078000000ac0110015e0124000201bc00a200ea"
    "007001fc0116015c004c01c2"
)

S7 = unhexlify(_S7_HEX)
S9 = array("H", range(512))  # sized from range: no 512-item list (4 KB on 64-bit) first
for _i in range(512):
    S9[_i] = int(_S9_HEX[4 * _i : 4 * _i + 4], 16)
del _i, _S7_HEX, _S9_HEX


def fi(x, k):
    """The FI function: 16-bit x under 16-bit subkey k."""
    d9 = S9[x >> 7] ^ (x & 0x7F)
    d7 = ((S7[x & 0x7F] ^ d9) & 0x7F) ^ (k >> 9)
    d9 = S9[d9 ^ (k & 0x1FF)] ^ d7
    return (d7 << 9) | d9


def _fo_keys(ek, k):
    return (
        ek[k],
        ek[(k + 5) % 8 + 8],
        ek[(k + 2) % 8],
        ek[(k + 1) % 8 + 8],
        ek[(k + 7) % 8],
        ek[(k + 3) % 8 + 8],
        ek[(k + 4) % 8],
    )


def _fl_keys(ek, k):
    h = k >> 1
    if k & 1:
        return (ek[(h + 2) % 8 + 8], ek[(h + 4) % 8])
    return (ek[h], ek[(h + 6) % 8 + 8])


def schedule(key):
    """Expanded key EK[0..15] of RFC 2994 from 16 key bytes."""
    if len(key) != 16:
        raise ValueError("MISTY1 key is 16 bytes")
    ek = [(key[2 * i] << 8) | key[2 * i + 1] for i in range(8)]
    ek += [fi(ek[i], ek[(i + 1) % 8]) for i in range(8)]
    return ek


def _fo(s, o, t0, t1):
    """FO on the halves t0 (high) and t1 (low) with the 7 subkeys at s[o:]; returns high, low."""
    t0 = fi(t0 ^ s[o], s[o + 1]) ^ t1
    t1 = fi(t1 ^ s[o + 2], s[o + 3]) ^ t0
    t0 = fi(t0 ^ s[o + 4], s[o + 5]) ^ t1
    return t1 ^ s[o + 6], t0


class Misty1:
    """EA11 under one 16-byte decoder key. Blocks are limbs [bits 0..23, 24..47, 48..63].

    `portable=True` keeps to plain Python where viper is available too (for tests).
    """

    def __init__(self, key, portable=False):
        ek = schedule(key)
        enc = []
        for j in range(4):
            enc += _fl_keys(ek, 2 * j) + _fl_keys(ek, 2 * j + 1)
            enc += _fo_keys(ek, 2 * j) + _fo_keys(ek, 2 * j + 1)
        enc += _fl_keys(ek, 8) + _fl_keys(ek, 9)
        dec = list(_fl_keys(ek, 8) + _fl_keys(ek, 9))
        for j in range(3, -1, -1):
            dec += _fo_keys(ek, 2 * j + 1) + _fo_keys(ek, 2 * j)
            dec += _fl_keys(ek, 2 * j) + _fl_keys(ek, 2 * j + 1)
        self.enc = array("H", enc)
        self.dec = array("H", dec)
        self._v = None if portable else VIPER

    def encrypt(self, b):
        """Encrypt limbs b in place."""
        s = self.enc
        a0, a1, c0, c1 = _words(b)  # D0 = a0:a1, D1 = c0:c1
        o = 0
        for _ in range(4):
            a1 ^= a0 & s[o]
            a0 ^= a1 | s[o + 1]
            c1 ^= c0 & s[o + 2]
            c0 ^= c1 | s[o + 3]
            h, lo = _fo(s, o + 4, a0, a1)
            c0 ^= h
            c1 ^= lo
            h, lo = _fo(s, o + 11, c0, c1)
            a0 ^= h
            a1 ^= lo
            o += 18
        a1 ^= a0 & s[o]
        a0 ^= a1 | s[o + 1]
        c1 ^= c0 & s[o + 2]
        c0 ^= c1 | s[o + 3]
        _limbs(b, c0, c1, a0, a1)

    def decrypt(self, b):
        """Decrypt limbs b in place."""
        s = self.dec
        if self._v:
            self._v.misty1_decrypt(S9, S7, s, b)
            return
        c0, c1, a0, a1 = _words(b)  # D1 = c0:c1 (high half), D0 = a0:a1
        a0 ^= a1 | s[1]
        a1 ^= a0 & s[0]
        c0 ^= c1 | s[3]
        c1 ^= c0 & s[2]
        o = 4
        for _ in range(4):
            h, lo = _fo(s, o, c0, c1)
            a0 ^= h
            a1 ^= lo
            h, lo = _fo(s, o + 7, a0, a1)
            c0 ^= h
            c1 ^= lo
            a0 ^= a1 | s[o + 15]
            a1 ^= a0 & s[o + 14]
            c0 ^= c1 | s[o + 17]
            c1 ^= c0 & s[o + 16]
            o += 18
        _limbs(b, a0, a1, c0, c1)


def _words(b):
    l0 = b[0]
    l1 = b[1]
    return b[2], l1 >> 8, ((l1 & 0xFF) << 8) | (l0 >> 16), l0 & 0xFFFF


def _limbs(b, w0, w1, w2, w3):
    b[0] = ((w2 & 0xFF) << 16) | w3
    b[1] = (w1 << 8) | (w2 >> 8)
    b[2] = w0
