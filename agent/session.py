"""Sessions in SQLite (WAL): messages, tool calls, artifacts and scores survive a crash.

Every write is its own transaction, committed before the event that reports it is shown,
so what was finished before a crash is there after a restart. Artifact files live in
``<data>/sessions/<id>/`` and are written atomically (temp file + rename) by the studio.
"""

from __future__ import annotations

import json
import re
import secrets
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from tools.artifacts import Artifact
from models.common.errors import UserFixableError

SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (id TEXT PRIMARY KEY, title TEXT NOT NULL, created REAL NOT NULL,
                                     updated REAL NOT NULL, planner TEXT NOT NULL DEFAULT '');
CREATE TABLE IF NOT EXISTS messages (seq INTEGER PRIMARY KEY AUTOINCREMENT, session TEXT NOT NULL,
                                     turn INTEGER NOT NULL, message TEXT NOT NULL, created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS artifacts (seq INTEGER PRIMARY KEY AUTOINCREMENT, session TEXT NOT NULL,
                                      turn INTEGER NOT NULL, data TEXT NOT NULL, created REAL NOT NULL);
CREATE INDEX IF NOT EXISTS messages_by_session ON messages(session, seq);
CREATE INDEX IF NOT EXISTS artifacts_by_session ON artifacts(session, seq);
"""
_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")


def _disk_full(e: BaseException) -> bool:
    """ENOSPC/EDQUOT from the file system, or SQLite's SQLITE_FULL ("database or disk is full")."""
    import errno

    if isinstance(e, OSError):
        return e.errno in (errno.ENOSPC, errno.EDQUOT)
    return getattr(e, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL or "disk is full" in str(e)


def _full_message(folder: Path) -> str:
    return (f"the disk holding the data folder {folder} is full; free some space, or use another data folder "
            "(--data-dir or ARSNOVA_HOME)")


@dataclass(frozen=True)
class SessionInfo:
    id: str
    title: str
    created: float
    updated: float
    planner: str


class SessionStore:
    """One SQLite file; safe to share between the UI thread and a worker (one lock)."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir)
        self.path = self.data_dir / "sessions.db"
        try:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=10)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(SCHEMA)
        except (OSError, sqlite3.Error) as e:
            if _disk_full(e):
                raise UserFixableError(_full_message(self.data_dir)) from None
            if isinstance(e, sqlite3.DatabaseError) and not isinstance(e, sqlite3.OperationalError):
                raise UserFixableError(f"session database {self.path} is unreadable ({e}); move it aside to start fresh") from None
            why = e.strerror if isinstance(e, OSError) else str(e)
            raise UserFixableError(f"cannot open the session store in {self.data_dir} ({why}); make the folder "
                                   "writable, or use another data folder (--data-dir or ARSNOVA_HOME)") from None
        self._lock = threading.Lock()

    def close(self) -> None:
        self._db.close()

    def _exec(self, sql: str, args: tuple = ()) -> list:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    # ---- sessions ----------------------------------------------------------------------
    def create(self, title: str = "Untitled", planner: str = "", session_id: str | None = None) -> SessionInfo:
        sid = session_id or time.strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(2)
        if not _ID.match(sid):
            raise UserFixableError(f"session id {sid!r} is not valid; use lowercase letters, digits and dashes")
        now = time.time()
        self._exec("INSERT INTO sessions VALUES (?, ?, ?, ?, ?)", (sid, title[:200], now, now, planner))
        self.session_dir(sid).mkdir(parents=True, exist_ok=True)
        return SessionInfo(sid, title[:200], now, now, planner)

    def get(self, sid: str) -> SessionInfo:
        rows = self._exec("SELECT id, title, created, updated, planner FROM sessions WHERE id = ?", (sid,))
        if not rows:
            raise UserFixableError(f"no session {sid!r}; `arsnova sessions` lists them")
        return SessionInfo(*rows[0])

    def list(self) -> list[SessionInfo]:
        rows = self._exec("SELECT id, title, created, updated, planner FROM sessions ORDER BY updated DESC")
        return [SessionInfo(*r) for r in rows]

    def rename(self, sid: str, title: str) -> None:
        self.get(sid)
        self._exec("UPDATE sessions SET title = ?, updated = ? WHERE id = ?", (title[:200], time.time(), sid))

    def delete(self, sid: str) -> None:
        import shutil

        self.get(sid)
        with self._lock:
            self._db.execute("BEGIN")
            for table, col in (("messages", "session"), ("artifacts", "session"), ("sessions", "id")):
                self._db.execute(f"DELETE FROM {table} WHERE {col} = ?", (sid,))
            self._db.execute("COMMIT")
        shutil.rmtree(self.session_dir(sid), ignore_errors=True)

    @property
    def error_log(self) -> Path:
        """Where a tool's internal errors are written with their tracebacks."""
        return self.data_dir / "logs" / "errors.log"

    @property
    def settings_file(self) -> Path:
        """The chat's settings: the theme and the keys (tui.StudioApp.load_settings)."""
        return self.data_dir / "settings.yaml"

    @property
    def keymap_file(self) -> Path:
        """Where keys were rebound before settings.yaml; still read when settings.yaml is absent."""
        return self.data_dir / "keymap.yaml"

    def export_dir(self, sid: str) -> Path:
        """The chat's Export button writes the session's bundle here."""
        return self.data_dir / "exports" / self.session_dir(sid).name

    def session_dir(self, sid: str) -> Path:
        if not _ID.match(sid):
            raise UserFixableError(f"session id {sid!r} is not valid")
        return self.data_dir / "sessions" / sid

    # ---- content -----------------------------------------------------------------------
    def add_message(self, sid: str, turn: int, message) -> None:
        from langchain_core.messages import message_to_dict

        now = time.time()
        with self._lock:
            self._db.execute("BEGIN")
            self._db.execute("INSERT INTO messages (session, turn, message, created) VALUES (?, ?, ?, ?)",
                             (sid, turn, json.dumps(message_to_dict(message)), now))
            self._db.execute("UPDATE sessions SET updated = ? WHERE id = ?", (now, sid))
            self._db.execute("COMMIT")

    def messages(self, sid: str) -> list:
        from langchain_core.messages import messages_from_dict

        rows = self._exec("SELECT message FROM messages WHERE session = ? ORDER BY seq", (sid,))
        return messages_from_dict([json.loads(r[0]) for r in rows])

    def transcript(self, sid: str) -> list[tuple[int, object]]:
        """(turn, message) in the order they were said: what a resumed chat re-renders."""
        from langchain_core.messages import messages_from_dict

        rows = self._exec("SELECT turn, message FROM messages WHERE session = ? ORDER BY seq", (sid,))
        msgs = messages_from_dict([json.loads(r[1]) for r in rows])
        return [(int(r[0]), m) for r, m in zip(rows, msgs)]

    def next_turn(self, sid: str) -> int:
        rows = self._exec("SELECT COALESCE(MAX(turn), 0) FROM messages WHERE session = ?", (sid,))
        return int(rows[0][0]) + 1

    def add_artifact(self, sid: str, artifact: Artifact) -> None:
        self._exec("INSERT INTO artifacts (session, turn, data, created) VALUES (?, ?, ?, ?)",
                   (sid, artifact.turn, json.dumps(artifact.to_dict()), time.time()))

    def artifacts(self, sid: str) -> list[Artifact]:
        rows = self._exec("SELECT data FROM artifacts WHERE session = ? ORDER BY seq", (sid,))
        return [Artifact.from_dict(json.loads(r[0])) for r in rows]

    def user_turns(self, sid: str) -> list[str]:
        from langchain_core.messages import HumanMessage

        return [str(m.content) for m in self.messages(sid) if isinstance(m, HumanMessage)]
