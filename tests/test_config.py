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


@pytest.mark.parametrize(
    ("setting", "value"),
    [("JWT_ACCESS_TOKEN_MINUTES", 0), ("JWT_ACCESS_TOKEN_MINUTES", -5), ("JWT_REFRESH_TOKEN_DAYS", 0)],
)
def test_token_lifetimes_below_one_unit_are_refused(monkeypatch, setting, value):
    monkeypatch.setattr(config.TestingConfig, setting, value)
    assert config.TestingConfig.check() == [f"{setting} must be at least 1"]
    with pytest.raises(RuntimeError, match=setting):
        create_app("testing")


def test_production_reports_token_lifetimes_with_the_secrets(monkeypatch):
    monkeypatch.setattr(config.ProductionConfig, "SECRET_KEY", "s" * 40)
    monkeypatch.setenv("JWT_SECRET_KEY", "j" * 40)
    monkeypatch.setattr(config.ProductionConfig, "JWT_REFRESH_TOKEN_DAYS", 0)
    assert config.ProductionConfig.check() == ["JWT_REFRESH_TOKEN_DAYS must be at least 1"]


def test_default_token_lifetimes_pass():
    assert config.TestingConfig.check() == []
    assert config.TestingConfig.JWT_ACCESS_TOKEN_EXPIRES == config.TestingConfig.JWT_ACCESS_TOKEN_MINUTES * 60
