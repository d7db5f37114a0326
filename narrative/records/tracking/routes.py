"""Record tracking endpoints (core's Record Tracking section): insights, interactions, tasks, the
recordset dashboard, AI analysis, message drafts and follow-up suggestions.

Access follows the record: a record the caller cannot view is a 404 (narrative.records.access),
reads need records.read, writes records.write and edit rights on the record's recordset. The seed
answers 200 (not 201) to "log an interaction" and "create a task", and 200 with a body to deletes.
"""

from narrative.identity.access import current_user, current_user_id, require
from narrative.platform.api import Blueprint
from narrative.platform.errors import NotFound
from narrative.platform.pagination import page_schema, paginate
from narrative.platform.tenancy import get_or_404
from narrative.records import access
from narrative.records.tracking import analysis, dashboard, service
from narrative.records.tracking.models import RecordInsight, RecordInteraction
from narrative.records.tracking.schemas import (
    AnalyzeSchema,
    DashboardSchema,
    DraftMessageSchema,
    DraftSchema,
    FollowUpRequestSchema,
    FollowUpSuggestionsSchema,
    GeneratedInsightsSchema,
    GenerateInsightsSchema,
    InsightActionSchema,
    InsightListArgs,
    InsightSchema,
    InteractionCreateSchema,
    InteractionListArgs,
    InteractionSchema,
    InteractionUpdateSchema,
    RecordAnalysisSchema,
    TaskCompleteSchema,
    TaskCreateSchema,
    TaskListArgs,
    TaskSchema,
    TaskUpdateSchema,
    TrackingDeletedSchema,
)
from narrative.tasks.models import Task

blp = Blueprint("record_tracking", __name__, description="Record tracking: insights, interactions, tasks")

# The seed's status for the two creating endpoints of this section.
CREATED = 200

# --- lookups -------------------------------------------------------------------------------------


def _viewable_recordset(recordset_id):
    """A recordset by id (its slug is accepted too) that the caller can view."""
    recordset = access.recordset_by_id_or_slug(recordset_id)
    access.check(recordset, "can_view")
    return recordset


def _insight(insight_id, capability):
    insight = get_or_404(RecordInsight, insight_id)
    return insight, _record_of(insight.record_id, capability, "Insight not found.")


def _interaction(interaction_id, capability):
    interaction = get_or_404(RecordInteraction, interaction_id)
    return interaction, _record_of(interaction.record_id, capability, "Interaction not found.")


def _task(task_id, capability):
    task = get_or_404(Task, task_id)
    if not service.is_record_task(task):
        raise NotFound("Task not found.")
    return task, _record_of(task.subject_id, capability, "Task not found.")


def _record_of(record_id, capability, message):
    """The record an item belongs to; an item of a record the caller cannot see does not exist."""
    try:
        return access.record_or_404(record_id, capability)
    except NotFound:
        raise NotFound(message) from None


def _page(stmt, args, order_by):
    return paginate(stmt, args, style="page", order_by=order_by)


# --- insights ------------------------------------------------------------------------------------


@blp.route("/api/v1/records/<record_id>/insights", methods=["GET"])
@blp.operation("core.record-tracking.list-insights")
@require("records.read")
@blp.arguments(InsightListArgs, location="query")
@blp.response(200, page_schema(InsightSchema, "page"))
def list_insights(args, record_id):
    """List insights for a record (dismissed ones only with include_dismissed)"""
    record = access.record_or_404(record_id)
    stmt = service.insights_query(
        record, insight_type=args.get("insight_type"), include_dismissed=args["include_dismissed"]
    )
    return _page(stmt, args, [RecordInsight.updated_at.desc()])


@blp.route("/api/v1/records/<record_id>/insights/generate", methods=["POST"])
@blp.operation("core.record-tracking.generate-insights")
@require("records.write")
@blp.arguments(GenerateInsightsSchema(), required=False)
@blp.response(200, GeneratedInsightsSchema)
def generate_insights(payload, record_id):
    """Generate AI insights for a record: facts computed from its data, history, interactions and
    tasks, worded by the AI provider; regenerating refreshes open insights instead of adding more"""
    record = access.record_or_404(record_id, "can_edit")
    payload = payload or {}
    result = service.generate_insights(
        record,
        user_id=current_user_id(),
        stale_after_days=payload.get("stale_after_days"),
        insight_types=payload.get("insight_types"),
    )
    return result


def _close_insight(insight_id, payload, close):
    insight, _ = _insight(insight_id, "can_edit")
    payload = payload or {}
    close(insight, user_id=current_user_id(), note=payload.get("note") or payload.get("action_note"))
    return insight


@blp.route("/api/v1/records/insights/<insight_id>/action-taken", methods=["POST"])
@blp.operation("core.record-tracking.insight-action-taken")
@require("records.write")
@blp.arguments(InsightActionSchema(), required=False)
@blp.response(200, InsightSchema)
def insight_action_taken(payload, insight_id):
    """Mark action taken on an insight (an optional note says what was done)"""
    return _close_insight(insight_id, payload, service.take_action)


@blp.route("/api/v1/records/insights/<insight_id>/dismiss", methods=["POST"])
@blp.operation("core.record-tracking.dismiss-insight")
@require("records.write")
@blp.arguments(InsightActionSchema(), required=False)
@blp.response(200, InsightSchema)
def dismiss_insight(payload, insight_id):
    """Dismiss an insight (the same situation is not raised again)"""
    return _close_insight(insight_id, payload, service.dismiss_insight)


# --- interactions --------------------------------------------------------------------------------


@blp.route("/api/v1/records/<record_id>/interactions", methods=["GET"])
@blp.operation("core.record-tracking.list-interactions")
@require("records.read")
@blp.arguments(InteractionListArgs, location="query")
@blp.response(200, page_schema(InteractionSchema, "page"))
def list_interactions(args, record_id):
    """List interactions for a record (timeline view), the most recent first"""
    record = access.record_or_404(record_id)
    stmt = service.interactions_query(record, interaction_type=args.get("interaction_type"))
    return _page(stmt, args, [RecordInteraction.occurred_at.desc()])


@blp.route("/api/v1/records/<record_id>/interactions", methods=["POST"])
@blp.operation("core.record-tracking.log-interaction")
@require("records.write")
@blp.arguments(InteractionCreateSchema)
@blp.response(CREATED, InteractionSchema)
def log_interaction(payload, record_id):
    """Log a new interaction for a record (call, email, meeting, note, message)"""
    record = access.record_or_404(record_id, "can_edit")
    interaction = service.log_interaction(record, user_id=current_user_id(), **payload)
    return interaction


@blp.route("/api/v1/records/interactions/<interaction_id>", methods=["PATCH"])
@blp.operation("core.record-tracking.update-interaction")
@require("records.write")
@blp.arguments(InteractionUpdateSchema)
@blp.response(200, InteractionSchema)
def update_interaction(payload, interaction_id):
    """Update an existing interaction (only the fields sent)"""
    interaction, _ = _interaction(interaction_id, "can_edit")
    service.update_interaction(interaction, user_id=current_user_id(), changes=payload)
    return interaction


@blp.route("/api/v1/records/interactions/<interaction_id>", methods=["DELETE"])
@blp.operation("core.record-tracking.delete-interaction")
@require("records.write")
@blp.response(200, TrackingDeletedSchema)
def delete_interaction(interaction_id):
    """Delete an interaction"""
    interaction, _ = _interaction(interaction_id, "can_edit")
    deleted_id = interaction.id
    service.delete_interaction(interaction, user_id=current_user_id())
    return {"id": deleted_id, "deleted": True}


# --- tasks ---------------------------------------------------------------------------------------


@blp.route("/api/v1/records/<record_id>/tasks", methods=["GET"])
@blp.operation("core.record-tracking.list-tasks")
@require("records.read")
@blp.arguments(TaskListArgs, location="query")
@blp.response(200, page_schema(TaskSchema, "page"))
def list_tasks(args, record_id):
    """List tasks for a record: open ones, soonest due first (include_completed adds closed ones)"""
    record = access.record_or_404(record_id)
    stmt = service.record_tasks_query(
        record,
        status=args.get("status"),
        priority=args.get("priority"),
        include_completed=args["include_completed"],
    )
    return _page(stmt, args, [Task.due_at, Task.position])


@blp.route("/api/v1/records/<record_id>/tasks", methods=["POST"])
@blp.operation("core.record-tracking.create-task")
@require("records.write")
@blp.arguments(TaskCreateSchema)
@blp.response(CREATED, TaskSchema)
def create_task(payload, record_id):
    """Create a new task for a record"""
    record = access.record_or_404(record_id, "can_edit")
    task = service.create_record_task(record, user_id=current_user_id(), **payload)
    return task


@blp.route("/api/v1/records/tasks/<task_id>", methods=["PATCH"])
@blp.operation("core.record-tracking.update-task")
@require("records.write")
@blp.arguments(TaskUpdateSchema)
@blp.response(200, TaskSchema)
def update_task(payload, task_id):
    """Update an existing task (status completed completes it; away from completed reopens it)"""
    task, record = _task(task_id, "can_edit")
    service.update_record_task(task, record, user_id=current_user_id(), changes=payload)
    return task


@blp.route("/api/v1/records/tasks/<task_id>", methods=["DELETE"])
@blp.operation("core.record-tracking.delete-task")
@require("records.write")
@blp.response(200, TrackingDeletedSchema)
def delete_task(task_id):
    """Delete a task"""
    task, record = _task(task_id, "can_edit")
    deleted_id = task.id
    service.delete_record_task(task, record, user_id=current_user_id())
    return {"id": deleted_id, "deleted": True}


@blp.route("/api/v1/records/tasks/<task_id>/complete", methods=["POST"])
@blp.operation("core.record-tracking.complete-task")
@require("records.write")
@blp.arguments(TaskCompleteSchema(), required=False)
@blp.response(200, TaskSchema)
def complete_task(payload, task_id):
    """Mark a task as complete (an optional note; completing twice changes nothing)"""
    task, record = _task(task_id, "can_edit")
    payload = payload or {}
    service.complete_record_task(
        task, record, user_id=current_user_id(), note=payload.get("note") or payload.get("completion_note")
    )
    return task


# --- dashboard and AI ----------------------------------------------------------------------------


@blp.route("/api/v1/recordsets/<recordset_id>/dashboard", methods=["GET"])
@blp.operation("core.record-tracking.dashboard")
@require("records.read")
@blp.response(200, DashboardSchema)
def tracking_dashboard(recordset_id):
    """Get tracking dashboard with metrics for a recordset (records, insights, interactions and
    tasks over the last 30 days)"""
    return dashboard.dashboard(_viewable_recordset(recordset_id))


@blp.route("/api/v1/records/<record_id>/analyze", methods=["POST"])
@blp.operation("core.record-tracking.analyze")
@require("records.read")
@blp.arguments(AnalyzeSchema(), required=False)
@blp.response(200, RecordAnalysisSchema)
def analyze(payload, record_id):
    """Get AI analysis of a record: health score, facts, signals and next steps, worded by the AI"""
    record = access.record_or_404(record_id)
    result = analysis.analyze(
        record, user_id=current_user_id(), stale_after_days=(payload or {}).get("stale_after_days")
    )
    return result


@blp.route("/api/v1/records/<record_id>/draft-message", methods=["POST"])
@blp.operation("core.record-tracking.draft-message")
@require("records.read")
@blp.arguments(DraftMessageSchema(), required=False)
@blp.response(200, DraftSchema)
def draft_message(payload, record_id):
    """Draft an AI message related to a record, to its contact (channel, tone, purpose)"""
    record = access.record_or_404(record_id)
    payload = payload or DraftMessageSchema().load({})
    user = current_user()
    result = analysis.draft_message(
        record, user_id=current_user_id(), sender_name=getattr(user, "name", None), **payload
    )
    return result


@blp.route("/api/v1/recordsets/<recordset_id>/follow-up-suggestions", methods=["POST"])
@blp.operation("core.record-tracking.follow-up-suggestions")
@require("records.read")
@blp.arguments(FollowUpRequestSchema(), required=False)
@blp.response(200, FollowUpSuggestionsSchema)
def follow_up_suggestions(payload, recordset_id):
    """Generate AI follow-up suggestions for a recordset: records ranked by a deterministic score,
    each with its reasons, and a worded summary"""
    recordset = _viewable_recordset(recordset_id)
    payload = payload or FollowUpRequestSchema().load({})
    result = analysis.follow_up_suggestions(
        recordset,
        user_id=current_user_id(),
        limit=payload["limit"],
        record_ids=payload.get("record_ids"),
        stale_after_days=payload.get("stale_after_days"),
    )
    return result
