"""PostGIS where the server offers it: the geography column follows the coordinates on every
write path, and spatial filters answered by the database match the portable Python answers."""

import random

import pytest
import sqlalchemy as sa

from narrative.extensions import db
from narrative.records import geo, postgis, service

SQUARE = {
    "type": "Polygon",
    "coordinates": [[[2.0, 48.0], [3.0, 48.0], [3.0, 49.0], [2.0, 49.0], [2.0, 48.0]]],
}
LINE = {"type": "LineString", "coordinates": [[13.3, 52.5], [13.5, 52.55], [13.7, 52.5]]}


def offers_postgis():
    bind = db.session.get_bind()
    if bind.dialect.name != "postgresql":
        return False
    return db.session.execute(sa.text("SELECT 1 FROM pg_available_extensions WHERE name = 'postgis'")).first()


@pytest.fixture
def points(owner, workspace):
    recordset = service.create_recordset(
        workspace_id=workspace.id,
        user_id=owner.id,
        name="Sites",
        fields=[{"name": "Name", "type": "text"}, {"name": "At", "type": "geo_point"}],
    )
    rng = random.Random(3)
    rows = [
        {"name": f"p{i}", "at": {"lat": rng.uniform(47.5, 53.0), "lng": rng.uniform(1.5, 14.0)}}
        for i in range(400)
    ]
    rows.append({"name": "no place"})
    service.create_records_bulk(recordset=recordset, rows=rows, user_id=owner.id)
    db.session.commit()
    return recordset


def test_postgis_is_used_where_the_server_offers_it(app):
    assert postgis.enabled(db.session) == bool(offers_postgis())


def test_geography_follows_coordinates_on_bulk_and_single_writes(points, owner):
    if not postgis.enabled(db.session):
        pytest.skip("this database has no PostGIS")
    located, total = db.session.execute(
        sa.text("SELECT count(geography), count(*) FROM records WHERE recordset_id = :id"),
        {"id": points.id},
    ).one()
    assert (located, total) == (400, 401)
    record = service.create_record(
        recordset=points, values={"name": "moved", "at": {"lat": 48.85, "lng": 2.35}}, user_id=owner.id
    )
    service.update_record(record, values={"at": {"lat": 45.76, "lng": 4.84}}, user_id=owner.id)
    db.session.commit()
    lat, lng = db.session.execute(
        sa.text("SELECT ST_Y(geography::geometry), ST_X(geography::geometry) FROM records WHERE id = :id"),
        {"id": record.id},
    ).one()
    assert (round(lat, 6), round(lng, 6)) == (45.76, 4.84)


@pytest.mark.parametrize(
    ("geometry", "meters"),
    [
        ({"type": "Point", "coordinates": [2.35, 48.85]}, 150_000),
        ({"type": "Point", "coordinates": [8.0, 50.0]}, 80_000),
        (SQUARE, 0),
        (SQUARE, 25_000),
        (LINE, 40_000),
    ],
)
def test_database_and_python_agree(points, geometry, meters):
    if not postgis.enabled(db.session):
        pytest.skip("this database has no PostGIS")
    in_database = geo._matches_in_database(points, geometry, meters)
    in_python = geo._matches_in_python(points, geometry, meters)
    assert in_database is not None and len(in_python) > 0
    # Both measure on the same sphere; only a point within a few metres of the edge may differ.
    assert len(in_database ^ in_python) <= 1


def test_a_geometry_nobody_can_read_matches_nothing(points):
    unknown = {"type": "Curve", "coordinates": [[2.35, 48.85], [2.4, 48.9]]}
    assert geo._matches_in_python(points, unknown, 1000) == set()
    if postgis.enabled(db.session):
        assert geo._matches_in_database(points, unknown, 1000) is None
    assert db.session.execute(sa.text("SELECT 1")).scalar() == 1  # the transaction is still usable
