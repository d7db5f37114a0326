"""A recordset's pipeline: a single-select field whose choices are the stages records move
through, summarised with the number of records per stage. (Pipeline management with its own
tables is core-03's; a recordset links one through `pipeline_id`.)"""

import sqlalchemy as sa

from narrative.extensions import db
from narrative.platform.errors import Conflict, NotFound, ValidationFailed
from narrative.platform.models import new_id
from narrative.records.filters import _dialect, _Field
from narrative.records.models import ACTIVE, Record


def pipeline_summary(recordset):
    link = (recordset.settings or {}).get("pipeline") or {}
    stage_key = link.get("stage_field")
    spec = recordset.field(stage_key) if stage_key else None
    if spec is None:
        raise NotFound("This recordset has no pipeline.")
    stage = _Field(recordset, stage_key, _dialect()).text()
    counts = dict(
        db.session.execute(
            sa.select(stage, sa.func.count())
            .select_from(Record)
            .where(Record.recordset_id == recordset.id, Record.status == ACTIVE)
            .group_by(stage)
        ).all()
    )
    stages = [
        {
            "value": choice["value"],
            "label": choice["label"],
            "color": choice.get("color"),
            "count": counts.get(choice["value"], 0),
        }
        for choice in spec["options"].get("choices") or []
    ]
    unstaged = counts.get(None, 0)
    if unstaged:
        stages.append({"value": None, "label": "No stage", "color": None, "count": unstaged})
    return {
        "recordset_id": recordset.id,
        "pipeline_id": recordset.pipeline_id,
        "stage_field": stage_key,
        "stages": stages,
    }


def create_pipeline(recordset, *, stage_field):
    spec = recordset.field(stage_field)
    if spec is None or spec["type"] != "single_select":
        raise ValidationFailed(
            "The stage field must be a single-select field of the recordset.",
            details=[{"field": "stage_field", "message": "must be a single_select field"}],
        )
    if ((recordset.settings or {}).get("pipeline") or {}).get("stage_field"):
        raise Conflict("This recordset already has a pipeline.")
    recordset.pipeline_id = recordset.pipeline_id or new_id()
    recordset.settings = {**(recordset.settings or {}), "pipeline": {"stage_field": stage_field}}
    return pipeline_summary(recordset)
