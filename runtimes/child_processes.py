"""Processes our commands start end when the command ends, however it ends (SIGKILL included).

Linux's parent-death signal (prctl PR_SET_PDEATHSIG) asks the kernel to signal a process when the thread that
started it exits: no orphan keeps a port open after its parent was killed with SIGKILL. Elsewhere it is a no-op.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

_PR_SET_PDEATHSIG = 1


def die_with_parent(sig: int = signal.SIGTERM) -> None:
    """Ask the kernel to send `sig` to this process when its parent exits; exit now if the parent already has.

    Call it first thing in a child (a worker's start-up, or a Popen `preexec_fn`). A no-op off Linux.
    """
    if not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, sig, 0, 0, 0)
    if os.getppid() == 1:  # the parent died before the call: nobody would signal us
        os.kill(os.getpid(), sig)
