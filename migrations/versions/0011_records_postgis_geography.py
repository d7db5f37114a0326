"""records: a PostGIS geography column generated from latitude/longitude, where the server has PostGIS

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-23 17:45:00

"""
from alembic import op

from narrative.records import postgis

# revision identifiers, used by Alembic.
revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade():
    postgis.install(op.get_bind())


def downgrade():
    postgis.uninstall(op.get_bind())
