# flakydev.py  a RAM block device for vfs.VfsLfs2 that can lose power at any block write
# Runs in micropython. Write number `cut_at` (writes and erases both count) is torn: half
# of it lands, then PowerCut is raised, as if the supply had dropped mid-write. After that
# the device is dead: writes are lost, reads see erased flash. (A dead device must not
# allocate: the file system may call it from a finalizer while the heap is locked.)


class PowerCut(Exception):
    pass


class FlakyDev:
    def __init__(self, data=None, blocks=64, size=512):
        self.size = size
        self.blocks = blocks
        self.data = bytearray(data) if data is not None else bytearray(b"\xff" * blocks * size)
        self.writes = 0
        self.cut_at = -1
        self.dead = False

    def readblocks(self, n, buf, off=0):
        if self.dead:
            for i in range(len(buf)):
                buf[i] = 0xFF
            return
        a = n * self.size + off
        buf[:] = self.data[a : a + len(buf)]

    def _write(self, a, buf):
        if self.dead:
            return
        if self.writes == self.cut_at:
            half = len(buf) // 2
            self.data[a : a + half] = buf[:half]
            self.writes += 1
            self.dead = True
            raise PowerCut
        self.writes += 1
        self.data[a : a + len(buf)] = buf

    def writeblocks(self, n, buf, off=0):
        self._write(n * self.size + off, buf)

    def ioctl(self, op, arg):
        if op == 4:  # block count
            return self.blocks
        if op == 5:  # block size
            return self.size
        if op == 6:  # erase
            if not self.dead:
                self._write(arg * self.size, b"\xff" * self.size)
            return 0
        return 0
