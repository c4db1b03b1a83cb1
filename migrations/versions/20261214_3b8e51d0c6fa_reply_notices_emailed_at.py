"""reply notices remember when the ticket's latest unseen-reply email was queued (at most one per ticket
every 10 minutes: the shop's address is nobody's relay)

Revision ID: 3b8e51d0c6fa
Revises: 9d2f6c1b7e4a
Create Date: 2026-12-14 09:00:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '3b8e51d0c6fa'
down_revision: Union[str, None] = '9d2f6c1b7e4a'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('reply_notices') as batch:
        batch.add_column(sa.Column('emailed_at', sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('reply_notices') as batch:
        batch.drop_column('emailed_at')
