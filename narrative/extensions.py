"""The extension objects, created once and bound to the app in `create_app`."""

from flask_jwt_extended import JWTManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from rq import Queue
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

from narrative.platform.api import Api
from narrative.platform.redis import RedisConnection, get_redis_bytes
from narrative.platform.tenancy import TenantSession

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


# Every session is tenant-scoped (narrative.platform.tenancy).
db = SQLAlchemy(model_class=Base, session_options={"class_": TenantSession})
migrate = Migrate()
jwt = JWTManager()
api = Api()
redis_connection = RedisConnection()

# Interactive work (chat replies) first, then ordinary jobs, then bulk work (exports, syncs).
QUEUE_NAMES = ("high", "default", "low")


def get_queue(name="default"):
    if name not in QUEUE_NAMES:
        raise ValueError(f"unknown queue {name!r}")
    return Queue(name, connection=get_redis_bytes())
