# filedev.py  a block device for vfs.VfsLfs2 backed by a file: reads and writes go through
# seek/readinto/write, which allocate nothing, as a board's flash driver (written in C)
# allocates nothing. What a benchmark measures on it is the file system and the code above.


class FileDev:
    def __init__(self, path, blocks=128, size=512):
        self.size = size
        self.blocks = blocks
        self.ff = b"\xff" * size  # an erased block
        with open(path, "wb") as f:
            for _ in range(blocks):
                f.write(self.ff)
        self.f = open(path, "r+b")  # noqa: SIM115 - open for the device's life

    def readblocks(self, n, buf, off=0):
        self.f.seek(n * self.size + off)
        self.f.readinto(buf)

    def writeblocks(self, n, buf, off=None):
        self.f.seek(n * self.size + (off or 0))
        self.f.write(buf)

    def ioctl(self, op, arg):
        if op == 4:  # block count
            return self.blocks
        if op == 5:  # block size
            return self.size
        if op == 6:  # erase
            self.f.seek(arg * self.size)
            self.f.write(self.ff)
            return 0
        return None
