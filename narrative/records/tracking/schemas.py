"""Request and response shapes of the record tracking endpoints."""

from datetime import UTC

import marshmallow as ma

from narrative.platform.pagination import PageArgs
from narrative.platform.schemas import Schema
from narrative.records.tracking.analysis import CHANNELS, TONES
from narrative.records.tracking.models import DIRECTIONS, INSIGHT_TYPES, INTERACTION_TYPES, PRIORITIES
from narrative.tasks.models import STATUS_ALIASES, STATUSES


def _when(**kwargs):
    """A date-time; one without a timezone is read as UTC."""
    return ma.fields.AwareDateTime(default_timezone=UTC, **kwargs)


def _one_of(choices, **kwargs):
    return ma.fields.String(validate=ma.validate.OneOf(list(choices)), **kwargs)


TASK_STATUS_CHOICES = [*STATUSES, *STATUS_ALIASES]

# --- insights ------------------------------------------------------------------------------------


class InsightSchema(Schema):
    id = ma.fields.UUID()
    record_id = ma.fields.UUID()
    recordset_id = ma.fields.UUID()
    insight_type = ma.fields.String(
        metadata={"description": "stale | missing_fields | follow_up_due | overdue_task"}
    )
    title = ma.fields.String()
    body = ma.fields.String(metadata={"description": "The AI provider's wording of the facts"})
    priority = ma.fields.String()
    facts = ma.fields.Dict(metadata={"description": "The computed facts the insight rests on"})
    status = ma.fields.String(metadata={"description": "open | action_taken | dismissed"})
    action_note = ma.fields.String(allow_none=True)
    acted_by_id = ma.fields.UUID(allow_none=True)
    acted_at = ma.fields.DateTime(allow_none=True)
    provider = ma.fields.String(allow_none=True)
    model = ma.fields.String(allow_none=True)
    created_at = ma.fields.DateTime()
    updated_at = ma.fields.DateTime()


class InsightListArgs(PageArgs):
    insight_type = _one_of(INSIGHT_TYPES)
    include_dismissed = ma.fields.Boolean(load_default=False)


class InsightActionSchema(Schema):
    note = ma.fields.String(allow_none=True, validate=ma.validate.Length(max=5000))
    action_note = ma.fields.String(allow_none=True, validate=ma.validate.Length(max=5000))


class GenerateInsightsSchema(Schema):
    insight_types = ma.fields.List(_one_of(INSIGHT_TYPES), load_default=None)
    stale_after_days = ma.fields.Integer(validate=ma.validate.Range(min=1, max=3650), load_default=None)


class GeneratedInsightsSchema(Schema):
    record_id = ma.fields.UUID()
    insights = ma.fields.List(
        ma.fields.Nested(InsightSchema), metadata={"description": "The open insights now"}
    )
    created = ma.fields.Integer()
    updated = ma.fields.Integer()
    resolved = ma.fields.Integer(
        metadata={"description": "Open insights removed: their situation no longer holds"}
    )
    skipped = ma.fields.Integer(metadata={"description": "Situations someone already acted on or dismissed"})
    stale_after_days = ma.fields.Integer()
    provider = ma.fields.String(allow_none=True)
    model = ma.fields.String(allow_none=True)
    generated_at = ma.fields.DateTime()


# --- interactions --------------------------------------------------------------------------------


class InteractionParticipantSchema(Schema):
    class Meta:
        unknown = ma.INCLUDE

    name = ma.fields.String(allow_none=True)
    email = ma.fields.String(allow_none=True)
    user_id = ma.fields.UUID(allow_none=True)


class InteractionSchema(Schema):
    id = ma.fields.UUID()
    record_id = ma.fields.UUID()
    recordset_id = ma.fields.UUID()
    interaction_type = ma.fields.String()
    direction = ma.fields.String(allow_none=True)
    subject = ma.fields.String(allow_none=True)
    summary = ma.fields.String(allow_none=True)
    body = ma.fields.String(allow_none=True)
    occurred_at = ma.fields.DateTime()
    duration_minutes = ma.fields.Integer(allow_none=True)
    outcome = ma.fields.String(allow_none=True)
    participants = ma.fields.List(ma.fields.Dict())
    follow_up_at = ma.fields.DateTime(allow_none=True)
    created_by_id = ma.fields.UUID(allow_none=True)
    created_at = ma.fields.DateTime()
    updated_at = ma.fields.DateTime()


class InteractionUpdateSchema(Schema):
    interaction_type = _one_of(INTERACTION_TYPES)
    direction = _one_of(DIRECTIONS, allow_none=True)
    subject = ma.fields.String(allow_none=True, validate=ma.validate.Length(max=300))
    summary = ma.fields.String(allow_none=True, validate=ma.validate.Length(max=20000))
    body = ma.fields.String(allow_none=True, validate=ma.validate.Length(max=200000))
    occurred_at = _when()
    duration_minutes = ma.fields.Integer(allow_none=True, validate=ma.validate.Range(min=0, max=100000))
    outcome = ma.fields.String(allow_none=True, validate=ma.validate.Length(max=60))
    participants = ma.fields.List(ma.fields.Nested(InteractionParticipantSchema), allow_none=True)
    follow_up_at = _when(allow_none=True)

    @ma.post_load
    def _participants_as_dicts(self, data, **kwargs):
        if data.get("participants"):
            data["participants"] = [
                {key: str(value) if key == "user_id" and value else value for key, value in item.items()}
                for item in data["participants"]
            ]
        return data


class InteractionCreateSchema(InteractionUpdateSchema):
    interaction_type = _one_of(INTERACTION_TYPES, required=True)


class InteractionListArgs(PageArgs):
    interaction_type = _one_of(INTERACTION_TYPES)


# --- tasks ---------------------------------------------------------------------------------------


class TaskSchema(Schema):
    id = ma.fields.UUID()
    record_id = ma.fields.Function(
        lambda task: str(task.subject_id) if task.subject_type == "record" else None,
        metadata={"description": "The record the task is about (its subject_id)"},
    )
    title = ma.fields.String()
    description = ma.fields.String(allow_none=True)
    status = ma.fields.String(
        metadata={"description": "todo | in_progress | blocked | completed | cancelled"}
    )
    priority = ma.fields.String(metadata={"description": "low | medium | high | urgent"})
    due_at = ma.fields.DateTime(allow_none=True)
    assignee_id = ma.fields.UUID(allow_none=True)
    created_by_id = ma.fields.UUID(allow_none=True)
    completed_at = ma.fields.DateTime(allow_none=True)
    completed_by_id = ma.fields.UUID(allow_none=True)
    completion_note = ma.fields.String(allow_none=True)
    subject_type = ma.fields.String(allow_none=True)
    subject_id = ma.fields.UUID(allow_none=True)
    position = ma.fields.Float()
    tags = ma.fields.List(ma.fields.String())
    created_at = ma.fields.DateTime()
    updated_at = ma.fields.DateTime()


class TaskUpdateSchema(Schema):
    title = ma.fields.String(validate=ma.validate.Length(min=1, max=500))
    description = ma.fields.String(allow_none=True, validate=ma.validate.Length(max=20000))
    status = _one_of(TASK_STATUS_CHOICES)
    priority = _one_of(PRIORITIES)
    due_at = _when(allow_none=True)
    # The CRM family's name for the same thing.
    due_date = _when(allow_none=True, load_only=True)
    assignee_id = ma.fields.UUID(allow_none=True)
    position = ma.fields.Float()
    tags = ma.fields.List(ma.fields.String(validate=ma.validate.Length(max=60)))

    @ma.post_load
    def _due_date_alias(self, data, **kwargs):
        if "due_date" in data:
            due = data.pop("due_date")
            data.setdefault("due_at", due)
        return data


class TaskCreateSchema(TaskUpdateSchema):
    title = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=500))


class TaskListArgs(PageArgs):
    status = _one_of(TASK_STATUS_CHOICES)
    priority = _one_of(PRIORITIES)
    include_completed = ma.fields.Boolean(load_default=False)


class TaskCompleteSchema(Schema):
    note = ma.fields.String(allow_none=True, validate=ma.validate.Length(max=5000))
    completion_note = ma.fields.String(allow_none=True, validate=ma.validate.Length(max=5000))


class TrackingDeletedSchema(Schema):
    id = ma.fields.UUID()
    deleted = ma.fields.Boolean()


# --- dashboard -----------------------------------------------------------------------------------


class RecordMetricsSchema(Schema):
    total = ma.fields.Integer()
    with_open_insights = ma.fields.Integer()
    without_interaction_last_30_days = ma.fields.Integer()
    never_contacted = ma.fields.Integer()
    stale = ma.fields.Integer()
    follow_up_due = ma.fields.Integer()
    with_overdue_tasks = ma.fields.Integer()


class InsightMetricsSchema(Schema):
    open = ma.fields.Integer()
    open_by_type = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer())
    open_by_priority = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer())
    action_taken_last_30_days = ma.fields.Integer()
    dismissed_last_30_days = ma.fields.Integer()


class InteractionMetricsSchema(Schema):
    last_30_days = ma.fields.Integer()
    by_type_last_30_days = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer())


class TaskMetricsSchema(Schema):
    open = ma.fields.Integer()
    overdue = ma.fields.Integer()
    due_next_7_days = ma.fields.Integer()
    completed = ma.fields.Integer()
    completed_last_30_days = ma.fields.Integer()
    cancelled = ma.fields.Integer()
    by_status = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer())


class DashboardSchema(Schema):
    recordset_id = ma.fields.UUID()
    generated_at = ma.fields.DateTime()
    period_days = ma.fields.Integer()
    stale_after_days = ma.fields.Integer()
    records = ma.fields.Nested(RecordMetricsSchema)
    insights = ma.fields.Nested(InsightMetricsSchema)
    interactions = ma.fields.Nested(InteractionMetricsSchema)
    tasks = ma.fields.Nested(TaskMetricsSchema)
    recent_interactions = ma.fields.List(ma.fields.Nested(InteractionSchema))


# --- AI: analysis, drafts, follow-up suggestions -------------------------------------------------


class AnalyzeSchema(Schema):
    stale_after_days = ma.fields.Integer(validate=ma.validate.Range(min=1, max=3650), load_default=None)


class RecordAnalysisFactsSchema(Schema):
    days_since_activity = ma.fields.Integer()
    last_activity_at = ma.fields.DateTime()
    last_activity_kind = ma.fields.String(metadata={"description": "update | interaction"})
    last_interaction_at = ma.fields.DateTime(allow_none=True)
    interaction_count = ma.fields.Integer()
    interactions_by_type = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer())
    open_tasks = ma.fields.Integer()
    overdue_tasks = ma.fields.Integer()
    completed_tasks = ma.fields.Integer()
    open_insights = ma.fields.Integer()
    missing_required = ma.fields.List(ma.fields.String())
    missing_important = ma.fields.List(ma.fields.String())
    completeness = ma.fields.Integer(metadata={"description": "Percent of the fields holding a value"})
    stale_after_days = ma.fields.Integer()
    follow_up_due = ma.fields.Boolean()


class SignalSchema(Schema):
    insight_type = ma.fields.String()
    title = ma.fields.String()
    priority = ma.fields.String()
    facts = ma.fields.Dict()


class RecordAnalysisSchema(Schema):
    record_id = ma.fields.UUID()
    recordset_id = ma.fields.UUID()
    title = ma.fields.String()
    health_score = ma.fields.Integer(metadata={"description": "0-100, from the facts alone"})
    summary = ma.fields.String(metadata={"description": "The AI provider's wording of the facts"})
    facts = ma.fields.Nested(RecordAnalysisFactsSchema)
    signals = ma.fields.List(
        ma.fields.Nested(SignalSchema), metadata={"description": "Insights that hold now"}
    )
    recommendations = ma.fields.List(ma.fields.String())
    provider = ma.fields.String()
    model = ma.fields.String()
    analyzed_at = ma.fields.DateTime()


class DraftMessageSchema(Schema):
    channel = _one_of(CHANNELS, load_default="email")
    tone = _one_of(TONES, load_default="professional")
    purpose = ma.fields.String(
        load_default="follow_up",
        validate=ma.validate.Length(min=1, max=500),
        metadata={
            "description": "follow_up | check_in | introduction | meeting_request | thank_you | proposal | "
            "reminder, or your own words"
        },
    )
    additional_context = ma.fields.String(allow_none=True, validate=ma.validate.Length(max=2000))
    recipient_name = ma.fields.String(allow_none=True, validate=ma.validate.Length(max=200))


class RecipientSchema(Schema):
    name = ma.fields.String()
    email = ma.fields.String(allow_none=True)
    phone = ma.fields.String(allow_none=True)


class DraftFactsSchema(Schema):
    last_interaction_at = ma.fields.DateTime(allow_none=True)
    last_interaction_type = ma.fields.String(allow_none=True)
    preferred_channel = ma.fields.String(allow_none=True)
    interaction_count = ma.fields.Integer()
    open_tasks = ma.fields.Integer()


class DraftSchema(Schema):
    record_id = ma.fields.UUID()
    channel = ma.fields.String()
    tone = ma.fields.String()
    purpose = ma.fields.String()
    recipient = ma.fields.Nested(RecipientSchema)
    subject = ma.fields.String(allow_none=True)
    body = ma.fields.String()
    facts = ma.fields.Nested(DraftFactsSchema)
    provider = ma.fields.String()
    model = ma.fields.String()


class FollowUpRequestSchema(Schema):
    limit = ma.fields.Integer(load_default=10, validate=ma.validate.Range(min=1, max=50))
    record_ids = ma.fields.List(ma.fields.UUID(), load_default=None)
    stale_after_days = ma.fields.Integer(validate=ma.validate.Range(min=1, max=3650), load_default=None)


class SuggestionSchema(Schema):
    record_id = ma.fields.UUID()
    title = ma.fields.String()
    score = ma.fields.Integer()
    priority = ma.fields.String()
    reasons = ma.fields.List(ma.fields.String())
    suggested_action = ma.fields.String()
    last_interaction_at = ma.fields.DateTime(allow_none=True)
    last_activity_at = ma.fields.DateTime()
    days_since_activity = ma.fields.Integer()
    overdue_tasks = ma.fields.Integer()
    follow_up_due = ma.fields.Boolean()
    follow_up_at = ma.fields.DateTime(allow_none=True)


class FollowUpSuggestionsSchema(Schema):
    recordset_id = ma.fields.UUID()
    generated_at = ma.fields.DateTime()
    stale_after_days = ma.fields.Integer()
    total = ma.fields.Integer(metadata={"description": "Records needing a follow-up, over all of them"})
    suggestions = ma.fields.List(ma.fields.Nested(SuggestionSchema))
    summary = ma.fields.String()
    scoring = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer())
    provider = ma.fields.String(allow_none=True)
    model = ma.fields.String(allow_none=True)
