"""call.number_asked and call.callback_number: a number to call back a caller who has neither email nor caller id

A caller with a withheld number who has no email address to give is asked for a phone number; the one they give
(E.164) is the ticket's and the Kayako requester's phone. Existing calls were never asked (false, NULL).

Revision ID: f3c8a5e1b742
Revises: e7b4d2a6c915
Create Date: 2026-12-07 03:50:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'f3c8a5e1b742'
down_revision = 'e7b4d2a6c915'
branch_labels = None
depends_on = None


def upgrade():
    # plain ADD COLUMNs on both databases; SQLite's batch mode would copy the table and lose the lower(email)
    # expression index
    op.add_column("call", sa.Column("number_asked", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.add_column("call", sa.Column("callback_number", sa.String(length=32), nullable=True))


def downgrade():
    op.drop_column("call", "callback_number")  # SQLite 3.35+ drops a column in place
    op.drop_column("call", "number_asked")
