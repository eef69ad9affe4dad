"""The audit log's cross-process lock: ``flock`` where the OS has it, ``filelock`` elsewhere.

Both take the same OS lock on POSIX (filelock's Unix lock is ``flock`` too), so processes using
either exclude each other. On POSIX the lock is taken directly because filelock 4.x spends
about 250 µs of Python per acquire and release (measured on these machines, against about 1 µs
for ``flock``), a cost every answer would pay; Windows, which has no ``flock``, gets filelock's
``msvcrt`` lock.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Protocol

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]


class FileLockLike(Protocol):
    def acquire(self, poll_interval: float = ...) -> object: ...

    def release(self) -> None: ...


class FlockLock:
    """An exclusive ``flock`` on a kept lock file, its descriptor opened once. Not reentrant
    and not for threads: the log's own thread lock serializes callers first."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None
        self._pid = 0

    def acquire(self, poll_interval: float = 0.0) -> None:
        """Block until this process holds the lock. FileNotFoundError when the lock file's
        directory is missing; OSError when it cannot be created."""
        del poll_interval  # flock blocks in the kernel
        assert fcntl is not None
        if self._fd is not None and self._pid != os.getpid():
            # A forked child shares the parent's open file, and so its flock: open its own.
            # (Closing the inherited copy does not release the parent's lock.)
            os.close(self._fd)
            self._fd = None
        if self._fd is None:
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            self._pid = os.getpid()
        fcntl.flock(self._fd, fcntl.LOCK_EX)

    def release(self) -> None:
        assert fcntl is not None
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __del__(self) -> None:
        if self._fd is not None and self._pid == os.getpid():
            self.close()


def file_lock(path: Path) -> FileLockLike:
    """The cross-process lock for ``path`` (its file is kept: deleting it on release would let
    a waiter lock a file nobody else sees)."""
    if fcntl is not None:
        return FlockLock(path)
    from filelock import FileLock

    return FileLock(str(path), thread_local=False, preserve_lock_file=True)
