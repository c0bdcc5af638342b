"""call.next_question: a second question said with the first, answered after it

"How do I reset my password, and how do I export my cases?" asks two things two help-center articles answer: the
first is answered, the second kept here and answered once the caller says whether the first helped. Existing calls
have none (NULL).

Revision ID: e7b4d2a6c915
Revises: d5f2c7a9e813
Create Date: 2026-12-07 03:40:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'e7b4d2a6c915'
down_revision = 'd5f2c7a9e813'
branch_labels = None
depends_on = None


def upgrade():
    # a plain ADD COLUMN on both databases; SQLite's batch mode would copy the table and lose the lower(email)
    # expression index
    op.add_column("call", sa.Column("next_question", sa.Text(), nullable=True))


def downgrade():
    op.drop_column("call", "next_question")  # SQLite 3.35+ drops a column in place
