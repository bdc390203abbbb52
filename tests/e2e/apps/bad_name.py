"""A process whose name and arguments are not UTF-8: re-executes itself with argv bytes 0xff/0xfe, names itself
b"\\xff" (prctl PR_SET_NAME), catches SIGUSR1 and waits. For tests/e2e/invalid_utf8.sh."""
import ctypes
import os
import signal
import sys

if len(sys.argv) < 3:
    os.execv(sys.executable, [b"\xfe\xff-app", os.fsencode(__file__), b"\xff", b"caf\xe9\x1b[2J"])
PR_SET_NAME = 15
ctypes.CDLL(None).prctl(PR_SET_NAME, ctypes.c_char_p(b"\xff"), 0, 0, 0)
signal.signal(signal.SIGUSR1, lambda *_: None)
while True:
    signal.pause()
