class FileDev:
    def __init__(self, path, blocks=128, size=512):
        self.size = size; self.blocks = blocks
        with open(path, "wb") as f:
            f.write(b"\xff" * (blocks * size))
        self.f = open(path, "r+b"); self.ff = b"\xff" * size
    def readblocks(self, n, buf, off=0):
        self.f.seek(n * self.size + off); self.f.readinto(buf)
    def writeblocks(self, n, buf, off=None):
        if off is None:
            off = 0
        self.f.seek(n * self.size + off); self.f.write(buf)
    def ioctl(self, op, arg):
        if op == 4: return self.blocks
        if op == 5: return self.size
        if op == 6:
            self.f.seek(arg * self.size); self.f.write(self.ff)
            return 0
