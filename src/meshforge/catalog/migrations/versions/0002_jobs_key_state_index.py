"""jobs: index on (key_id, state)

Every submission counts its key's queued and running jobs (the active-job quota). On
(key_id, created_at) that count reads every job the key ever had; on (key_id, state) it reads
only the active ones, from the index alone.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-07 21:40:00

"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.create_index("ix_jobs_key_state", ["key_id", "state"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_index("ix_jobs_key_state")
