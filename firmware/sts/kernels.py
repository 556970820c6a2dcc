# kernels.py  picks the viper kernels where the port has them, else None (portable Python)
try:
    from sts import _viper as VIPER
except Exception:  # CPython (no `micropython`), or a port built without viper (WebAssembly)
    VIPER = None
