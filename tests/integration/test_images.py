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


FIXTURE = os.path.join(os.path.dirname(__file__), "fixtures", "dockerd-20.10-tiny.tar")
FIXTURE_ID = "sha256:289cb6aa649c0efc854a75cefff1fa3944745a037fbafbc4ca75f89a7788b2ab"


@pytest.mark.parametrize("cli", CLIS)
def test_save_rmi_load_round_trip(daemon, busybox_tar, tmp_path, cli):
    tag = "roundtrip:" + ("28" if cli == CLIS[0] else "20")
    image_id = docker(daemon, "import", "-c", 'CMD ["/bin/sh"]', str(busybox_tar), tag, cli=cli).stdout.strip()
    archive = tmp_path / "saved.tar"
    docker(daemon, "save", "-o", str(archive), tag, cli=cli)
    with tarfile.open(archive) as t:
        names = t.getnames()
    assert "manifest.json" in names and "index.json" in names and f"blobs/sha256/{image_id[7:]}" in names
    docker(daemon, "rmi", tag, cli=cli)
    out = docker(daemon, "load", "-i", str(archive), cli=cli).stdout
    assert f"Loaded image: {tag}" in out
    assert docker(daemon, "image", "inspect", tag, "--format", "{{.Id}}", cli=cli).stdout.strip() == image_id
    # gzip-compressed, through stdin
    import gzip
    docker(daemon, "rmi", tag, cli=cli)
    p = subprocess.run([cli, "load"], input=gzip.compress(archive.read_bytes()), capture_output=True, timeout=60,
                       env={"PATH": os.environ["PATH"], "DOCKER_HOST": f"unix://{daemon.socket}"})
    assert p.returncode == 0 and f"Loaded image: {tag}".encode() in p.stdout
    docker(daemon, "rmi", tag, cli=cli)


def test_load_a_tarball_saved_by_debians_dockerd(daemon):
    out = docker(daemon, "load", "-i", FIXTURE).stdout
    assert "Loaded image: dockerd/tiny:20.10" in out
    info = json.loads(docker(daemon, "image", "inspect", "dockerd/tiny:20.10").stdout)[0]
    assert info["Id"] == FIXTURE_ID, "the image ID (config digest) survives"
    assert info["Config"]["Cmd"] == ["/bin/link"]
    docker(daemon, "rmi", "dockerd/tiny:20.10")


@pytest.mark.skipif(not os.path.exists("/usr/sbin/dockerd"), reason="Debian's dockerd is not installed")
def test_archives_move_both_ways_between_dind_and_dockerd(daemon, busybox_tar, tmp_path):
    import sys
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "bench", "lib"))
    from dockerd import Dockerd
    with Dockerd() as real:
        env = {"PATH": os.environ["PATH"], "DOCKER_HOST": f"unix://{real.socket}"}
        theirs = subprocess.run(["/usr/bin/docker", "import", "-c", 'CMD ["/bin/sh"]', str(busybox_tar),
                                 "from/dockerd:1"], env=env, capture_output=True, text=True, check=True).stdout.strip()
        subprocess.run(["/usr/bin/docker", "save", "-o", str(tmp_path / "theirs.tar"), "from/dockerd:1"],
                       env=env, check=True)
        assert "Loaded image: from/dockerd:1" in docker(daemon, "load", "-i", str(tmp_path / "theirs.tar")).stdout
        assert docker(daemon, "image", "inspect", "from/dockerd:1", "--format", "{{.Id}}").stdout.strip() == theirs
        # ...and ours into theirs.
        docker(daemon, "tag", "from/dockerd:1", "from/dind:1")
        docker(daemon, "save", "-o", str(tmp_path / "ours.tar"), "from/dind:1")
        p = subprocess.run(["/usr/bin/docker", "load", "-i", str(tmp_path / "ours.tar")], env=env,
                           capture_output=True, text=True)
        assert p.returncode == 0 and "from/dind:1" in p.stdout, p.stderr
        p = subprocess.run(["/usr/bin/docker", "image", "inspect", "from/dind:1", "--format", "{{.Id}}"], env=env,
                           capture_output=True, text=True)
        assert p.stdout.strip() == theirs
    docker(daemon, "rmi", "-f", theirs[7:19])


def test_load_and_save_failures(daemon, tmp_path):
    bad = tmp_path / "truncated.tar"
    bad.write_bytes(open(FIXTURE, "rb").read()[:6000])
    p = docker(daemon, "load", "-i", str(bad), check=False)
    # The failure is the stream's last line (as dockerd's), printed as is.
    assert p.returncode == 1 and "reading the layer failed" in p.stderr, p.stderr
    # A manifest naming a layer the archive lacks.
    broken = tmp_path / "missing-layer.tar"
    with tarfile.open(FIXTURE) as src, tarfile.open(broken, "w") as dst:
        for m in src.getmembers():
            if not m.name.endswith("layer.tar"):
                dst.addfile(m, src.extractfile(m) if m.isfile() else None)
    p = docker(daemon, "load", "-i", str(broken), check=False)
    assert p.returncode == 1 and "missing" in p.stderr
    p = docker(daemon, "save", "-o", str(tmp_path / "x.tar"), "nosuch:1", check=False)
    assert p.returncode == 1 and "No such image: nosuch:1" in p.stderr
    assert docker(daemon, "images", "-q").stdout.strip() == ""


def test_prune_removes_dangling_images_only_unless_asked(daemon, busybox_tar):
    untagged = docker(daemon, "import", str(busybox_tar)).stdout.strip()
    tagged = docker(daemon, "import", "-c", "LABEL keep=1", str(busybox_tar), "keep:1").stdout.strip()
    out = docker(daemon, "image", "prune", "-f").stdout
    assert f"deleted: {untagged}" in out and "Total reclaimed space" in out
    ids = docker(daemon, "images", "-q", "--no-trunc").stdout.split()
    assert ids == [tagged]
    out = docker(daemon, "image", "prune", "-a", "-f").stdout
    assert "untagged: keep:1" in out and f"deleted: {tagged}" in out
    assert docker(daemon, "images", "-q").stdout.strip() == ""


def test_before_and_since_filters(daemon, busybox_tar):
    import time
    old = docker(daemon, "import", str(busybox_tar), "filter:old").stdout.strip()
    time.sleep(1.1)  # creation times have one-second resolution in the list
    new = docker(daemon, "import", "-c", "LABEL n=2", str(busybox_tar), "filter:new").stdout.strip()
    assert docker(daemon, "images", "-q", "--no-trunc", "--filter", "before=filter:new").stdout.split() == [old]
    assert docker(daemon, "images", "-q", "--no-trunc", "--filter", "since=filter:old").stdout.split() == [new]
    p = docker(daemon, "images", "--filter", "since=nosuch:1", check=False)
    assert p.returncode == 1 and "No such image: nosuch:1" in p.stderr
    docker(daemon, "rmi", "filter:old", "filter:new")


def test_load_progress_lines_unless_quiet(daemon):
    def load(quiet):
        p = subprocess.run(["curl", "-sS", "--unix-socket", daemon.socket, "-X", "POST", "-H",
                            "Content-Type: application/x-tar", "--data-binary", "@" + FIXTURE,
                            f"http://d/images/load?quiet={quiet}"], capture_output=True, text=True, timeout=60)
        return [json.loads(line) for line in p.stdout.splitlines()]
    lines = load(0)
    bars = [m for m in lines if m.get("status") == "Loading layer"]
    assert bars, lines
    layers = json.loads(docker(daemon, "image", "inspect", "dockerd/tiny:20.10").stdout)[0]["RootFS"]["Layers"]
    assert bars[0]["id"] == layers[0][7:19], "the bar's ID is the short chain ID of the layer"
    assert bars[0]["progressDetail"]["current"] == bars[0]["progressDetail"]["total"] > 0
    assert bars[0]["progress"].startswith("[=====") and bars[0]["progress"].endswith("B")
    assert lines[-1] == {"stream": "Loaded image: dockerd/tiny:20.10\n"}
    # The layers exist now: a second load moves none, so shows no bar.
    assert load(0) == [{"stream": "Loaded image: dockerd/tiny:20.10\n"}]
    docker(daemon, "rmi", "dockerd/tiny:20.10")
    assert load(1) == [{"stream": "Loaded image: dockerd/tiny:20.10\n"}]
    docker(daemon, "rmi", "dockerd/tiny:20.10")


def test_streamed_load_failures_answer_and_release(daemon, tmp_path):
    """docker load unpacks while the upload arrives: a body that is garbage
    from its first bytes is refused (after the whole upload, as the stream's
    error line, as dockerd answers), and a client
    that leaves mid-upload frees the loader for the next load."""
    garbage = tmp_path / "garbage.bin"
    garbage.write_bytes(os.urandom(8 << 20))
    p = subprocess.run(["curl", "-sS", "--unix-socket", daemon.socket, "-X", "POST", "-H",
                        "Content-Type: application/x-tar", "--data-binary", f"@{garbage}", "-w", "\n%{http_code}",
                        "http://d/images/load?quiet=1"], capture_output=True, text=True, timeout=60)
    body, _, code = p.stdout.rpartition("\n")
    assert code == "200", p.stdout
    line = json.loads(body)
    assert line["error"] == line["errorDetail"]["message"] and "not a docker save archive" in line["error"], body
    p = docker(daemon, "load", "-i", str(garbage), check=False)
    assert p.returncode == 1 and "not a docker save archive" in p.stderr, p
    import socket
    s = socket.socket(socket.AF_UNIX)
    s.connect(daemon.socket)
    s.sendall(b"POST /images/load?quiet=1 HTTP/1.1\r\nHost: d\r\nContent-Type: application/x-tar\r\n"
              b"Content-Length: 50000000\r\n\r\n" + open(FIXTURE, "rb").read()[:512 * 20])
    s.close()
    out = docker(daemon, "load", "-i", FIXTURE).stdout  # would hang if the loader were stuck
    assert "Loaded image: dockerd/tiny:20.10" in out
    docker(daemon, "rmi", "dockerd/tiny:20.10")
