"""The base of every request and response schema: input the database cannot store is refused here.

Every schema inherits `Schema` (not `marshmallow.Schema`), so each of its fields gets, once, when
the schema is built:

- text (String and its kinds: Email, Url, UUID...): no NUL character (PostgreSQL cannot store
  one) and at most `MAX_TEXT_LENGTH` characters unless the field says less;
- integers: within a signed 64-bit integer, the widest integer column, unless the field has a
  range of its own with both ends.

A refused value is a 422 `validation_failed` whose `details` name the field, like any validation
error. Columns narrower than that (a VARCHAR(n), a 32-bit INTEGER) are checked when the row is
flushed (`narrative.platform.models`), so a value is never cut or overflowed silently either.
"""

import marshmallow as ma

MAX_TEXT_LENGTH = 1_000_000
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


def refuse_nul(value):
    if isinstance(value, str) and "\x00" in value:
        raise ma.ValidationError("Text may not contain NUL (\\u0000) characters.")


def _has(field, validator_type):
    return any(isinstance(validator, validator_type) for validator in field.validators)


def _add_validators(field, *validators):
    # A new list: a schema instance's fields are shallow copies sharing the declared field's list.
    field.validators = [*field.validators, *validators]


def _guard_text(field):
    if _has(field, ma.validate.Length):
        _add_validators(field, refuse_nul)
    else:
        _add_validators(field, refuse_nul, ma.validate.Length(max=MAX_TEXT_LENGTH))


def _bounded(field):
    return any(
        isinstance(validator, ma.validate.Range) and validator.min is not None and validator.max is not None
        for validator in field.validators
    )


def _guard_integer(field):
    if not _bounded(field):
        _add_validators(field, ma.validate.Range(min=INT64_MIN, max=INT64_MAX))


def guard_field(field):
    """Add the storability checks to one field (and to the items of a list or the values of a dict)."""
    if getattr(field, "_storable_guarded", False):
        return
    field._storable_guarded = True
    if isinstance(field, ma.fields.String):
        _guard_text(field)
    elif isinstance(field, ma.fields.Integer):
        _guard_integer(field)
    elif isinstance(field, ma.fields.List):
        guard_field(field.inner)
    elif isinstance(field, ma.fields.Tuple):
        for inner in field.tuple_fields:
            guard_field(inner)
    elif isinstance(field, ma.fields.Dict):
        for inner in (field.key_field, field.value_field):
            if inner is not None:
                guard_field(inner)


class Schema(ma.Schema):
    """marshmallow's Schema with the platform's storability checks on every field."""

    def on_bind_field(self, field_name, field_obj):
        guard_field(field_obj)
        super().on_bind_field(field_name, field_obj)
