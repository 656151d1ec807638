"""Two engines on one host (one network namespace, as `scripts/run` and a
second daemon would be): a second engine with the same default bridge is
refused with a message naming the first, and never deletes the first's live
bridge or replaces its NAT table; with its own --bridge it gets its own NAT
table, and both keep serving published ports (issue #14)."""
import tempfile

import pytest

from ctrtest import docker, import_busybox, netns_daemon
from dindtest import Daemon


def http_in(daemon, port):
    p = daemon.in_netns("curl", "-s", "-m", "5", f"http://127.0.0.1:{port}/", capture_output=True, text=True)
    return p.stdout


@pytest.fixture
def first():
    with netns_daemon("dind-two-a-") as d:
        yield d


def serve(daemon, image, name, port):
    docker(daemon, "run", "-d", "--name", name, "-p", f"{port}:80", image, "httpd", "-f", "-p", "80", "-h", "/var/www")


def test_a_second_engine_never_tears_down_the_first(first, tmp_path):
    image = import_busybox(first, tmp_path / "busybox.tar")
    serve(first, image, "web1", 18101)
    assert http_in(first, 18101) == "hello from httpd\n"
    tables = lambda: first.in_netns("nft", "list", "tables", capture_output=True, text=True).stdout  # noqa: E731
    assert "table ip dind\n" in tables()

    with tempfile.TemporaryDirectory(prefix="dind-two-b-", ignore_cleanup_errors=True) as root:
        # The same default bridge: refused, naming the first engine.
        clash = Daemon(root, tls=False, netns=first.netns).start(wait=False)
        assert clash.proc.wait(timeout=20) != 0
        log = clash.log_text()
        assert "is in use by another dind engine in this network namespace" in log, log
        assert str(first.root / "data") in log and "--bridge" in log, log
        clash.stop()
        assert http_in(first, 18101) == "hello from httpd\n", "the first engine's NAT survived"
        assert "dind0" in first.in_netns("ip", "-o", "link", "show", "dind0", capture_output=True, text=True).stdout

        # Its own bridge: its own table, both serve.
        second = Daemon(root, tls=False, netns=first.netns, extra_args=["--bridge", "dind1"]).start()
        try:
            import_busybox(second, tmp_path / "busybox2.tar")
            serve(second, image, "web2", 18102)
            assert http_in(second, 18102) == "hello from httpd\n"
            assert http_in(first, 18101) == "hello from httpd\n"
            assert "table ip dind\n" in tables() and "table ip dind-dind1\n" in tables()
            ps1 = docker(first, "ps", "--format", "{{.Names}}").stdout.split()
            ps2 = docker(second, "ps", "--format", "{{.Names}}").stdout.split()
            assert (ps1, ps2) == (["web1"], ["web2"])
        finally:
            docker(second, "rm", "-f", "web2", check=False)
            assert second.stop() == 0
        # Its bridge and table stay for its next start (they go with the
        # namespace); the first engine never noticed.
        assert http_in(first, 18101) == "hello from httpd\n"
    docker(first, "rm", "-f", "web1")
