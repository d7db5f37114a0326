"""Probe routes gated by the licence tier and feature decorators."""

from narrative.identity.access import require
from narrative.licensing.service import require_feature, require_tier
from narrative.platform.api import Blueprint

blp = Blueprint("probe_licensing", __name__)


@blp.route("/_probe/licensing/pro")
@require()
@require_tier("pro")
def pro_only():
    return {"ok": True}


@blp.route("/_probe/licensing/audit")
@require()
@require_feature("audit")
def audit_feature():
    return {"ok": True}
