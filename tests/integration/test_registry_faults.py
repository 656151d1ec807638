"""Pulls against registries that misbehave: a corrupted blob, a connection cut
mid-blob (resumed with Range), a stall (a clear timeout, then a pull that
works), blobs redirected to another host (followed without credentials),
schema 1 and oversized manifests, mirrors that fail over, and a daemon
SIGKILLed in the middle of a pull. The misbehaviour comes from
tests/support/regproxy.py in front of a real docker-registry."""
import json
import os
import pathlib
import signal
import subprocess
import sys
import tempfile
import time

import pytest

from ctrtest import CLIS
from dindtest import Daemon, free_port
from regtest import Layout, Registry, busybox_layer, cli, docker_login, tar_bytes

HERE = pathlib.Path(__file__).resolve().parent
PROXY = HERE.parent / "support" / "regproxy.py"
USER, PASSWORD = "bob", "pw-bob-123"


class Proxy:
    def __init__(self, netns, upstream_port, mode, arg="", root=None):
        self.port = free_port()
        self.log = pathlib.Path(root) / f"proxy-{self.port}.log"
        self.proc = subprocess.Popen(["nsenter", f"--net=/run/netns/{netns}", sys.executable, str(PROXY),
                                      str(self.port), str(upstream_port), mode, str(self.log), arg])
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            r = subprocess.run(["nsenter", f"--net=/run/netns/{netns}", "curl", "-s", "-o", "/dev/null",
                                f"http://127.0.0.1:{self.port}/v2/"], capture_output=True)
            if r.returncode == 0:
                break
            time.sleep(0.05)
        self.host = f"127.0.0.1:{self.port}"

    def seen(self):
        if not self.log.exists():
            return []
        return [json.loads(l) for l in self.log.read_text().splitlines()]

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    root = tmp_path_factory.mktemp("regfault")
    with tempfile.TemporaryDirectory(prefix="dind-regfault-", ignore_cleanup_errors=True) as droot:
        d = Daemon(droot, tls=False, netns=True, env={"DIND_TEST_REGISTRY_IDLE_MS": "1500"}).start()
        d.cli_config = root / "cli"
        d.cli_config.mkdir()
        plain = Registry(root / "plain", d.netns, tls=False)
        locked = Registry(root / "locked", d.netns, tls=False, users={USER: PASSWORD})
        try:
            plain.start()
            locked.start()
            layout = Layout(root / "layout")
            big = tar_bytes({"data": None, "data/blob.bin": os.urandom(2 << 20)})
            digest, _ = layout.image([busybox_layer(), big], tag="app")
            plain.skopeo_copy(f"oci:{layout.path}:app", "open/app:1")
            plain.skopeo_copy(f"oci:{layout.path}:app", "library/mirrored:1")
            locked.skopeo_copy(f"oci:{layout.path}:app", "team/app:1", creds=f"{USER}:{PASSWORD}")
            yield {"daemon": d, "plain": plain, "locked": locked, "root": root, "digest": digest}
        finally:
            left = cli(d, "ps", "-aq", check=False).stdout.split()
            if left:
                cli(d, "rm", "-f", *left, check=False)
            plain.stop()
            locked.stop()
            assert d.destroy() == 0


def staging_left(d):
    tmp = pathlib.Path(d.root) / "data/image/overlay2/tmp"
    return sorted(os.listdir(tmp)) if tmp.exists() else []


def images(d):
    return cli(d, "images", "-q").stdout.split()


def test_a_corrupted_blob_is_refused_and_nothing_is_stored(env):
    d, plain = env["daemon"], env["plain"]
    before = images(d)
    with Proxy(d.netns, plain.port, "corrupt", root=env["root"]) as p:
        r = cli(d, "pull", f"{p.host}/open/app:1", check=False)
    assert r.returncode != 0
    assert "verification failed for digest sha256:" in r.stderr, r.stderr
    assert images(d) == before
    assert staging_left(d) == []


def test_a_cut_connection_is_resumed_with_range(env):
    d, plain = env["daemon"], env["plain"]
    with Proxy(d.netns, plain.port, "cut", "400000", root=env["root"]) as p:
        ref = f"{p.host}/open/app:1"
        out = cli(d, "pull", ref).stdout
        assert "Pull complete" in out
        ranges = [s for s in p.seen() if s["range"]]
    assert ranges and ranges[0]["range"].startswith("bytes="), ranges
    assert cli(d, "run", "--rm", ref, "ls", "/data").stdout == "blob.bin\n"
    cli(d, "rmi", ref)
    assert staging_left(d) == []


def test_a_stalled_registry_times_out_clearly_and_a_later_pull_works(env):
    d, plain = env["daemon"], env["plain"]
    with Proxy(d.netns, plain.port, "stall", "300000", root=env["root"]) as p:
        ref = f"{p.host}/open/app:1"
        t0 = time.monotonic()
        r = cli(d, "pull", ref, check=False)
        assert r.returncode != 0
        assert "stalled" in r.stderr, r.stderr
        assert time.monotonic() - t0 < 30
        assert staging_left(d) == []
        out = cli(d, "pull", ref).stdout
        assert "Downloaded newer image" in out
    cli(d, "rmi", ref)


def test_blobs_redirected_to_another_host_are_followed_without_credentials(env):
    d, plain, locked = env["daemon"], env["plain"], env["locked"]
    # Blob storage elsewhere: a recording front for the open registry,
    # reached under another host name (localhost, not 127.0.0.1).
    with Proxy(d.netns, plain.port, "pass", root=env["root"]) as storage, \
         Proxy(d.netns, locked.port, "redirect", f"http://localhost:{storage.port}|/v2/open/app",
               root=env["root"]) as front:
        docker_login(d, front.host, USER, PASSWORD)
        ref = f"{front.host}/team/app:1"
        cli(d, "pull", ref)
        blob_gets = [s for s in storage.seen() if "/blobs/" in s["line"]]
        front_gets = [s for s in front.seen() if "/manifests/" in s["line"]]
    assert blob_gets, storage.seen()
    assert not any(s["auth"] for s in blob_gets), blob_gets
    assert front_gets and all(s["auth"] for s in front_gets)
    assert cli(d, "run", "--rm", ref, "ls", "/data").stdout == "blob.bin\n"
    cli(d, "rmi", ref)


@pytest.mark.parametrize("body,ctype,words", [
    ('{"schemaVersion":1,"name":"x","tag":"1","fsLayers":[],"history":[]}',
     "application/vnd.docker.distribution.manifest.v1+prettyjws", "schema 1 has been removed"),
    ('{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":'
     '{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:zz","size":1},"layers":[]}',
     "application/vnd.oci.image.manifest.v1+json", "invalid digest"),
    ("[1,2,3]", "application/vnd.oci.image.manifest.v1+json", "not a JSON object"),
    (" " * (5 << 20) + "{}", "application/vnd.oci.image.manifest.v1+json", "larger than 4 MiB"),
], ids=["schema1", "bad-digest", "not-object", "oversized"])
def test_bad_manifests_are_refused(env, body, ctype, words):
    d, plain = env["daemon"], env["plain"]
    f = env["root"] / f"manifest-{os.urandom(3).hex()}"
    f.write_text(body)
    before = images(d)
    with Proxy(d.netns, plain.port, "manifest", f"{f}|{ctype}", root=env["root"]) as p:
        r = cli(d, "pull", f"{p.host}/open/app:1", check=False)
    assert r.returncode != 0
    assert words in r.stderr, r.stderr
    assert images(d) == before


def test_mirrors_are_tried_in_order_for_docker_hub_names(env, tmp_path):
    plain = env["plain"]
    dead = free_port()
    with tempfile.TemporaryDirectory(prefix="dind-mirror-", ignore_cleanup_errors=True) as droot:
        # The same network namespace as the module's registries.
        m = Daemon(droot, tls=False, netns=env["daemon"].netns,
                   extra_args=["--cgroup-parent", f"dindt-{os.urandom(3).hex()}", "--bridge", "none",
                               "--registry-mirror", f"http://127.0.0.1:{dead}",
                               "--registry-mirror", f"http://{plain.host}"]).start()
        m.cli_config = tmp_path
        try:
            out = cli(m, "pull", "mirrored:1").stdout
            assert "Status: Downloaded newer image for mirrored:1" in out
            info = json.loads(cli(m, "image", "inspect", "mirrored:1").stdout)[0]
            assert info["RepoTags"] == ["mirrored:1"]
            assert "127.0.0.1:" + str(dead) in m.log_text()  # the dead mirror was tried first
            # Not on any mirror: the origin is tried last, and its failure named.
            r = cli(m, "pull", "library/notmirrored:1", check=False)
            assert r.returncode != 0
            assert "registry-1.docker.io" in r.stderr, r.stderr
        finally:
            assert m.stop() == 0


def test_a_daemon_killed_mid_pull_comes_back_consistent(env):
    d, plain = env["daemon"], env["plain"]
    before = images(d)
    with Proxy(d.netns, plain.port, "stall", "300000", root=env["root"]) as p:
        ref = f"{p.host}/open/app:1"
        pull = subprocess.Popen([CLIS[0], "pull", ref], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                env={"PATH": os.environ["PATH"], "DOCKER_HOST": f"unix://{d.socket}",
                                     "DOCKER_CONFIG": str(d.cli_config)})
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not any("/blobs/" in s["line"] for s in p.seen()):
            time.sleep(0.05)
        time.sleep(0.3)
        d.stop(signal.SIGKILL)
        pull.wait(timeout=20)
        d.start()
        assert images(d) == before
        assert staging_left(d) == []
        out = cli(d, "pull", ref).stdout
        assert "Downloaded newer image" in out
        assert cli(d, "run", "--rm", ref, "ls", "/data").stdout == "blob.bin\n"
    cli(d, "rmi", ref)
