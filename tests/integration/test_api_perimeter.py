"""The TLS perimeter: every bad client is refused during the handshake (or by
an HTTP status) and never reaches a handler; good clients keep being served.
Server-side evidence: the daemon's debug log has one "handler" line per
request that reached a handler."""
import socket
import ssl
import subprocess
import tempfile
import time

import pytest

from dindtest import Daemon, binary, certgen, run

HANDSHAKE_MS = 500
HEADER_MS = 800


@pytest.fixture(scope="module")
def daemon():
    with tempfile.TemporaryDirectory(prefix="dind-perimeter-") as root:
        d = Daemon(root, env={"DIND_HANDSHAKE_TIMEOUT_MS": str(HANDSHAKE_MS),
                              "DIND_HEADER_TIMEOUT_MS": str(HEADER_MS)}).start()
        yield d
        assert d.stop() == 0


@pytest.fixture(scope="module")
def pki(daemon, tmp_path_factory):
    """Client material: good, foreign CA, expired, not yet valid, server-only."""
    base = tmp_path_factory.mktemp("pki")
    ca = str(daemon.certs / "ca")
    certgen(base / "foreign", "-q")
    run([binary("dind-test-pki"), ca, str(base / "expired"), "client", "10", "5"])
    run([binary("dind-test-pki"), ca, str(base / "future"), "client", "-5", "10"])
    run([binary("dind-test-pki"), ca, str(base / "serveronly"), "server", "0", "10"])
    return {"good": daemon.certs / "client", "foreign": base / "foreign" / "client",
            "expired": base / "expired", "future": base / "future", "serveronly": base / "serveronly"}


def tls_request(daemon, client_dir=None, payload=b"GET /_ping HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n",
                max_version=None):
    """Returns (handshake_ok, response_bytes_or_error_text)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(daemon.certs / "client" / "ca.pem")
    if max_version:
        ctx.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
        ctx.maximum_version = max_version
    if client_dir:
        ctx.load_cert_chain(client_dir / "cert.pem", client_dir / "key.pem")
    raw = socket.create_connection(("127.0.0.1", daemon.port), timeout=5)
    try:
        s = ctx.wrap_socket(raw, server_hostname="localhost")
    except (ssl.SSLError, OSError) as e:
        raw.close()
        return False, str(e)
    try:
        s.sendall(payload)
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        return True, data
    except (ssl.SSLError, OSError) as e:  # TLS 1.3: the alert arrives after the handshake
        return False, str(e)
    finally:
        s.close()


def refused(ok, data):
    return not ok or not data.startswith(b"HTTP/1.1 200")


def assert_no_handler(daemon, action):
    before = daemon.handled()
    result = action()
    time.sleep(0.05)
    assert daemon.handled() == before, "a refused client reached a handler"
    # ...and the daemon still serves a good client.
    ok, data = tls_request(daemon, daemon.certs / "client")
    assert ok and data.startswith(b"HTTP/1.1 200 OK"), data
    return result


def test_good_client_is_served(daemon):
    before = daemon.handled()
    ok, data = tls_request(daemon, daemon.certs / "client")
    assert ok and data.startswith(b"HTTP/1.1 200 OK") and data.endswith(b"OK")
    assert daemon.handled() == before + 1


@pytest.mark.parametrize("case", ["no-cert", "foreign-ca", "expired", "not-yet-valid", "server-only-cert"])
def test_bad_client_certificates_are_refused_in_the_handshake(daemon, pki, case):
    client = {"no-cert": None, "foreign-ca": pki["foreign"], "expired": pki["expired"],
              "not-yet-valid": pki["future"], "server-only-cert": pki["serveronly"]}[case]
    ok, data = assert_no_handler(daemon, lambda: tls_request(daemon, client))
    assert refused(ok, data if isinstance(data, bytes) else b""), data


def test_curl_without_a_client_certificate_is_refused(daemon):
    def attempt():
        return subprocess.run(["curl", "-sS", "--max-time", "5", "--cacert", str(daemon.certs / "client/ca.pem"),
                               "--resolve", f"localhost:{daemon.port}:127.0.0.1",
                               f"https://localhost:{daemon.port}/_ping"], capture_output=True, text=True,
                              env={"PATH": "/usr/bin:/bin"})
    proc = assert_no_handler(daemon, attempt)
    assert proc.returncode != 0


def test_plaintext_http_on_the_tls_port_gets_a_400(daemon):
    def attempt():
        with socket.create_connection(("127.0.0.1", daemon.port), timeout=5) as s:
            s.sendall(b"GET /_ping HTTP/1.1\r\nHost: d\r\n\r\n")
            data = b""
            while chunk := s.recv(4096):
                data += chunk
            return data
    data = assert_no_handler(daemon, attempt)
    assert data.startswith(b"HTTP/1.0 400 Bad Request")
    assert b"Client sent an HTTP request to an HTTPS server." in data


def test_old_tls_versions_are_refused(daemon):
    def attempt():
        try:
            return tls_request(daemon, daemon.certs / "client", max_version=ssl.TLSVersion.TLSv1_1)
        except ssl.SSLError as e:  # the local OpenSSL may refuse to even offer TLS 1.1
            return False, str(e)
    ok, _ = assert_no_handler(daemon, attempt)
    assert not ok


def test_garbage_instead_of_a_client_hello(daemon):
    def attempt():
        with socket.create_connection(("127.0.0.1", daemon.port), timeout=5) as s:
            s.sendall(bytes(range(256)) * 4)
            try:
                return s.recv(4096)
            except OSError:
                return b""
    data = assert_no_handler(daemon, attempt)
    assert not data.startswith(b"HTTP/1.1 200")


def test_a_silent_client_is_dropped_after_the_handshake_deadline(daemon):
    def attempt():
        with socket.create_connection(("127.0.0.1", daemon.port), timeout=10) as s:
            t0 = time.monotonic()
            data = s.recv(4096)  # blocks until the server gives up
            return data, time.monotonic() - t0
    data, waited = assert_no_handler(daemon, attempt)
    assert data == b""
    assert HANDSHAKE_MS / 1000 * 0.8 <= waited < 5


def test_slowloris_after_the_handshake_is_dropped_at_the_header_deadline(daemon):
    def attempt():
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.load_verify_locations(daemon.certs / "client" / "ca.pem")
        ctx.load_cert_chain(daemon.certs / "client" / "cert.pem", daemon.certs / "client" / "key.pem")
        with ctx.wrap_socket(socket.create_connection(("127.0.0.1", daemon.port), timeout=10),
                             server_hostname="localhost") as s:
            t0 = time.monotonic()
            s.sendall(b"GET /_ping HTTP/1.1\r\nHo")
            try:
                for _ in range(20):  # a byte now and then, never finishing
                    time.sleep(0.1)
                    s.sendall(b"s")
                data = s.recv(4096)
            except (OSError, ssl.SSLError):
                data = b""
            return data, time.monotonic() - t0
    data, waited = assert_no_handler(daemon, attempt)
    assert data == b""
    assert waited < 5
