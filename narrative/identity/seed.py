"""The demo user and workspace that every other domain's demo data hangs off."""

import secrets

from flask import current_app

from narrative.identity.service import create_user, find_user_by_email


def demo_login_file():
    from config import instance_dir

    return instance_dir() / "demo-login.txt"


def seed_demo(demo):
    email = current_app.config["DEMO_EMAIL"]
    user = find_user_by_email(email)
    if user is None:
        password = current_app.config["DEMO_PASSWORD"]
        generated = password is None
        if generated:
            password = secrets.token_urlsafe(12)
        user = create_user(
            email=email,
            password=password,
            name="Demo User",
            workspace_name="Demo workspace",
            platform_admin=True,
        )
        if generated:
            # Hashed in the database, so the generated password is kept here to be shown on every start.
            path = demo_login_file()
            path.write_text(f"{email}\n{password}\n")
            path.chmod(0o600)
        demo.created = True
    demo.user = user
    demo.workspace = user.memberships[0].workspace
