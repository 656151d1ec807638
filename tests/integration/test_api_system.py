"""The daemon's API front with real clients: docker CLI 28 and 20.10, the python
SDK and curl, over the unix socket and over mutual TLS."""
import json
import os
import signal
import socket
import subprocess
import tempfile
import time

import pytest

from dindtest import Daemon, binary, certgen, free_port, run, wait_port_closed

CLIS = [c for c in ["/usr/local/bin/docker", "/usr/bin/docker"] if os.path.exists(c)]


@pytest.fixture(scope="module")
def daemon():
    with tempfile.TemporaryDirectory(prefix="dind-api-") as root:
        d = Daemon(root).start()
        yield d
        assert d.stop() == 0
        assert not os.path.exists(d.socket), "the socket must be removed on exit"
        assert not os.path.exists(os.path.join(root, "dind.pid")), "the pid file must be removed on exit"


def curl_unix(d, path, *args):
    """Raw response text with its CRLFs intact."""
    out = subprocess.run(["curl", "-s", "-i", "--max-time", "10", "--unix-socket", d.socket, *args,
                          f"http://d{path}"], capture_output=True, timeout=30).stdout
    return out.decode(errors="replace")


@pytest.mark.parametrize("cli", CLIS)
def test_docker_version_and_info_over_the_unix_socket(daemon, cli, tmp_path):
    env = {"DOCKER_HOST": f"unix://{daemon.socket}", "DOCKER_CONFIG": str(tmp_path)}
    v = run([cli, "version", "--format", "{{json .Server}}"], env=env)
    server = json.loads(v.stdout)
    assert server["ApiVersion"] == "1.44"
    assert server["MinAPIVersion"] == "1.24"
    assert server["Version"].startswith("25.0.0-dind")
    info = json.loads(run([cli, "info", "--format", "{{json .}}"], env=env).stdout)
    assert info["OSType"] == "linux"
    assert info["DockerRootDir"] == str(daemon.root / "data")
    assert info["DefaultRuntime"] == "runc"
    assert info["NCPU"] == os.cpu_count()
    assert info["CgroupDriver"] == "cgroupfs"
    assert info["CgroupVersion"] in ("1", "2")
    assert info["KernelVersion"] == os.uname().release
    assert info["Name"] == socket.gethostname()
    assert info["MemTotal"] > 0
    assert info["Containers"] == 0
    # The default seccomp profile (Debian's, from golang-github-containers-common) is applied and said.
    assert info["SecurityOptions"] == ["name=seccomp,profile=builtin"]


@pytest.mark.parametrize("cli", CLIS)
def test_docker_version_and_info_over_mutual_tls(daemon, cli, tmp_path):
    env = daemon.client_env(tmp_path)
    out = run([cli, "version", "--format", "{{.Server.Version}} {{.Server.APIVersion}}"], env=env)
    assert out.stdout.split()[1] == "1.44"
    info = run([cli, "info", "--format", "{{.ID}}"], env=env)
    assert len(info.stdout.strip()) == 36


def test_python_sdk_over_socket_and_tls(daemon):
    import docker
    from docker.tls import TLSConfig
    # This machine sets REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE, which would make the
    # SDK ignore our CA.
    saved = {k: os.environ.pop(k) for k in ["REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"] if k in os.environ}
    try:
        c = docker.DockerClient(base_url=f"unix://{daemon.socket}", version="auto")
        assert c.version()["ApiVersion"] == "1.44"
        assert c.ping() is True
        client = daemon.certs / "client"
        tls = TLSConfig(client_cert=(str(client / "cert.pem"), str(client / "key.pem")),
                        ca_cert=str(client / "ca.pem"), verify=True)
        t = docker.DockerClient(base_url=f"https://127.0.0.1:{daemon.port}", tls=tls, version="1.41")
        assert t.info()["OSType"] == "linux"
        c.close()
        t.close()
    finally:
        os.environ.update(saved)


def test_ping_headers_and_version_rules(daemon):
    head = curl_unix(daemon, "/_ping", "-I")
    assert head.startswith("HTTP/1.1 200 OK")
    for h in ["Api-Version: 1.44", "Ostype: linux", "Docker-Experimental: false", "Builder-Version: 1",
              "Cache-Control: no-cache, no-store, must-revalidate", "Pragma: no-cache",
              "Content-Type: text/plain; charset=utf-8"]:
        assert h in head
    assert curl_unix(daemon, "/_ping").endswith("\r\n\r\nOK")
    assert curl_unix(daemon, "/v1.44/_ping").endswith("OK")
    assert curl_unix(daemon, "/v1.24/version").startswith("HTTP/1.1 200")
    too_new = curl_unix(daemon, "/v1.45/version")
    assert too_new.startswith("HTTP/1.1 400")
    assert "Content-Type: application/json\r\n" in too_new
    assert too_new.endswith('{"message":"client version 1.45 is too new. Maximum supported API version is 1.44"}\n')
    too_old = curl_unix(daemon, "/v1.12/version")
    assert too_old.startswith("HTTP/1.1 400") and "is too old" in too_old
    missing = curl_unix(daemon, "/v1.44/nosuchendpoint")
    assert missing.startswith("HTTP/1.1 404")
    assert missing.endswith('{"message":"page not found"}\n')
    assert curl_unix(daemon, "/containers/json", "-X", "PUT").startswith("HTTP/1.1 404")


def test_info_fields_follow_the_requested_api_version(daemon):
    old = json.loads(curl_unix(daemon, "/v1.41/info").split("\r\n\r\n", 1)[1])
    new = json.loads(curl_unix(daemon, "/v1.44/info").split("\r\n\r\n", 1)[1])
    assert old["KernelMemory"] is False and "KernelMemoryTCP" in old
    assert "KernelMemory" not in new and "KernelMemoryTCP" not in new
    assert old["ID"] == new["ID"]


def test_events_stream_ends_at_until_and_bad_parameters_are_400(daemon, tmp_path):
    env = {"DOCKER_HOST": f"unix://{daemon.socket}", "DOCKER_CONFIG": str(tmp_path)}
    t0 = time.monotonic()
    until = int(time.time()) + 1
    proc = run([CLIS[0], "events", "--until", str(until)], env=env)
    assert proc.returncode == 0
    assert time.monotonic() - t0 < 5
    # A window in the past: the (chunked) stream ends at once and curl,
    # which checks the chunked framing, exits cleanly.
    past = subprocess.run(["curl", "-sS", "-i", "--max-time", "5", "--unix-socket", daemon.socket,
                           f"http://d/events?since=1&until={int(time.time()) - 10}"], capture_output=True)
    assert past.returncode == 0, past.stderr
    assert b"Transfer-Encoding: chunked" in past.stdout
    assert curl_unix(daemon, "/events?since=yesterday").startswith("HTTP/1.1 400")
    assert curl_unix(daemon, "/events?filters=%7Bbad").startswith("HTTP/1.1 400")
    # An open-ended stream stays open until the client leaves.
    p = subprocess.Popen(["curl", "-s", "-N", "--unix-socket", daemon.socket, "http://d/events"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(0.5)
    assert p.poll() is None
    p.terminate()
    p.wait()
    assert curl_unix(daemon, "/_ping").endswith("OK")  # still serving


def test_engine_id_is_stable_across_restarts_and_stale_socket_is_replaced(tmp_path):
    d = Daemon(tmp_path / "d1", tls=False).start()
    env = {"DOCKER_HOST": f"unix://{d.socket}", "DOCKER_CONFIG": str(tmp_path)}
    first = run([CLIS[0], "info", "--format", "{{.ID}}"], env=env).stdout.strip()
    d.stop(signal.SIGKILL)  # a crash leaves the socket and the pid file behind
    assert os.path.exists(d.socket)
    d2 = Daemon(tmp_path / "d1", tls=False).start()
    try:
        assert "removing stale socket" in d2.log_text()
        assert run([CLIS[0], "info", "--format", "{{.ID}}"], env=env).stdout.strip() == first
        # A second daemon on the same live socket is refused.
        d3 = Daemon(tmp_path / "d1", tls=False)
        d3.log_path = tmp_path / "d3.log"
        d3.start(wait=False)
        assert d3.proc.wait(timeout=10) == 1
        text = d3.log_text()
        assert "pid file found" in text or "another daemon is already listening" in text
    finally:
        assert d2.stop() == 0


def test_tcp_without_tls_is_refused_unless_explicitly_allowed(tmp_path):
    port = free_port()
    base = [binary("dind"), "daemon", "--data-root", str(tmp_path / "data"), "--exec-root",
            str(tmp_path / "exec"), "--pidfile", str(tmp_path / "pid"), "--config-file", str(tmp_path / "dj")]
    (tmp_path / "dj").write_text("{}")
    refused = run(base + ["-H", f"tcp://127.0.0.1:{port}"], check=False)
    assert refused.returncode == 1
    assert "without TLS" in refused.stdout + refused.stderr and "--tls=false" in refused.stdout + refused.stderr
    no_verify = run(base + ["-H", f"tcp://127.0.0.1:{port}", "--tls"], check=False)
    assert no_verify.returncode == 1 and "client verification" in no_verify.stdout + no_verify.stderr

    d = Daemon(tmp_path / "plain", tls=False, extra_args=["-H", f"tcp://127.0.0.1:{port}", "--tls=false"]).start()
    try:
        assert "without encryption" in d.log_text()
        out = run([CLIS[0], "-H", f"tcp://127.0.0.1:{port}", "info", "--format", "{{json .Warnings}}"],
                  env={"DOCKER_CONFIG": str(tmp_path)})
        assert "without encryption" in out.stdout
    finally:
        d.stop()
    assert wait_port_closed(port)


def test_bad_daemon_json_and_flags_fail_clearly(tmp_path):
    d = Daemon(tmp_path / "bad", tls=False)
    (d.root / "daemon.json").write_text('{"storage-driver": "vfs"}')
    d.start(wait=False)
    assert d.proc.wait(timeout=10) == 2
    assert "don't match any configuration option: storage-driver" in d.log_text()
    proc = run([binary("dind"), "daemon", "--no-such-flag"], check=False)
    assert proc.returncode == 2 and "unknown flag: --no-such-flag" in proc.stderr


def test_appliance_mode_generates_certs_and_serves_mtls(tmp_path):
    """`dind` with no subcommand: certgen from DOCKER_TLS_CERTDIR, then the socket
    (a unix:// DOCKER_HOST moves it) and TCP with mutual TLS."""
    port = free_port()
    certs = tmp_path / "certs"
    sock = tmp_path / "appliance.sock"
    env = {"PATH": os.environ["PATH"], "DOCKER_TLS_CERTDIR": str(certs), "DOCKER_HOST": f"unix://{sock}",
           "DIND_TCP_ADDRESS": f"127.0.0.1:{port}"}
    (tmp_path / "dj").write_text("{}")
    log = open(tmp_path / "log", "wb")
    p = subprocess.Popen([binary("dind"), "--data-root", str(tmp_path / "data"), "--exec-root", str(tmp_path / "exec"),
                          "--pidfile", str(tmp_path / "pid"), "--config-file", str(tmp_path / "dj"), "--bridge", "none"],
                         env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 10
        while "ready in" not in (tmp_path / "log").read_text() and time.monotonic() < deadline:
            assert p.poll() is None, (tmp_path / "log").read_text()
            time.sleep(0.02)
        assert certgen(certs, "verify").returncode == 0
        out = run([CLIS[0], "version", "--format", "{{.Server.APIVersion}}"],
                  env={"DOCKER_HOST": f"tcp://127.0.0.1:{port}", "DOCKER_TLS_VERIFY": "1",
                       "DOCKER_CERT_PATH": str(certs / "client"), "DOCKER_CONFIG": str(tmp_path)})
        assert out.stdout.strip() == "1.44"
        out = run([CLIS[0], "-H", f"unix://{sock}", "version", "--format", "{{.Server.APIVersion}}"],
                  env={"DOCKER_CONFIG": str(tmp_path)})
        assert out.stdout.strip() == "1.44"
        bad = run([binary("dind")], env={**env, "DOCKER_TLS_SAN": "IP:x"}, check=False)
        assert bad.returncode == 1 and "IP:x" in bad.stdout + bad.stderr
    finally:
        p.terminate()
        assert p.wait(timeout=20) == 0
        log.close()
    assert not sock.exists()
