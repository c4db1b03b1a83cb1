"""security hardening: verification attempts, web sessions, desk form keys, decision ticket, ticket client

Revision ID: c13a0a1e5ec0
Revises: 73e45638a163
Create Date: 2026-12-02 06:30:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = 'c13a0a1e5ec0'
down_revision: Union[str, None] = '73e45638a163'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table('verification_attempts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('order_number', sa.String(length=16), nullable=False),
    sa.Column('client', sa.String(length=128), nullable=False),
    sa.Column('conversation_id', sa.String(length=128), nullable=True),
    sa.Column('channel', sa.String(length=40), nullable=True),
    sa.Column('outcome', sa.String(length=10), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_verification_attempts_order_number'), 'verification_attempts', ['order_number'], unique=False)
    op.create_index(op.f('ix_verification_attempts_client'), 'verification_attempts', ['client'], unique=False)
    op.create_index(op.f('ix_verification_attempts_created_at'), 'verification_attempts', ['created_at'], unique=False)
    op.create_table('web_sessions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('sender', sa.String(length=64), nullable=False),
    sa.Column('client', sa.String(length=128), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('last_seen_at', sa.DateTime(), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=False),
    sa.Column('revoked_at', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('sender'),
    sa.UniqueConstraint('token_hash')
    )
    op.create_table('desk_form_keys',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('ticket_id', sa.Integer(), nullable=False),
    sa.Column('agent_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('used_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['agent_id'], ['agents.id'], ),
    sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('key')
    )
    op.create_index(op.f('ix_desk_form_keys_ticket_id'), 'desk_form_keys', ['ticket_id'], unique=False)
    with op.batch_alter_table('decisions') as batch:
        batch.add_column(sa.Column('ticket_id', sa.Integer(), nullable=True))
        batch.create_index(batch.f('ix_decisions_ticket_id'), ['ticket_id'], unique=False)
        batch.create_foreign_key('fk_decisions_ticket_id_tickets', 'tickets', ['ticket_id'], ['id'])
    with op.batch_alter_table('tickets') as batch:
        batch.add_column(sa.Column('client', sa.String(length=128), nullable=True))
        batch.create_index(batch.f('ix_tickets_client'), ['client'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('tickets') as batch:
        batch.drop_index(batch.f('ix_tickets_client'))
        batch.drop_column('client')
    with op.batch_alter_table('decisions') as batch:
        batch.drop_constraint('fk_decisions_ticket_id_tickets', type_='foreignkey')
        batch.drop_index(batch.f('ix_decisions_ticket_id'))
        batch.drop_column('ticket_id')
    op.drop_index(op.f('ix_desk_form_keys_ticket_id'), table_name='desk_form_keys')
    op.drop_table('desk_form_keys')
    op.drop_table('web_sessions')
    op.drop_index(op.f('ix_verification_attempts_created_at'), table_name='verification_attempts')
    op.drop_index(op.f('ix_verification_attempts_client'), table_name='verification_attempts')
    op.drop_index(op.f('ix_verification_attempts_order_number'), table_name='verification_attempts')
    op.drop_table('verification_attempts')
