"""Two apps in one process keep their own Redis: the extension object is shared, its state is not."""

from tests.conftest import make_app


def test_a_second_app_does_not_repoint_the_first_apps_redis(app, services):
    from narrative.platform.redis import get_redis

    with app.app_context():
        first = get_redis()
    other = make_app(services, REDIS_URL="redis://127.0.0.1:6399/7")  # never connected to
    with other.app_context():
        assert get_redis().connection_pool.connection_kwargs["port"] == 6399
    with app.app_context():
        assert get_redis() is first
        assert app.extensions["narrative_redis"].url() == services["redis_url"]
