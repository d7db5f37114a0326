"""records: drop the unused GIN index on values

No query uses whole-document containment on `records.values` (filters read one field with
`->>`), and maintaining the index made record writes and imports about 2.5 times slower.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-23 17:50:00

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('records', schema=None) as batch_op:
        batch_op.drop_index('ix_records_values_gin', postgresql_using='gin')


def downgrade():
    with op.batch_alter_table('records', schema=None) as batch_op:
        batch_op.create_index('ix_records_values_gin', ['values'], unique=False, postgresql_using='gin')
