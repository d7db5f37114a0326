"""Sessions at the service level: rotation, reuse detection, revocation, single-use tokens."""

import pytest

from narrative.extensions import db
from narrative.identity import tokens
from narrative.identity.credential_models import RefreshToken
from tests.identity.factories import issue_tokens_for, make_user


def _same_role(user, workspace_id):
    return workspace_id, "owner"


def _whoami(client, access_token):
    return client.get("/_probe/identity/signed-in", headers={"Authorization": f"Bearer {access_token}"})


def test_rotation_issues_a_new_pair_and_retires_the_old_access_token(client):
    first = issue_tokens_for(make_user())
    second = tokens.rotate_refresh_token(refresh_token=first.refresh_token, resolve_role=_same_role)
    db.session.commit()
    assert second.refresh_token != first.refresh_token and second.session_id == first.session_id
    assert _whoami(client, second.access_token).status_code == 200
    old = _whoami(client, first.access_token)
    assert old.status_code == 401 and old.json["error"] == "token_revoked"


def test_reusing_a_spent_refresh_token_revokes_the_whole_family(client):
    first = issue_tokens_for(make_user())
    second = tokens.rotate_refresh_token(refresh_token=first.refresh_token, resolve_role=_same_role)
    db.session.commit()
    with pytest.raises(tokens.TokenRevoked):
        tokens.rotate_refresh_token(refresh_token=first.refresh_token, resolve_role=_same_role)
    rows = db.session.scalars(db.select(RefreshToken).filter_by(family_id=first.session_id)).all()
    assert len(rows) == 2 and all(row.revoked_at is not None for row in rows)
    assert _whoami(client, second.access_token).json["error"] == "token_revoked"
    with pytest.raises(tokens.TokenRevoked):
        tokens.rotate_refresh_token(refresh_token=second.refresh_token, resolve_role=_same_role)


def test_revoke_all_sessions_ends_every_session_of_the_user_only(client):
    user = make_user()
    other = issue_tokens_for(make_user())
    sessions = [issue_tokens_for(user), issue_tokens_for(user)]
    tokens.revoke_all_sessions(user=user)
    db.session.commit()
    for pair in sessions:
        assert _whoami(client, pair.access_token).status_code == 401
        with pytest.raises(tokens.TokenRevoked):
            tokens.rotate_refresh_token(refresh_token=pair.refresh_token, resolve_role=_same_role)
    assert _whoami(client, other.access_token).status_code == 200


def test_an_access_token_is_not_a_refresh_token(client):
    pair = issue_tokens_for(make_user())
    with pytest.raises(tokens.InvalidToken):
        tokens.rotate_refresh_token(refresh_token=pair.access_token, resolve_role=_same_role)
    assert _whoami(client, pair.refresh_token).json["error"] == "invalid_token"


def test_expired_access_token_says_token_expired(app, client):
    user = make_user()
    app.config["JWT_ACCESS_TOKEN_EXPIRES"] = -10
    try:
        pair = issue_tokens_for(user)
    finally:
        app.config["JWT_ACCESS_TOKEN_EXPIRES"] = 900
    response = _whoami(client, pair.access_token)
    assert response.status_code == 401 and response.json["error"] == "token_expired"


def test_one_time_tokens_are_hashed_single_use_and_expire(app):
    user = make_user()
    row, raw = tokens.create_one_time_token(purpose="password_reset", expires_in=60, user_id=user.id)
    assert raw not in row.token_hash and row.token_hash == tokens.hash_secret(raw)
    assert tokens.consume_one_time_token(purpose="password_reset", raw=raw).user_id == user.id
    with pytest.raises(tokens.InvalidOneTimeToken):
        tokens.consume_one_time_token(purpose="password_reset", raw=raw)
    _, other = tokens.create_one_time_token(purpose="activation", expires_in=-1, user_id=user.id)
    with pytest.raises(tokens.InvalidOneTimeToken):
        tokens.consume_one_time_token(purpose="activation", raw=other)
    _, wrong_purpose = tokens.create_one_time_token(purpose="activation", expires_in=60, user_id=user.id)
    with pytest.raises(tokens.InvalidOneTimeToken):
        tokens.consume_one_time_token(purpose="password_reset", raw=wrong_purpose)
