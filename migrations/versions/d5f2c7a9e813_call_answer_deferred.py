"""call.answer_deferred: the caller put off saying whether the last answer helped

"I'll try that later" at "Did that solve your issue?" is neither a yes nor a no: the call goes on to "anything
else?" and the ticket says the answer is still to be tried. Existing calls never deferred one (false).

Revision ID: d5f2c7a9e813
Revises: b3e8a1c52d07
Create Date: 2026-12-06 22:20:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'd5f2c7a9e813'
down_revision = 'b3e8a1c52d07'
branch_labels = None
depends_on = None


def upgrade():
    # a plain ADD COLUMN on both databases (its default fills the existing rows); SQLite's batch mode would copy the
    # table and lose the lower(email) expression index
    op.add_column("call", sa.Column("answer_deferred", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade():
    op.drop_column("call", "answer_deferred")  # SQLite 3.35+ drops a column in place
