"""Configuration profiles."""

import pytest

import config
from narrative.app import create_app


def test_production_refuses_default_secrets(monkeypatch):
    monkeypatch.setattr(config.ProductionConfig, "SECRET_KEY", config.DEFAULT_SECRET)
    monkeypatch.delenv("JWT_SECRET_KEY", raising=False)
    with pytest.raises(RuntimeError) as excinfo:
        create_app("production")
    assert "SECRET_KEY" in str(excinfo.value) and "JWT_SECRET_KEY" in str(excinfo.value)


def test_production_starts_with_real_secrets(monkeypatch):
    monkeypatch.setattr(config.ProductionConfig, "SECRET_KEY", "s" * 40)
    monkeypatch.setenv("JWT_SECRET_KEY", "j" * 40)
    assert config.ProductionConfig.check() == []


def test_unknown_profile_is_named():
    with pytest.raises(RuntimeError, match="NARRATIVE_ENV"):
        config.config_for("staging")


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgres://u@h/db", "postgresql+psycopg://u@h/db"),
        ("postgresql://u@h/db", "postgresql+psycopg://u@h/db"),
        ("sqlite:///x.db", "sqlite:///x.db"),
    ],
)
def test_database_urls_use_psycopg3(given, expected):
    assert config.normalise_database_url(given) == expected
