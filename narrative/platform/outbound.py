"""The one HTTP client for every URL a user supplies: webhooks, URL import, proxy targets, crawling.

A user-supplied URL must never reach our own network: loopback, private (RFC 1918), link-local
(169.254.169.254, the cloud metadata service, and fe80::/10), CGNAT, multicast, reserved and
unspecified addresses are refused, and so are IPv6 forms that embed such an IPv4 address
(IPv4-mapped ``::ffff:127.0.0.1``, 6to4, Teredo, NAT64). The check is made on the address the socket
actually CONNECTS to: the client's network backend resolves the host once, validates every address
it resolved to, and connects to a validated address. A DNS answer that changes between a check and
the connection (DNS rebinding) therefore cannot slip through, and neither can IPv4 spelled in
decimal, octal or hex (``http://2130706433/``), since the resolver turns those into the address we
check. TLS keeps the URL's host name for SNI and certificate checks; the Host header is untouched.

``app.config["NARRATIVE_ALLOW_PRIVATE_URLS"]`` (or ``allow_private=True``) lifts the refusal of
private addresses for development and tests; cloud metadata addresses stay refused even then,
because no webhook or proxy target ever legitimately lives there.

Use:

- ``fetch(method, url, **kwargs)``: one request with timeouts (5 s connect, 15 s read), at most
  3 redirects (followed here, every hop re-checked), and a 10 MB cap on the body read. It raises
  ``UnsafeUrl`` (422 unsafe_url), ``UpstreamTimeout`` (504), ``UpstreamUnreachable`` (502) or
  ``ResponseTooLarge`` (502 upstream_response_too_large: the upstream's answer, not the client's
  request, is too big, so 413 would mislead).
- ``safe_client(**httpx_options)``: a pooled ``SafeClient`` (an ``httpx.Client``) for keep-alive use,
  e.g. the API proxy. Its ``fetch`` method is the same as the function; its ordinary httpx methods
  (``send(..., stream=True)``, ``get``...) go through the same address policy: a refused address
  raises ``UnsafeUrl``, an unresolvable host ``UpstreamUnreachable``, other transport failures
  httpx's own errors. One client may be shared by threads for requests: httpcore's pool is thread-safe. It
  never stores cookies (one tenant's upstream cookies must not travel with another's request) and
  ignores proxy environment variables (a proxy would make the connected address the proxy's).
- ``validate_url(url, field="url")``: the create-time check of a URL to be stored (webhook target,
  proxy action); raises ``ValidationFailed`` naming ``field``.
"""

import http.cookiejar
import ipaddress
import socket
import threading
import urllib.parse

import httpcore
import httpx
from flask import current_app, has_app_context

from narrative.platform.errors import ApiError, ValidationFailed

DEFAULT_TIMEOUT = httpx.Timeout(15.0, connect=5.0)
DEFAULT_MAX_BYTES = 10 * 1024 * 1024
DEFAULT_MAX_REDIRECTS = 3
ALLOWED_SCHEMES = ("http", "https")
REDIRECT_STATUSES = (301, 302, 303, 307, 308)

# Instance metadata services: refused even when private addresses are allowed.
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a) for a in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200")
)
CGNAT = ipaddress.ip_network("100.64.0.0/10")
NAT64 = ipaddress.ip_network("64:ff9b::/96")
DEFAULT_LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=20)


class UnsafeUrl(ValidationFailed):
    """The URL points at (or redirects to) an address or scheme the policy refuses."""

    code = "unsafe_url"

    def __init__(self, reason, *, field="url"):
        super().__init__(f"This URL is not allowed: {reason}.", details=[{"field": field, "message": reason}])
        self.reason = reason


class UpstreamTimeout(ApiError):
    status = 504
    code = "upstream_timeout"
    message = "The remote server did not answer in time."


class UpstreamUnreachable(ApiError):
    status = 502
    code = "upstream_unreachable"
    message = "The remote server could not be reached."


class ResponseTooLarge(ApiError):
    status = 502
    code = "upstream_response_too_large"

    def __init__(self, max_bytes):
        super().__init__(f"The remote server's response is larger than {max_bytes} bytes.")
        self.max_bytes = max_bytes


# ---- the address policy ----------------------------------------------------------------------


def _embedded_ipv4(address):
    """The IPv4 address an IPv6 address carries (mapped, 6to4, Teredo, NAT64), or None."""
    if address.version != 6:
        return None
    if address.ipv4_mapped:
        return address.ipv4_mapped
    if address.sixtofour:
        return address.sixtofour
    if address.teredo:
        return address.teredo[1]  # the client's address; the server part is public by design
    if address in NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def address_refusal(address, *, allow_private=False):
    """What makes `address` refused (e.g. "a loopback address"), or None when it is allowed."""
    if isinstance(address, str):
        address = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone id
    if address in METADATA_ADDRESSES:
        return "a cloud metadata address"
    embedded = _embedded_ipv4(address)
    if embedded is not None:
        what = address_refusal(embedded, allow_private=allow_private)
        return f"an IPv6 form of {embedded} ({what})" if what else None
    if allow_private:
        return None
    checks = (
        (address.is_unspecified, "an unspecified address"),
        (address.is_loopback, "a loopback address"),
        (address.is_link_local, "a link-local address"),
        (address.is_multicast, "a multicast address"),
        (address.version == 4 and address in CGNAT, "a carrier-grade NAT address"),
        (address.version == 6 and address.is_site_local, "a site-local address"),
        (address.is_reserved, "a reserved address"),
        (address.is_private, "a private address"),
        (not address.is_global, "not a public address"),
    )
    for refused, what in checks:
        if refused:
            return what
    return None


def describe_refusal(host, address, what):
    if host.strip("[]").lower() == str(address).lower():
        return f"{address} is {what}"
    return f"{host} resolves to {address}, {what}"


def resolve_host(host, port):
    """Every address `host` resolves to (getaddrinfo: also reads decimal, octal and hex IPv4)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    addresses = []
    for _family, _type, _proto, _name, sockaddr in infos:
        if sockaddr[0] not in addresses:
            addresses.append(sockaddr[0])
    return addresses


def private_urls_allowed(allow_private=None):
    if allow_private is not None:
        return allow_private
    if has_app_context():
        return bool(current_app.config.get("NARRATIVE_ALLOW_PRIVATE_URLS"))
    return False


def checked_addresses(host, port, *, allow_private, resolver=None):
    """Resolve once and return the addresses, refusing the host if ANY of them is refused.

    Refusing on one bad answer (rather than skipping it) stops a name that mixes public and
    private answers from reaching the private one on a retry.
    """
    resolver = resolver or resolve_host
    try:
        addresses = resolver(host, port)
    except (OSError, UnicodeError):
        raise UpstreamUnreachable(f"The host {host} could not be resolved.") from None
    if not addresses:
        raise UpstreamUnreachable(f"The host {host} could not be resolved.")
    for address in addresses:
        what = address_refusal(address, allow_private=allow_private)
        if what:
            raise UnsafeUrl(describe_refusal(host, address, what))
    return addresses


def _checked_scheme(url):
    scheme = url.scheme.lower()
    if scheme not in ALLOWED_SCHEMES:
        raise UnsafeUrl(f"the scheme must be http or https, not {scheme or 'missing'}")
    if not url.host:
        raise UnsafeUrl("the URL has no host")


# ---- the network backend that connects only to checked addresses --------------------------------


class SafeNetworkBackend(httpcore.NetworkBackend):
    """httpcore network backend: resolve, check every address, connect to a checked address.

    `resolver(host, port) -> [address]` defaults to `resolve_host` (looked up at call time so tests
    can monkeypatch it); `dialer(address, port, timeout, local_address, socket_options)` opens the
    socket (default: httpcore's sync backend) and exists so tests can stand a loopback server in for
    a public address.
    """

    def __init__(self, *, allow_private=False, resolver=None, dialer=None):
        self.allow_private = allow_private
        self.resolver = resolver
        self.dialer = dialer
        self._sync = httpcore.SyncBackend()

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        addresses = checked_addresses(
            host, port, allow_private=self.allow_private, resolver=self.resolver or resolve_host
        )
        last_error = None
        for address in addresses:  # the first checked address that accepts the connection
            try:
                if self.dialer is not None:
                    return self.dialer(address, port, timeout, local_address, socket_options)
                return self._sync.connect_tcp(address, port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last_error = exc
        raise last_error

    def connect_unix_socket(self, path, timeout=None, socket_options=None):
        raise UnsafeUrl("unix sockets are not allowed")

    def sleep(self, seconds):
        self._sync.sleep(seconds)


class SafeTransport(httpx.HTTPTransport):
    """httpx's transport with the connection pool built on `SafeNetworkBackend` and no proxy."""

    def __init__(self, *, backend, verify=True, cert=None, http2=False, limits=DEFAULT_LIMITS, retries=0):
        # Deliberately not calling super().__init__: it would build a pool on the default backend.
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(verify=verify, cert=cert, trust_env=False),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            http1=True,
            http2=http2,
            retries=retries,
            network_backend=backend,
        )


class _NoCookiesPolicy(http.cookiejar.DefaultCookiePolicy):
    def set_ok(self, cookie, request):
        return False


# ---- the client -------------------------------------------------------------------------------


class SafeClient(httpx.Client):
    """An httpx.Client whose every connection goes through the address policy (see module doc)."""

    def __init__(
        self,
        *,
        allow_private=False,
        resolver=None,
        dialer=None,
        max_bytes=DEFAULT_MAX_BYTES,
        max_redirects=DEFAULT_MAX_REDIRECTS,
        verify=True,
        cert=None,
        http2=False,
        limits=DEFAULT_LIMITS,
        retries=0,
        **httpx_options,
    ):
        for option in ("proxy", "mounts", "transport", "trust_env", "follow_redirects", "cookies"):
            if option in httpx_options:
                raise TypeError(f"safe_client does not accept {option!r}: it would bypass the address policy")
        self.allow_private = allow_private
        self.max_bytes = max_bytes
        self.max_redirects_followed = max_redirects
        backend = SafeNetworkBackend(allow_private=allow_private, resolver=resolver, dialer=dialer)
        transport = SafeTransport(
            backend=backend, verify=verify, cert=cert, http2=http2, limits=limits, retries=retries
        )
        httpx_options.setdefault("timeout", DEFAULT_TIMEOUT)
        super().__init__(
            transport=transport,
            trust_env=False,
            follow_redirects=False,
            max_redirects=max_redirects,
            cookies=http.cookiejar.CookieJar(policy=_NoCookiesPolicy()),
            **httpx_options,
        )

    def fetch(self, method, url, *, max_bytes=None, max_redirects=None, follow_redirects=True, **kwargs):
        """Send one request, follow at most `max_redirects` redirects, read at most `max_bytes`.

        Returns the final response with its body read. kwargs are `httpx.Client.build_request`'s
        (params, headers, json, content, data, files, timeout...).
        """
        max_bytes = self.max_bytes if max_bytes is None else max_bytes
        max_redirects = self.max_redirects_followed if max_redirects is None else max_redirects
        timeout = kwargs.pop("timeout", httpx.USE_CLIENT_DEFAULT)
        try:
            request = self.build_request(method, url, timeout=timeout, **kwargs)
        except httpx.InvalidURL as exc:
            raise UnsafeUrl(f"the URL is not valid ({exc})") from None
        for hop in range(max_redirects + 1):
            _checked_scheme(request.url)
            response = self._send_checked(request)
            location = response.headers.get("location")
            if not (follow_redirects and response.status_code in REDIRECT_STATUSES and location):
                return _read_capped(response, max_bytes)
            _discard_body(response)
            if hop == max_redirects:
                break
            request = self._redirect_request(request, response, location)
        raise UpstreamUnreachable(f"The remote server redirected more than {max_redirects} times.")

    def send_through(self, request):
        """Send `request` exactly as built and return the answer unread (the caller closes it).

        For pass-through forwarding (the API proxy): no client defaults, cookies, auth, redirects or
        event hooks, which would only cost time there. The address policy still holds: it lives in
        the transport. Errors are httpx's (`TimeoutException`, `TransportError`).
        """
        response = self._transport.handle_request(request)
        response.request = request
        return response

    def _send_checked(self, request):
        try:
            return self.send(request, stream=True)
        except httpx.TimeoutException:
            raise UpstreamTimeout() from None
        except httpx.UnsupportedProtocol:
            raise UnsafeUrl("the scheme must be http or https") from None
        except (httpx.TransportError, httpx.InvalidURL) as exc:
            raise UpstreamUnreachable(
                f"The remote server could not be reached ({type(exc).__name__})."
            ) from None

    def _redirect_request(self, request, response, location):
        """The next hop, as a browser would build it; its URL is checked again on the next send."""
        try:
            url = request.url.join(location)
        except httpx.InvalidURL:
            raise UnsafeUrl("the redirect location is not a valid URL") from None
        method = request.method
        if response.status_code == 303 and method != "HEAD":
            method = "GET"
        if response.status_code in (301, 302) and method == "POST":
            method = "GET"
        headers = httpx.Headers(request.headers)
        headers.pop("host", None)
        if url.scheme != request.url.scheme or url.host != request.url.host or url.port != request.url.port:
            headers.pop("authorization", None)  # credentials stay with the origin they were meant for
        keep_body = method == request.method and response.status_code in (307, 308)
        if not keep_body:
            for name in ("content-length", "content-type", "transfer-encoding"):
                headers.pop(name, None)
        return self.build_request(
            method,
            url,
            headers=headers,
            content=request.content if keep_body else None,
            extensions=request.extensions,
        )


def _discard_body(response, limit=64 * 1024):
    """Read a redirect's (small) body so its kept-alive connection can carry the next hop."""
    try:
        read = 0
        for chunk in response.iter_raw():
            read += len(chunk)
            if read > limit:
                break
    except httpx.HTTPError:
        pass  # the connection is simply not reused
    finally:
        response.close()


def _read_capped(response, max_bytes):
    """Read the body, stopping as soon as it passes `max_bytes` (a streaming read, never all at once)."""
    try:
        declared = int(response.headers.get("content-length", "-1"))
    except ValueError:
        declared = -1
    if declared > max_bytes:
        response.close()
        raise ResponseTooLarge(max_bytes)
    chunks, size = [], 0
    try:
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > max_bytes:
                raise ResponseTooLarge(max_bytes)
            chunks.append(chunk)
    except httpx.TimeoutException:
        raise UpstreamTimeout() from None
    except httpx.TransportError:
        raise UpstreamUnreachable("The remote server closed the connection mid-response.") from None
    finally:
        response.close()
    # What Response.read() would have stored, so .content / .text / .json() work as usual.
    response._content = b"".join(chunks)
    return response


def safe_client(*, allow_private=None, **httpx_options):
    """A new pooled SafeClient; `allow_private` defaults to the app's NARRATIVE_ALLOW_PRIVATE_URLS."""
    return SafeClient(allow_private=private_urls_allowed(allow_private), **httpx_options)


_shared_clients = {}
_shared_lock = threading.Lock()


def _shared_client(allow_private):
    """One pooled client per policy for `fetch`, created on first use (keep-alive across calls)."""
    with _shared_lock:
        client = _shared_clients.get(allow_private)
        if client is None or client.is_closed:
            client = _shared_clients[allow_private] = SafeClient(allow_private=allow_private)
        return client


def fetch(method, url, *, allow_private=None, **kwargs):
    """One safe request on a shared pooled client; see `SafeClient.fetch`."""
    return _shared_client(private_urls_allowed(allow_private)).fetch(method, url, **kwargs)


def validate_url(url, *, field="url", allow_private=None, resolver=None):
    """Create-time check of a URL to be stored; raises ValidationFailed naming `field`.

    Checks the scheme and the host and, unless private addresses are allowed, resolves the host
    now so an obviously internal target is refused when it is saved. The send-time check in the
    client stays the authoritative one (DNS can change after this).
    """
    message = _url_problem(url, allow_private=private_urls_allowed(allow_private), resolver=resolver)
    if message:
        raise ValidationFailed(details=[{"field": field, "message": message}])
    return url


def _url_problem(url, *, allow_private, resolver):
    if not isinstance(url, str) or not url.strip():
        return "Must be a URL."
    parts = urllib.parse.urlsplit(url.strip())
    if parts.scheme.lower() not in ALLOWED_SCHEMES:
        return "Must be an http or https URL."
    try:
        host, port = parts.hostname, parts.port or (443 if parts.scheme.lower() == "https" else 80)
    except ValueError:
        return "The port is not valid."
    if not host:
        return "The URL has no host."
    if allow_private:
        # Only the metadata addresses stay refused; a host name is not resolved in development.
        try:
            what = address_refusal(host, allow_private=True)
        except ValueError:
            return None
        return f"Not allowed: {describe_refusal(host, host, what)}." if what else None
    try:
        checked_addresses(host, port, allow_private=False, resolver=resolver)
    except UnsafeUrl as exc:
        return f"Not allowed: {exc.reason}."
    except UpstreamUnreachable:
        return f"The host {host} could not be resolved."
    return None
