"""Rate limits: one primitive (`hit` / `check`) and one view decorator (`rate_limit`) on Redis.

Limits are strings such as ``"5/minute"`` or ``"60/minute;1000/hour"`` (every limit must pass).
They are counted in moving windows on the app's Redis server: each admitted request is a timestamp
in one Redis list per limit, and checking, recording and reading every window of a request is one
Lua script (one round trip, atomic), so

- there is no double burst at a window edge: "10/minute" never admits 11 requests in any 60 s;
- a concurrent burst against a limit of 10 admits exactly 10, across threads, processes and hosts;
- with several limits in one string ("60/minute;1000/hour") every limit must have room, and a
  refused request consumes nothing in any of them.

Timestamps come from the web hosts' clocks, so hosts should run NTP.

Usage::

    @rate_limit("5/minute", key=by_ip, scope="login")   # per client address
    @rate_limit("60/minute;1000/hour")                   # per caller (user, API key, token)

    check("proxy-action", action_id, "10/minute;100/hour")   # in a view or service; raises RateLimited

Responses of limited endpoints carry ``RateLimit-Limit``, ``RateLimit-Remaining``,
``RateLimit-Reset`` (seconds until the oldest counted request leaves the window) and
``RateLimit-Policy``; a refusal is a 429 ``rate_limited`` with ``retry_after_seconds`` and
``Retry-After``.

``RATELIMIT_ENABLED = False`` turns every limit off (nothing is counted, nothing is refused).
A Redis failure is not swallowed: the request fails rather than running unlimited.
"""

import math
import time
from dataclasses import dataclass
from functools import cache, wraps

from flask import after_this_request, current_app, has_request_context, request
from limits import parse_many

from narrative.platform.caller import caller_key
from narrative.platform.errors import RateLimited
from narrative.platform.redis import get_redis

__all__ = [
    "RateDecision",
    "RateLimited",
    "by_ip",
    "check",
    "enforce",
    "hit",
    "moving_windows",
    "rate_limit",
]

# The prefix of our counters in Redis.
NAMESPACE = "narrative"
EXTENSION_KEY = "narrative_ratelimit"
DECISION_ENVIRON_KEY = "narrative.rate_decision"


@dataclass(frozen=True)
class RateDecision:
    """The answer for one request: admitted or not, and the numbers a client needs to pace itself.

    With several limits, `limit`, `remaining`, `reset_seconds` and `window_seconds` describe the
    limit closest to refusing (the refusing one, when refused).
    """

    allowed: bool
    limit: int
    remaining: int
    reset_seconds: int
    retry_after_seconds: int
    window_seconds: int

    def headers(self):
        """The RateLimit-* headers (IETF draft names; delta seconds, not timestamps)."""
        headers = {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(self.reset_seconds),
            "RateLimit-Policy": f"{self.limit};w={self.window_seconds}",
        }
        if not self.allowed:
            headers["Retry-After"] = str(self.retry_after_seconds)
        return headers


def by_ip():
    """Key requests by client address.

    This is `request.remote_addr`: behind a reverse proxy or load balancer, configure
    `werkzeug.middleware.proxy_fix.ProxyFix` with the number of trusted hops, or every client
    shares the proxy's address (and one limit).
    """
    return f"ip:{request.remote_addr or 'unknown'}"


def hit(scope, key, limit):
    """Count one request of `key` under `scope` against `limit`; returns the `RateDecision`."""
    windows = moving_windows(scope, key, limit)
    if windows is None:
        return unlimited(limit)
    allowed, stats = _moving_windows_script()(keys=windows.keys, args=windows.arguments)
    return windows.decision(allowed, stats)


# A Lua function, not a script: `hit` runs it alone, and scripts that combine a limit with other
# steps in the same round trip (the proxy's) prepend it, so there is one moving-window algorithm.
# keys: one list of timestamps per limit; now: the time as text (stored as is); limits: amount and
# window seconds per limit, flat. Returns 1 if admitted else 0, and {count, oldest timestamp, ...}.
MOVING_WINDOWS_LUA = """
local function moving_windows(keys, now, limits)
  local clock = tonumber(now)
  local admitted, counts = 1, {}
  for i = 1, #keys do
    local amount, window = limits[2 * i - 1], limits[2 * i]
    -- Newest first: what left the window is at the tail. Dropping it as it expires keeps every
    -- call O(1) amortised, however large the limit (a count by scanning would be O(limit)).
    while true do
      local oldest = redis.call('LINDEX', keys[i], -1)
      if not oldest or tonumber(oldest) > clock - window then break end
      redis.call('RPOP', keys[i])
    end
    counts[i] = redis.call('LLEN', keys[i])
    if counts[i] >= amount then admitted = 0 end
  end
  if admitted == 1 then
    for i = 1, #keys do
      local amount, window = limits[2 * i - 1], limits[2 * i]
      redis.call('LPUSH', keys[i], now)
      redis.call('LTRIM', keys[i], 0, amount - 1)
      redis.call('EXPIRE', keys[i], math.ceil(window))
      counts[i] = math.min(counts[i] + 1, amount)
    end
  end
  local stats = {}
  for i = 1, #keys do
    stats[#stats + 1] = counts[i]
    stats[#stats + 1] = redis.call('LINDEX', keys[i], -1) or now
  end
  return admitted, stats
end
"""

# KEYS: one list per limit; ARGV: now, then amount and window seconds per limit.
_MOVING_WINDOWS = (
    MOVING_WINDOWS_LUA
    + """
local limits = {}
for i = 2, #ARGV do limits[#limits + 1] = tonumber(ARGV[i]) end
local admitted, stats = moving_windows(KEYS, ARGV[1], limits)
return {admitted, stats}
"""
)


@dataclass(frozen=True)
class Windows:
    """The Redis side of one rate-limit check: the keys and arguments `moving_windows` takes."""

    items: tuple
    keys: list
    arguments: list

    def decision(self, allowed, stats):
        """The `RateDecision` of what `moving_windows` answered."""
        windows = []
        for index, item in enumerate(self.items):
            counted, oldest = int(stats[2 * index]), float(stats[2 * index + 1])
            # A slot frees up when the oldest request still in the window leaves it.
            windows.append((item, max(0, item.amount - counted), oldest + item.get_expiry()))
        return _decide(bool(allowed), windows)


def moving_windows(scope, key, limit):
    """The `Windows` to check `key` under `scope` against `limit`; None when limits are off."""
    items = _parse(limit)
    if not current_app.config.get("RATELIMIT_ENABLED", True):
        return None
    keys = [f"{NAMESPACE}:ratelimit:{scope}:{key}:{item.amount}/{item.get_expiry()}" for item in items]
    arguments = [repr(time.time())]
    for item in items:
        arguments += [item.amount, item.get_expiry()]
    return Windows(items=items, keys=keys, arguments=arguments)


def _moving_windows_script():
    app = current_app._get_current_object()
    script = app.extensions.get(EXTENSION_KEY)
    if script is None:
        script = app.extensions.setdefault(EXTENSION_KEY, get_redis().register_script(_MOVING_WINDOWS))
    return script


def check(scope, key, limit):
    """Like `hit`, but raises `RateLimited` (429) when refused (see `enforce`)."""
    return enforce(hit(scope, key, limit))


def enforce(decision):
    """Raise `RateLimited` (429) when `decision` refuses; returns it otherwise.

    In a request, the response (allowed or refused) carries the RateLimit-* headers of the
    tightest decision checked during the request.
    """
    if has_request_context() and current_app.config.get("RATELIMIT_ENABLED", True):
        _expose_in_response(decision)
    if not decision.allowed:
        raise RateLimited(retry_after_seconds=decision.retry_after_seconds, headers=decision.headers())
    return decision


def rate_limit(limit, *, key=None, scope=None):
    """View decorator: refuse with 429 once `key()` (default: the caller) exceeds `limit`.

    `scope` names the counter (default: the view's endpoint name), so two views sharing a scope
    share a limit. Put it below the auth decorator when the key is the caller, so an anonymous
    request is refused by auth rather than counted under its address.
    """
    _parse(limit)  # a typo in a limit fails at import, not on the first request
    key_func = key or caller_key

    def decorator(view):
        @wraps(view)
        def limited_view(*args, **kwargs):
            # An empty key must not skip the limit: such requests share one counter instead.
            check(scope or request.endpoint, key_func() or "unknown", limit)
            return view(*args, **kwargs)

        return limited_view

    return decorator


@cache
def _parse(limit):
    items = tuple(parse_many(limit))
    if not items:
        raise ValueError(f"no rate limit in {limit!r}")
    return items


def _decide(allowed, windows):
    now = time.time()
    exhausted = [window for window in windows if window[1] < 1]
    if not allowed and exhausted:
        # The client may retry once every exhausted limit has a free slot.
        item, remaining, reset_at = max(exhausted, key=lambda window: window[2])
    else:
        item, remaining, reset_at = min(windows, key=lambda window: (window[1], window[2]))
    reset_seconds = max(0, math.ceil(reset_at - now))
    return RateDecision(
        allowed=allowed,
        limit=item.amount,
        remaining=remaining,
        reset_seconds=reset_seconds,
        retry_after_seconds=0 if allowed else max(1, reset_seconds),
        window_seconds=item.get_expiry(),
    )


def unlimited(limit):
    """The decision when limits are off: admitted, nothing counted."""
    item = _parse(limit)[0]
    return RateDecision(
        allowed=True,
        limit=item.amount,
        remaining=item.amount,
        reset_seconds=0,
        retry_after_seconds=0,
        window_seconds=item.get_expiry(),
    )


def _expose_in_response(decision):
    # Kept in the request's environ, not in g: an app context may outlive one request (tests, CLI).
    current = request.environ.get(DECISION_ENVIRON_KEY)
    if current is None:
        after_this_request(_add_decision_headers)
    if current is None or _is_tighter(decision, current):
        request.environ[DECISION_ENVIRON_KEY] = decision


def _is_tighter(decision, other):
    return (decision.allowed, decision.remaining) < (other.allowed, other.remaining)


def _add_decision_headers(response):
    decision = request.environ.get(DECISION_ENVIRON_KEY)
    if decision is not None:
        for name, value in decision.headers().items():
            response.headers[name] = value
    return response
