"""Preloaded by the batch's forkserver: its workers ignore SIGINT from the moment they fork.

The parent handles Ctrl-C (it drops the queue and terminates the running workers), so a
worker must never print a ``KeyboardInterrupt`` traceback, even if Ctrl-C arrives while it
is still starting. The forkserver hands the SIGINT disposition it had after preloading
to every child, hence this import-time side effect (this module is only imported there).
"""

import signal

signal.signal(signal.SIGINT, signal.SIG_IGN)
