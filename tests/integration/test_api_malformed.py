"""Malformed HTTP over the unix socket: each row gets the right status (or a
closed connection) and never reaches a handler; the daemon keeps serving."""
import socket
import tempfile
import time

import pytest

from dindtest import Daemon

HEADER_MS = 600


@pytest.fixture(scope="module")
def daemon():
    with tempfile.TemporaryDirectory(prefix="dind-malformed-") as root:
        d = Daemon(root, tls=False, env={"DIND_HEADER_TIMEOUT_MS": str(HEADER_MS)}).start()
        yield d
        assert d.stop() == 0


def exchange(d, payload, half_close=True, timeout=5.0):
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(d.socket)
        s.sendall(payload)
        if half_close:
            s.shutdown(socket.SHUT_WR)
        data = b""
        try:
            while chunk := s.recv(65536):
                data += chunk
        except (ConnectionResetError, socket.timeout):
            pass
        return data


def status_of(data):
    if not data:
        return "closed"
    return int(data.split(b" ", 2)[1])


OK = b"GET /_ping HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n"

# (name, bytes, expected status or "closed")
ROWS = [
    ("garbage request line", b"GARBAGE\r\n\r\n", 400),
    ("method only", b"GET\r\n\r\n", 400),
    ("no version", b"GET /_ping\r\n\r\n", 400),
    ("bad version token", b"GET /_ping HTTX/1.1\r\n\r\n", 400),
    ("HTTP/2.0 request line", b"GET /_ping HTTP/2.0\r\nHost: d\r\n\r\n", 400),
    ("HTTP/0.9 style", b"GET /_ping HTTP/0.9\r\n\r\n", 400),
    ("HTTP/2 preface", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 400),
    ("space inside the target", b"GET /_p ing HTTP/1.1\r\nHost: d\r\n\r\n", 400),
    ("control byte in the target", b"GET /_p\x01ing HTTP/1.1\r\nHost: d\r\n\r\n", 400),
    ("absolute-form target", b"GET http://d/_ping HTTP/1.1\r\nHost: d\r\n\r\n", 400),
    ("asterisk-form target", b"OPTIONS * HTTP/1.1\r\nHost: d\r\n\r\n", 400),
    ("bad percent escape", b"GET /containers/%zz/json HTTP/1.1\r\nHost: d\r\n\r\n", 400),
    ("encoded NUL", b"GET /containers/a%00/json HTTP/1.1\r\nHost: d\r\n\r\n", 400),
    ("header without a colon", b"GET /_ping HTTP/1.1\r\nHost: d\r\nBrokenHeader\r\n\r\n", 400),
    ("space in a header name", b"GET /_ping HTTP/1.1\r\nBad Name: x\r\n\r\n", 400),
    ("NUL in a header value", b"GET /_ping HTTP/1.1\r\nX-A: a\x00b\r\n\r\n", 400),
    ("oversized header", b"GET /_ping HTTP/1.1\r\nX-Big: " + b"a" * 70000 + b"\r\n\r\n", 431),
    ("oversized request line", b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\n\r\n", 431),
    ("non-numeric Content-Length", b"GET /_ping HTTP/1.1\r\nContent-Length: abc\r\n\r\n", 400),
    ("negative Content-Length", b"GET /_ping HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400),
    ("conflicting Content-Lengths", b"GET /_ping HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", 400),
    ("Content-Length with chunked", b"GET /_ping HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
    ("bad chunk size", b"GET /_ping HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n", 400),
    ("body over the route's cap", b"GET /_ping HTTP/1.1\r\nContent-Length: 2000000\r\n\r\n", 413),
    ("chunked body over the cap", b"GET /_ping HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n200000\r\n", 413),
    # The client half-closes after sending: the message can never complete.
    ("truncated body then EOF", b"GET /_ping HTTP/1.1\r\nContent-Length: 100\r\n\r\nabc", 400),
    ("headers never finished", b"GET /_ping HTTP/1.1\r\nHost: d\r\n", 400),
    ("bare LF line endings", b"GET /_ping HTTP/1.1\nHost: d\n\n", 400),
    ("unsupported Expect", b"GET /_ping HTTP/1.1\r\nExpect: teapot\r\nContent-Length: 1\r\n\r\na", 417),
    ("unknown method", b"BREW /_ping HTTP/1.1\r\nHost: d\r\n\r\n", 404),
    ("lowercase method", b"get /_ping HTTP/1.1\r\nHost: d\r\n\r\n", 404),
    ("unknown route", b"GET /v1.44/nosuchendpoint HTTP/1.1\r\nHost: d\r\n\r\n", 404),
    ("API version too new", b"GET /v1.99/version HTTP/1.1\r\nHost: d\r\n\r\n", 400),
    ("API version too old", b"GET /v1.1/version HTTP/1.1\r\nHost: d\r\n\r\n", 400),
]


@pytest.mark.parametrize("name,payload,expected", ROWS, ids=[r[0] for r in ROWS])
def test_malformed_request(daemon, name, payload, expected):
    before = daemon.handled()
    data = exchange(daemon, payload)
    got = status_of(data)
    assert got == expected, data[:300]
    if got != "closed":
        head, _, body = data.partition(b"\r\n\r\n")
        # JSON errors the CLI can print; the too-old text reply is dockerd's own.
        assert b"Content-Type: application/json" in head or b"too old" in body
        assert b"message" in body or b"too old" in body
    assert daemon.handled() == before, "a malformed request reached a handler"
    assert status_of(exchange(daemon, OK)) == 200  # the daemon keeps serving


def test_slowloris_headers_are_cut_at_the_deadline(daemon):
    before = daemon.handled()
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(10)
        s.connect(daemon.socket)
        t0 = time.monotonic()
        s.sendall(b"GET /_ping HTTP/1.1\r\n")
        try:
            for _ in range(30):
                time.sleep(0.1)
                s.sendall(b"X")
            data = s.recv(100)
        except OSError:
            data = b""
        waited = time.monotonic() - t0
    assert data == b""
    assert waited < 4
    assert daemon.handled() == before


def test_many_idle_connections_do_not_block_others(daemon):
    socks = []
    try:
        for _ in range(100):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(daemon.socket)
            socks.append(s)
        assert status_of(exchange(daemon, OK)) == 200
    finally:
        for s in socks:
            s.close()
