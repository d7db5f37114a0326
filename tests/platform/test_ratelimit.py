"""Rate limits: exact admission under concurrency, a true moving window, the 429 format and headers."""

import threading
import types

import limits.storage.redis
import pytest

from narrative.platform import ratelimit
from narrative.platform.ratelimit import RateLimited, check, hit

# A minute boundary, so "just before" and "just after" straddle a fixed window's edge.
MINUTE_EDGE = 1_700_000_040.0


@pytest.fixture
def clock(monkeypatch):
    """A settable clock for the limits library's Redis storage and our reset arithmetic."""
    fake = types.SimpleNamespace(now=MINUTE_EDGE)
    fake_time = types.SimpleNamespace(time=lambda: fake.now)
    monkeypatch.setattr(limits.storage.redis, "time", fake_time)
    monkeypatch.setattr(ratelimit, "time", fake_time)
    return fake


def run_together(count, action):
    """Run `action()` in `count` threads released at the same instant; returns their results."""
    barrier = threading.Barrier(count)
    results = [None] * count

    def run(index):
        barrier.wait()
        results[index] = action()

    threads = [threading.Thread(target=run, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return results


def test_concurrent_burst_on_hit_admits_exactly_the_limit(app):
    def one_hit():
        with app.app_context():
            return hit("burst", "caller-1", "10/minute").allowed

    results = run_together(50, one_hit)
    assert results.count(True) == 10
    assert results.count(False) == 40


def test_concurrent_burst_through_a_view_admits_exactly_the_limit(app):
    def one_request():
        response = app.test_client().post("/_probe/limits/burst", headers={"X-Probe-Client": "c1"})
        return response.status_code

    statuses = run_together(50, one_request)
    assert statuses.count(200) == 10
    assert statuses.count(429) == 40


def test_allowed_responses_carry_ratelimit_headers(client):
    remaining = []
    for _ in range(5):
        response = client.post("/_probe/limits/login")
        assert response.status_code == 200
        assert response.headers["RateLimit-Limit"] == "5"
        assert response.headers["RateLimit-Policy"] == "5;w=60"
        assert 0 < int(response.headers["RateLimit-Reset"]) <= 60
        assert "Retry-After" not in response.headers
        remaining.append(int(response.headers["RateLimit-Remaining"]))
    assert remaining == [4, 3, 2, 1, 0]


def test_refusal_is_429_in_the_one_error_format(client):
    for _ in range(5):
        client.post("/_probe/limits/login")
    response = client.post("/_probe/limits/login")

    assert response.status_code == 429
    body = response.get_json()
    assert body["error"] == "rate_limited"
    assert body["message"] == body["detail"]
    assert body["request_id"] == response.headers["X-Request-Id"]
    retry_after = body["retry_after_seconds"]
    assert isinstance(retry_after, int)
    assert 1 <= retry_after <= 60
    assert response.headers["Retry-After"] == str(retry_after)
    assert response.headers["RateLimit-Limit"] == "5"
    assert response.headers["RateLimit-Remaining"] == "0"
    assert int(response.headers["RateLimit-Reset"]) == retry_after


def test_login_limit_is_per_client_address(client):
    for _ in range(5):
        client.post("/_probe/limits/login", environ_base={"REMOTE_ADDR": "10.0.0.1"})
    assert client.post("/_probe/limits/login", environ_base={"REMOTE_ADDR": "10.0.0.1"}).status_code == 429
    assert client.post("/_probe/limits/login", environ_base={"REMOTE_ADDR": "10.0.0.2"}).status_code == 200
    # Without ProxyFix a forwarded-for header cannot buy a fresh limit.
    spoofed = client.post(
        "/_probe/limits/login",
        environ_base={"REMOTE_ADDR": "10.0.0.1"},
        headers={"X-Forwarded-For": "203.0.113.9"},
    )
    assert spoofed.status_code == 429


def test_moving_window_has_no_double_burst_at_the_window_edge(app, clock):
    clock.now = MINUTE_EDGE - 0.5
    assert all(hit("edge", "k", "10/minute").allowed for _ in range(10))

    # A fixed window would start afresh here and admit ten more within one second.
    clock.now = MINUTE_EDGE + 0.5
    refused = hit("edge", "k", "10/minute")
    assert not refused.allowed
    assert refused.retry_after_seconds == 59

    # Sixty seconds after the burst, the whole burst has left the window.
    clock.now = MINUTE_EDGE - 0.5 + 60.01
    after = hit("edge", "k", "10/minute")
    assert after.allowed
    assert after.remaining == 9


def test_refused_requests_do_not_consume_the_window(app, clock):
    for _ in range(2):
        assert hit("refusals", "k", "2/second").allowed
    for _ in range(20):
        assert not hit("refusals", "k", "2/second").allowed
    clock.now += 1.01
    assert hit("refusals", "k", "2/second").allowed


def test_every_limit_of_several_must_pass(app, clock):
    limit = "2/second;3/minute"
    first, second = hit("multi", "k", limit), hit("multi", "k", limit)
    assert first.allowed and second.allowed
    # The tighter limit is the one reported.
    assert (second.limit, second.remaining, second.window_seconds) == (2, 0, 1)

    clock.now += 0.1
    refused = hit("multi", "k", limit)
    assert not refused.allowed
    assert (refused.limit, refused.retry_after_seconds) == (2, 1)

    # The refusal above did not consume the minute limit: one slot is left there.
    clock.now += 1.0
    third = hit("multi", "k", limit)
    assert third.allowed
    assert (third.limit, third.remaining) == (3, 0)

    clock.now += 1.0
    refused_by_minute = hit("multi", "k", limit)
    assert not refused_by_minute.allowed
    assert refused_by_minute.limit == 3
    assert 57 <= refused_by_minute.retry_after_seconds <= 58


def test_scopes_and_keys_are_independent(app):
    assert hit("scope-a", "k", "1/minute").allowed
    assert not hit("scope-a", "k", "1/minute").allowed
    assert hit("scope-b", "k", "1/minute").allowed
    assert hit("scope-a", "other", "1/minute").allowed


def test_check_raises_rate_limited_with_headers(app):
    decision = check("proxy-action", "act_1", "1/minute;100/hour")
    assert decision.allowed
    with pytest.raises(RateLimited) as refused:
        check("proxy-action", "act_1", "1/minute;100/hour")
    error = refused.value
    assert error.status == 429
    assert error.code == "rate_limited"
    assert error.extra["retry_after_seconds"] == error.retry_after_seconds >= 1
    assert error.headers["Retry-After"] == str(error.retry_after_seconds)
    assert error.headers["RateLimit-Limit"] == "1"


def test_disabled_limits_admit_everything_and_count_nothing(app, monkeypatch):
    monkeypatch.setitem(app.config, "RATELIMIT_ENABLED", False)
    decisions = [hit("off", "k", "1/minute") for _ in range(5)]
    assert all(decision.allowed for decision in decisions)
    monkeypatch.setitem(app.config, "RATELIMIT_ENABLED", True)
    assert hit("off", "k", "1/minute").allowed


def test_a_malformed_limit_fails_at_decoration():
    with pytest.raises(ValueError):
        ratelimit.rate_limit("five a minute")
