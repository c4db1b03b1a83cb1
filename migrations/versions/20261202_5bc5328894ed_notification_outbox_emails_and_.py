"""notification outbox (emails with an optional attachment) and warehouse orders (approved reshipments)

Revision ID: 5bc5328894ed
Revises: c13a0a1e5ec0
Create Date: 2026-12-02 15:30:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '5bc5328894ed'
down_revision: Union[str, None] = 'c13a0a1e5ec0'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table('emails',
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(), nullable=False),
    sa.Column('delivered_at', sa.DateTime(), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('idempotency_key', sa.String(length=160), nullable=False),
    sa.Column('recipient', sa.String(length=254), nullable=False),
    sa.Column('subject', sa.String(length=200), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('attachment', sa.LargeBinary(), nullable=True),
    sa.Column('attachment_name', sa.String(length=120), nullable=True),
    sa.Column('attachment_type', sa.String(length=80), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('idempotency_key')
    )
    with op.batch_alter_table('emails', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_emails_delivered_at'), ['delivered_at'], unique=False)

    op.create_table('warehouse_orders',
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(), nullable=False),
    sa.Column('delivered_at', sa.DateTime(), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('decision_id', sa.Integer(), nullable=False),
    sa.Column('idempotency_key', sa.String(length=160), nullable=False),
    sa.Column('payload', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('carrier', sa.String(length=60), nullable=True),
    sa.Column('tracking_number', sa.String(length=60), nullable=True),
    sa.ForeignKeyConstraint(['decision_id'], ['decisions.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('decision_id'),
    sa.UniqueConstraint('idempotency_key')
    )
    with op.batch_alter_table('warehouse_orders', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_warehouse_orders_delivered_at'), ['delivered_at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('warehouse_orders', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_warehouse_orders_delivered_at'))

    op.drop_table('warehouse_orders')
    with op.batch_alter_table('emails', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_emails_delivered_at'))

    op.drop_table('emails')
