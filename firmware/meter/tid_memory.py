# tid_memory.py  the TIDs a meter remembers, so that no token is accepted twice
# Keeps the `capacity` largest accepted TIDs in ascending order. A TID in memory is USED;
# with the memory full, a TID below the smallest remembered is OLD (it might have been one
# of the forgotten ones). Only class 0 credit and class 2 register tokens carry a TID.
from array import array

OK = 0
OLD = 1
USED = 2


class TidMemory:
    def __init__(self, capacity=50):
        if not 1 <= capacity <= 255:  # the state record keeps the size in a byte
            raise ValueError("TID memory capacity: 1..255, got %r" % (capacity,))
        self.capacity = capacity
        self.tids = array("I", bytes(4 * capacity))
        self.count = 0

    def check(self, tid):
        """OK, OLD or USED, in that order of test: OLD first, as the standard orders it."""
        t = self.tids
        if self.count == self.capacity and tid < t[0]:
            return OLD
        for i in range(self.count):
            if t[i] == tid:
                return USED
        return OK

    def add(self, tid):
        """Remember tid (check() said OK); the smallest is forgotten when full."""
        t = self.tids
        n = self.count
        if n == self.capacity:
            # Drop t[0]: shift the smaller ones down until tid's place.
            i = 0
            while i + 1 < n and t[i + 1] < tid:
                t[i] = t[i + 1]
                i += 1
            t[i] = tid
            return
        i = n
        while i > 0 and t[i - 1] > tid:
            t[i] = t[i - 1]
            i -= 1
        t[i] = tid
        self.count = n + 1

    def fill(self, tid):
        """At manufacture: every slot holds the manufacture TID, so older tokens are OLD."""
        for i in range(self.capacity):
            self.tids[i] = tid
        self.count = self.capacity

    def load(self, tids, full):
        """Take the remembered TIDs (ascending) of a memory of any size; `full`: that memory
        was full, so TIDs below its oldest were refused as OLD. Whatever this memory's size,
        every TID refused before stays refused: a smaller one keeps the newest (the rest
        fall below its oldest: OLD); a larger one, if the other was full, repeats the oldest
        in the free slots, so that it is full too and OLD still starts at the same TID."""
        n = len(tids)
        keep = min(n, self.capacity)
        pad = self.capacity - keep if full and n else 0
        t = self.tids
        for i in range(pad):
            t[i] = tids[0]
        for i in range(keep):
            t[pad + i] = tids[n - keep + i]
        self.count = pad + keep

    def clear(self):
        self.count = 0

    def oldest(self):
        return self.tids[0] if self.count else None

    def newest(self):
        return self.tids[self.count - 1] if self.count else None
