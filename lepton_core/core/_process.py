"""Which process wrote a record, and whether it still runs (after a crash or ``kill -9``);
and how a long-running server process keeps its memory from creeping up."""

from __future__ import annotations

import ctypes
import os
import socket
import sys
from pathlib import Path

__all__ = ["limit_malloc_arenas", "process_alive", "process_token"]

_M_ARENA_MAX = -8  # glibc's mallopt parameter (malloc.h), as MALLOC_ARENA_MAX sets it


def limit_malloc_arenas(arenas: int = 2) -> bool:
    """Let glibc's malloc keep at most ``arenas`` memory arenas in this process, as the
    environment variable ``MALLOC_ARENA_MAX`` would; True when it was set.

    By default each thread that allocates may get an arena of its own (up to 8 per core),
    and memory freed across many arenas is seldom given back, so a server that runs each
    page in a thread grows with every model it trains and loads (``bench/README.md``:
    the notebook's memory over a 13-minute session). Call it first thing in a server
    process, before its threads start. Nothing happens outside Linux's glibc, or when
    ``MALLOC_ARENA_MAX`` is set already (the person's choice stands).
    """
    if os.environ.get("MALLOC_ARENA_MAX") or not sys.platform.startswith("linux"):
        return False
    try:
        return bool(ctypes.CDLL("libc.so.6").mallopt(_M_ARENA_MAX, int(arenas)))
    except (OSError, AttributeError):  # not glibc (musl has no mallopt)
        return False


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
