"""The administration commands: seeding, users and API keys."""

from narrative.extensions import db
from narrative.identity.models import ApiKey, Member, User
from narrative.identity.passwords import verify_password
from narrative.platform.crypto import hash_secret


def test_create_user_creates_their_workspace(cli):
    result = cli.invoke(
        args=["narrative", "create-user", "--email", "Ada@Example.com", "--password", "correct horse"]
    )
    assert result.exit_code == 0, result.output
    user = db.session.scalar(db.select(User).filter_by(email="ada@example.com"))
    assert verify_password(user.password_hash, "correct horse")
    assert not verify_password(user.password_hash, "wrong")
    assert user.memberships[0].role == "owner"


def test_create_user_joins_named_workspace_and_admin_flag(cli):
    cli.invoke(
        args=[
            "narrative",
            "create-user",
            "--email",
            "a@x.io",
            "--password",
            "password1",
            "--workspace",
            "Acme",
        ]
    )
    result = cli.invoke(
        args=[
            "narrative",
            "create-user",
            "--email",
            "b@x.io",
            "--password",
            "password2",
            "--workspace",
            "Acme",
            "--admin",
        ]
    )
    assert result.exit_code == 0, result.output
    members = db.session.scalars(db.select(Member).order_by(Member.created_at)).all()
    assert [m.role for m in members] == ["owner", "admin"]
    assert members[0].workspace_id == members[1].workspace_id
    assert db.session.scalar(db.select(User).filter_by(email="b@x.io")).is_platform_admin


def test_create_user_refuses_duplicates_and_bad_input(cli):
    cli.invoke(args=["narrative", "create-user", "--email", "a@x.io", "--password", "password1"])
    again = cli.invoke(args=["narrative", "create-user", "--email", "A@x.io", "--password", "password1"])
    assert again.exit_code != 0 and "already exists" in again.output
    short = cli.invoke(args=["narrative", "create-user", "--email", "c@x.io", "--password", "short"])
    assert short.exit_code != 0 and "password" in short.output
    bad = cli.invoke(args=["narrative", "create-user", "--email", "not-an-email", "--password", "password1"])
    assert bad.exit_code != 0 and "email" in bad.output


def test_create_api_key_prints_it_once_and_stores_only_a_hash(cli):
    cli.invoke(args=["narrative", "create-user", "--email", "a@x.io", "--password", "password1"])
    result = cli.invoke(args=["narrative", "create-api-key", "--email", "a@x.io", "--name", "ci"])
    assert result.exit_code == 0, result.output
    raw = result.stdout.strip().splitlines()[0]
    assert raw.startswith("sk_") and len(raw) > 40
    key = db.session.scalar(db.select(ApiKey))
    assert key.key_hash == hash_secret(raw)
    assert raw not in (key.prefix, key.key_hash) and raw.startswith(key.prefix)


def test_create_api_key_for_unknown_user_fails(cli):
    result = cli.invoke(args=["narrative", "create-api-key", "--email", "ghost@x.io"])
    assert result.exit_code != 0 and "No user" in result.output


def test_seed_is_idempotent(app, cli):
    first = cli.invoke(args=["narrative", "seed"])
    assert first.exit_code == 0 and "created" in first.output
    second = cli.invoke(args=["narrative", "seed"])
    assert second.exit_code == 0 and "already present" in second.output
    assert db.session.scalar(db.select(db.func.count()).select_from(User)) == 1
    demo = db.session.scalar(db.select(User))
    assert demo.email == app.config["DEMO_EMAIL"]
