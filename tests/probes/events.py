"""Probe routes for domain events: a change that emits and commits, and one that emits then fails."""

import marshmallow as ma

from narrative.extensions import db
from narrative.identity.models import Workspace
from narrative.platform.api import Blueprint
from narrative.platform.events import emit, register_event_type
from narrative.platform.tenancy import all_workspaces_for_this_request

register_event_type(
    "probe.workspace.created",
    description="Probe: a workspace was created through the events probe.",
    example={"workspace_id": "0190f1c2-7a3e-7b21-9c4d-5e6f7a8b9c0d", "name": "Acme"},
)
register_event_type(
    "probe.note.added",
    description="Probe: a note was added to a workspace.",
    example={"text": "Call the supplier back"},
)

blp = Blueprint("probe_events", __name__)
# Platform mechanisms driven anonymously: their rows belong to no caller's workspace.
blp.before_request(all_workspaces_for_this_request)


class WorkspaceWithNotesSchema(ma.Schema):
    id = ma.fields.UUID(dump_only=True)
    name = ma.fields.String(required=True)
    slug = ma.fields.String(required=True)
    notes = ma.fields.List(ma.fields.String(), load_default=list, load_only=True)


class NotesSchema(ma.Schema):
    workspace_id = ma.fields.UUID(required=True)
    notes = ma.fields.List(ma.fields.String(), required=True)


def emit_notes(workspace_id, notes):
    for text in notes:
        emit("probe.note.added", {"text": text}, workspace_id=workspace_id)


@blp.route("/_probe/events/workspaces", methods=["POST"])
@blp.arguments(WorkspaceWithNotesSchema)
@blp.response(201, WorkspaceWithNotesSchema)
def create_workspace(payload):
    notes = payload.pop("notes")
    workspace = Workspace(**payload)
    db.session.add(workspace)
    db.session.flush()
    emit(
        "probe.workspace.created",
        {"workspace_id": workspace.id, "name": workspace.name},
        workspace_id=workspace.id,
    )
    emit_notes(workspace.id, notes)
    db.session.commit()
    return workspace


@blp.route("/_probe/events/notes", methods=["POST"])
@blp.arguments(NotesSchema)
def add_notes(payload):
    emit_notes(payload["workspace_id"], payload["notes"])
    db.session.commit()
    return {"emitted": len(payload["notes"])}, 201


@blp.route("/_probe/events/notes-then-fail", methods=["POST"])
@blp.arguments(NotesSchema)
def add_notes_then_fail(payload):
    emit_notes(payload["workspace_id"], payload["notes"])
    db.session.flush()  # the rows reach the database: only the rollback can take them back
    raise RuntimeError("the change fails after its events were written")
