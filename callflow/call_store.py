"""A call's row for one webhook turn, read and written with SQLAlchemy Core.

The voice webhooks are the hot path: every caller turn loads one ``call`` row, moves its
state machine and writes the row back with the turn's utterances. The ORM's unit of work
(identity map, change tracking, flush planning) cost several times the SQL itself, so a
turn uses four Core statements on one connection instead:

* ``SELECT ... FOR UPDATE`` of the call (the row lock is PostgreSQL's; SQLite ignores it),
* ``INSERT`` of the call on its first webhook (``RETURNING id``),
* ``INSERT`` of the turn's utterances (one ``executemany``),
* ``UPDATE ... SET <changed columns>, version = version + 1 WHERE id = ? AND version = ?``.

The ``version`` column is the same optimistic lock the ORM uses for :class:`Call`
(``version_id_col``), so a Core writer and an ORM writer (the status callback, the
sweeper, the admin page) never overwrite each other: whichever comes second finds the
version moved and runs its turn again. Core statements: https://docs.sqlalchemy.org/en/20/core/dml.html
"""
from __future__ import annotations

from functools import lru_cache
from typing import Any, Iterable, Mapping, Optional, Sequence

from sqlalchemy import Connection, bindparam, insert, select, update

from .clock import utcnow
from .models import Call, Turn

CALL = Call.__table__
TURN = Turn.__table__
COLUMNS: tuple[str, ...] = tuple(CALL.c.keys())
_WRITABLE = tuple(name for name in COLUMNS if name not in ("id", "version"))

_SELECT = select(CALL).where(CALL.c.call_sid == bindparam("sid")).with_for_update()
_INSERT_TURNS = insert(TURN)


class StaleCall(Exception):
    """The call row changed (or vanished) since it was read: run the turn again."""


class CallRecord:
    """A call row as a plain object: one attribute per ``call`` column (see :class:`Call`).

    :class:`~callflow.conversation.Conversation` reads and sets the attributes as it would
    on a :class:`Call`; :meth:`changes` lists what it set, for :func:`save`.
    """

    __slots__ = COLUMNS + ("_loaded",)

    def __init__(self, values: Mapping[str, Any]):
        self._fill(dict(zip(COLUMNS, map(values.get, COLUMNS))))

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> "CallRecord":
        """A record from a row of ``select(CALL)`` (values in :data:`COLUMNS` order)."""
        record = cls.__new__(cls)
        record._fill(dict(zip(COLUMNS, row)))
        return record

    def _fill(self, loaded: dict[str, Any]) -> None:
        for name, value in loaded.items():
            setattr(self, name, value)
        self._loaded = loaded

    @property
    def finalized(self) -> bool:
        """True once the call has ended and its outcome is fixed (``ended_at`` is set)."""
        return self.ended_at is not None

    def changes(self) -> dict[str, Any]:
        """Columns whose value differs from the row as read (``id`` and ``version`` excluded)."""
        loaded = self._loaded
        return {name: value for name in _WRITABLE if (value := getattr(self, name)) != loaded[name]}


def load(conn: Connection, call_sid: str) -> Optional[CallRecord]:
    """The call with this CallSid, row-locked until the transaction ends on PostgreSQL; or None."""
    row = conn.execute(_SELECT, {"sid": call_sid}).first()
    return CallRecord.from_row(row) if row is not None else None


def create(conn: Connection, values: Mapping[str, Any]) -> CallRecord:
    """Insert a new call from ``values`` (column name -> value) plus :class:`Call`'s defaults.

    Raises :class:`sqlalchemy.exc.IntegrityError` if a concurrent request inserted the same
    CallSid first (the caller retries the turn and finds that row).
    """
    now = utcnow()
    row = {**Call._DEFAULTS, "started_at": now, "last_activity_at": now, "version": 1, **values}
    row["id"] = conn.execute(insert(CALL).values(**{k: v for k, v in row.items() if k != "id"}).returning(CALL.c.id)).scalar_one()
    record = CallRecord(row)
    return record


def save(conn: Connection, record: CallRecord) -> None:
    """Write the record's changed columns back, bumping ``version``.

    Raises :class:`StaleCall` when another writer moved the version (or deleted the row)
    since :func:`load`; the caller rolls back and runs the turn again.
    """
    changed = record.changes()
    if not changed:
        return
    result = conn.execute(_update_of(tuple(changed)), {**changed, "_id": record.id, "_version": record.version})
    if result.rowcount != 1:
        raise StaleCall(record.call_sid)
    record.version += 1
    record._loaded.update(changed, version=record.version)


@lru_cache(maxsize=256)
def _update_of(names: tuple[str, ...]):
    """``UPDATE call SET <names>, version = version + 1 WHERE id = :_id AND version = :_version``.

    Built once per set of changed columns (a turn changes one of a few dozen such sets), so
    a turn does not pay for building the statement again.
    """
    return (
        update(CALL)
        .where(CALL.c.id == bindparam("_id"), CALL.c.version == bindparam("_version"))
        .values({**{name: bindparam(name) for name in names}, "version": CALL.c.version + 1})
    )


def add_turns(conn: Connection, rows: Iterable[Mapping[str, Any]]) -> None:
    """Insert the turn's utterances (``turn`` rows: call_id, seq, speaker, text, state, ...)."""
    rows = list(rows)
    if rows:
        conn.execute(_INSERT_TURNS, rows)
