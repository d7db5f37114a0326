"""Licence endpoints of the organisation assistant: status, apply a signed key, revert to Community."""

from narrative.identity.access import current_user, require
from narrative.licensing import service
from narrative.licensing.schemas import LicenseApplySchema, LicenseStatusSchema
from narrative.platform.api import Blueprint
from narrative.platform.tenancy import current_workspace_id

blp = Blueprint("licensing", __name__, description="Licence tier, features and limits (assistant)")


@blp.route("/api/license/status")
@blp.operation("assistant.license.status")
@require("license.read")
@blp.response(200, LicenseStatusSchema)
def license_status():
    """Active tier, its features and limits, and the licence in force"""
    return service.entitlements(current_workspace_id())


@blp.route("/api/license/apply", methods=["POST"])
@blp.operation("assistant.license.apply")
@require("license.manage")
@blp.arguments(LicenseApplySchema)
@blp.response(200, LicenseStatusSchema)
def apply_license(payload):
    """Apply a signed licence key (422 when its signature, audience or validity is wrong)"""
    workspace_id = current_workspace_id()
    service.apply_license(
        workspace_id=workspace_id, license_key=payload["license_key"], applied_by=current_user()
    )
    return service.entitlements(workspace_id)


@blp.route("/api/license", methods=["DELETE"])
@blp.operation("assistant.license.revert")
@require("license.manage")
@blp.response(200, LicenseStatusSchema)
def revert_license():
    """Revert to Community: the licence in force is retired"""
    service.revert_license()
    return service.entitlements(current_workspace_id())
