"""attempt_frames.client_seq as BIGINT (a signed 64-bit seq fits on PostgreSQL too)

Revision ID: 7c3e9a41d2f0
Revises: 0004_oidc
Create Date: 2026-12-01 13:30:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '7c3e9a41d2f0'
down_revision = '0004_oidc'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('attempt_frames', schema=None) as batch_op:
        batch_op.alter_column('client_seq', existing_type=sa.Integer(), type_=sa.BigInteger(), existing_nullable=True)


def downgrade():
    with op.batch_alter_table('attempt_frames', schema=None) as batch_op:
        batch_op.alter_column('client_seq', existing_type=sa.BigInteger(), type_=sa.Integer(), existing_nullable=True)
