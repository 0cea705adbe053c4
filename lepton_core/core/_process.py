"""Which process wrote a record, and whether it still runs (after a crash or ``kill -9``)."""

from __future__ import annotations

import os
import socket
from pathlib import Path

__all__ = ["process_alive", "process_token"]


def _start_time(pid: int) -> str | None:
    """The process's start time in clock ticks (Linux), or None without ``/proc``.

    With the pid it tells a process from a later one that reused its number.
    """
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and brackets; fields after it do not.
    fields = stat.rsplit(")", 1)[1].split()
    if fields[0] == "Z":  # a zombie has ended; only its exit status waits to be read
        return None
    return fields[19]


def process_token() -> str:
    """``host:pid:start`` for this process."""
    pid = os.getpid()
    return f"{socket.gethostname()}:{pid}:{_start_time(pid) or ''}"


def process_alive(token: str) -> bool | None:
    """Whether the process of ``token`` still runs; None when it ran on another host."""
    try:
        host, pid_text, start = token.rsplit(":", 2)
        pid = int(pid_text)
    except ValueError:
        return None
    if host != socket.gethostname():
        return None
    if start:
        return _start_time(pid) == start
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
