"""The image endpoints with the real docker CLI (28 and Debian's 20.10): import
a busybox rootfs built from Debian's busybox-static, list, inspect, tag,
history, rmi, and the failure cases with Docker's messages."""
import json
import os
import subprocess
import tarfile
import tempfile

import pytest

from dindtest import Daemon, run

CLIS = [c for c in ["/usr/local/bin/docker", "/usr/bin/docker"] if os.path.exists(c)]


@pytest.fixture(scope="module")
def daemon():
    with tempfile.TemporaryDirectory(prefix="dind-images-") as root:
        d = Daemon(root, tls=False).start()
        yield d
        assert d.stop() == 0


@pytest.fixture(scope="module")
def busybox_tar(tmp_path_factory):
    """A minimal busybox root file system from Debian's busybox-static."""
    path = tmp_path_factory.mktemp("rootfs") / "busybox.tar"
    with tarfile.open(path, "w") as t:
        for d in ["bin", "etc", "tmp"]:
            info = tarfile.TarInfo(d)
            info.type = tarfile.DIRTYPE
            info.mode = 0o755
            t.addfile(info)
        t.add("/bin/busybox", "bin/busybox")
        for applet in ["sh", "echo", "ls", "cat"]:
            info = tarfile.TarInfo(f"bin/{applet}")
            info.type = tarfile.SYMTYPE
            info.linkname = "busybox"
            t.addfile(info)
    return path


def docker(d, *args, cli=None, check=True, stdin=None):
    p = subprocess.run([cli or CLIS[0], *args], capture_output=True, text=True, timeout=60, input=stdin,
                       env={"PATH": os.environ["PATH"], "DOCKER_HOST": f"unix://{d.socket}",
                            "DOCKER_CONFIG": tempfile.gettempdir() + "/dind-test-docker-config"})
    if check and p.returncode != 0:
        raise AssertionError(f"{args}: {p.stderr}")
    return p


@pytest.mark.parametrize("cli", CLIS)
def test_import_list_inspect_tag_history_rmi(daemon, busybox_tar, cli):
    repo = "spy/imported" if cli == CLIS[0] else "spy/imported20"
    out = docker(daemon, "import", "-c", 'CMD ["/bin/sh"]', "-c", "ENV A=b", "-m", "spy import", str(busybox_tar),
                 f"{repo}:1", cli=cli).stdout.strip()
    assert out.startswith("sha256:") and len(out) == 71
    image_id = out
    rows = docker(daemon, "images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}} {{.Size}}", cli=cli).stdout
    assert f"{repo}:1 {image_id[7:19]}" in rows
    info = json.loads(docker(daemon, "image", "inspect", f"{repo}:1", cli=cli).stdout)[0]
    assert info["Id"] == image_id
    assert info["Config"]["Cmd"] == ["/bin/sh"] and "A=b" in info["Config"]["Env"]
    assert info["Comment"] == "spy import"
    assert info["RootFS"]["Type"] == "layers" and len(info["RootFS"]["Layers"]) == 1
    assert info["Size"] > 1_000_000
    assert info["Os"] == "linux"

    docker(daemon, "tag", f"{repo}:1", "busybox:local", cli=cli)
    assert docker(daemon, "images", "busybox", "--format", "{{.Repository}}:{{.Tag}}", cli=cli).stdout.split() == ["busybox:local"]
    assert docker(daemon, "image", "inspect", "busybox:local", "--format", "{{.Id}}", cli=cli).stdout.strip() == image_id
    assert docker(daemon, "image", "inspect", image_id[7:19], "--format", "{{.Id}}", cli=cli).stdout.strip() == image_id
    hist = docker(daemon, "history", "busybox:local", "--format", "{{.ID}} {{.Comment}}", cli=cli).stdout
    assert hist.strip() == f"{image_id[7:19]} spy import"

    # Removing one of two tags untags; removing the last one deletes.
    out = docker(daemon, "rmi", f"{repo}:1", cli=cli).stdout
    assert f"Untagged: {repo}:1" in out and "Deleted" not in out
    out = docker(daemon, "rmi", "busybox:local", cli=cli).stdout
    assert "Untagged: busybox:local" in out and f"Deleted: {image_id}" in out
    assert image_id[7:19] not in docker(daemon, "images", "-q", cli=cli).stdout


def test_failures_carry_dockers_messages(daemon, busybox_tar):
    p = docker(daemon, "image", "inspect", "nosuch:tag", check=False)
    assert p.returncode == 1 and "No such image: nosuch:tag" in p.stderr
    p = docker(daemon, "rmi", "nosuch", check=False)
    assert p.returncode == 1 and "No such image: nosuch" in p.stderr
    p = docker(daemon, "tag", "nosuch", "x:y", check=False)
    assert p.returncode == 1 and "No such image: nosuch" in p.stderr
    p = docker(daemon, "import", "-", "bad:tag", stdin="this is not a tar archive", check=False)
    assert p.returncode == 1 and "layer" in p.stderr
    p = docker(daemon, "import", "-c", "RUN rm -rf /", str(busybox_tar), check=False)
    assert p.returncode == 1 and "RUN is not a valid change command" in p.stderr
    # A failed import leaves no layer or image behind.
    assert docker(daemon, "images", "-q").stdout.strip() == ""
    layers = os.listdir(daemon.root / "data/image/overlay2/layers")
    assert layers == []


def test_removing_by_id_with_tags_in_two_repositories_needs_force(daemon, busybox_tar):
    image_id = docker(daemon, "import", str(busybox_tar), "one:1").stdout.strip()
    docker(daemon, "tag", "one:1", "two:1")
    p = docker(daemon, "rmi", image_id[7:19], check=False)
    assert p.returncode == 1 and "must be forced" in p.stderr and "referenced in multiple repositories" in p.stderr
    out = docker(daemon, "rmi", "-f", image_id[7:19]).stdout
    assert "Untagged: one:1" in out and "Untagged: two:1" in out and f"Deleted: {image_id}" in out
    assert docker(daemon, "images", "-q").stdout.strip() == ""
