"""Files checked against a published hash before anything loads them."""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

__all__ = ["file_sha256", "has_sha256"]


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file, read in blocks (weights files are hundreds of megabytes)."""
    with Path(path).open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def has_sha256(path: Path, expected: str) -> bool:
    """Whether the file's SHA-256 is ``expected``; hashed once per size and modification time."""
    stat = Path(path).stat()
    return _matches(str(path), stat.st_size, stat.st_mtime_ns, expected)


@functools.lru_cache(maxsize=16)
def _matches(path: str, size: int, mtime_ns: int, expected: str) -> bool:
    # Keyed on size and modification time, so a file changed on disk is hashed again.
    return file_sha256(Path(path)) == expected
