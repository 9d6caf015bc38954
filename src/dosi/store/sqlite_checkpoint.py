"""WAL checkpoints in a thread of their own, outside every writer's commit.

SQLite copies the write-ahead log back into the database file (a checkpoint) inside the commit that takes the
log past `wal_autocheckpoint` pages. That commit holds the file's write lock meanwhile, so every writer of every
process waits for the copy and its fsync. Here a thread of each process runs a PASSIVE checkpoint on a connection
of its own whenever the log has grown: a passive checkpoint waits for nobody and blocks nobody, and sqlite3
releases the GIL while it copies. SQLite's own automatic checkpoint stays on, at BACKSTOP_PAGES, in case this
thread falls behind.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading

log = logging.getLogger(__name__)

INTERVAL = 0.1  # seconds between two looks at the log
BACKSTOP_PAGES = 8000  # SQLite's automatic checkpoint (default 1000), for when this thread falls behind


class Checkpointer:
    def __init__(self, path: str, interval: float = INTERVAL):
        self.path = path
        self.interval = interval
        self.runs = 0  # checkpoints this thread ran (for tests and the curious)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._loop, name="dosi-sqlite-checkpoint", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self._thread = None

    def _loop(self) -> None:
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        try:
            db.execute("PRAGMA busy_timeout=0")  # a passive checkpoint never needs to wait: try again next time
            seen: tuple[int, int] | None = None
            while not self._stop.wait(self.interval):
                size = self._log_size()
                if size is None or size == seen:
                    continue
                seen = size
                try:
                    db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                    self.runs += 1
                except sqlite3.Error as err:  # another process checkpoints at this moment, say
                    log.debug("checkpoint of %s skipped: %s", self.path, err)
        finally:
            db.close()

    def _log_size(self) -> tuple[int, int] | None:
        """(size, modification time) of the log: it changes with every commit, even once the log starts over."""
        try:
            info = os.stat(self.path + "-wal")
        except OSError:
            return None
        return info.st_size, info.st_mtime_ns
