"""The generated bundle against independent TLS stacks: openssl s_server + curl,
and the docker CLI's own (Go) TLS loader against a mutual-TLS endpoint."""
import http.server
import json
import os
import shutil
import socket
import ssl
import subprocess
import threading
import time

import pytest

from dindtest import certgen, free_port, run

KEY_TYPES = ["ecdsa-p256", "rsa2048", "ed25519"]


def wait_listening(port, proc=None, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"server exited early: {proc.stderr.read()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"nothing listening on {port}")


@pytest.fixture
def s_server(certdir):
    """openssl s_server with the server cert, demanding a client cert (-Verify)."""
    procs = []

    def start():
        port = free_port()
        p = subprocess.Popen(
            ["openssl", "s_server", "-accept", f"127.0.0.1:{port}", "-www", "-Verify", "1",
             "-cert", str(certdir / "server/cert.pem"), "-key", str(certdir / "server/key.pem"),
             "-CAfile", str(certdir / "server/ca.pem"), "-verify_return_error"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        procs.append(p)
        wait_listening(port, p)
        return port

    yield start
    for p in procs:
        p.kill()
        p.wait()


def curl(port, client_dir=None, cacert=None):
    args = ["curl", "-sS", "--max-time", "10", "--resolve", f"localhost:{port}:127.0.0.1",
            "--cacert", str(cacert)]
    if client_dir is not None:
        args += ["--cert", str(client_dir / "cert.pem"), "--key", str(client_dir / "key.pem")]
    return run(args + [f"https://localhost:{port}/"], check=False, env={"CURL_CA_BUNDLE": ""})


@pytest.mark.parametrize("key_type", KEY_TYPES)
def test_s_server_accepts_our_client_and_rejects_others(certdir, tmp_path, s_server, key_type):
    certgen(certdir, "--key-type", key_type)
    other = tmp_path / "other"
    certgen(other, "--key-type", key_type)
    port = s_server()

    ok = curl(port, certdir / "client", cacert=certdir / "client/ca.pem")
    assert ok.returncode == 0, ok.stderr
    assert "s_server" in ok.stdout  # the -www status page

    no_cert = curl(port, None, cacert=certdir / "client/ca.pem")
    assert no_cert.returncode != 0

    foreign = curl(port, other / "client", cacert=certdir / "client/ca.pem")
    assert foreign.returncode != 0

    # And curl refuses the server when it trusts another CA.
    wrong_ca = curl(port, certdir / "client", cacert=other / "client/ca.pem")
    assert wrong_ca.returncode != 0
    assert "certificate" in wrong_ca.stderr.lower()


class _FakeApi(http.server.BaseHTTPRequestHandler):
    """Answers just enough of the Engine API for `docker version` to print the
    server's version: proof that the CLI completed a mutual-TLS handshake."""

    def _reply(self, body):
        data = json.dumps(body).encode() if not isinstance(body, str) else body.encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json" if not isinstance(body, str) else "text/plain")
        self.send_header("Api-Version", "1.41")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def do_HEAD(self):  # noqa: N802
        self._reply("OK")

    def do_GET(self):  # noqa: N802
        if self.path.endswith("/_ping"):
            self._reply("OK")
        else:
            self._reply({"Version": "mtls-interop", "ApiVersion": "1.41", "MinAPIVersion": "1.24",
                         "Os": "linux", "Arch": "amd64", "GitCommit": "x", "GoVersion": "none",
                         "KernelVersion": "x", "BuildTime": "x",
                         "Components": [{"Name": "Engine", "Version": "mtls-interop", "Details": {}}]})

    def log_message(self, *args):
        pass


@pytest.fixture
def mtls_api(certdir):
    servers = []

    def start():
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(certdir / "server/cert.pem", certdir / "server/key.pem")
        ctx.load_verify_locations(certdir / "server/ca.pem")
        ctx.verify_mode = ssl.CERT_REQUIRED
        srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _FakeApi)
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
        srv.handle_error = lambda *a: None  # rejected handshakes are expected
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        servers.append(srv)
        return srv.server_address[1]

    yield start
    for s in servers:
        s.shutdown()
        s.server_close()


def docker_clis():
    clis = [c for c in ["/usr/local/bin/docker", "/usr/bin/docker"] if os.path.exists(c)]
    if not clis:
        pytest.skip("no docker CLI installed")
    return clis


@pytest.mark.parametrize("key_type", KEY_TYPES + ["rsa4096"])
def test_docker_cli_loads_the_client_dir_and_completes_mutual_tls(certdir, tmp_path, mtls_api, key_type):
    certgen(certdir, "--key-type", key_type)
    other = tmp_path / "other"
    certgen(other, "--key-type", key_type)
    port = mtls_api()
    for cli in docker_clis():
        env = {"DOCKER_CERT_PATH": str(certdir / "client"), "DOCKER_TLS_VERIFY": "1",
               "DOCKER_CONFIG": str(tmp_path / "cfg")}
        out = run([cli, "-H", f"tcp://127.0.0.1:{port}", "version", "--format", "{{.Server.Version}}"],
                  env=env, check=False)
        assert out.returncode == 0, f"{cli}: {out.stderr}"
        assert out.stdout.strip() == "mtls-interop"
        # The same CLI with the same server but a client dir from another CA is refused.
        env["DOCKER_CERT_PATH"] = str(other / "client")
        bad = run([cli, "-H", f"tcp://127.0.0.1:{port}", "version", "--format", "{{.Server.Version}}"],
                  env=env, check=False)
        assert bad.returncode != 0
        assert "certificate" in bad.stderr.lower() or "tls" in bad.stderr.lower()
