"""`start_child` / `run_child`: a child ends with the process that started it, however that one ends."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import psutil
import pytest

from static_edge.runtimes.child_processes import run_child, start_child, stop_child

pytestmark = pytest.mark.slow  # end to end: child process trees killed by signals

# a parent that starts a sleeping child with run_child and prints the child's pid once it runs
PARENT = """
import sys, time
from static_edge.runtimes import child_processes as cp
start = cp.start_child
def announced(*args, **kwargs):
    child = start(*args, **kwargs)
    print(child.pid, flush=True)
    return child
cp.start_child = announced
sys.exit(cp.run_child([sys.executable, "-c", "import time; time.sleep(120)"]))
"""


def _parent_and_child() -> tuple[subprocess.Popen, psutil.Process]:
    parent = subprocess.Popen([sys.executable, "-c", PARENT], stdout=subprocess.PIPE, text=True, start_new_session=True)
    child = psutil.Process(int(parent.stdout.readline()))
    return parent, child


@pytest.mark.parametrize(
    ("signum", "code"),
    [(signal.SIGKILL, -signal.SIGKILL), (signal.SIGTERM, 143), (signal.SIGHUP, 129), (signal.SIGQUIT, 131)],
)
def test_the_child_ends_with_its_parent(signum, code):
    """The child ends with its parent."""
    parent, child = _parent_and_child()
    try:
        assert child.is_running() and child.ppid() == parent.pid
        os.kill(parent.pid, signum)
        assert parent.wait(timeout=30) == code
        child.wait(timeout=15)  # raises TimeoutExpired while the child lives on
        assert not child.is_running()
    finally:
        if parent.poll() is None:
            parent.kill()
        if child.is_running():
            child.kill()


def test_run_child_returns_the_exit_code_and_stop_child_ends_the_group():
    """Run child returns the exit code and stop child ends the group."""
    assert run_child([sys.executable, "-c", "raise SystemExit(7)"]) == 7
    child = start_child([sys.executable, "-c", "import time; time.sleep(120)"])
    assert os.getpgid(child.pid) == child.pid != os.getpgid(0)  # its own group: signalled without us
    stop_child(child, grace_s=5)
    assert child.returncode == -signal.SIGTERM
