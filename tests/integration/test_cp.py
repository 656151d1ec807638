"""docker cp both ways and docker export (issue #18): files, directories,
links, -a, volumes and binds, stopped containers, Docker's errors, and a
table of escape attempts judged by a victim directory outside the
container's root that must stay untouched."""
import base64
import hashlib
import io
import json
import os
import subprocess
import tarfile
import tempfile
import time

import pytest

from ctrtest import CLIS, api, docker, state, wait_for


def tar_of(entries):
    """A tar from (name, kind, payload) rows: kind file/dir/symlink/hardlink."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        for name, kind, payload in entries:
            info = tarfile.TarInfo(name)
            info.mtime = 1700000000
            if kind == "file":
                data = payload.encode()
                info.size = len(data)
                t.addfile(info, io.BytesIO(data))
                continue
            if kind == "dir":
                info.type, info.mode = tarfile.DIRTYPE, 0o755
            elif kind == "symlink":
                info.type, info.linkname = tarfile.SYMTYPE, payload
            elif kind == "hardlink":
                info.type, info.linkname = tarfile.LNKTYPE, payload
            t.addfile(info)
    return buf.getvalue()


def put_archive(daemon, container, path, data, query=""):
    p = subprocess.run(["curl", "-sS", "--unix-socket", daemon.socket, "-X", "PUT", "-o", "-", "-w", "\n%{http_code}",
                        "-H", "Content-Type: application/x-tar", "--data-binary", "@-",
                        f"http://d/containers/{container}/archive?path={path}{query}"],
                       input=data, capture_output=True, timeout=30)
    body, _, code = p.stdout.rpartition(b"\n")
    return int(code), body


def get_archive(daemon, container, path):
    """(status, stat header dict or None, tar bytes)."""
    with tempfile.NamedTemporaryFile() as headers:
        p = subprocess.run(["curl", "-sS", "--unix-socket", daemon.socket, "-D", headers.name, "-o", "-",
                            f"http://d/containers/{container}/archive?path={path}"], capture_output=True, timeout=30)
        head = open(headers.name).read()
    code = int(head.split()[1])
    stat = None
    for line in head.splitlines():
        if line.lower().startswith("x-docker-container-path-stat:"):
            stat = json.loads(base64.b64decode(line.split(":", 1)[1].strip()))
    return code, stat, p.stdout


def names_in(data):
    with tarfile.open(fileobj=io.BytesIO(data)) as t:
        return sorted(m.name for m in t.getmembers())


@pytest.fixture
def victim(tmp_path):
    """A directory outside every container root; its digest before and after."""
    d = tmp_path / "victim"
    d.mkdir()
    (d / "secret").write_text("VICTIM-SECRET\n")
    (d / "sub").mkdir()

    def digest():
        h = hashlib.sha256()
        for root, dirs, files in sorted(os.walk(d)):
            h.update(root.encode())
            for name in sorted(dirs + files):
                p = os.path.join(root, name)
                st = os.lstat(p)
                h.update(f"{name}:{st.st_mode}:{st.st_uid}:{st.st_size}".encode())
                if os.path.isfile(p) and not os.path.islink(p):
                    h.update(open(p, "rb").read())
        return h.hexdigest()

    class Victim:
        path = d

        def __str__(self):
            return str(d)

    Victim.digest = staticmethod(digest)
    return Victim()


@pytest.mark.parametrize("cli", CLIS)
def test_cp_both_ways_files_dirs_links_and_archive_mode(daemon, image, tmp_path, cli):
    short = os.path.basename(cli)[:3] + str(len(cli))
    name = f"cp-{short}"
    host = tmp_path / "host"
    (host / "dir" / "sub").mkdir(parents=True)
    (host / "file.txt").write_text("from the host\n")
    (host / "dir" / "sub" / "a.txt").write_text("a\n")
    os.chmod(host / "dir" / "sub" / "a.txt", 0o640)
    docker(daemon, "run", "-d", "--name", name, "-u", "1000:1000", image, "sleep", "300")
    try:
        # In: a file under a new name, into an existing directory, a directory (new, then into one).
        docker(daemon, "cp", str(host / "file.txt"), f"{name}:/tmp/renamed.txt", cli=cli)
        docker(daemon, "cp", str(host / "file.txt"), f"{name}:/tmp/", cli=cli)
        docker(daemon, "cp", str(host / "dir"), f"{name}:/tmp/newdir", cli=cli)
        docker(daemon, "cp", str(host / "dir"), f"{name}:/tmp/", cli=cli)
        seen = docker(daemon, "exec", "-u", "0", name, "sh", "-c",
                      "cat /tmp/renamed.txt /tmp/file.txt /tmp/newdir/sub/a.txt /tmp/dir/sub/a.txt;"
                      " stat -c '%a %u' /tmp/dir/sub/a.txt").stdout
        assert seen == "from the host\nfrom the host\na\na\n640 " + str(os.getuid()) + "\n"
        # -a: owned by the container's user.
        docker(daemon, "cp", "-a", str(host / "file.txt"), f"{name}:/tmp/owned.txt", cli=cli)
        assert docker(daemon, "exec", name, "stat", "-c", "%u:%g", "/tmp/owned.txt").stdout == "1000:1000\n"
        # Out: a file, a directory, its contents (dir/.), a link with and without -L.
        docker(daemon, "exec", "-u", "0", name, "sh", "-c", "ln -s /tmp/dir/sub /tmp/link && echo out > /tmp/dir/out.txt")
        out = tmp_path / "out"
        out.mkdir()
        docker(daemon, "cp", f"{name}:/tmp/renamed.txt", str(out / "f.txt"), cli=cli)
        assert (out / "f.txt").read_text() == "from the host\n"
        docker(daemon, "cp", f"{name}:/tmp/dir", str(out), cli=cli)
        assert (out / "dir" / "sub" / "a.txt").read_text() == "a\n" and (out / "dir" / "out.txt").exists()
        (out / "contents").mkdir()
        docker(daemon, "cp", f"{name}:/tmp/dir/.", str(out / "contents"), cli=cli)
        assert sorted(os.listdir(out / "contents")) == ["out.txt", "sub"]
        docker(daemon, "cp", f"{name}:/tmp/link", str(out / "asis"), cli=cli)
        assert os.readlink(out / "asis") == "/tmp/dir/sub"
        docker(daemon, "cp", "-L", f"{name}:/tmp/link", str(out / "followed"), cli=cli)
        assert (out / "followed" / "a.txt").read_text() == "a\n"
        # To stdout: a tar.
        raw = docker(daemon, "cp", f"{name}:/etc/hostname", "-", cli=cli, text=False).stdout
        with tarfile.open(fileobj=io.BytesIO(raw)) as t:
            assert t.extractfile("hostname").read().decode() == state(daemon, name)["Config"]["Hostname"] + "\n"
        # A stopped container, both ways.
        docker(daemon, "stop", "-t", "0", name)
        docker(daemon, "cp", str(host / "file.txt"), f"{name}:/stopped.txt", cli=cli)
        docker(daemon, "cp", f"{name}:/stopped.txt", str(out / "stopped.txt"), cli=cli)
        assert (out / "stopped.txt").read_text() == "from the host\n"
        docker(daemon, "start", name)
        assert docker(daemon, "exec", name, "cat", "/stopped.txt").stdout == "from the host\n"
    finally:
        docker(daemon, "rm", "-f", name)


def test_cp_reaches_volumes_and_binds_and_stat_header(daemon, image, tmp_path):
    bind = tmp_path / "bind"
    bind.mkdir()
    docker(daemon, "create", "--name", "cp-vol", "-v", "cpvol:/data", "-v", f"{bind}:/mnt/b",
           "-v", f"{tmp_path}:/ro:ro", image, "sleep", "300")
    try:
        docker(daemon, "start", "cp-vol")
        src = tmp_path / "v.txt"
        src.write_text("in the volume\n")
        docker(daemon, "cp", str(src), "cp-vol:/data/v.txt")
        docker(daemon, "cp", str(src), "cp-vol:/mnt/b/")
        assert (bind / "v.txt").read_text() == "in the volume\n", "a bind mount is written through"
        vol = json.loads(docker(daemon, "volume", "inspect", "cpvol").stdout)[0]["Mountpoint"]
        assert open(os.path.join(vol, "v.txt")).read() == "in the volume\n"
        docker(daemon, "exec", "cp-vol", "ln", "-s", "/data", "/via-link")
        docker(daemon, "cp", str(src), "cp-vol:/via-link/linked.txt")
        assert os.path.exists(os.path.join(vol, "linked.txt")), "a link into a volume lands in the volume"
        # Out of a directory holding a mount point: the mount's files.
        code, stat, data = get_archive(daemon, "cp-vol", "/mnt")
        assert code == 200 and "mnt/b/v.txt" in names_in(data)
        assert stat["name"] == "mnt" and stat["mode"] == (1 << 31) | 0o755 and stat["linkTarget"] == ""
        code, stat, _ = get_archive(daemon, "cp-vol", "/via-link")
        assert stat["mode"] & (1 << 27) and stat["linkTarget"] == "/data"
        code, stat, _ = get_archive(daemon, "cp-vol", "/data/v.txt")
        assert stat["size"] == 14 and stat["mode"] == 0o644 and stat["mtime"].endswith("Z")
        # A read-only mount and a read-only root refuse.
        r = docker(daemon, "cp", str(src), "cp-vol:/ro/", check=False)
        assert r.returncode != 0 and "mounted volume is marked read-only" in r.stderr
        assert not os.path.exists(tmp_path / "v.txt.copy")
    finally:
        docker(daemon, "rm", "-f", "-v", "cp-vol")
        docker(daemon, "volume", "rm", "cpvol", check=False)


@pytest.mark.parametrize("cli", CLIS)
def test_cp_errors_in_dockers_words(daemon, image, tmp_path, cli):
    name = "cp-err" + str(len(cli))
    docker(daemon, "run", "-d", "--name", name, "--read-only", image, "sleep", "300")
    try:
        src = tmp_path / "f"
        src.write_text("x")
        # The 20.10 CLI words a 404 of its own (it stats first, a HEAD without a body).
        r = docker(daemon, "cp", f"{name}:/nonexistent", str(tmp_path / "o"), cli=cli, check=False)
        assert r.returncode != 0 and (f"Could not find the file /nonexistent in container {name}" in r.stderr
                                      or f"No such container:path: {name}:/nonexistent" in r.stderr), r.stderr
        r = docker(daemon, "cp", str(src), f"{name}:/nodir/sub/f", cli=cli, check=False)
        assert r.returncode != 0 and (f"Could not find the file /nodir/sub in container {name}" in r.stderr
                                      or f"No such container:path: {name}:/nodir/sub" in r.stderr), r.stderr
        r = docker(daemon, "cp", str(src), f"{name}:/tmp/", cli=cli, check=False)
        assert r.returncode != 0 and "container rootfs is marked read-only" in r.stderr
        r = docker(daemon, "cp", str(src), "no-such-container:/tmp/f", cli=cli, check=False)
        assert r.returncode != 0 and ("No such container: no-such-container" in r.stderr
                                      or "No such container:path: no-such-container:/tmp" in r.stderr), r.stderr
        code, body = api(daemon, "GET", f"/containers/{name}/archive")
        assert code == 400 and json.loads(body)["message"] == "path cannot be empty"
        code, body = put_archive(daemon, name, "/etc/hostname", tar_of([("x", "file", "x")]))
        assert code == 400 and json.loads(body)["message"] == "extraction point is not a directory"
    finally:
        docker(daemon, "rm", "-f", name)


def test_cp_overwrite_rules_and_bad_archives(daemon, image):
    docker(daemon, "run", "-d", "--name", "cp-ow", image, "sh", "-c", "mkdir /tmp/d; echo f > /tmp/f; sleep 300")
    try:
        code, body = put_archive(daemon, "cp-ow", "/tmp", tar_of([("d", "file", "x")]), "&noOverwriteDirNonDir=true")
        assert code == 400 and "cannot overwrite directory" in json.loads(body)["message"]
        code, body = put_archive(daemon, "cp-ow", "/tmp", tar_of([("f", "dir", "")]), "&noOverwriteDirNonDir=true")
        assert code == 400 and "cannot overwrite non-directory" in json.loads(body)["message"]
        code, _ = put_archive(daemon, "cp-ow", "/tmp", tar_of([("f", "file", "replaced")]))
        assert code == 200
        assert docker(daemon, "exec", "cp-ow", "cat", "/tmp/f").stdout == "replaced"
        code, body = put_archive(daemon, "cp-ow", "/tmp", b"this is not a tar" * 100)
        assert code == 400 and json.loads(body)["message"]
        # The daemon still serves, the container is intact.
        assert docker(daemon, "exec", "cp-ow", "cat", "/tmp/f").stdout == "replaced"
    finally:
        docker(daemon, "rm", "-f", "cp-ow")


def test_export_streams_the_root_without_volumes(daemon, image, tmp_path):
    docker(daemon, "run", "--name", "cp-exp", "-v", "/anonvol", image, "sh", "-c",
           "echo mine > /mine.txt; echo vol > /anonvol/in-volume; rm /bin/true")
    try:
        for cli in CLIS:
            raw = docker(daemon, "export", "cp-exp", cli=cli, text=False).stdout
            names = names_in(raw)
            assert "mine.txt" in names and "bin/sh" in names and "anonvol" in names
            assert "anonvol/in-volume" not in names and "bin/true" not in names
            assert not any(n.startswith(".wh.") or "/.wh." in n for n in names)
        docker(daemon, "export", "-o", str(tmp_path / "x.tar"), "cp-exp")
        with tarfile.open(tmp_path / "x.tar") as t:
            assert t.extractfile("mine.txt").read() == b"mine\n"
        r = docker(daemon, "export", "no-such", check=False)
        assert r.returncode != 0 and "No such container: no-such" in r.stderr
    finally:
        docker(daemon, "rm", "-f", "-v", "cp-exp")


def escape_rows(v):
    """(what, direction, how) rows; `v` is the victim's host path, which the
    attempts name from inside the container."""
    up = "../" * 12
    return [
        # Out of the container: the answer must never carry the victim's bytes.
        ("dot-dot path", "out", ("cli", f"/{up}{v}/secret")),
        ("dot-dot path over the API", "out", ("get", f"/{up}{v}/secret")),
        ("absolute link to the host path", "out", ("cli", "/esc/abs/secret")),
        ("relative link climbing out", "out", ("cli", f"/esc/up{v}/secret")),
        ("chain of links", "out", ("cli", "/esc/c1/secret")),
        ("-L on a link to the host file", "out", ("cli-L", "/esc/file")),
        ("/proc/self/root of the daemon", "out", ("get", f"/proc/self/root{v}/secret")),
        ("a directory holding links out", "out", ("get", "/esc")),
        # Into the container: the victim directory must stay as it was.
        ("cp into an absolute link", "in", ("cli", "/esc/abs/")),
        ("cp into a climbing link", "in", ("cli", f"/esc/up{v}/sub/")),
        ("cp through a chain of links", "in", ("cli", "/esc/c1/")),
        ("entry with ..", "in", ("tar", [(f"{up}{v}/pwned", "file", "x")])),
        ("absolute entry name", "in", ("tar", [(f"{v}/pwned", "file", "x")])),
        ("link entry then a file through it", "in", ("tar", [("l1", "symlink", v), ("l1/pwned", "file", "x")])),
        ("climbing link entry then a file", "in", ("tar", [("l2", "symlink", up), (f"l2{v}/pwned", "file", "x")])),
        ("hard link to the host file", "in", ("tar", [("h1", "hardlink", f"{v}/secret")])),
        ("hard link climbing out", "in", ("tar", [("h2", "hardlink", f"{up}{v}/secret")])),
        ("file over a link to the host file", "in", ("tar", [("esc/file", "file", "overwritten")])),
        ("extraction point is a link out", "in", ("tar-at", "/esc/abs", [("pwned", "file", "x")])),
        ("link planted then a directory through it", "in",
         ("tar", [("l3", "symlink", f"{v}/sub"), ("l3/d/", "dir", ""), ("l3/d/pwned", "file", "x")])),
    ]


def test_cp_escape_attempts_leave_the_victim_untouched(daemon, image, victim, tmp_path):
    v = str(victim)
    docker(daemon, "run", "-d", "--name", "cp-esc", image, "sh", "-c",
           f"mkdir -p /esc && ln -s {v} /esc/abs && ln -s ../../../../../../../../.. /esc/up"
           f" && ln -s /esc/c2 /esc/c1 && ln -s /esc/c3 /esc/c2 && ln -s {v} /esc/c3"
           f" && ln -s {v}/secret /esc/file && sleep 300")
    payload = tmp_path / "payload"
    payload.write_text("PAYLOAD\n")
    before = victim.digest()
    results = []
    try:
        rows = escape_rows(v)
        assert len(rows) >= 15
        for what, direction, (kind, *args) in rows:
            if direction == "out":
                if kind in ("cli", "cli-L"):
                    flags = ["-L"] if kind == "cli-L" else []
                    r = docker(daemon, "cp", *flags, f"cp-esc:{args[0]}", "-", check=False, text=False)
                    data = r.stdout
                else:
                    _, _, data = get_archive(daemon, "cp-esc", args[0])
                results.append((what, b"VICTIM-SECRET" not in data))
            else:
                if kind == "cli":
                    docker(daemon, "cp", str(payload), f"cp-esc:{args[0]}", check=False)
                elif kind == "tar":
                    put_archive(daemon, "cp-esc", "/", tar_of(args[0]))
                else:
                    put_archive(daemon, "cp-esc", args[0], tar_of(args[1]))
                results.append((what, victim.digest() == before))
        assert [what for what, ok in results if not ok] == []
        # What the attempts wrote stayed inside the container's root.
        inside = docker(daemon, "exec", "cp-esc", "sh", "-c", f"ls {v} {v}/sub 2>&1; cat /esc/file").stdout
        assert "pwned" in inside and "overwritten" in inside
        assert victim.digest() == before and sorted(os.listdir(victim.path)) == ["secret", "sub"]
    finally:
        docker(daemon, "rm", "-f", "cp-esc")


def test_cp_with_links_swapped_during_the_copy(daemon, image, victim, tmp_path):
    """A container process swaps /race/d between a directory and a link to the
    victim's path while copies run both ways."""
    v = str(victim)
    docker(daemon, "run", "-d", "--name", "cp-race", image, "sh", "-c",
           f"mkdir -p /race; while true; do mkdir -p /race/d; echo in > /race/d/f; rm -rf /race/d;"
           f" ln -s {v} /race/d; rm -f /race/d; done")
    src = tmp_path / "many"
    src.mkdir()
    for i in range(50):
        (src / f"f{i}").write_text("PAYLOAD\n")
    before = victim.digest()
    try:
        for _ in range(20):
            put_archive(daemon, "cp-race", "/race/d", tar_of([(f"f{i}", "file", "x") for i in range(30)]))
            docker(daemon, "cp", str(src), "cp-race:/race/d/", check=False)
            _, _, data = get_archive(daemon, "cp-race", "/race/d/.")
            assert b"VICTIM-SECRET" not in data
            assert victim.digest() == before
        assert sorted(os.listdir(victim.path)) == ["secret", "sub"]
    finally:
        docker(daemon, "rm", "-f", "cp-race")



def slow_reader(daemon, path):
    """A client reading a streamed archive at 100 KiB/s, to be killed midway."""
    return subprocess.Popen(["curl", "-s", "--limit-rate", "100K", "-o", "/dev/null", "--unix-socket",
                             daemon.socket, f"http://d{path}"])


@pytest.mark.parametrize("what", ["save", "cp", "export"])
def test_client_leaving_a_streamed_archive(daemon, image, what):
    """A client that disconnects in the middle of docker save, cp out or
    export: the daemon keeps serving, and the container starts, stops and is
    removed as usual."""
    name = f"cp-leave-{what}"
    docker(daemon, "run", "-d", "--name", name, image, "sh", "-c",
           "dd if=/dev/urandom of=/big bs=1M count=8 2>/dev/null; touch /ready; sleep 600")
    wait_for(lambda: docker(daemon, "exec", name, "test", "-f", "/ready", check=False).returncode == 0)
    path = {"save": f"/images/{image}/get", "cp": f"/containers/{name}/archive?path=/big",
            "export": f"/containers/{name}/export"}[what]
    try:
        for _ in range(3):
            p = slow_reader(daemon, path)
            time.sleep(1.5)
            p.kill()
            p.wait()
        time.sleep(0.5)
        assert docker(daemon, "ps", "-q").stdout.strip()
        # The container's op lock was let go: a stop during a slow copy and
        # a start after it work.
        p = slow_reader(daemon, f"/containers/{name}/archive?path=/big")
        time.sleep(1)
        docker(daemon, "stop", "-t", "1", name)
        p.kill()
        p.wait()
        docker(daemon, "start", name)
        assert state(daemon, name)["State"]["Running"]
        code, _, data = get_archive(daemon, name, "/big")
        assert code == 200 and len(data) > 8 << 20
    finally:
        docker(daemon, "rm", "-f", name)
