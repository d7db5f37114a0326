"""Recordsets and records: create, change and delete them, validate values against the field
specs, write the history of every change and emit the domain events, all in the caller's unit
of work (the request's or the job's; nothing here commits).

Every function is keyword-only after the object it works on. The import helper's entry points:
``create_recordset``, ``add_field``, ``validate_values``, ``create_record``,
``create_records_bulk`` (fast path: one multi-row INSERT per batch for records and history),
``update_record`` and ``query_records`` (narrative.records.filters).
"""

import re
import uuid

import sqlalchemy as sa

from narrative.extensions import db
from narrative.identity.models import Member
from narrative.platform.errors import Conflict, NotFound, ValidationFailed
from narrative.platform.events import emit
from narrative.platform.models import new_id, parse_uuid, utcnow
from narrative.platform.tenancy import get_or_404, resolve_reference
from narrative.records import (
    bulk_writer,
    events,  # noqa: F401  (registers the event types)
)
from narrative.records.fields import (
    REFERENCE_TYPES,
    FieldError,
    References,
    compile_normaliser,
    json_encoder,
    normalise_spec,
    normalise_specs,
    normalise_value,
)
from narrative.records.filters import query_records  # noqa: F401  (re-exported: the pinned name)
from narrative.records.models import (
    ACTIVE,
    DELETED,
    Record,
    RecordHistory,
    Recordset,
    RecordView,
)

BULK_BATCH_SIZE = 1000


def _details(errors):
    return [{"field": item["field"], "message": item["message"]} for item in errors]


# --- recordsets ----------------------------------------------------------------------------------


def _slug_from(name):
    slug = re.sub(r"[^a-z0-9]+", "-", str(name).lower()).strip("-")[:100]
    return slug or "recordset"


def _unique_slug(workspace_id, base):
    taken = set(
        db.session.scalars(
            sa.select(Recordset.slug).where(
                Recordset.workspace_id == workspace_id, Recordset.slug.like(f"{base}%")
            )
        )
    )
    if base not in taken:
        return base
    number = 2
    while f"{base}-{number}" in taken:
        number += 1
    return f"{base}-{number}"


def _checked_specs(fields):
    try:
        specs = normalise_specs(fields)
    except FieldError as exc:
        raise ValidationFailed(str(exc), details=[{"field": "fields", "message": str(exc)}]) from None
    for spec in specs:
        _check_relation_target(spec)
    return specs


def _check_relation_target(spec):
    """A relation field links records of a recordset of this workspace (422 otherwise)."""
    if spec["type"] == "relation":
        resolve_reference(
            Recordset, spec["options"]["recordset_id"], field=f"fields.{spec['key']}.recordset_id"
        )


def checked_member_user(user_id, *, field):
    """A user id a client names (an owner, a participant) as a UUID, when that user is a member of
    the workspace in scope; 422 naming `field` for anyone else (another workspace's user, an
    unknown or malformed id). None passes through."""
    if user_id is None:
        return None
    parsed = parse_uuid(user_id)
    member = parsed and db.session.scalar(
        sa.select(Member.id).where(Member.user_id == parsed, Member.status != "deactivated")
    )
    if not member:
        raise ValidationFailed(
            details=[{"field": field, "message": f"User {user_id} is not a member of this workspace."}]
        )
    return parsed


def recordset_payload(recordset):
    return {"id": str(recordset.id), "slug": recordset.slug, "name": recordset.name}


def create_recordset(
    *,
    workspace_id,
    user_id,
    name,
    fields=(),
    slug=None,
    icon=None,
    description=None,
    type="standard",
    title_field=None,
    settings=None,
    pipeline_id=None,
):
    """A new recordset owned by `user_id` with a default grid view. The slug is generated from the
    name when absent (a taken slug gets -2, -3...); a slug given explicitly must be free (409)."""
    if slug:
        slug = _slug_from(slug)
        if db.session.scalar(
            sa.select(Recordset.id).where(Recordset.workspace_id == workspace_id, Recordset.slug == slug)
        ):
            raise Conflict(f"A recordset with the slug {slug!r} already exists.", code="slug_taken")
    else:
        slug = _unique_slug(workspace_id, _slug_from(name))
    specs = _checked_specs(fields)
    recordset = Recordset(
        id=new_id(),
        workspace_id=workspace_id,
        slug=slug,
        name=name,
        icon=icon,
        description=description,
        type=type or "standard",
        fields=specs,
        title_field=title_field or next((s["key"] for s in specs if s["type"] == "text"), None),
        settings=settings or {},
        pipeline_id=pipeline_id,
        owner_id=user_id,
        created_by_id=user_id,
    )
    db.session.add(recordset)
    # A race for the slug that the checks above lost: the unique constraint refuses it (409).
    db.session.flush()
    view = RecordView(
        workspace_id=workspace_id,
        recordset_id=recordset.id,
        name="All records",
        is_default=True,
        created_by_id=user_id,
    )
    db.session.add(view)
    db.session.flush()
    recordset.default_view_id = view.id
    emit(
        "recordset.created",
        {**recordset_payload(recordset), "fields": specs},
        workspace_id=workspace_id,
        actor_id=user_id,
    )
    return recordset


UPDATABLE_RECORDSET_ATTRIBUTES = (
    "name",
    "icon",
    "description",
    "type",
    "title_field",
    "settings",
    "pipeline_id",
    "default_view_id",
    "is_active",
    "owner_id",
)


def update_recordset(recordset, *, user_id, changes):
    """Change a recordset's attributes (never its slug). `fields` in `changes` replaces the field
    list: fields matched by key are changed through `update_field` (data migrated), new keys are
    added, missing keys removed."""
    if changes.get("default_view_id"):
        view = resolve_reference(RecordView, changes["default_view_id"], field="default_view_id")
        if view.recordset_id != recordset.id:
            raise ValidationFailed(
                "The default view must be a view of this recordset.",
                details=[{"field": "default_view_id", "message": "is a view of another recordset"}],
            )
    if changes.get("owner_id"):
        changes = {**changes, "owner_id": checked_member_user(changes["owner_id"], field="owner_id")}
    changed = {}
    for name in UPDATABLE_RECORDSET_ATTRIBUTES:
        if name in changes and getattr(recordset, name) != changes[name]:
            changed[name] = {"old": _jsonable(getattr(recordset, name)), "new": _jsonable(changes[name])}
            setattr(recordset, name, changes[name])
    if "fields" in changes and changes["fields"] is not None:
        changed.update(_replace_fields(recordset, changes["fields"], user_id=user_id))
    if changed:
        recordset.updated_at = utcnow()
        emit(
            "recordset.updated",
            {**recordset_payload(recordset), "changes": changed},
            workspace_id=recordset.workspace_id,
            actor_id=user_id,
        )
    return recordset


def _jsonable(value):
    return str(value) if isinstance(value, uuid.UUID) else value


def _replace_fields(recordset, fields, *, user_id):
    wanted = _checked_specs(fields)
    current = {spec["key"]: spec for spec in recordset.fields}
    for spec in wanted:
        if spec["key"] in current and spec != current[spec["key"]]:
            update_field(recordset, key=spec["key"], changes=spec, user_id=user_id, emit_event=False)
    recordset.fields = wanted
    return {"fields": {"old": list(current), "new": [spec["key"] for spec in wanted]}}


def add_field(recordset, *, spec, user_id=None, position=None):
    """Add one field (existing records simply have no value for it). Returns the stored spec."""
    try:
        field = normalise_spec(spec, existing_keys={item["key"] for item in recordset.fields})
    except FieldError as exc:
        raise ValidationFailed(str(exc), details=[{"field": "fields", "message": str(exc)}]) from None
    _check_relation_target(field)
    fields = list(recordset.fields)
    fields.insert(len(fields) if position is None else position, field)
    recordset.fields = fields
    recordset.updated_at = utcnow()
    emit(
        "recordset.updated",
        {**recordset_payload(recordset), "changes": {"fields": {"added": field}}},
        workspace_id=recordset.workspace_id,
        actor_id=user_id,
    )
    return field


def remove_field(recordset, *, key, user_id=None):
    """Drop a field from the schema; the values stay in the records (and their history) untouched,
    so adding the field back with the same key brings them back."""
    if recordset.field(key) is None:
        raise NotFound(f"The recordset has no field {key!r}.")
    recordset.fields = [spec for spec in recordset.fields if spec["key"] != key]
    emit(
        "recordset.updated",
        {**recordset_payload(recordset), "changes": {"fields": {"removed": key}}},
        workspace_id=recordset.workspace_id,
        actor_id=user_id,
    )


def update_field(recordset, *, key, changes, user_id=None, force=False, emit_event=True):
    """Change a field and migrate the data: a new name keeps the values; a new key moves them; a
    new type converts every stored value. Values that cannot be converted are reported as a 422
    listing them (record id, value, reason) unless `force`, which clears them. Returns a report
    {"converted": n, "cleared": [...], "field": spec}."""
    old = recordset.field(key)
    if old is None:
        raise NotFound(f"The recordset has no field {key!r}.")
    others = {spec["key"] for spec in recordset.fields if spec["key"] != key}
    try:
        new = normalise_spec({**old, **changes}, existing_keys=others)
    except FieldError as exc:
        raise ValidationFailed(str(exc), details=[{"field": key, "message": str(exc)}]) from None
    _check_relation_target(new)
    report = {"converted": 0, "cleared": [], "field": new}
    needs_migration = (
        new["key"] != old["key"] or new["type"] != old["type"] or new["options"] != old["options"]
    )
    if needs_migration:
        report = _migrate_values(recordset, old, new, user_id=user_id, force=force) | {"field": new}
    recordset.fields = [new if spec["key"] == key else spec for spec in recordset.fields]
    if recordset.title_field == key:
        recordset.title_field = new["key"]
    recordset.updated_at = utcnow()
    if emit_event:
        emit(
            "recordset.updated",
            {**recordset_payload(recordset), "changes": {"fields": {"changed": key, "old": old, "new": new}}},
            workspace_id=recordset.workspace_id,
            actor_id=user_id,
        )
    return report


def _migrate_values(recordset, old, new, *, user_id, force):
    key_old, key_new = old["key"], new["key"]
    records = db.session.scalars(
        sa.select(Record).where(Record.recordset_id == recordset.id, Record.values.is_not(None))
    ).all()
    references = References(recordset.workspace_id)
    planned, failures = [], []
    for record in records:
        if key_old not in (record.values or {}):
            continue
        value = record.values[key_old]
        try:
            converted = (
                normalise_value(new, value)
                if new["type"] != old["type"] or new["options"] != old["options"]
                else value
            )
            references.collect(new, converted)
            planned.append((record, value, converted))
        except FieldError as exc:
            failures.append(
                {"record_id": str(record.id), "field": key_old, "value": value, "message": str(exc)}
            )
            planned.append((record, value, None))
    references.resolve()
    checked = []
    for record, value, converted in planned:
        try:
            converted = references.check(new, converted)
        except FieldError as exc:
            failures.append(
                {"record_id": str(record.id), "field": key_old, "value": value, "message": str(exc)}
            )
            converted = None
        checked.append((record, value, converted))
    if failures and not force:
        raise ValidationFailed(
            f"{len(failures)} value(s) of {old['name']!r} cannot be converted to {new['type']}; "
            "fix them or repeat with force to clear them.",
            code="conversion_failed",
            details=[
                {"field": f"{item['record_id']}", "message": f"{item['value']!r}: {item['message']}"}
                for item in failures[:100]
            ],
            extra={"failures": failures[:100], "failed_count": len(failures)},
        )
    now = utcnow()
    for record, value, converted in checked:
        values = dict(record.values)
        values.pop(key_old, None)
        if converted is not None:
            values[key_new] = converted
        if values == record.values:
            continue
        changes = {}
        if key_new != key_old:
            changes[key_old] = {"old": value, "new": None}
        changes[key_new] = {"old": value if key_new == key_old else None, "new": converted}
        record.values = values
        record.version += 1
        record.updated_at = now
        db.session.add(_history(record, action="migrated", changes=changes, user_id=user_id, at=now))
    return {"converted": len(checked) - len(failures), "cleared": failures}


def trash_recordset(recordset, *, user_id):
    recordset.is_active = False
    recordset.deleted_at = utcnow()
    emit(
        "recordset.deleted",
        {**recordset_payload(recordset), "permanent": False},
        workspace_id=recordset.workspace_id,
        actor_id=user_id,
    )


def restore_recordset(recordset, *, user_id):
    recordset.is_active = True
    recordset.deleted_at = None
    emit(
        "recordset.updated",
        {**recordset_payload(recordset), "changes": {"restored": True}},
        workspace_id=recordset.workspace_id,
        actor_id=user_id,
    )


def delete_recordset_permanently(recordset, *, user_id):
    """Remove the recordset with its records, views, history and grants (database cascades)."""
    payload = {**recordset_payload(recordset), "permanent": True}
    workspace_id = recordset.workspace_id
    record_ids = sa.select(Record.id).where(Record.recordset_id == recordset.id)
    # Bulk deletes: the ORM would load every record; ON DELETE CASCADE needs PRAGMA foreign_keys
    # on SQLite, so dependent rows are removed explicitly.
    from narrative.records.models import RecordAttachment, RecordComment, RecordRelationship, RecordsetGrant
    from narrative.records.tracking.service import remove_tracking_of_recordset

    remove_tracking_of_recordset(recordset)
    for model, column in (
        (RecordHistory, RecordHistory.record_id),
        (RecordComment, RecordComment.record_id),
        (RecordAttachment, RecordAttachment.record_id),
    ):
        db.session.execute(sa.delete(model).where(column.in_(record_ids)))
    db.session.execute(
        sa.delete(RecordRelationship).where(
            sa.or_(
                RecordRelationship.source_record_id.in_(record_ids),
                RecordRelationship.target_record_id.in_(record_ids),
            )
        )
    )
    db.session.execute(sa.delete(Record).where(Record.recordset_id == recordset.id))
    db.session.execute(sa.delete(RecordView).where(RecordView.recordset_id == recordset.id))
    db.session.execute(sa.delete(RecordsetGrant).where(RecordsetGrant.recordset_id == recordset.id))
    db.session.delete(recordset)
    emit("recordset.deleted", payload, workspace_id=workspace_id, actor_id=user_id)


def count_records(recordset):
    return db.session.scalar(
        sa.select(sa.func.count())
        .select_from(Record)
        .where(Record.recordset_id == recordset.id, Record.status == ACTIVE)
    )


def sync_record_counts(*, workspace_id):
    """Recompute every recordset's cached record count in one UPDATE; returns how many changed."""
    actual = (
        sa.select(sa.func.count())
        .select_from(Record)
        .where(Record.recordset_id == Recordset.id, Record.status == ACTIVE)
        .scalar_subquery()
    )
    result = db.session.execute(
        sa.update(Recordset)
        .where(Recordset.workspace_id == workspace_id, Recordset.record_count != actual)
        .values(record_count=actual)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount


def _adjust_count(recordset_id, delta):
    db.session.execute(
        sa.update(Recordset)
        .where(Recordset.id == recordset_id)
        .values(record_count=Recordset.record_count + delta)
        .execution_options(synchronize_session=False)
    )


# --- values --------------------------------------------------------------------------------------


def _fields_by_name(recordset):
    """Field lookup by key, then by display name (case-insensitive): imports map columns by name."""
    lookup = {}
    for spec in recordset.fields:
        lookup.setdefault(spec["name"].strip().lower(), spec)
    for spec in recordset.fields:
        lookup[spec["key"]] = spec
    return lookup


def _normalise_row(recordset, values, lookup, *, partial, references):
    clean, errors, given = {}, [], set()
    if not isinstance(values, dict):
        return {}, [{"field": "field_values", "message": "must be an object of field values"}]
    for name, value in values.items():
        spec = lookup.get(name) or lookup.get(str(name).strip().lower())
        if spec is None:
            errors.append({"field": str(name), "message": "is not a field of this recordset"})
            continue
        given.add(spec["key"])
        try:
            clean[spec["key"]] = normalise_value(spec, value)
            if references is not None:
                references.collect(spec, clean[spec["key"]])
        except FieldError as exc:
            errors.append({"field": spec["key"], "message": str(exc)})
    for spec in recordset.fields:
        missing = clean.get(spec["key"]) is None and (not partial or spec["key"] in given)
        if spec["required"] and missing and not any(error["field"] == spec["key"] for error in errors):
            errors.append({"field": spec["key"], "message": "is required"})
    return clean, errors


def _check_references(recordset, clean, errors, references):
    for spec in recordset.fields:
        if clean.get(spec["key"]) is None:
            continue
        try:
            clean[spec["key"]] = references.check(spec, clean[spec["key"]])
        except FieldError as exc:
            errors.append({"field": spec["key"], "message": str(exc)})


def validate_values(recordset, values, *, partial=False):
    """(clean, errors): `values` keyed by field key or name, normalised per type, references
    checked. `errors` is [{field, message}]; `clean` maps keys to stored values (None = clear).
    `partial=True` (updates) checks `required` only for the fields sent."""
    references = References(recordset.workspace_id)
    clean, errors = _normalise_row(
        recordset, values, _fields_by_name(recordset), partial=partial, references=references
    )
    references.resolve()
    _check_references(recordset, clean, errors, references)
    return clean, errors


def _geo_source(recordset):
    """The field that places a record on the map: settings["gis"] mapping, else the first geo_point."""
    gis = (recordset.settings or {}).get("gis") or {}
    if gis.get("point_field"):
        return {"point": gis["point_field"]}
    if gis.get("latitude_field") and gis.get("longitude_field"):
        return {"lat": gis["latitude_field"], "lng": gis["longitude_field"]}
    point = next((spec["key"] for spec in recordset.fields if spec["type"] == "geo_point"), None)
    return {"point": point} if point else {}


def coordinates_of(recordset, values, *, source=None):
    source = _geo_source(recordset) if source is None else source
    if "point" in source:
        point = values.get(source["point"])
        if isinstance(point, dict):
            return point.get("lat"), point.get("lng")
        return None, None
    if "lat" in source:
        lat, lng = values.get(source["lat"]), values.get(source["lng"])
        if (
            isinstance(lat, (int, float))
            and isinstance(lng, (int, float))
            and -90 <= lat <= 90
            and -180 <= lng <= 180
        ):
            return float(lat), float(lng)
    return None, None


# --- records -------------------------------------------------------------------------------------


def record_payload(record):
    return {"id": str(record.id), "recordset_id": str(record.recordset_id), "field_values": record.values}


def _history(record, *, action, changes, user_id, at=None):
    return RecordHistory(
        id=new_id(),
        workspace_id=record.workspace_id,
        record_id=record.id,
        recordset_id=record.recordset_id,
        version=record.version,
        action=action,
        changes=changes,
        values=dict(record.values),
        user_id=user_id,
        created_at=at or utcnow(),
    )


def _raise_invalid(errors):
    raise ValidationFailed("Some field values are not valid.", details=_details(errors))


def _strip_empty(values):
    return {key: value for key, value in values.items() if value is not None}


def create_record(*, recordset, values, user_id, owner_id=None, tags=None, external_id=None):
    """Validate and insert one record, with its first history entry and a record.created event."""
    owner_id = checked_member_user(owner_id, field="owner_id")
    clean, errors = validate_values(recordset, values or {})
    if errors:
        _raise_invalid(errors)
    clean = _strip_empty(clean)
    lat, lng = coordinates_of(recordset, clean)
    record = Record(
        id=new_id(),
        workspace_id=recordset.workspace_id,
        recordset_id=recordset.id,
        values=clean,
        tags=list(tags or []),
        external_id=external_id,
        owner_id=owner_id or user_id,
        created_by_id=user_id,
        updated_by_id=user_id,
        latitude=lat,
        longitude=lng,
        version=1,
    )
    db.session.add(record)
    db.session.flush()
    changes = {key: {"old": None, "new": value} for key, value in clean.items()}
    db.session.add(_history(record, action="created", changes=changes, user_id=user_id))
    _adjust_count(recordset.id, 1)
    emit("record.created", record_payload(record), workspace_id=recordset.workspace_id, actor_id=user_id)
    return record


def update_record(record, *, values, user_id, replace=False, tags=None, owner_id=None, action="updated"):
    """Change a record's values (only the fields sent, or all of them with `replace=True`), append
    a history entry listing each changed field's old and new value, and emit record.updated.
    Nothing changed = no version, no event. Returns the changed fields {key: {old, new}}."""
    recordset = record.recordset
    owner_id = checked_member_user(owner_id, field="owner_id")
    clean, errors = validate_values(recordset, values or {}, partial=not replace)
    if errors:
        _raise_invalid(errors)
    before = dict(record.values or {})
    after = {} if replace else dict(before)
    for key, value in clean.items():
        if value is None:
            after.pop(key, None)
        else:
            after[key] = value
    if replace:
        # Values of fields no longer in the schema are kept: a replace edits what the schema shows.
        known = {spec["key"] for spec in recordset.fields}
        after.update({key: value for key, value in before.items() if key not in known})
    changes = {
        key: {"old": before.get(key), "new": after.get(key)}
        for key in sorted(set(before) | set(after))
        if before.get(key) != after.get(key)
    }
    extra = {}
    if tags is not None and list(tags) != list(record.tags or []):
        extra["tags"] = {"old": record.tags, "new": list(tags)}
        record.tags = list(tags)
    if owner_id is not None and owner_id != record.owner_id:
        extra["owner_id"] = {"old": _jsonable(record.owner_id), "new": _jsonable(owner_id)}
        record.owner_id = owner_id
    if not changes and not extra:
        return {}
    record.values = after
    record.latitude, record.longitude = coordinates_of(recordset, after)
    record.version += 1
    record.updated_by_id = user_id
    record.updated_at = utcnow()
    all_changes = {**changes, **{f"_{key}": value for key, value in extra.items()}}
    db.session.add(_history(record, action=action, changes=all_changes, user_id=user_id))
    emit(
        "record.updated",
        {
            **record_payload(record),
            "changed_fields": sorted(changes),
            "changes": changes,
            **({"attributes": extra} if extra else {}),
        },
        workspace_id=record.workspace_id,
        actor_id=user_id,
    )
    return all_changes


def delete_record(record, *, user_id):
    """Soft delete: status "deleted", a history entry and a record.deleted event."""
    if record.status == DELETED:
        return
    record.status = DELETED
    record.deleted_at = utcnow()
    record.version += 1
    record.updated_by_id = user_id
    db.session.add(
        _history(
            record, action="deleted", changes={"_status": {"old": ACTIVE, "new": DELETED}}, user_id=user_id
        )
    )
    _adjust_count(record.recordset_id, -1)
    emit("record.deleted", record_payload(record), workspace_id=record.workspace_id, actor_id=user_id)


def delete_records(*, recordset, records=None, all_records=False, user_id):
    """Soft-delete many records; with `all_records` every active record of the recordset in bulk
    statements (history rows included). Returns how many were deleted."""
    if not all_records:
        count = 0
        for record in records or []:
            if record.status != DELETED:
                delete_record(record, user_id=user_id)
                count += 1
        return count
    now = utcnow()
    deleted = 0
    while True:
        batch = db.session.execute(
            sa.select(Record.id, Record.version, Record.values)
            .where(Record.recordset_id == recordset.id, Record.status == ACTIVE)
            .limit(BULK_BATCH_SIZE)
        ).all()
        if not batch:
            break
        ids = [row.id for row in batch]
        db.session.execute(
            sa.update(Record)
            .where(Record.id.in_(ids))
            .values(
                status=DELETED,
                deleted_at=now,
                version=Record.version + 1,
                updated_by_id=user_id,
                updated_at=now,
            )
            .execution_options(synchronize_session=False)
        )
        db.session.execute(
            sa.insert(RecordHistory),
            [
                {
                    "id": new_id(),
                    "workspace_id": recordset.workspace_id,
                    "record_id": row.id,
                    "recordset_id": recordset.id,
                    "version": row.version + 1,
                    "action": "deleted",
                    "changes": {"_status": {"old": ACTIVE, "new": DELETED}},
                    "values": row.values,
                    "user_id": user_id,
                    "created_at": now,
                }
                for row in batch
            ],
        )
        for row in batch:
            emit(
                "record.deleted",
                {"id": str(row.id), "recordset_id": str(recordset.id), "field_values": row.values},
                workspace_id=recordset.workspace_id,
                actor_id=user_id,
            )
        deleted += len(batch)
    _adjust_count(recordset.id, -deleted)
    db.session.expire_all()
    return deleted


def restore_version(record, *, history_id, user_id):
    """A new version carrying the values of history entry `history_id` (history is appended to)."""
    entry = get_or_404(RecordHistory, history_id, message="History entry not found.")
    if entry.record_id != record.id:
        raise NotFound("History entry not found.")
    known = {spec["key"] for spec in record.recordset.fields}
    values = {key: entry.values.get(key) for key in known}
    if record.status == DELETED:
        record.status = ACTIVE
        record.deleted_at = None
        _adjust_count(record.recordset_id, 1)
    update_record(record, values=values, user_id=user_id, replace=True, action="restored")
    return record


def create_records_bulk(
    *, recordset, rows, user_id, owner_id=None, batch_size=BULK_BATCH_SIZE, emit_events=False
):
    """Validate every row and insert the valid ones; returns (created_count, errors).

    errors: [{"row": index in `rows` (0-based), "field": key, "message": ...}] — bad rows are
    skipped, never half-inserted. Rows are keyed by field key or name; each batch is turned into
    columns and goes through `create_records_from_columns` (the fast path).
    One record.created event per row only with `emit_events=True` (imports emit a summary event
    of their own instead of flooding the outbox).
    """
    lookup = _fields_by_name(recordset)
    created, errors = 0, []
    for start in range(0, len(rows), batch_size):
        batch = rows[start : start + batch_size]
        columns, shape_errors = _columns_of_rows(batch, lookup)
        batch_created, batch_errors = create_records_from_columns(
            recordset=recordset,
            columns=columns,
            count=len(batch),
            user_id=user_id,
            owner_id=owner_id,
            emit_events=emit_events,
            known_errors=shape_errors,
        )
        created += batch_created
        errors.extend({**error, "row": start + error["row"]} for error in batch_errors)
    return created, errors


def _columns_of_rows(rows, lookup):
    """({field key: [value per row]}, errors) from rows keyed by field key or display name."""
    columns, errors = {}, []
    for index, values in enumerate(rows):
        if not isinstance(values, dict):
            errors.append(
                {"row": index, "field": "field_values", "message": "must be an object of field values"}
            )
            continue
        for name, value in values.items():
            spec = lookup.get(name) or lookup.get(str(name).strip().lower())
            if spec is None:
                errors.append(
                    {"row": index, "field": str(name), "message": "is not a field of this recordset"}
                )
                continue
            column = columns.get(spec["key"])
            if column is None:
                column = columns[spec["key"]] = [None] * len(rows)
            column[index] = value
    return columns, errors


def create_records_from_columns(
    *,
    recordset,
    columns,
    count,
    user_id,
    owner_id=None,
    emit_events=False,
    known_errors=(),
    progress=None,
):
    """Validate `count` rows given as columns ({field key: [raw value per row]}) and insert the
    valid ones with their "created" history entries; returns (created_count, errors) like
    `create_records_bulk` (`row` is the index in the columns).

    Each field's column is normalised by one compiled normaliser (narrative.records.fields),
    references are resolved in one query per kind, and the JSON of each record is assembled from
    per-column JSON text. PostgreSQL receives the rows through COPY, block by block as they are
    validated (the server stores one block while the next is validated), other databases through
    executemany; both in the caller's transaction. `known_errors` (rows already known to be bad,
    e.g. of the wrong shape) are reported first. `progress(rows_done)` is called between blocks
    (job progress reports).
    """
    prepared = prepare_records_from_columns(
        recordset=recordset,
        columns=columns,
        count=count,
        user_id=user_id,
        owner_id=owner_id,
        emit_events=emit_events,
        known_errors=known_errors,
        lazy=True,
    )
    created, errors = write_prepared_records(prepared, progress=progress)
    if emit_events:
        for block in prepared.blocks:
            for record_id, values in zip(block.ids, block.created_values, strict=True):
                emit(
                    "record.created",
                    {
                        "id": str(uuid.UUID(record_id)),
                        "recordset_id": str(recordset.id),
                        "field_values": values,
                    },
                    workspace_id=recordset.workspace_id,
                    actor_id=user_id,
                )
    return created, errors


class PreparedRecords:
    """Rows of a bulk create, validated and encoded, waiting to be written (`write_prepared_records`).

    Preparing needs the database only for reference fields (fields.REFERENCE_TYPES); without
    them, one thread can prepare the next rows while another writes these.
    """

    def __init__(self, context, blocks, count):
        self.context, self.blocks, self.count = context, blocks, count


def prepare_records_from_columns(
    *, recordset, columns, count, user_id, owner_id=None, emit_events=False, known_errors=(), lazy=False
):
    """The validated, encoded rows of `create_records_from_columns`, not yet written.

    `lazy=True` validates block by block while they are written (PostgreSQL without reference
    fields: the server stores one block while the next is validated).
    """
    owner_id = checked_member_user(owner_id, field="owner_id")
    specs = {spec["key"]: spec for spec in recordset.fields}
    known = {}
    for error in known_errors:
        known.setdefault(error["row"], []).append({"field": error["field"], "message": error["message"]})
    postgres = db.session.get_bind().dialect.name == "postgresql"
    # Reference checks query the database, which an open COPY forbids: such rows are validated
    # in one block before writing.
    queries = any(specs[key]["type"] in REFERENCE_TYPES for key in columns)
    size = COPY_BLOCK_ROWS if postgres and not queries else max(count, 1)
    context = _BulkContext(recordset, user_id, owner_id or user_id, specs, list(columns), emit_events)
    blocks = (
        _prepare_block(
            context,
            {key: column[start : start + size] for key, column in columns.items()},
            start,
            min(size, count - start),
            known,
        )
        for start in range(0, count, size)
    )
    if not (lazy and size < count):
        blocks = list(blocks)
    return PreparedRecords(context, blocks, count)


def write_prepared_records(prepared, progress=None):
    """Write prepared rows in the session's transaction; (created_count, errors)."""
    if not prepared.count:
        return 0, []
    prepared.blocks = bulk_writer.write_records(prepared.context, prepared.blocks, prepared.count, progress)
    errors = [error for block in prepared.blocks for error in block.errors]
    created = sum(len(block.ids) for block in prepared.blocks)
    if created:
        _adjust_count(prepared.context.recordset_id, created)
    return created, errors


class _BulkContext:
    """What every block of one bulk insert shares: the recordset, the people, the time, the keys."""

    def __init__(self, recordset, user_id, owner_id, specs, keys, emit_events):
        self.recordset = recordset
        self.workspace_id, self.recordset_id = recordset.workspace_id, recordset.id
        self.user_id, self.owner_id = user_id, owner_id
        self.specs, self.keys, self.emit_events = specs, keys, emit_events
        self.now = utcnow()


class _Block:
    """The valid rows of one block as text (ids, values and changes JSON, coordinates) and the
    errors of its bad rows (`row` counted from the start of the whole insert)."""

    def __init__(self, *, ids, values, changes, latitudes, longitudes, errors, created_values):
        self.ids, self.values, self.changes = ids, values, changes
        self.latitudes, self.longitudes = latitudes, longitudes
        self.errors, self.created_values = errors, created_values


def _prepare_block(context, columns, offset, count, known):
    bad = {row - offset: list(errors) for row, errors in known.items() if offset <= row < offset + count}
    clean = {key: _normalise_column(context.specs[key], column, key, bad) for key, column in columns.items()}
    _check_required(context.recordset, clean, count, bad)
    _check_column_references(context.recordset, clean, bad)
    errors = [{"row": offset + row, **error} for row in sorted(bad) for error in bad[row]]
    good = [row for row in range(count) if row not in bad] if bad else range(count)
    values_json, changes_json = _json_columns(context.specs, context.keys, clean, good)
    latitudes, longitudes = _coordinate_columns(context.recordset, clean, good)
    created_values = (
        [{key: clean[key][row] for key in context.keys if clean[key][row] is not None} for row in good]
        if context.emit_events
        else None
    )
    return _Block(
        ids=bulk_writer.new_id_texts(len(good)),
        values=values_json,
        changes=changes_json,
        latitudes=latitudes,
        longitudes=longitudes,
        errors=errors,
        created_values=created_values,
    )


def _normalise_column(spec, column, key, bad):
    """The column's stored values (None = empty or invalid); a bad value's error goes to `bad`."""
    normalise = compile_normaliser(spec)
    try:
        return list(map(normalise, column))
    except FieldError:
        pass
    values = []
    for row, value in enumerate(column):
        try:
            values.append(normalise(value))
        except FieldError as exc:
            values.append(None)
            bad.setdefault(row, []).append({"field": key, "message": str(exc)})
    return values


def _check_required(recordset, clean, count, bad):
    for spec in recordset.fields:
        if not spec["required"]:
            continue
        key = spec["key"]
        column = clean.get(key)
        missing = (
            range(count) if column is None else [row for row, value in enumerate(column) if value is None]
        )
        for row in missing:
            if not any(error["field"] == key for error in bad.get(row, ())):
                bad.setdefault(row, []).append({"field": key, "message": "is required"})


def _check_column_references(recordset, clean, bad):
    """Members, related records and files checked in one query per kind; emails become member ids."""
    specs = [spec for spec in recordset.fields if spec["type"] in REFERENCE_TYPES and spec["key"] in clean]
    if not specs:
        return
    references = References(recordset.workspace_id)
    for spec in specs:
        for value in clean[spec["key"]]:
            references.collect(spec, value)
    references.resolve()
    for spec in specs:
        column = clean[spec["key"]]
        for row, value in enumerate(column):
            if value is None:
                continue
            try:
                column[row] = references.check(spec, value)
            except FieldError as exc:
                bad.setdefault(row, []).append({"field": spec["key"], "message": str(exc)})


def _json_columns(specs, keys, clean, good):
    """The JSON text of each good row's values and of its "created" changes, built from per-column
    JSON text (no dict per row, one encoder call per cell)."""
    value_parts, change_parts, sparse = [], [], False
    for key in keys:
        column = clean[key]
        if len(good) != len(column):
            column = [column[row] for row in good]
        encode = json_encoder(specs[key])
        if None in column:
            sparse = True
            texts = [None if value is None else encode(value) for value in column]
            value_parts.append([None if text is None else f'"{key}":{text}' for text in texts])
            change_parts.append(
                [None if text is None else f'"{key}":{{"old":null,"new":{text}}}' for text in texts]
            )
        else:
            texts = list(map(encode, column))
            value_parts.append(list(map(f'"{key}":'.__add__, texts)))
            change_parts.append(list(map(f'"{key}":{{"old":null,"new":%s}}'.__mod__, texts)))
    if not keys:
        return ["{}"] * len(good), ["{}"] * len(good)
    if sparse:
        values = [f"{{{','.join(filter(None, parts))}}}" for parts in zip(*value_parts, strict=True)]
        changes = [f"{{{','.join(filter(None, parts))}}}" for parts in zip(*change_parts, strict=True)]
    else:
        values = [f"{{{','.join(parts)}}}" for parts in zip(*value_parts, strict=True)]
        changes = [f"{{{','.join(parts)}}}" for parts in zip(*change_parts, strict=True)]
    return values, changes


def _coordinate_columns(recordset, clean, good):
    """Latitude and longitude per good row (None when the row has no place), as `coordinates_of`."""
    source = _geo_source(recordset)
    nothing = [None] * len(good)
    if "point" in source:
        points = clean.get(source["point"])
        if points is None:
            return nothing, nothing
        picked = [points[row] for row in good]
        return (
            [point.get("lat") if isinstance(point, dict) else None for point in picked],
            [point.get("lng") if isinstance(point, dict) else None for point in picked],
        )
    if "lat" in source:
        lats, lngs = clean.get(source["lat"]), clean.get(source["lng"])
        if lats is None or lngs is None:
            return nothing, nothing
        pairs = [
            coordinates_of(
                recordset, {"lat": lats[row], "lng": lngs[row]}, source={"lat": "lat", "lng": "lng"}
            )
            for row in good
        ]
        return [lat for lat, _ in pairs], [lng for _, lng in pairs]
    return nothing, nothing


COPY_BLOCK_ROWS = 500


def get_record(record_id, *, include_deleted=False):
    record = get_or_404(Record, record_id)
    if record.status == DELETED and not include_deleted:
        raise NotFound("Record not found.")
    return record
