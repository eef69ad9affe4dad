"""Group commit: one background fsync for all the audit records written within a short window."""

from __future__ import annotations

import atexit
import contextlib
import os
import threading
import time
from pathlib import Path


class GroupCommit:
    """Fsyncs one file at most ``window_s`` after it was written, on a daemon thread, so many
    appends share one fsync. ``flush`` forces it now; interpreter exit too."""

    def __init__(self, path: Path, window_s: float) -> None:
        self.path = path
        self.window_s = window_s
        self._dirty = False
        self._closed = False
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None
        atexit.register(self.flush)

    def mark(self) -> None:
        """Note that the file was written: it is fsynced within the window (at once when the
        flusher was closed)."""
        with self._wake:
            if not self._closed:
                if self._dirty:
                    return  # the flusher was woken for an earlier write, and not fsynced yet
                self._dirty = True
                if self._thread is None or not self._thread.is_alive():
                    self._thread = threading.Thread(target=self._run, daemon=True,
                                                    name="skipper-audit-fsync")
                    self._thread.start()
                self._wake.notify()
                return
        fsync_path(self.path)

    def flush(self) -> None:
        with self._wake:
            dirty, self._dirty = self._dirty, False
        if dirty:
            # fsync through any descriptor of the file flushes all of its written pages.
            fsync_path(self.path)

    def close(self) -> None:
        with self._wake:
            self._closed = True
            self._wake.notify()
        self.flush()
        atexit.unregister(self.flush)

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._dirty and not self._closed:
                    self._wake.wait()
                if self._closed:
                    return
            time.sleep(self.window_s)  # let the appends of the window gather
            self.flush()


def fsync_path(path: Path) -> None:
    """Force a file's (or a directory's entries') written data to disk, best effort."""
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
