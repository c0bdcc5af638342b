"""indexes for the admin calls search: lower(email) and from_number

The admin calls search (admin.views._search_clause) read every call for every query, twice (the
page and its count): 0.6-1.3 s at 100,000 calls. A whole email address is now matched with
lower(email) = :q and a phone number written with its country code by a prefix of from_number;
these two indexes serve them (a CallSid prefix uses the unique index on call_sid). Each builds
in well under a second at 100,000 calls; on PostgreSQL, CREATE INDEX blocks writes to call
meanwhile, so a much larger database may rather build them CONCURRENTLY by hand first.

Revision ID: b3e8a1c52d07
Revises: 7c1e2b9d4f30
Create Date: 2026-11-22 08:30:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b3e8a1c52d07'
down_revision = '7c1e2b9d4f30'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index("ix_call_lower_email", "call", [sa.text("lower(email)")])
    op.create_index("ix_call_from_number", "call", ["from_number"])


def downgrade():
    op.drop_index("ix_call_from_number", table_name="call")
    op.drop_index("ix_call_lower_email", table_name="call")
