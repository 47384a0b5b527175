"""Child processes that do not outlive ORIN, even when it is killed with SIGKILL."""

from __future__ import annotations

import ctypes
import ctypes.util
import signal
import sys

PR_SET_PDEATHSIG = 1


def die_with_parent(sig: int = signal.SIGTERM) -> None:
    """In the child before exec (``preexec_fn``): get ``sig`` when the parent dies (Linux)."""
    libc_name = ctypes.util.find_library("c")
    if libc_name and sys.platform.startswith("linux"):
        ctypes.CDLL(libc_name, use_errno=True).prctl(PR_SET_PDEATHSIG, sig)


def kill_with_parent() -> None:
    """`die_with_parent` with SIGKILL: for children whose output is worthless without us."""
    die_with_parent(signal.SIGKILL)
