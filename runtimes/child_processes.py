"""Processes our commands start end when the command ends, however it ends (SIGKILL included).

Linux's parent-death signal (prctl PR_SET_PDEATHSIG) asks the kernel to signal a process when the thread that
started it exits: no orphan keeps a port open after its parent was killed with SIGKILL. Elsewhere it is a no-op.
A child calls `die_with_parent` itself (a uvicorn worker's start-up); a command we start is given it by
`start_child`.

`run_child(command)` (what `static-edge demo` runs Streamlit with) covers every way our process can end:

- **killed outright** (SIGKILL, the OOM killer, a crash): the child gets the parent-death signal. The kernel
  sends it when the *thread* that started the child ends, so start children from a thread that lives as long
  as they should (the main thread, as the CLI does).
- **told to stop** (SIGINT from Ctrl-C, SIGTERM from a service manager, SIGHUP from a closed terminal or SSH
  session, SIGQUIT): `forward_signals` passes the signal on to the child's process group, then `stop_child`
  ends the group (SIGTERM, a grace period, SIGKILL), so helpers the child started go too.
- **leaving normally or by an exception**: the group is stopped in a `finally`.

The child runs in its own session (process group), so the group can be signalled without signalling us.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
from collections.abc import Iterator, Sequence
from typing import Any

_PR_SET_PDEATHSIG = 1
FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)
"""Signals to us that `forward_signals` passes on to the child's group."""
STOP_GRACE_S = 5.0


def die_with_parent(sig: int = signal.SIGTERM, parent: int | None = None) -> None:
    """Ask the kernel to send `sig` to this process when its parent exits; exit now if the parent already has.

    Call it first thing in a child (a worker's start-up, or a Popen `preexec_fn`). A no-op off Linux.

    :param parent: the parent's pid, known before the fork (a `preexec_fn`): a parent that died before the call
        is then noticed even when the orphan is adopted by a subreaper rather than pid 1.
    """
    if not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, sig, 0, 0, 0)
    orphaned = (os.getppid() != parent) if parent is not None else (os.getppid() == 1)
    if orphaned:  # the parent died before the call: nobody would signal us
        os.kill(os.getpid(), sig)


def start_child(command: Sequence[str], *, death_signal: int = signal.SIGKILL, **popen_kwargs: Any) -> subprocess.Popen:
    """Start `command` in its own session; on Linux it gets `death_signal` when this process dies.

    SIGKILL by default: nobody is left to follow a SIGTERM the child ignores.

    :param popen_kwargs: passed to `subprocess.Popen` (env, stdout, ...), but not preexec_fn or start_new_session.
    """
    parent = os.getpid()
    return subprocess.Popen(
        list(command),
        start_new_session=True,
        preexec_fn=lambda: die_with_parent(death_signal, parent),
        **popen_kwargs,
    )


def signal_group(process: subprocess.Popen, signum: int) -> None:
    """Send `signum` to the child's process group (quietly, if it is gone)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signum)


def stop_child(process: subprocess.Popen, grace_s: float = STOP_GRACE_S) -> None:
    """SIGTERM the child's group, wait up to `grace_s`, then SIGKILL whatever is left of the group."""
    signal_group(process, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=grace_s)
    signal_group(process, signal.SIGKILL)  # helpers that outlived the child go too
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=grace_s)


@contextlib.contextmanager
def forward_signals(processes: list[subprocess.Popen], received: list[int]) -> Iterator[None]:
    """While the block runs, pass SIGINT/SIGTERM/SIGHUP/SIGQUIT on to the groups of `processes` (which may still
    be empty: the handlers go in before a child starts) and note each in `received` (call it from the main
    thread: Python runs signal handlers there)."""

    def forward(signum: int, frame: object) -> None:  # noqa: ARG001 - the signal module's handler signature
        received.append(signum)
        for process in processes:
            signal_group(process, signum)

    previous = {sig: signal.signal(sig, forward) for sig in FORWARDED}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def run_child(command: Sequence[str], **popen_kwargs: Any) -> int:
    """Run `command` (`start_child`) until it exits or we are signalled, then stop its whole group.

    :returns: the child's exit code, or 128 + the signal we received (130 after Ctrl-C, 143 after SIGTERM, 129
        after SIGHUP), as a shell reports it.
    """
    received: list[int] = []
    started: list[subprocess.Popen] = []
    # the handlers go in first: a signal that arrives while the child starts is noted, not fatal to us alone
    with forward_signals(started, received):
        process = start_child(command, **popen_kwargs)
        started.append(process)
        if received:
            signal_group(process, received[0])
        try:
            code = process.wait()
        finally:
            stop_child(process)
    return 128 + received[0] if received else code
