"""security and privacy: device ids and face-frame counts on attempts, consent records

Revision ID: 0003_security
Revises: 266b6c07dc31
Create Date: 2026-12-01 12:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0003_security'
down_revision = '266b6c07dc31'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'consents',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('text', sa.Text(), nullable=False),
        sa.Column('text_sha256', sa.String(length=64), nullable=False),
        sa.Column('recorded_by', sa.String(length=64), nullable=False),
        sa.Column('given_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('consents', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_consents_user_id'), ['user_id'], unique=False)

    with op.batch_alter_table('login_attempts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('device_id', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('face_frames', sa.Integer(), nullable=False, server_default='0'))
        batch_op.create_index(batch_op.f('ix_login_attempts_device_id'), ['device_id'], unique=False)
    # Existing attempts that received frames keep counting as judged (the exact count is in
    # their progress JSON; one is enough for the throttle's "saw a face" rule).
    op.execute("UPDATE login_attempts SET face_frames = 1 WHERE frames_received > 0")
    with op.batch_alter_table('login_attempts', schema=None) as batch_op:
        batch_op.alter_column('face_frames', server_default=None)


def downgrade():
    with op.batch_alter_table('login_attempts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_login_attempts_device_id'))
        batch_op.drop_column('face_frames')
        batch_op.drop_column('device_id')

    with op.batch_alter_table('consents', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_consents_user_id'))

    op.drop_table('consents')
