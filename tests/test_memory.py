"""The notebook's server caps glibc's malloc arenas, so its memory stays flat over a long
session (``bench/README.md``: the notebook's memory over 13 minutes of repeated flows)."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Eight threads allocate at once, then glibc prints one "Arena N:" block per arena.
_PROBE = """
import ctypes, sys, threading
from lepton_core.core import limit_malloc_arenas
print(limit_malloc_arenas() if sys.argv[1] == "limit" else None, flush=True)
keep, barrier = [], threading.Barrier(8)
def work():
    barrier.wait()
    keep.append([bytearray(50_000) for _ in range(50)])
threads = [threading.Thread(target=work) for _ in range(8)]
for t in threads: t.start()
for t in threads: t.join()
ctypes.CDLL("libc.so.6").malloc_stats()
"""

pytestmark = pytest.mark.skipif(
    platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="glibc only"
)


def _arenas(mode: str, **env: str) -> tuple[str, int]:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, mode],
        cwd=ROOT,
        env={**{k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout.strip(), sum(line.startswith("Arena ") for line in done.stderr.splitlines())


def test_the_server_process_keeps_at_most_two_malloc_arenas():
    assert _arenas("limit") == ("True", 2)
    assert _arenas("none")[1] > 2  # glibc's default: one per thread, up to 8 per core


def test_a_malloc_arena_max_the_person_set_stands():
    said, arenas = _arenas("limit", MALLOC_ARENA_MAX="4")
    assert said == "False" and arenas == 4


def test_server_py_caps_the_arenas_before_streamlit_starts():
    source = (ROOT / "server.py").read_text()
    assert source.index("limit_malloc_arenas()") < source.index("import streamlit")
