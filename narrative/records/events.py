"""Domain event types of records and recordsets (emitted in the writer's transaction)."""

from narrative.platform.events import register_event_type

_RECORD = {
    "id": "0190f3a2-7c1e-7b7a-9d2f-1a2b3c4d5e6f",
    "recordset_id": "0190f3a2-7c1e-7b7a-9d2f-aaaaaaaaaaaa",
    "field_values": {"name": "Acme Corp", "amount": 1200},
}
_RECORDSET = {"id": "0190f3a2-7c1e-7b7a-9d2f-aaaaaaaaaaaa", "slug": "deals", "name": "Deals"}

register_event_type(
    "record.created", description="A record was added to a recordset", example=_RECORD, category="record"
)
register_event_type(
    "record.updated",
    description="A record's values changed; changes lists each changed field with its old and new value",
    example={**_RECORD, "changed_fields": ["amount"], "changes": {"amount": {"old": 1000, "new": 1200}}},
    category="record",
)
register_event_type(
    "record.deleted",
    description="A record was deleted (moved out of its recordset's lists)",
    example=_RECORD,
    category="record",
)
register_event_type(
    "recordset.created",
    description="A recordset was created",
    example={
        **_RECORDSET,
        "fields": [{"key": "name", "name": "Name", "type": "text", "required": True, "options": {}}],
    },
    category="recordset",
)
register_event_type(
    "recordset.updated",
    description="A recordset's settings or fields changed",
    example={**_RECORDSET, "changes": {"name": {"old": "Deal", "new": "Deals"}}},
    category="recordset",
)
register_event_type(
    "recordset.deleted",
    description="A recordset was moved to the trash (permanent: false) or deleted for good (permanent: true)",
    example={**_RECORDSET, "permanent": False},
    category="recordset",
)
