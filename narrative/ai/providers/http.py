"""HTTP plumbing shared by the real adapters: one client, timeouts, retries and error mapping.

Retries: a 429 or 5xx answer (and a connection failure) is retried up to `MAX_RETRIES` times with
exponential backoff (0.5 s, 1 s, 2 s... capped), or after the Retry-After the provider asked for
(capped at `MAX_RETRY_AFTER`). A stream is retried only before its first byte is read.

Errors become `ProviderError` (502 provider_error) with a message naming the provider and what it
said: 401/403 a rejected key, 429 after retries `provider_rate_limited` (503, Retry-After kept),
a timeout `ProviderTimeout` (504), an unreachable server 502 `provider_unreachable`.
"""

import email.utils
import json
import logging
import time
from contextlib import contextmanager
from datetime import UTC, datetime

import httpx

from narrative.ai.providers.base import ProviderError, ProviderTimeout

log = logging.getLogger("narrative.ai.http")

MAX_RETRIES = 2
BASE_BACKOFF = 0.5
MAX_BACKOFF = 8.0
MAX_RETRY_AFTER = 30.0
TIMEOUT = httpx.Timeout(120.0, connect=5.0)
RETRY_STATUSES = {408, 409, 429, 500, 502, 503, 504, 529}
_sleep = time.sleep  # tests replace it


def make_client(base_url, default_base_url):
    """A client for the provider; a base URL an administrator typed goes through the safe client."""
    if base_url.rstrip("/") == default_base_url.rstrip("/"):
        return httpx.Client(timeout=TIMEOUT)
    from narrative.platform.outbound import safe_client

    return safe_client(timeout=TIMEOUT)


def retry_delay(response, attempt):
    header = response.headers.get("retry-after") if response is not None else None
    if header:
        try:
            return min(max(float(header), 0.0), MAX_RETRY_AFTER)
        except ValueError:
            when = email.utils.parsedate_to_datetime(header)
            if when is not None:
                return min(max((when - datetime.now(UTC)).total_seconds(), 0.0), MAX_RETRY_AFTER)
    return min(BASE_BACKOFF * (2**attempt), MAX_BACKOFF)


def _provider_message(response):
    try:
        body = response.json()
    except ValueError:
        return (response.text or "").strip()[:300]
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        return str(error.get("message") or error.get("type") or error)[:300]
    if isinstance(error, str):
        return error[:300]
    return str(body.get("message") or body)[:300] if isinstance(body, dict) else str(body)[:300]


def raise_for_status(provider_name, response):
    if response.status_code < 400:
        return
    status = response.status_code
    said = _provider_message(response)
    if status in (401, 403):
        raise ProviderError(
            f"The {provider_name} provider rejected the API key ({status}): {said}. "
            "Check providers." + provider_name + ".api_key in the workspace's AI settings.",
            extra={"provider": provider_name, "provider_status": status},
        )
    if status == 429:
        retry_after = response.headers.get("retry-after")
        raise ProviderError(
            f"The {provider_name} provider is rate limiting this workspace: {said}",
            status=503,
            code="provider_rate_limited",
            headers={"Retry-After": retry_after} if retry_after else None,
            extra={"provider": provider_name, "provider_status": status},
        )
    raise ProviderError(
        f"The {provider_name} provider answered {status}: {said}",
        extra={"provider": provider_name, "provider_status": status},
    )


def _transport_error(provider_name, exc):
    if isinstance(exc, httpx.TimeoutException):
        return ProviderTimeout(
            f"The {provider_name} provider did not answer in time.", extra={"provider": provider_name}
        )
    return ProviderError(
        f"The {provider_name} provider cannot be reached: {exc.__class__.__name__}.",
        code="provider_unreachable",
        extra={"provider": provider_name},
    )


def request(client, provider_name, method, url, **kwargs):
    """One request with retries; the successful response (errors raised as ProviderError)."""
    for attempt in range(MAX_RETRIES + 1):
        try:
            response = client.request(method, url, **kwargs)
        except httpx.TransportError as exc:
            if attempt < MAX_RETRIES and not isinstance(exc, httpx.TimeoutException):
                _sleep(retry_delay(None, attempt))
                continue
            raise _transport_error(provider_name, exc) from None
        if response.status_code in RETRY_STATUSES and attempt < MAX_RETRIES:
            log.info("%s answered %s; retrying", provider_name, response.status_code)
            _sleep(retry_delay(response, attempt))
            continue
        raise_for_status(provider_name, response)
        return response
    raise AssertionError("unreachable")


@contextmanager
def stream(client, provider_name, method, url, **kwargs):
    """A streamed response (status checked, retried before the body is read)."""
    for attempt in range(MAX_RETRIES + 1):
        try:
            response = client.send(client.build_request(method, url, **kwargs), stream=True)
        except httpx.TransportError as exc:
            if attempt < MAX_RETRIES and not isinstance(exc, httpx.TimeoutException):
                _sleep(retry_delay(None, attempt))
                continue
            raise _transport_error(provider_name, exc) from None
        if response.status_code >= 400:
            response.read()
            response.close()
            if response.status_code in RETRY_STATUSES and attempt < MAX_RETRIES:
                _sleep(retry_delay(response, attempt))
                continue
            raise_for_status(provider_name, response)
        try:
            yield response
        except httpx.TransportError as exc:
            raise _transport_error(provider_name, exc) from None
        finally:
            response.close()
        return


def sse_events(response):
    """(event name or None, parsed JSON data or the raw string) of a text/event-stream body."""
    event, data_lines = None, []
    for line in response.iter_lines():
        if line == "":
            if data_lines:
                yield event, _parsed("\n".join(data_lines))
            event, data_lines = None, []
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "event":
            event = value
        elif name == "data":
            data_lines.append(value)
    if data_lines:
        yield event, _parsed("\n".join(data_lines))


def _parsed(data):
    try:
        return json.loads(data)
    except ValueError:
        return data
