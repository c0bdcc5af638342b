"""call.number_attempts: read-backs of a callback number the caller rejected

A number given to call back on is now read back to be confirmed, as an address is; after 3 rejected read-backs the
call goes on without one. Existing calls rejected none (0).

Revision ID: a4d9e6b2c170
Revises: f3c8a5e1b742
Create Date: 2026-12-07 05:40:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'a4d9e6b2c170'
down_revision = 'f3c8a5e1b742'
branch_labels = None
depends_on = None


def upgrade():
    # a plain ADD COLUMN on both databases; SQLite's batch mode would copy the table and lose the lower(email)
    # expression index
    op.add_column("call", sa.Column("number_attempts", sa.Integer(), nullable=False, server_default="0"))


def downgrade():
    op.drop_column("call", "number_attempts")  # SQLite 3.35+ drops a column in place
