"""A call's row for one webhook turn, read and written with SQLAlchemy Core.

The voice webhooks are the hot path: every caller turn loads one ``call`` row, moves its
state machine and writes the row back with the turn's utterances. The ORM's unit of work
(identity map, change tracking, flush planning) cost several times the SQL itself, so a
turn is a ``SELECT`` of the call and one :func:`write`:

* on PostgreSQL, one statement: a data-modifying CTE that updates the call
  (``SET <changed columns>, version = version + 1 WHERE id = ? AND version = ?``) or inserts
  a new one, and inserts the turn's utterances from its ``RETURNING id``. The webhooks run
  it in autocommit, so a turn is 2 round trips instead of BEGIN, SELECT, INSERT, UPDATE and
  COMMIT. https://www.postgresql.org/docs/current/queries-with.html#QUERIES-WITH-MODIFYING
* elsewhere (SQLite), the same writes as separate statements in the caller's transaction.

The ``version`` column is the same optimistic lock the ORM uses for :class:`Call`
(``version_id_col``), so a Core writer and an ORM writer (the status callback, the
sweeper, the admin page) never overwrite each other: whichever comes second finds the
version moved and runs its turn again. Core statements: https://docs.sqlalchemy.org/en/20/core/dml.html
"""
from __future__ import annotations

from functools import lru_cache
from typing import Any, Mapping, Optional, Sequence

from sqlalchemy import Connection, Table, bindparam, cast, insert, select, union_all, update

from .clock import utcnow
from .models import Call, Turn

CALL = Call.__table__
TURN = Turn.__table__
COLUMNS: tuple[str, ...] = tuple(CALL.c.keys())
_WRITABLE = tuple(name for name in COLUMNS if name not in ("id", "version"))

_SELECT = select(CALL).where(CALL.c.call_sid == bindparam("sid"))
# The call's last answer from an article: the agent's utterance that named it (``article_id``).
_LAST_ANSWER = (select(TURN.c.text)
                .where(TURN.c.call_id == bindparam("call_id"), TURN.c.speaker == "agent",
                       TURN.c.article_id.is_not(None))
                .order_by(TURN.c.seq.desc()).limit(1))
_SELECT_LOCKED = _SELECT.with_for_update()
# A turn row as the webhooks write it (plus call_id); every row carries every field.
TURN_FIELDS = ("seq", "speaker", "text", "state", "created_at", "confidence", "server_ms", "article_id", "article_score")


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

    @classmethod
    def new(cls, values: Mapping[str, Any]) -> "CallRecord":
        """A call not in the database yet (``id`` None): ``values`` plus :class:`Call`'s defaults.

        :func:`write` inserts it, with its first utterances.
        """
        now = utcnow()
        return cls({**Call._DEFAULTS, "started_at": now, "last_activity_at": now, "version": 1, **values})

    @property
    def finalized(self) -> bool:
        """True once the call has ended and its outcome is fixed (``ended_at`` is set)."""
        return self.ended_at is not None

    def changes(self) -> dict[str, Any]:
        """Columns whose value differs from the row as read (``id`` and ``version`` excluded)."""
        loaded = self._loaded
        return {name: value for name in _WRITABLE if (value := getattr(self, name)) != loaded[name]}


def load(conn: Connection, call_sid: str, *, lock: bool = True) -> Optional[CallRecord]:
    """The call with this CallSid, or None.

    ``lock``: ``SELECT … FOR UPDATE`` (PostgreSQL holds the row until the transaction ends;
    SQLite ignores it). Pointless in autocommit, where :func:`write`'s version check guards.
    """
    row = conn.execute(_SELECT_LOCKED if lock else _SELECT, {"sid": call_sid}).first()
    return CallRecord.from_row(row) if row is not None else None


def last_answer(conn: Connection, call_id: Optional[int]) -> Optional[str]:
    """What the agent said when it last answered from an article (its utterance as recorded: the answer with the
    prompts around it, see :func:`callflow.prompts.answer_in`), or ``None`` for a call with no such turn."""
    if call_id is None:
        return None
    return conn.execute(_LAST_ANSWER, {"call_id": call_id}).scalar()


def create(conn: Connection, values: Mapping[str, Any]) -> CallRecord:
    """Insert a new call from ``values`` (column name -> value) plus :class:`Call`'s defaults.

    Raises :class:`sqlalchemy.exc.IntegrityError` if a concurrent request inserted the same
    CallSid first (the caller retries the turn and finds that row).
    """
    record = CallRecord.new(values)
    _insert(conn, record)
    return record


def _insert(conn: Connection, record: CallRecord) -> None:
    values = {name: getattr(record, name) for name in COLUMNS if name != "id"}
    record.id = conn.execute(_insert_call_of(tuple(values)), values).scalar_one()
    record._loaded = {name: getattr(record, name) for name in COLUMNS}


@lru_cache(maxsize=4)
def _insert_call_of(names: tuple[str, ...]):
    """``INSERT INTO call (<names>) VALUES (:<name>, ...) RETURNING id``, built once: building
    it per call (every column coerced again) cost more than running it."""
    return insert(CALL).values({name: bindparam(name) for name in names}).returning(CALL.c.id)


def write(conn: Connection, record: CallRecord, rows: Sequence[Mapping[str, Any]], table: Table = TURN) -> None:
    """Save the call (insert it, or update its changed columns) and insert ``rows`` that refer to it.

    ``rows``: dicts with the same keys, columns of ``table`` (default ``turn``: the turn's
    utterances, :data:`TURN_FIELDS`); ``call_id`` is filled in. On PostgreSQL this is one
    statement, atomic even in autocommit; elsewhere up to three statements, atomic within
    the caller's transaction.

    Raises :class:`StaleCall` if the call's version moved since :func:`load`, and
    :class:`sqlalchemy.exc.IntegrityError` on a unique violation (a new call's CallSid, or
    a second ticket for the call, inserted meanwhile).
    """
    if conn.dialect.name == "postgresql" and rows:
        _write_one_statement(conn, record, rows, table)
        return
    if record.id is None:
        _insert(conn, record)
    else:
        save(conn, record)
    if rows:
        conn.execute(insert(table), [{**row, "call_id": record.id} for row in rows])


def _write_one_statement(conn: Connection, record: CallRecord, rows: Sequence[Mapping[str, Any]], table: Table) -> None:
    fields = tuple(rows[0])
    params: dict[str, Any] = {f"r{i}_{field}": row[field] for i, row in enumerate(rows) for field in fields}
    if record.id is None:
        values = {name: getattr(record, name) for name in COLUMNS if name != "id"}
        params.update(values)
        statement = _insert_call_with(tuple(values), table, fields, len(rows))
    else:
        changed = record.changes()
        params.update(changed, _id=record.id, _version=record.version)
        statement = _update_call_with(tuple(changed), table, fields, len(rows))
    ids = conn.execute(statement, params).scalars().all()
    if not ids:
        raise StaleCall(record.call_sid)
    if record.id is None:
        record.id = ids[0]
    else:
        record.version += 1
    record._loaded = {name: getattr(record, name) for name in COLUMNS}


def _rows_from(source, table: Table, fields: tuple[str, ...], count: int):
    """``INSERT INTO table (call_id, ...) SELECT source.id, <row i> UNION ALL ... RETURNING call_id``."""
    columns = [table.c[field] for field in fields]
    selects = [
        select(source.c.id, *[cast(bindparam(f"r{i}_{col.key}", type_=col.type), col.type) for col in columns])
        for i in range(count)
    ]
    body = selects[0] if count == 1 else union_all(*selects)
    return insert(table).from_select(["call_id", *fields], body).returning(table.c.call_id)


@lru_cache(maxsize=256)
def _update_call_with(names: tuple[str, ...], table: Table, fields: tuple[str, ...], count: int):
    moved = _update_of(names).returning(CALL.c.id).cte("moved")
    return _rows_from(moved, table, fields, count)


@lru_cache(maxsize=16)
def _insert_call_with(names: tuple[str, ...], table: Table, fields: tuple[str, ...], count: int):
    added = insert(CALL).values({name: bindparam(name) for name in names}).returning(CALL.c.id).cte("added")
    return _rows_from(added, table, fields, count)


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
