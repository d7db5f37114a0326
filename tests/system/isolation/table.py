"""The reviewed table of the isolation sweep. Every entry is a decision someone can read.

FACTORIES maps (path parameter, path prefix) to the factory that makes the object it names; the
longest prefix that starts the operation's path wins. A new operation whose id parameter has no
entry here and is not in NOT_AN_ID fails the sweep, naming the operation.
"""

from tests.system.isolation import factories as f

FACTORIES = {
    # identity
    ("workspace_id", "/api/v1/workspaces/"): f.workspace,
    ("member_id", "/api/v1/workspaces/"): f.workspace_member,
    ("user_id", "/api/v1/workspaces/"): f.workspace_user,
    ("member_id", "/api/v1/members/"): f.member,
    ("user_id", "/api/v1/auth/"): f.user,
    ("user_id", "/auth/admin/waitlist/"): f.waitlisted_user,
    ("id", "/api/users/"): f.organisation_user,
    ("team_id", "/api/v1/teams/"): f.team,
    ("member_id", "/api/v1/teams/"): f.team_member,
    ("id", "/api/organisation/groups/"): f.group,
    ("user_id", "/api/organisation/groups/"): f.group_member,
    ("api_key_id", "/api/v1/api-keys/"): f.api_key,
    ("api_key_id", "/api/api-keys/"): f.api_key,
    # records
    ("recordset_slug", "/api/v1/recordsets/"): f.recordset_by_slug,
    ("recordset_slug", "/api/v1/recordsets/trash/"): f.trashed_recordset,
    ("recordset_id", "/api/v1/recordsets/"): f.recordset_by_id,
    ("recordset_id", "/api/v1/crud/recordsets/"): f.recordset_by_id,
    ("recordset_id", "/api/v1/import/recordsets/"): f.recordset_by_id,
    ("view_id", "/api/v1/recordsets/"): f.view,
    ("member_id", "/api/v1/recordsets/"): f.member_grant,
    ("team_id", "/api/v1/recordsets/"): f.team_grant,
    ("record_id", "/api/v1/records/"): f.record,
    ("record_id", "/api/v1/crud/records/"): f.record,
    ("history_id", "/api/v1/records/"): f.history,
    ("attachment_id", "/api/v1/crud/records/"): f.attachment,
    ("insight_id", "/api/v1/records/insights/"): f.insight,
    ("interaction_id", "/api/v1/records/interactions/"): f.interaction,
    ("task_id", "/api/v1/records/tasks/"): f.task,
    # jobs, by the feature that started them
    ("job_id", "/api/v1/import/"): f.import_job,
    ("job_id", "/api/v1/geocode/jobs/"): f.geocode_job,
    ("job_id", "/api/v1/activity/export/jobs/"): f.activity_export_job,
    ("job_id", "/api/v1/workspace-health/migrate/jobs/"): f.migration_job,
    # automation
    ("webhook_id", "/api/v1/webhooks/"): f.webhook,
    ("notification_id", "/api/v1/notifications/"): f.notification,
    ("preference_id", "/api/v1/notifications/me/"): f.preference,
    # the API proxy
    ("action_id", "/api/v1/actions/"): f.action,
    ("exec_id", "/api/v1/actions/"): f.execution,
    ("action_id", "/x/"): f.execution_token,
    ("token_id", "/api/v1/tokens/"): f.token,
    # conversations
    ("conversation_id", "/api/v1/chat/conversations/"): f.conversation,
    ("user_id", "/api/v1/chat/conversations/"): f.participant,
    ("conversation_id", "/api/conversations/"): f.assistant_conversation,
    ("message_id", "/api/v1/chat/messages/"): f.message,
    ("msg_id", "/api/chat/"): f.assistant_message,
    ("folder_id", "/api/v1/chat/folders/"): f.folder,
    ("file_id", "/api/v1/chat/files/"): f.chat_file,
}

# Path parameters that do not name an object of a workspace.
NOT_AN_ID = {
    "context": "an AI prompt context: a kind of prompt, the same names in every workspace",
    "event_type": "a notification event type of the platform's registry",
    "module": "a module of the platform's registry (each workspace keeps its own setting row)",
    "permission": "a permission of the platform's catalogue",
    "role": "a role name (owner, admin, member, viewer); each workspace has its own role rows",
    "token": "the secret an invitation email carries: the public invite page is authorised by it",
}

# Operations with an id whose authority is not the caller's workspace, by design.
BY_DESIGN = {
    "core.recordset-import.download-error-report": (
        "a signed download link (exp + sig, HMAC over the job id): the signature is the authority"
    ),
}

# The proxy's execute takes an execution token (sxt_) of the action, not a JWT or sk_ key: B is
# probed with an execution token of B's own action, which the documented 401 refuses.
EXECUTION_TOKEN_OPERATIONS = {"narrowapi.proxy.execute"}

# A's answer to the proxy is the upstream's (there is no network in the test run): a documented
# upstream error shows A's token and action were accepted.
UPSTREAM_ANSWERS = {502, 504}


def _colleague_member(world, ids):
    return {"member_id": str(f.colleague(world)["member_id"])}


def _reassign(world, ids):
    return {"to_member_id": str(f.colleague(world)["member_id"])}


def _colleague_user(world, ids):
    return {"user_id": str(f.colleague(world)["user_id"])}


def _grant(world, ids):
    return {"member_id": str(f.colleague(world)["member_id"]), "level": "view"}


def _target_record(world, ids):
    return {"target_record_id": str(f.record(world)["record_id"]), "relationship_type": "related"}


def _import_file(world, ids):
    return {"file_uri": f._uploaded_csv(world)}


def _invited(world, ids):
    email = "invited-again@example.com"
    world.call_a("POST", f"/api/v1/workspaces/{ids['workspace_id']}/invitations", json={"email": email})
    return {"email": email}


def _attachment(world, ids):
    return {"file": f._file()}


def _pipeline(world, ids):
    world.call_a("POST", f"/api/v1/recordsets/{ids['recordset_id']}/pipeline", json={"stage_field": "stage"})


# What an operation needs to exist besides its path objects (a pipeline to read...): a callable
# gets (world, path ids) and makes it as A, before B's probes.
PREPARE = {
    "core.recordsets.get-pipeline": _pipeline,
}


# Request bodies the schema alone cannot give: references to other objects of A, replacement
# bodies, files. A callable gets (world, path ids) and returns the body (JSON, or multipart fields);
# it runs once per operation, before B's probes, and its body goes to B and to A alike.
BODIES = {
    "core.teams.add-member": _colleague_member,
    "core.members.reassign": _reassign,
    "neuromancer.chat.conversations-share": _colleague_user,
    "assistant.organisation.group-members-add": _colleague_user,
    "core.recordsets.grant-access": _grant,
    "core.records.create-relationship": _target_record,
    "core.recordset-import.import-into-recordset": _import_file,
    "core.workspaces.resend-invitation": _invited,
    "core.crud-record-attachments.upload": _attachment,
    "core.crud-recordsets.replace": lambda world, ids: {"name": "Renamed", "fields": f.CONTACT_FIELDS},
    "core.crud-records.replace": lambda world, ids: {"field_values": {"name": "Jane Roe"}},
    "core.recordsets.create-pipeline": lambda world, ids: {"stage_field": "stage"},
    "core.recordsets.enable-map": lambda world, ids: {"point_field": "location"},
    "assistant.chat.feedback": lambda world, ids: {"rating": "up"},
}
