"""A JWT signed with the platform's own key is still refused when it lacks `exp` (or `jti`).

pyjwt only checks `exp` when the claim is present, so such a token would never expire. The
tokens here are re-signed copies of a genuinely issued one, with one claim removed: the copy with
every claim kept is accepted, so a 401 can only come from the missing claim.
"""

import jwt as pyjwt
import pytest

from tests.identity.factories import issue_tokens_for, make_user

ME = "/api/v1/auth/me"


def _claims_of(token):
    return pyjwt.decode(token, options={"verify_signature": False})


def _resigned(app, claims, *, without=()):
    kept = {name: value for name, value in claims.items() if name not in without}
    algorithm = app.config.get("JWT_ALGORITHM") or "HS256"
    return pyjwt.encode(kept, app.config["JWT_SECRET_KEY"], algorithm=algorithm)


def _me(client, token):
    return client.get(ME, headers={"Authorization": f"Bearer {token}"})


def test_a_resigned_copy_with_every_claim_is_accepted(app, client):
    claims = _claims_of(issue_tokens_for(make_user()).access_token)
    assert _me(client, _resigned(app, claims)).status_code == 200


@pytest.mark.parametrize("claim", ["exp", "jti"])
def test_an_access_token_without_the_claim_is_401_invalid_token(app, client, claim):
    claims = _claims_of(issue_tokens_for(make_user()).access_token)
    assert claim in claims
    response = _me(client, _resigned(app, claims, without=(claim,)))
    assert response.status_code == 401
    assert response.json["error"] == "invalid_token"


def test_a_refresh_token_without_exp_is_refused(app, client):
    claims = _claims_of(issue_tokens_for(make_user()).refresh_token)
    response = client.post(
        "/api/v1/auth/refresh", json={"refresh_token": _resigned(app, claims, without=("exp",))}
    )
    assert response.status_code == 401
    assert response.json["error"] == "invalid_token"
