"""Request and response schemas of the conversation endpoints (one shape for every family)."""

import marshmallow as ma
from flask_smorest.fields import Upload

from narrative.conversations.models import ROLES
from narrative.platform.pagination import CursorPageArgs, page_args
from narrative.platform.schemas import Schema


class AttachmentRefSchema(Schema):
    file_id = ma.fields.String()
    filename = ma.fields.String()
    content_type = ma.fields.String()
    size = ma.fields.Integer()


class ChatMessageSchema(Schema):
    """A message as every family reads it: the history is the same whoever asks."""

    id = ma.fields.UUID()
    conversation_id = ma.fields.UUID()
    role = ma.fields.String()
    content = ma.fields.String()
    author_id = ma.fields.UUID(allow_none=True)
    attachments = ma.fields.List(ma.fields.Nested(AttachmentRefSchema), allow_none=True)
    tool_calls = ma.fields.List(ma.fields.Dict(), allow_none=True)
    tool_call_id = ma.fields.String(allow_none=True)
    parent_id = ma.fields.UUID(allow_none=True)
    status = ma.fields.String(metadata={"description": "complete | streaming | canceled | failed"})
    partial = ma.fields.Boolean(attribute="is_partial", metadata={"description": "A reply cut short"})
    error = ma.fields.String(allow_none=True)
    feedback = ma.fields.Method("_feedback")
    provider = ma.fields.String(allow_none=True)
    model = ma.fields.String(allow_none=True)
    tokens_in = ma.fields.Integer(allow_none=True)
    tokens_out = ma.fields.Integer(allow_none=True)
    superseded = ma.fields.Boolean()
    created_at = ma.fields.DateTime()
    updated_at = ma.fields.DateTime()

    def _feedback(self, message):
        if not message.feedback_rating:
            return None
        return {"rating": message.feedback_rating, "comment": message.feedback_comment}


class ConversationSchema(Schema):
    id = ma.fields.UUID()
    workspace_id = ma.fields.UUID()
    owner_id = ma.fields.UUID()
    title = ma.fields.String(allow_none=True)
    folder_id = ma.fields.UUID(allow_none=True)
    is_pinned = ma.fields.Boolean()
    is_archived = ma.fields.Boolean()
    family = ma.fields.String(metadata={"description": "Which family started it: core | assistant | studio"})
    prompt_context = ma.fields.String(allow_none=True)
    system_prompt = ma.fields.String(allow_none=True)
    metadata = ma.fields.Dict(attribute="meta", allow_none=True)
    client_id = ma.fields.String(allow_none=True)
    project_id = ma.fields.String(allow_none=True)
    branched_from_id = ma.fields.UUID(allow_none=True)
    branched_at_message_id = ma.fields.UUID(allow_none=True)
    participant_ids = ma.fields.Method("_participant_ids")
    last_message_at = ma.fields.DateTime(allow_none=True)
    created_at = ma.fields.DateTime()
    updated_at = ma.fields.DateTime()

    def _participant_ids(self, conversation):
        return sorted(str(p.user_id) for p in conversation.participants)


class ConversationWithMessagesSchema(ConversationSchema):
    messages = ma.fields.List(ma.fields.Nested(ChatMessageSchema))


class ConversationListArgs(page_args("skip")):
    archived = ma.fields.Boolean(load_default=None, allow_none=True)
    folder_id = ma.fields.String()
    pinned_only = ma.fields.Boolean(load_default=False)
    uncategorized = ma.fields.Boolean(load_default=False)
    search = ma.fields.String(metadata={"description": "Words in the title or the messages"})
    client_id = ma.fields.String()
    project_id = ma.fields.String()


class AssistantConversationListArgs(CursorPageArgs):
    pass


class MessageListArgs(page_args("skip", default_limit=200, max_limit=1000)):
    """The history, oldest first; the default page holds 200 messages."""


class AssistantMessageListArgs(CursorPageArgs):
    pass


class ConversationCreateSchema(Schema):
    title = ma.fields.String(allow_none=True, validate=ma.validate.Length(max=200))
    metadata = ma.fields.Dict(allow_none=True)
    folder_id = ma.fields.UUID(allow_none=True)
    prompt_context = ma.fields.String(
        allow_none=True, metadata={"description": "A named prompt context, resolved server-side"}
    )
    system_prompt = ma.fields.String(
        allow_none=True, metadata={"description": "Deprecated: used as given when no prompt_context"}
    )
    client_id = ma.fields.String(allow_none=True)
    project_id = ma.fields.String(allow_none=True)
    is_pinned = ma.fields.Boolean()


class ConversationUpdateSchema(Schema):
    title = ma.fields.String(allow_none=True, validate=ma.validate.Length(max=200))
    metadata = ma.fields.Dict(allow_none=True)
    folder_id = ma.fields.UUID(allow_none=True)
    is_pinned = ma.fields.Boolean()
    is_archived = ma.fields.Boolean()
    system_prompt = ma.fields.String(allow_none=True)
    prompt_context = ma.fields.String(allow_none=True)
    client_id = ma.fields.String(allow_none=True)
    project_id = ma.fields.String(allow_none=True)


class MessageSendSchema(Schema):
    """Core's "add a message" and the studio's "send and stream"; see the operation description."""

    content = ma.fields.String(load_default="", metadata={"description": "The message text"})
    role = ma.fields.String(load_default="user", validate=ma.validate.OneOf(ROLES))
    attachments = ma.fields.List(
        ma.fields.Raw(),
        load_default=list,
        metadata={"description": "Ids of files uploaded to this conversation"},
    )
    tool_calls = ma.fields.List(ma.fields.Dict(), allow_none=True)
    parent_id = ma.fields.UUID(allow_none=True)
    model = ma.fields.String(allow_none=True)
    provider = ma.fields.String(allow_none=True)
    tools_enabled = ma.fields.Boolean(load_default=True)
    stream = ma.fields.Boolean(
        load_default=None, allow_none=True, metadata={"description": "true: stream the AI's reply"}
    )
    reply = ma.fields.Boolean(
        load_default=None, allow_none=True, metadata={"description": "Same as stream (ask for a reply)"}
    )


class ChatTurnSchema(Schema):
    """A streamed turn of the core chat (`/api/v1/chat`) and the assistant (`/api/chat`)."""

    conversation_id = ma.fields.UUID(allow_none=True, metadata={"description": "Omit to start one"})
    message = ma.fields.String(load_default=None, allow_none=True)
    content = ma.fields.String(
        load_default=None, allow_none=True, metadata={"description": "Alias of message"}
    )
    attachments = ma.fields.List(ma.fields.Raw(), load_default=list)
    model = ma.fields.String(allow_none=True)
    provider = ma.fields.String(allow_none=True)
    tools_enabled = ma.fields.Boolean(load_default=True)
    prompt_context = ma.fields.String(allow_none=True)
    title = ma.fields.String(allow_none=True)


class ChatFolderSchema(Schema):
    id = ma.fields.UUID()
    name = ma.fields.String()
    color = ma.fields.String(allow_none=True)
    icon = ma.fields.String(allow_none=True)
    position = ma.fields.Integer()
    is_collapsed = ma.fields.Boolean()
    conversation_count = ma.fields.Integer()
    created_at = ma.fields.DateTime()
    updated_at = ma.fields.DateTime()


class ChatFolderListSchema(Schema):
    folders = ma.fields.List(ma.fields.Nested(ChatFolderSchema))
    total = ma.fields.Integer()


class FolderCreateSchema(Schema):
    name = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=120))
    color = ma.fields.String(allow_none=True)
    icon = ma.fields.String(allow_none=True)


class FolderUpdateSchema(Schema):
    name = ma.fields.String(validate=ma.validate.Length(min=1, max=120))
    color = ma.fields.String(allow_none=True)
    icon = ma.fields.String(allow_none=True)
    is_collapsed = ma.fields.Boolean()


class FolderReorderSchema(Schema):
    folder_ids = ma.fields.List(ma.fields.UUID(), required=True)


class ChatFileSchema(Schema):
    id = ma.fields.UUID()
    file_id = ma.fields.UUID()
    conversation_id = ma.fields.UUID()
    filename = ma.fields.String()
    content_type = ma.fields.String()
    size = ma.fields.Integer()
    has_text = ma.fields.Boolean(metadata={"description": "Text was extracted for the AI"})
    url = ma.fields.String(metadata={"description": "Signed download URL, valid for expires_in seconds"})
    expires_in = ma.fields.Integer()
    created_at = ma.fields.DateTime()


class ChatFileListSchema(Schema):
    files = ma.fields.List(ma.fields.Nested(ChatFileSchema))
    total = ma.fields.Integer()


class ChatFileUrlSchema(Schema):
    file_id = ma.fields.UUID()
    url = ma.fields.String()
    download_url = ma.fields.String()
    filename = ma.fields.String()
    expires_in = ma.fields.Integer()


class ChatUploadSchema(Schema):
    file = Upload(required=True)


class TitleRequestSchema(Schema):
    message = ma.fields.String(required=True, validate=ma.validate.Length(min=1))


class TitleSchema(Schema):
    title = ma.fields.String()


class SuggestionArgs(Schema):
    force_refresh = ma.fields.Boolean(load_default=False)


class SuggestionsSchema(Schema):
    suggestions = ma.fields.List(ma.fields.String())
    topics = ma.fields.List(ma.fields.String())
    cached = ma.fields.Boolean()
    generated_at = ma.fields.String()
    cache_date = ma.fields.String()


class SearchRequestSchema(Schema):
    query = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=500))
    limit = ma.fields.Integer(load_default=10, validate=ma.validate.Range(min=1, max=50))
    source_types = ma.fields.List(ma.fields.String(), load_default=None)


class SearchHitSchema(Schema):
    source_type = ma.fields.String()
    source_id = ma.fields.String()
    conversation_id = ma.fields.String(allow_none=True)
    title = ma.fields.String(allow_none=True)
    text = ma.fields.String()
    score = ma.fields.Float(allow_none=True)
    metadata = ma.fields.Dict(allow_none=True)


class SearchResultSchema(Schema):
    query = ma.fields.String()
    results = ma.fields.List(ma.fields.Nested(SearchHitSchema))
    total = ma.fields.Integer()


class BranchSchema(Schema):
    message_id = ma.fields.UUID(
        allow_none=True, metadata={"description": "Branch after this message (default: all)"}
    )
    title = ma.fields.String(allow_none=True)


class FeedbackSchema(Schema):
    rating = ma.fields.String(
        validate=ma.validate.OneOf(["up", "down"]), metadata={"description": "Thumbs up or down"}
    )
    thumbs = ma.fields.String(
        validate=ma.validate.OneOf(["up", "down"]), metadata={"description": "Alias of rating"}
    )
    comment = ma.fields.String(allow_none=True, validate=ma.validate.Length(max=4000))


class DlpDecisionResultSchema(ChatMessageSchema):
    reply_id = ma.fields.UUID(allow_none=True, metadata={"description": "The reply started (allow, redact)"})


class DlpDecisionSchema(Schema):
    decision = ma.fields.String(required=True, validate=ma.validate.OneOf(["allow", "redact", "block"]))


class CancelResultSchema(Schema):
    id = ma.fields.UUID()
    msg_id = ma.fields.UUID()
    status = ma.fields.String()
    canceled = ma.fields.Boolean()


class ShareSchema(Schema):
    user_id = ma.fields.UUID(required=True)


class ParticipantSchema(Schema):
    user_id = ma.fields.UUID()
    role = ma.fields.String()
    name = ma.fields.String(allow_none=True)
    email = ma.fields.String(allow_none=True)
    added_by_id = ma.fields.UUID(allow_none=True)
    created_at = ma.fields.DateTime()


class ParticipantListSchema(Schema):
    participants = ma.fields.List(ma.fields.Nested(ParticipantSchema))
    total = ma.fields.Integer()


class ConversationDeletedSchema(Schema):
    id = ma.fields.UUID()
    deleted = ma.fields.Boolean()


class ChatModelSchema(Schema):
    id = ma.fields.String()
    name = ma.fields.String()
    provider = ma.fields.String()
    supports = ma.fields.List(ma.fields.String())
    is_default = ma.fields.Boolean()


class ChatModelListSchema(Schema):
    models = ma.fields.List(ma.fields.Nested(ChatModelSchema))


class TranscriptSchema(Schema):
    text = ma.fields.String()
    message = ma.fields.Nested(ChatMessageSchema, allow_none=True)
