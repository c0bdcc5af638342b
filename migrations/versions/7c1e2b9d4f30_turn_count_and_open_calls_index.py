"""call.turn_count for databases of the first release, and an index for the idle sweeper

The first release of 4a76dd5a5824 had no call.turn_count; a later commit added the column to
that revision in place, so a database created by the first release is "at head" without it and
every webhook turn failed on the missing column. This revision adds it when it is missing, set
from each call's turns (its last turn seq), so a call in progress numbers its next turn on.

The idle sweeper (tickets worker, every poll) looks for calls with ended_at IS NULL by
last_activity_at: a partial index over the open calls keeps that query independent of the
number of calls ever stored (it was a full scan: about 40 ms at 200,000 calls).

Revision ID: 7c1e2b9d4f30
Revises: 4a76dd5a5824
Create Date: 2026-11-22 05:50:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '7c1e2b9d4f30'
down_revision = '4a76dd5a5824'
branch_labels = None
depends_on = None

OPEN_CALLS = sa.text("ended_at IS NULL")


def upgrade():
    bind = op.get_bind()
    if "turn_count" not in {column["name"] for column in sa.inspect(bind).get_columns("call")}:
        with op.batch_alter_table("call") as batch_op:
            batch_op.add_column(sa.Column("turn_count", sa.Integer(), nullable=False, server_default="0"))
        call = sa.table("call", sa.column("id"), sa.column("turn_count"))
        turn = sa.table("turn", sa.column("call_id"), sa.column("seq"))
        last_seq = (
            sa.select(sa.func.coalesce(sa.func.max(turn.c.seq), 0))
            .where(turn.c.call_id == call.c.id)
            .scalar_subquery()
        )
        op.execute(call.update().values(turn_count=last_seq))
        with op.batch_alter_table("call") as batch_op:
            batch_op.alter_column("turn_count", existing_type=sa.Integer(), server_default=None)
    with op.batch_alter_table("call") as batch_op:
        batch_op.create_index(
            "ix_call_open_last_activity_at", ["last_activity_at"],
            postgresql_where=OPEN_CALLS, sqlite_where=OPEN_CALLS,
        )


def downgrade():
    with op.batch_alter_table("call") as batch_op:
        batch_op.drop_index("ix_call_open_last_activity_at")
    # turn_count stays: 4a76dd5a5824 as it is now creates it
