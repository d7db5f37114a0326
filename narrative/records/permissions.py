"""Workspace permissions of records and recordsets (registered at import)."""

from narrative.identity.permissions import register_permissions

register_permissions(
    "records",
    {
        "records.read": "View records, their comments, history, relationships and attachments",
        "records.write": "Create and edit records, comment, link and attach files",
        "records.delete": "Delete records",
    },
    # Members delete what they own or created (can_delete_own); all records needs an admin grant.
    member=["records.read", "records.write", "records.delete"],
)
register_permissions(
    "recordsets",
    {"recordsets.manage": "Create, configure, share and delete recordsets, their fields and views"},
)
