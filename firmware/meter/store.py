# store.py  the record store: two slots, each a whole state with a sequence number and a CRC
# A new state goes into the slot not in use and becomes current only once written whole:
# a power cut at any write leaves the previous state intact in the other slot. One state
# holds every record (key, registers, TID memory, pending key change), so that crediting a
# register and remembering its TID are one write, never two.
# The magic names the format of the payload: b"STM" and its number, one digit. A record of a
# format newer than FORMAT is never read as a bad one (a meter that could be personalised
# again, its TID memory gone): the store refuses it, and the meter shows a fault. CHANGELOG.md
# records what each format holds.
import os
import struct
from binascii import crc32

FORMAT = 3  # what save() writes; load() reads this one and every older one
_HEAD = "<4sIH"  # magic, sequence number, payload length
_HEAD_LEN = 10


class RecordStore:
    """State slots `<prefix>.0` and `<prefix>.1` in a directory of any file system."""

    def __init__(self, prefix):
        self.prefix = prefix
        self.seq = 0
        self.slot = 1  # the next write goes to slot 0
        self.report = ""
        self.bad = []  # why each bad slot is bad, as found at load()
        self.format = FORMAT  # the format of the payload load() returned
        self._paths = (self._path(0), self._path(1))
        # The directory and the slots' names in it, made once: load() allocates little.
        where = prefix.rsplit("/", 1)
        self._dir = where[0] if len(where) == 2 else "."
        self._names = tuple(p.rsplit("/", 1)[-1] for p in self._paths)
        # Written from buffers made here: a board's heap soon has no free run as long as a
        # record, and a write allocates nothing of its own (the file system's may).
        self._head = bytearray(_HEAD_LEN)
        self._crc = bytearray(4)
        self._parts = [self._head, None, self._crc]
        self._magic = b"STM" + bytes((48 + FORMAT,))

    def _path(self, slot):
        return "%s.%d" % (self.prefix, slot)

    def _read(self, slot, names, into):
        """(seq, payload, format), or None if absent (not in `names`, the directory's
        files), or a reason string if present but bad. The payload is read into `into` when
        it fits (else a buffer of its own) and returned as a memoryview of it: no buffer is
        grown or copied (a read to the end grew its buffer to twice a record, which a small
        heap's reboot found no room for)."""
        path = self._paths[slot]
        if self._names[slot] not in names:
            return None
        head = self._head
        try:
            size = os.stat(path)[6]
            if size < _HEAD_LEN + 4:
                return "slot %d: short (%d bytes)" % (slot, size)
            with open(path, "rb") as f:
                f.readinto(head)
                magic, seq, n = struct.unpack_from(_HEAD, head)
                fmt = magic[3] - 48
                if magic[:3] != b"STM" or not 1 <= fmt <= 9 or size != _HEAD_LEN + n + 4:
                    return "slot %d: not a state record" % slot
                view = memoryview(into if into is not None and len(into) >= n else bytearray(n))
                view = view[:n]
                got = f.readinto(view) if n else 0
                got += f.readinto(self._crc)
        except OSError as e:
            # A slot that is there but cannot be read is bad, never absent: a blank store
            # would let the meter be personalised again, its TID memory reset. (Whether a
            # file is there is read from the directory: errno numbers differ between ports.)
            return "slot %d: unreadable (%s)" % (slot, e)
        (crc,) = struct.unpack_from("<I", self._crc)
        if got != n + 4 or crc32(view, crc32(head)) & 0xFFFFFFFF != crc:
            return "slot %d: CRC mismatch" % slot
        return seq, view, fmt

    def load(self, into=None):
        """The newest valid payload, or None if the store is empty. `into`: a buffer to read
        it into (the meter's record buffer: a boot allocates none); the payload returned is a
        memoryview of it, or of a buffer of its own if it is longer.

        Raises ValueError if there are slots and none is valid, or if a slot holds a format
        newer than this firmware reads. A bad slot beside a good one is what a cut write
        leaves: the good one is used and `report` says so. `format` is the payload's format.
        """
        found = None  # (seq, slot, payload, format) of the newest valid slot
        bad = []
        first = None
        try:
            names = os.listdir(self._dir)
        except OSError:
            names = ()  # no directory yet: nothing stored
        last = None  # the slot last read (over `into`)
        for slot in (0, 1):
            r = self._read(slot, names, into)
            if r is not None:
                last = slot
            if isinstance(r, str):
                bad.append(r)
            elif r is not None:
                if r[2] > FORMAT:
                    raise ValueError(
                        "state format %d is newer than this firmware's %d: "
                        "install the firmware that wrote it" % (r[2], FORMAT)
                    )
                if found is None or r[0] >= found[0]:
                    found = (r[0], slot, r[1], r[2])
            if slot == 0 and isinstance(r, str):
                first = r
        self.bad = bad
        self.report = "; ".join(bad)
        if not found:
            if bad == [first]:
                # Slot 0 is the first write a store ever gets (personalisation) and slot 1
                # the second: with slot 1 never written, no state was ever complete, so the
                # power was cut while personalising. The meter is blank: it may be
                # personalised again, over the torn slot.
                self.report += " (personalisation did not finish)"
                return None
            if bad:
                raise ValueError("no valid state: " + self.report)
            return None
        seq, slot, payload, self.format = found
        if slot != last and into is not None and len(into) >= len(payload):
            # `into` was read over since (by the older slot, or a bad one): this slot again
            payload = self._read(slot, names, into)[1]
        self.seq = seq
        self.slot = slot
        return payload

    def save(self, payload):
        """Write payload (in format FORMAT) as the next state; it is current once this
        returns."""
        seq = self.seq + 1
        slot = 1 - self.slot
        head = self._head
        struct.pack_into(_HEAD, head, 0, self._magic, seq, len(payload))
        # (binascii.crc32 gives the unsigned value in MicroPython and CPython alike)
        struct.pack_into("<I", self._crc, 0, crc32(payload, crc32(head)))
        parts = self._parts
        parts[1] = payload
        self._write(self._paths[slot], parts)  # no copy of the whole record
        parts[1] = None
        self.seq = seq
        self.format = FORMAT
        self.slot = slot
        if self.report:  # that slot is good now: report only what is still bad
            tag = "slot %d:" % slot
            self.bad = [r for r in self.bad if not r.startswith(tag)]
            self.report = "; ".join(self.bad)

    def _write(self, path, parts):
        # The one place bytes reach the file system (a test double cuts power here).
        with open(path, "wb") as f:
            for i in range(len(parts)):  # (a for-in over the list would allocate its iterator)
                f.write(parts[i])
