"""Records on a map: coordinates kept in Record.latitude/longitude (indexed with the recordset;
the portable geometry; with PostGIS also a geography column, see narrative.records.postgis), the
NDJSON map stream, spatial filters between recordsets, and the job that backfills coordinates
after the GIS mapping changes.

Geometries: a record is a Point at (latitude, longitude); a recordset whose settings["gis"] names
a ``geometry_field`` (a json field holding a GeoJSON geometry) also has polygons or lines.
"""

import itertools
import json
import math
import uuid

import sqlalchemy as sa

from narrative.extensions import db
from narrative.platform.errors import ValidationFailed
from narrative.platform.jobs import current_progress
from narrative.platform.models import utcnow
from narrative.records import postgis
from narrative.records.models import ACTIVE, Record, Recordset

EARTH_RADIUS_M = 6_371_008.8
BACKFILL_BATCH = 1000


def parse_bbox(text):
    """(min_lng, min_lat, max_lng, max_lat) from "min_lng,min_lat,max_lng,max_lat"."""
    try:
        parts = [float(part) for part in str(text).split(",")]
    except ValueError:
        parts = []
    if len(parts) != 4 or parts[0] > parts[2] or parts[1] > parts[3]:
        raise ValidationFailed(
            "bbox is min_lng,min_lat,max_lng,max_lat.",
            details=[{"field": "bbox", "message": "min_lng,min_lat,max_lng,max_lat"}],
        )
    return parts


def geometry_field(recordset):
    return ((recordset.settings or {}).get("gis") or {}).get("geometry_field")


def geometry_of(recordset, record):
    """The record's GeoJSON geometry, or None."""
    key = geometry_field(recordset)
    if key:
        value = (record.values or {}).get(key)
        if isinstance(value, dict) and value.get("type") and value.get("coordinates") is not None:
            return value
    if record.latitude is not None and record.longitude is not None:
        return {"type": "Point", "coordinates": [record.longitude, record.latitude]}
    return None


def map_features(recordset, stmt, *, fields=None, geometry_types=None, limit=None):
    """Yield NDJSON lines for the records of `stmt` that have a geometry, then the __meta__ line."""
    title_key = recordset.title_field
    count, truncated = 0, False
    wanted = {kind.strip().lower() for kind in geometry_types or [] if kind.strip()}
    for record in db.session.scalars(stmt.execution_options(yield_per=1000)):
        geometry = geometry_of(recordset, record)
        if geometry is None or (wanted and geometry["type"].lower() not in wanted):
            continue
        if limit is not None and count >= limit:
            truncated = True
            break
        feature = {
            "id": str(record.id),
            "geometry": geometry,
            "geometry_type": geometry["type"],
            "title": (record.values or {}).get(title_key) if title_key else None,
        }
        if geometry["type"] == "Point":
            feature["lat"], feature["lng"] = geometry["coordinates"][1], geometry["coordinates"][0]
        for key in fields or []:
            feature[key] = (record.values or {}).get(key)
        count += 1
        yield json.dumps(feature, default=str) + "\n"
    yield json.dumps({"__meta__": {"count": count, "truncated": truncated}}) + "\n"


# --- distance and containment (spherical; metres) --------------------------------------------------


def haversine_m(lat1, lng1, lat2, lng2):
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lng2 - lng1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(min(1.0, a)))


def _point_in_ring(lng, lat, ring):
    inside = False
    for (x1, y1), (x2, y2) in zip(ring, ring[1:] + ring[:1], strict=False):
        if (y1 > lat) != (y2 > lat) and lng < (x2 - x1) * (lat - y1) / ((y2 - y1) or 1e-300) + x1:
            inside = not inside
    return inside


def _polygons(geometry):
    if geometry["type"] == "Polygon":
        return [geometry["coordinates"]]
    if geometry["type"] == "MultiPolygon":
        return geometry["coordinates"]
    return []


def _vertices(geometry):
    kind, coordinates = geometry["type"], geometry["coordinates"]
    if kind == "Point":
        return [coordinates]
    if kind in ("LineString", "MultiPoint"):
        return coordinates
    if kind in ("Polygon", "MultiLineString"):
        return [point for ring in coordinates for point in ring]
    if kind == "MultiPolygon":
        return [point for polygon in coordinates for ring in polygon for point in ring]
    return []


def _segment_distance_m(lat, lng, a, b):
    """Distance from a point to segment a-b (lng/lat pairs), on a local equirectangular plane."""
    scale = math.cos(math.radians(lat))
    ax, ay = (a[0] - lng) * scale, a[1] - lat
    bx, by = (b[0] - lng) * scale, b[1] - lat
    dx, dy = bx - ax, by - ay
    length = dx * dx + dy * dy
    t = 0.0 if length == 0 else max(0.0, min(1.0, -(ax * dx + ay * dy) / length))
    px, py = ax + t * dx, ay + t * dy
    return math.radians(math.hypot(px, py)) * EARTH_RADIUS_M


def distance_to_geometry_m(lat, lng, geometry):
    """0 inside a polygon, else the distance to its nearest edge/vertex."""
    for polygon in _polygons(geometry):
        if _point_in_ring(lng, lat, polygon[0]) and not any(
            _point_in_ring(lng, lat, hole) for hole in polygon[1:]
        ):
            return 0.0
    kind, coordinates = geometry["type"], geometry["coordinates"]
    if kind == "Point":
        return haversine_m(lat, lng, coordinates[1], coordinates[0])
    lines = []
    if kind == "LineString":
        lines = [coordinates]
    elif kind in ("MultiLineString", "Polygon"):
        lines = coordinates
    elif kind == "MultiPolygon":
        lines = [ring for polygon in coordinates for ring in polygon]
    elif kind == "MultiPoint":
        return min(haversine_m(lat, lng, point[1], point[0]) for point in coordinates)
    distances = [_segment_distance_m(lat, lng, a, b) for line in lines for a, b in itertools.pairwise(line)]
    return min(distances) if distances else math.inf


def _expanded_box(geometry, buffer_m):
    points = _vertices(geometry)
    lats = [point[1] for point in points]
    lngs = [point[0] for point in points]
    dlat = buffer_m / 111_320.0
    dlng = buffer_m / (111_320.0 * max(0.01, math.cos(math.radians(max(abs(min(lats)), abs(max(lats)))))))
    return min(lats) - dlat, max(lats) + dlat, min(lngs) - dlng, max(lngs) + dlng


def spatial_filter(*, source, target, operation, buffer_meters=None):
    """Ids of `target`'s active records (points) matching `operation` against `source`'s geometries.

    WITHIN_DISTANCE: within buffer_meters (required) of any source geometry. INTERSECTS / WITHIN:
    inside a source polygon, or within buffer_meters of a source geometry. OUTSIDE / DISJOINT: the
    records with coordinates that do not match INTERSECTS. With PostGIS the database answers on
    its geography index; without, candidates come from a bounding-box query on the
    (recordset_id, latitude, longitude) index and the exact test runs in Python.
    """
    if operation == "WITHIN_DISTANCE" and buffer_meters is None:
        raise ValidationFailed(
            "buffer_meters is required for WITHIN_DISTANCE.",
            details=[{"field": "buffer_meters", "message": "required"}],
        )
    buffer_m = buffer_meters or 0.0
    sources = [
        geometry
        for record in db.session.scalars(
            sa.select(Record).where(Record.recordset_id == source.id, Record.status == ACTIVE)
        )
        if (geometry := geometry_of(source, record)) is not None
    ]
    in_database = postgis.enabled(db.session)
    matched = set()
    for geometry in sources:
        found = _matches_in_database(target, geometry, buffer_m) if in_database else None
        matched.update(found if found is not None else _matches_in_python(target, geometry, buffer_m))
    if operation in ("OUTSIDE", "DISJOINT"):
        located = db.session.scalars(
            sa.select(Record.id).where(
                Record.recordset_id == target.id, Record.status == ACTIVE, Record.latitude.is_not(None)
            )
        )
        return sorted(set(located) - matched)
    return sorted(matched)


def _matches_in_database(target, geometry, buffer_m):
    """Ids of `target`'s active records within buffer_m of `geometry`, by PostGIS on its GiST
    index; None when PostGIS refuses the geometry (then Python judges it, as without PostGIS)."""
    query = sa.select(Record.id).where(
        Record.recordset_id == target.id,
        Record.status == ACTIVE,
        postgis.within_distance(geometry, buffer_m),
    )
    try:
        with db.session.begin_nested():
            return set(db.session.scalars(query))
    except sa.exc.DBAPIError:
        return None


def _matches_in_python(target, geometry, buffer_m):
    """The same answer without PostGIS: bounding-box candidates from the (recordset_id,
    latitude, longitude) index, then the exact distance in Python. A geometry that cannot be read
    (unknown type, malformed coordinates) matches nothing."""
    try:
        south, north, west, east = _expanded_box(geometry, buffer_m)
    except (TypeError, ValueError, IndexError, KeyError):
        return set()
    candidates = db.session.execute(
        sa.select(Record.id, Record.latitude, Record.longitude).where(
            Record.recordset_id == target.id,
            Record.status == ACTIVE,
            Record.latitude.between(south, north),
            Record.longitude.between(west, east),
        )
    )
    return {
        record_id
        for record_id, lat, lng in candidates
        if distance_to_geometry_m(lat, lng, geometry) <= buffer_m
    }


# --- coordinates from values ---------------------------------------------------------------------


def resync_coordinates(recordset, *, report=None):
    """Recompute latitude/longitude of every record from its values (GIS mapping), in batches of
    Core UPDATEs; returns how many records changed."""
    from narrative.records.service import coordinates_of

    total = db.session.scalar(
        sa.select(sa.func.count()).select_from(Record).where(Record.recordset_id == recordset.id)
    )
    changed, seen, last_id = 0, 0, None
    while True:
        stmt = sa.select(Record.id, Record.values, Record.latitude, Record.longitude).where(
            Record.recordset_id == recordset.id
        )
        if last_id is not None:
            stmt = stmt.where(Record.id > last_id)
        batch = db.session.execute(stmt.order_by(Record.id).limit(BACKFILL_BATCH)).all()
        if not batch:
            break
        updates = []
        for row in batch:
            lat, lng = coordinates_of(recordset, row.values or {})
            if (lat, lng) != (row.latitude, row.longitude):
                updates.append({"id": row.id, "latitude": lat, "longitude": lng})
        if updates:
            # ORM bulk UPDATE by primary key: one executemany per batch.
            db.session.execute(sa.update(Record), updates)
        changed += len(updates)
        seen += len(batch)
        last_id = batch[-1].id
        if report is not None:
            report(seen, total)
    return changed


def backfill_coordinates_job(recordset_id):
    """RQ job behind enable-map: walk the recordset's records and store their coordinates."""
    progress = current_progress()
    recordset = db.session.get(Recordset, uuid.UUID(str(recordset_id)))

    def report(seen, total):
        # A checkpoint per batch: a restarted job redoes at most one batch.
        progress.checkpoint(
            progress=int(seen * 100 / max(total, 1)), step="backfill", message=f"{seen} of {total} records"
        )
        progress.check_cancelled()

    changed = resync_coordinates(recordset, report=report)
    settings = dict(recordset.settings or {})
    settings["gis_backfilled_at"] = utcnow().isoformat()
    recordset.settings = settings
    return {"updated": changed}
