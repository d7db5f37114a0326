"""A password login with the MFA hook, as `auth_service.login` gets it (see narrative.identity.mfa).

It runs the exact sequence the real login runs once the hook is in: first factor (or a challenge
token), second factor, session. The MFA tests drive it until the core login carries the hook.
"""

import dataclasses

from flask import request

from narrative.identity import auth_service, mfa
from narrative.identity.access import require
from narrative.platform.api import Blueprint

blp = Blueprint("probe_studio_auth", __name__)


@blp.route("/_probe/studio-auth/login", methods=["POST"])
@require(public=True)
def login_with_second_factor():
    body = request.get_json() or {}
    code = body.get("mfa_code") or body.get("otp")
    workspace_id = None
    if body.get("mfa_token"):
        user, workspace_id = mfa.complete_challenge(token=body["mfa_token"], code=code)
    else:
        user = auth_service.authenticate(email=body.get("email"), password=body.get("password"))
        workspace_id = body.get("workspace_id")
        mfa.require_second_factor(user=user, code=code, workspace_id=workspace_id)
    pair = auth_service.start_session(user=user, workspace_id=workspace_id)
    return {key: str(value) if value is not None else None for key, value in dataclasses.asdict(pair).items()}
