"""The safe outbound client: address policy on the connected address, redirects, size cap, timeouts."""

import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import httpcore
import httpx
import pytest

from narrative.platform import outbound
from narrative.platform.errors import ValidationFailed, handle_api_error
from narrative.platform.outbound import (
    ResponseTooLarge,
    SafeClient,
    UnsafeUrl,
    UpstreamTimeout,
    UpstreamUnreachable,
    address_refusal,
    fetch,
    safe_client,
    validate_url,
)

# A public address (example.com's) that tests "route" to the loopback server through the dialer.
FAKE_PUBLIC_ADDRESS = "93.184.215.14"
FAKE_HOSTS = {"public.example": [FAKE_PUBLIC_ADDRESS], "intranet.example": ["10.20.30.40"]}
REAL_RESOLVER = outbound.resolve_host


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as real servers do

    def log_message(self, *args):
        pass

    def _send(self, status, body=b"", headers=()):
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        if not any(name.lower() == "content-length" for name, _ in headers):
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        parts = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        path = parts.path
        if path == "/ok":
            self._send(200, b"hello", [("Set-Cookie", "session=secret; Path=/")])
        elif path == "/echo":
            body = f"{self.command} {self.headers.get('Host')} {self.headers.get('Authorization')}"
            self._send(200, body.encode())
        elif path == "/redirect":
            self._send(int(query.get("status", 302)), headers=[("Location", query["to"])])
        elif path == "/chain":
            left = int(query["n"])
            target = "/ok" if left == 0 else f"/chain?n={left - 1}"
            self._send(302, headers=[("Location", target)])
        elif path == "/sized":
            self._send(200, b"x" * int(query["bytes"]))
        elif path == "/unsized":
            # No Content-Length: the body runs until the connection closes.
            self.send_response(200)
            self.send_header("Connection", "close")
            self.end_headers()
            for _ in range(int(query["chunks"])):
                self.wfile.write(b"y" * 1024)
            self.close_connection = True
        elif path == "/slow":
            time.sleep(float(query.get("seconds", 2)))
            self._send(200, b"late")
        else:
            self._send(404)

    do_POST = do_GET


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # clients that stop reading (the size-cap tests) break the pipe on purpose


@pytest.fixture(scope="module")
def server():
    httpd = QuietServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{httpd.server_address[1]}", httpd.server_address[1]
    httpd.shutdown()
    httpd.server_close()


def fake_resolver(host, port):
    return FAKE_HOSTS.get(host) or REAL_RESOLVER(host, port)


def loopback_dialer(dialed):
    """Connect the fake public address to the loopback server; record every address dialed."""
    backend = httpcore.SyncBackend()

    def dial(address, port, timeout, local_address, socket_options):
        dialed.append(address)
        real = "127.0.0.1" if address == FAKE_PUBLIC_ADDRESS else address
        return backend.connect_tcp(real, port, timeout, local_address, socket_options)

    return dial


@pytest.fixture
def public_client():
    """A client with the production policy that sees public.example as a public host."""
    dialed = []
    client = SafeClient(allow_private=False, resolver=fake_resolver, dialer=loopback_dialer(dialed))
    client.dialed = dialed
    yield client
    client.close()


# ---- the address policy ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "what"),
    [
        ("127.0.0.1", "loopback"),
        ("127.8.9.10", "loopback"),
        ("::1", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.5.4", "private"),
        ("192.168.1.1", "private"),
        ("169.254.169.254", "metadata"),
        ("169.254.10.10", "link-local"),
        ("fe80::1", "link-local"),
        ("fe80::1%eth0", "link-local"),
        ("100.64.0.1", "carrier-grade NAT"),
        ("100.127.255.254", "carrier-grade NAT"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("240.0.0.1", "reserved"),
        ("255.255.255.255", "reserved"),
        ("fc00::1", "private"),
        ("fd12:3456::1", "private"),
        ("fec0::1", "site-local"),
        ("::ffff:127.0.0.1", "loopback"),
        ("::ffff:10.0.0.1", "private"),
        ("::ffff:169.254.169.254", "metadata"),
        ("2002:7f00:1::1", "loopback"),  # 6to4 of 127.0.0.1
        ("2002:c0a8:101::1", "private"),  # 6to4 of 192.168.1.1
        ("2001:0:4136:e378:8000:63bf:f5ff:fffe", "private"),  # Teredo, client 10.0.0.1
        ("64:ff9b::a00:1", "private"),  # NAT64 of 10.0.0.1
        ("fd00:ec2::254", "metadata"),
        ("192.0.2.10", "private"),  # documentation range (ipaddress counts it as private)
        ("198.18.0.1", "private"),  # benchmarking range
    ],
)
def test_every_internal_address_class_is_refused(address, what):
    refusal = address_refusal(address)
    assert refusal is not None and what in refusal


@pytest.mark.parametrize(
    "address", ["93.184.215.14", "8.8.8.8", "2606:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808"]
)
def test_public_addresses_are_allowed(address):
    assert address_refusal(address) is None


def test_allowing_private_addresses_still_refuses_cloud_metadata():
    assert address_refusal("10.0.0.1", allow_private=True) is None
    assert address_refusal("127.0.0.1", allow_private=True) is None
    assert "metadata" in address_refusal("169.254.169.254", allow_private=True)
    assert "metadata" in address_refusal("::ffff:169.254.169.254", allow_private=True)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:{port}/ok",
        "http://localhost:{port}/ok",
        "http://2130706433:{port}/ok",  # decimal 127.0.0.1
        "http://0177.0.0.1:{port}/ok",  # octal
        "http://0x7f000001:{port}/ok",  # hex
        "http://0x7f.0.0.1:{port}/ok",
        "http://127.1:{port}/ok",
        "http://[::1]:{port}/ok",
        "http://[::ffff:127.0.0.1]:{port}/ok",
        "http://[::ffff:7f00:1]:{port}/ok",
        "http://169.254.169.254/latest/meta-data/",
        "http://0.0.0.0:{port}/ok",
        "http://10.0.0.1/",
        "http://100.64.0.1/",
        "http://[fe80::1]/",
        "http://[fc00::1]/",
    ],
)
def test_internal_urls_are_refused_before_any_connection(server, url):
    _, port = server
    with SafeClient(allow_private=False) as client, pytest.raises(UnsafeUrl) as caught:
        client.fetch("GET", url.format(port=port))
    assert caught.value.status == 422 and caught.value.code == "unsafe_url"
    assert caught.value.details[0]["field"] == "url"


def test_a_hostname_resolving_to_a_private_address_is_refused(monkeypatch):
    monkeypatch.setattr(outbound, "resolve_host", lambda host, port: ["10.20.30.40"])
    with SafeClient(allow_private=False) as client, pytest.raises(UnsafeUrl) as caught:
        client.fetch("GET", "http://intranet.example/")
    assert "intranet.example resolves to 10.20.30.40, a private address" in caught.value.message


def test_one_private_answer_among_public_ones_refuses_the_host(monkeypatch):
    monkeypatch.setattr(outbound, "resolve_host", lambda host, port: [FAKE_PUBLIC_ADDRESS, "127.0.0.1"])
    with SafeClient(allow_private=False) as client, pytest.raises(UnsafeUrl):
        client.fetch("GET", "http://mixed.example/")


def test_the_check_is_made_on_each_connection_so_dns_rebinding_is_caught(server):
    _, port = server
    answers = iter([[FAKE_PUBLIC_ADDRESS], ["127.0.0.1"]])
    dialed = []
    client = SafeClient(
        allow_private=False, resolver=lambda h, p: next(answers), dialer=loopback_dialer(dialed)
    )
    assert client.fetch("GET", f"http://rebind.example:{port}/ok").text == "hello"
    client.close()  # a new connection resolves again: this time to loopback
    client = SafeClient(
        allow_private=False, resolver=lambda h, p: next(answers), dialer=loopback_dialer(dialed)
    )
    with pytest.raises(UnsafeUrl):
        client.fetch("GET", f"http://rebind.example:{port}/ok")
    assert dialed == [FAKE_PUBLIC_ADDRESS]  # only the checked address was ever dialed


def test_plain_httpx_methods_on_the_client_go_through_the_same_policy(server):
    host, port = server
    with SafeClient(allow_private=False) as client:
        with pytest.raises(UnsafeUrl):
            client.get(f"http://{host}/ok")
        with pytest.raises(UnsafeUrl):
            client.get(f"http://2130706433:{port}/ok", follow_redirects=True)


# ---- requests that go through -----------------------------------------------------------------


def test_public_host_is_fetched_with_its_own_host_header(server, public_client):
    _, port = server
    response = public_client.fetch("GET", f"http://public.example:{port}/echo")
    assert response.status_code == 200
    assert response.text == f"GET public.example:{port} None"
    assert public_client.dialed == [FAKE_PUBLIC_ADDRESS]


def test_loopback_is_reachable_when_private_addresses_are_allowed(server):
    host, _ = server
    with SafeClient(allow_private=True) as client:
        response = client.fetch("GET", f"http://{host}/ok")
        assert (response.status_code, response.text) == (200, "hello")
        assert len(client.cookies.jar) == 0  # upstream cookies are never kept for the next caller


def test_fetch_follows_the_application_setting(app, server, monkeypatch):
    host, _ = server
    assert fetch("GET", f"http://{host}/ok").text == "hello"  # the testing profile allows private
    monkeypatch.setitem(app.config, "NARRATIVE_ALLOW_PRIVATE_URLS", False)
    with pytest.raises(UnsafeUrl):
        fetch("GET", f"http://{host}/ok")
    assert safe_client().allow_private is False


# ---- redirects ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "target",
    [
        "http://127.0.0.1:{port}/ok",
        "http://2130706433:{port}/ok",
        "http://[::ffff:127.0.0.1]:{port}/ok",
        "http://intranet.example/",
        "http://169.254.169.254/latest/meta-data/",
        "ftp://public.example/file",
        "file:///etc/passwd",
    ],
)
def test_a_redirect_from_a_public_host_to_an_internal_one_is_refused(server, public_client, target):
    _, port = server
    url = f"http://public.example:{port}/redirect"
    with pytest.raises(UnsafeUrl):
        public_client.fetch("GET", url, params={"to": target.format(port=port)})


def test_redirects_between_public_urls_are_followed_and_rebuilt_like_a_browser(server, public_client):
    _, port = server
    base = f"http://public.example:{port}"
    response = public_client.fetch("GET", f"{base}/redirect", params={"to": "/ok"})
    assert (response.status_code, response.text) == (200, "hello")

    response = public_client.fetch(
        "POST", f"{base}/redirect?status=303&to=/echo", content=b"data", headers={"Authorization": "Bearer t"}
    )
    assert response.text == f"GET public.example:{port} Bearer t"  # same origin keeps credentials
    assert public_client.dialed == [FAKE_PUBLIC_ADDRESS]  # one kept-alive connection for every hop


def test_redirect_to_another_origin_drops_credentials(server):
    host, port = server
    with SafeClient(allow_private=True) as client:
        response = client.fetch(
            "GET",
            f"http://{host}/redirect",
            params={"to": f"http://localhost:{port}/echo"},
            headers={"Authorization": "Bearer t"},
        )
    assert response.text == f"GET localhost:{port} None"


def test_redirects_are_limited(server, public_client):
    _, port = server
    assert public_client.fetch("GET", f"http://public.example:{port}/chain?n=2").text == "hello"
    with pytest.raises(UpstreamUnreachable) as caught:
        public_client.fetch("GET", f"http://public.example:{port}/chain?n=3")
    assert "more than 3" in caught.value.message
    assert (
        public_client.fetch("GET", f"http://public.example:{port}/chain?n=3", max_redirects=4).text == "hello"
    )
    unfollowed = public_client.fetch("GET", f"http://public.example:{port}/chain?n=3", follow_redirects=False)
    assert unfollowed.status_code == 302


# ---- size cap and timeouts ------------------------------------------------------------------------


def test_a_declared_body_over_the_cap_is_refused_and_one_at_the_cap_is_read(server):
    host, _ = server
    with SafeClient(allow_private=True, max_bytes=1000) as client:
        assert len(client.fetch("GET", f"http://{host}/sized?bytes=1000").content) == 1000
        with pytest.raises(ResponseTooLarge) as caught:
            client.fetch("GET", f"http://{host}/sized?bytes=5000")
    assert (caught.value.status, caught.value.code) == (502, "upstream_response_too_large")


def test_an_undeclared_body_is_cut_off_at_the_cap_while_streaming(server):
    host, _ = server
    with SafeClient(allow_private=True) as client:
        assert len(client.fetch("GET", f"http://{host}/unsized?chunks=4").content) == 4096
        with pytest.raises(ResponseTooLarge):
            client.fetch("GET", f"http://{host}/unsized?chunks=64", max_bytes=10_000)


def test_a_slow_server_is_an_upstream_timeout(server):
    host, _ = server
    with SafeClient(allow_private=True, timeout=httpx.Timeout(0.3, connect=1)) as client:
        started = time.monotonic()
        with pytest.raises(UpstreamTimeout) as caught:
            client.fetch("GET", f"http://{host}/slow?seconds=1.5")
        assert time.monotonic() - started < 1.2
        assert client.fetch("GET", f"http://{host}/slow?seconds=0.01").text == "late"
    assert (caught.value.status, caught.value.code) == (504, "upstream_timeout")


def test_a_closed_port_is_upstream_unreachable():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with SafeClient(allow_private=True) as client, pytest.raises(UpstreamUnreachable) as caught:
        client.fetch("GET", f"http://127.0.0.1:{port}/")
    assert (caught.value.status, caught.value.code) == (502, "upstream_unreachable")


def test_an_unresolvable_host_is_upstream_unreachable():
    def no_such_host(host, port):
        raise socket.gaierror("Name or service not known")

    with SafeClient(allow_private=False, resolver=no_such_host) as client, pytest.raises(UpstreamUnreachable):
        client.fetch("GET", "http://nowhere.example/")


def test_options_that_would_bypass_the_policy_are_rejected():
    for option in ({"proxy": "http://proxy:3128"}, {"transport": httpx.HTTPTransport()}, {"trust_env": True}):
        with pytest.raises(TypeError):
            SafeClient(**option)


# ---- create-time validation and the error body ------------------------------------------------


def test_validate_url_names_the_field_it_checks(monkeypatch):
    monkeypatch.setattr(outbound, "resolve_host", fake_resolver)
    assert validate_url("https://public.example/hook", allow_private=False) == "https://public.example/hook"
    cases = {
        "ftp://public.example/x": "http or https",
        "https:///nohost": "no host",
        "not a url": "http or https",
        "http://intranet.example/": "private address",
        "http://0x7f000001/": "loopback",
        "http://[::ffff:10.0.0.1]/": "private",
        "http://public.example:99999/": "port",
    }
    for url, problem in cases.items():
        with pytest.raises(ValidationFailed) as caught:
            validate_url(url, field="target_url", allow_private=False)
        assert caught.value.code == "validation_failed"
        [detail] = caught.value.details
        assert detail["field"] == "target_url" and problem in detail["message"], (url, detail)


def test_validate_url_with_private_allowed_only_refuses_metadata():
    assert validate_url("http://localhost:5000/hook", allow_private=True)
    assert validate_url("http://10.0.0.1/hook", allow_private=True)
    with pytest.raises(ValidationFailed):
        validate_url("http://169.254.169.254/", allow_private=True)


def test_unsafe_url_renders_as_the_standard_error_body(app):
    with app.test_request_context():
        response = handle_api_error(UnsafeUrl("127.0.0.1 is a loopback address", field="target_url"))
    assert response.status_code == 422
    assert response.json["error"] == "unsafe_url"
    assert response.json["details"] == [{"field": "target_url", "message": "127.0.0.1 is a loopback address"}]
