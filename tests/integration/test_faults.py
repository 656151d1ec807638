"""Faults (issue #19): a full disk under the data root (a small loop-mounted
ext4) during build, commit, load and log writing; the runtime missing or
failing; a container's shim killed; its network namespace unmounted; the
NAT rules flushed behind the daemon's back. Each gives a clear error (or
none where the daemon can carry on), the daemon keeps serving, nothing
half-written stays, and the daemon repairs what it owns where it can."""
import json
import os
import pathlib
import signal
import subprocess
import tempfile
import time

import pytest

from ctrtest import docker, import_busybox, state, wait_for
from dindtest import Daemon
from regtest import Registry

FS_MIB = 160


def free_mib(path):
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize / (1 << 20)


def leftovers(data):
    """What an interrupted write or unpack would leave in the data root."""
    out = []
    for sub in ["tmp", "image/overlay2/tmp", "image/content/ingest"]:
        p = data / sub
        if p.is_dir():
            out += [str(p / e) for e in os.listdir(p)]
    for dirpath, _dirs, files in os.walk(data):
        out += [os.path.join(dirpath, f) for f in files if ".tmp-" in f]
    return out


@pytest.fixture(scope="module")
def full(tmp_path_factory):
    """A daemon whose data root is a 160 MiB ext4 on a loop device."""
    with tempfile.TemporaryDirectory(prefix="dind-faults-", ignore_cleanup_errors=True) as root:
        root = pathlib.Path(root)
        img = root / "fs.img"
        data = root / "d" / "data"
        data.mkdir(parents=True)
        subprocess.run(["truncate", "-s", f"{FS_MIB}M", str(img)], check=True)
        subprocess.run(["mkfs.ext4", "-q", str(img)], check=True)
        subprocess.run(["mount", "-o", "loop", str(img), str(data)], check=True)
        d = Daemon(root / "d", tls=False, netns=True)
        try:
            d.start()
            import_busybox(d, root / "busybox.tar")
            d.data = data
            d.work = root
            yield d
        finally:
            left = docker(d, "ps", "-aq", check=False).stdout.split() if d.proc else []
            if left:
                docker(d, "rm", "-f", *left, check=False)
            d.destroy()
            subprocess.run(["umount", str(data)], check=False)


def serving(d):
    return docker(d, "version", "--format", "{{.Server.Version}}").stdout.strip() != ""


def test_a_full_disk_during_a_build_fails_the_step_and_leaves_nothing(full):
    before = free_mib(full.data)
    ctx = full.work / "ctx-big"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text("FROM busybox:test\nRUN head -c 209715200 /dev/urandom > /big\n")
    p = docker(full, "build", "-t", "toobig:1", str(ctx), check=False, timeout=300)
    assert p.returncode != 0
    assert "returned a non-zero code" in p.stdout + p.stderr, p.stdout + p.stderr
    assert serving(full)
    assert docker(full, "ps", "-aq").stdout == ""  # the step's container went
    assert docker(full, "images", "-q", "toobig:1").stdout == ""
    assert leftovers(full.data) == []
    assert free_mib(full.data) > before - 2


def test_a_full_disk_during_a_commit_names_the_cause_and_keeps_the_container(full):
    docker(full, "run", "-d", "--name", "writer", "busybox:test", "sh", "-c",
           "head -c 62914560 /dev/urandom > /f && touch /done; exec sleep 300")
    wait_for(lambda: docker(full, "exec", "writer", "ls", "/done", check=False).returncode == 0, timeout=60,
             what="the container's 60 MiB write")
    before = free_mib(full.data)
    p = docker(full, "commit", "writer", "committed:1", check=False, timeout=300)
    assert p.returncode != 0
    assert "no space left on device" in p.stderr.lower(), p.stderr
    assert serving(full)
    assert state(full, "writer")["State"]["Running"]
    assert docker(full, "images", "-q", "committed:1").stdout == ""
    assert leftovers(full.data) == []
    assert free_mib(full.data) > before - 2
    docker(full, "rm", "-f", "writer")


def test_a_full_disk_during_a_load_names_the_cause_and_loses_nothing(full):
    ctx = full.work / "ctx-40"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text("FROM busybox:test\nRUN head -c 41943040 /dev/urandom > /f\n")
    docker(full, "build", "-q", "-t", "forty:1", str(ctx), timeout=300)
    archive = full.work / "forty.tar"
    docker(full, "save", "-o", str(archive), "forty:1")
    docker(full, "rmi", "forty:1")
    docker(full, "builder", "prune", "-f", check=False)
    left = free_mib(full.data)
    filler = full.data / "filler"
    subprocess.run(["fallocate", "-l", f"{int(left - 20)}M", str(filler)], check=True)
    try:
        before = free_mib(full.data)
        p = docker(full, "load", "-i", str(archive), check=False, timeout=300)
        assert p.returncode != 0
        assert "no space left on device" in (p.stdout + p.stderr).lower(), p.stdout + p.stderr
        assert serving(full)
        assert docker(full, "images", "-q", "forty:1").stdout == ""
        assert leftovers(full.data) == []
        assert free_mib(full.data) > before - 2
    finally:
        filler.unlink()
    docker(full, "load", "-q", "-i", str(archive), timeout=300)  # with room, it works
    assert docker(full, "run", "--rm", "forty:1", "ls", "/f").stdout == "/f\n"
    docker(full, "rmi", "forty:1")


def fill(d, leave_mib=0):
    """Fills d's data root up to leave_mib MiB (0: every last block), once
    what an earlier test removed in the background has been freed."""
    last, steady, deadline = None, 0, time.monotonic() + 15
    while steady < 3 and time.monotonic() < deadline:
        os.sync()
        now = free_mib(d.data)
        steady = steady + 1 if now == last else 0
        last = now
        time.sleep(0.3)
    filler = d.data / "filler"
    subprocess.run(["fallocate", "-l", f"{max(1, int(free_mib(d.data) - leave_mib))}M", str(filler)],
                   check=False)
    if leave_mib == 0:
        # The last blocks fallocate left, and those ext4 hands back once the
        # delayed allocations are written out (their reservation was larger).
        for _ in range(10):
            with open(d.data / "filler2", "ab", buffering=0) as f:
                for size in (65536, 4096):
                    try:
                        while True:
                            f.write(b"\0" * size)
                    except OSError:
                        pass
            os.sync()
            if os.statvfs(d.data).f_bfree == 0:
                break


def unfill(d):
    (d.data / "filler").unlink(missing_ok=True)
    (d.data / "filler2").unlink(missing_ok=True)


def test_a_full_disk_during_a_pull_names_the_cause_and_loses_nothing(full):
    reg = Registry(full.work / "registry", full.netns, tls=False)
    reg.start()
    try:
        ctx = full.work / "ctx-pull"
        ctx.mkdir()
        (ctx / "Dockerfile").write_text("FROM busybox:test\nRUN head -c 41943040 /dev/urandom > /f\n")
        ref = f"{reg.host}/faults/forty:1"
        docker(full, "build", "-q", "-t", ref, str(ctx), timeout=300)
        docker(full, "push", ref, timeout=300)
        docker(full, "rmi", ref)
        docker(full, "builder", "prune", "-f", check=False)
        before_images = docker(full, "images", "-q").stdout
        fill(full, leave_mib=20)
        try:
            before = free_mib(full.data)
            p = docker(full, "pull", ref, check=False, timeout=300)
            assert p.returncode != 0
            assert "no space left on device" in (p.stdout + p.stderr).lower(), p.stdout + p.stderr
            assert serving(full)
            assert docker(full, "images", "-q").stdout == before_images
            assert leftovers(full.data) == []
            assert free_mib(full.data) > before - 2
        finally:
            unfill(full)
        docker(full, "pull", "-q", ref, timeout=300)  # with room, it works
        assert docker(full, "run", "--rm", ref, "ls", "/f").stdout == "/f\n"
        docker(full, "rmi", ref)
    finally:
        reg.stop()


def test_container_records_the_disk_refused_are_written_once_it_takes_them(full):
    """A rename's record cannot be written (its directory made immutable: a
    refusal as certain as a full disk's, which ext4 makes hard to pin down):
    the daemon says so once per back-off period (not once per operation),
    keeps the old record intact and writes the new one by itself, within
    seconds, once the disk takes writes again."""
    cid = docker(full, "run", "-d", "--name", "unsaved", "busybox:test", "sleep", "300").stdout.strip()
    docker(full, "stop", "-t", "0", "unsaved", timeout=60)
    cdir = full.data / "containers" / cid
    record = cdir / "config.v2.json"

    def recorded():
        return json.loads(record.read_text())["Name"]
    assert recorded() == "/unsaved"
    start = len(full.log_text())
    subprocess.run(["chattr", "+i", str(cdir)], check=True)
    try:
        docker(full, "rename", "unsaved", "renamed")
        for _ in range(30):  # each operation flushes the engine's records
            assert state(full, "renamed")["Name"] == "/renamed"
            docker(full, "ps", "-a")
        assert recorded() == "/unsaved"  # the old record, intact
        errors = full.log_text()[start:].count("saving container")
        assert 1 <= errors <= 8, full.log_text()[start:]  # 1 s, 2 s, 4 s...: not one per operation (60)
    finally:
        subprocess.run(["chattr", "-i", str(cdir)], check=True)
    wait_for(lambda: recorded() == "/renamed" and "container records are written again" in full.log_text()[start:],
             timeout=20, what="the refused record to be written")
    assert leftovers(full.data) == []
    docker(full, "rm", "renamed")


def test_a_full_disk_while_logging_neither_blocks_the_container_nor_the_daemon(full):
    fill(full, leave_mib=1)  # room to start a container, not for its 2 MiB of log
    try:
        script = "i=0; while [ $i -lt 50000 ]; do echo line $i of the log of a chatty container; i=$((i+1)); done"
        p = docker(full, "run", "--name", "chatty", "busybox:test", "sh", "-c", script, check=False, timeout=120)
        assert p.returncode == 0, p.stderr
        assert state(full, "chatty")["State"]["ExitCode"] == 0
        assert docker(full, "logs", "chatty", check=False, timeout=60).returncode == 0
        assert serving(full)
        assert free_mib(full.data) < 1  # the log did fill it
    finally:
        unfill(full)
    docker(full, "rm", "chatty")
    out = docker(full, "run", "--name", "calm", "busybox:test", "sh", "-c", "seq 1 1000").stdout
    assert out.splitlines()[-1] == "1000"
    assert docker(full, "logs", "calm").stdout.splitlines() == [str(i) for i in range(1, 1001)]
    docker(full, "rm", "calm")


def test_a_killed_shim_leaves_an_exited_container_that_starts_again(daemon, image):
    cid = docker(daemon, "run", "-d", "--name", "shimless", image, "sleep", "300").stdout.strip()
    info = state(daemon, cid)
    init_pid = info["State"]["Pid"]
    shim = int(subprocess.run(["pgrep", "-f", f"dind-shim --id {cid}"], capture_output=True, text=True)
               .stdout.split()[0])
    os.kill(shim, signal.SIGKILL)
    wait_for(lambda: not state(daemon, cid)["State"]["Running"], timeout=20, what="the exit")
    # No lie: the container's process went with its shim.
    wait_for(lambda: not os.path.exists(f"/proc/{init_pid}"), timeout=20, what="the container's process to go")
    assert serving(daemon)
    docker(daemon, "start", cid)
    assert docker(daemon, "exec", cid, "echo", "back").stdout == "back\n"
    docker(daemon, "rm", "-f", cid)


def test_a_network_namespace_unmounted_behind_our_back_still_stops_and_goes(daemon, image):
    cid = docker(daemon, "run", "-d", "--name", "nsless", "-p", "18090:80", image, "sleep", "300").stdout.strip()
    netns = next(line.split()[4] for line in open("/proc/self/mountinfo")
                 if cid in line and line.split()[4].endswith("/netns"))
    subprocess.run(["umount", netns], check=True)
    docker(daemon, "stop", "-t", "1", cid, timeout=60)
    docker(daemon, "rm", cid)
    assert serving(daemon)
    links = daemon.in_netns("ip", "-o", "link", capture_output=True, text=True).stdout
    assert "veth" not in links
    rules = daemon.in_netns("nft", "list", "ruleset", capture_output=True, text=True).stdout
    assert "18090" not in rules


def test_nat_rules_flushed_behind_our_back_come_back(daemon, image):
    """The daemon checks its NAT table every 5 s: a flush comes back by
    itself, and with the next change of the ruleset at the latest."""
    docker(daemon, "run", "-d", "--name", "web1", "-p", "18091:80", image, "httpd", "-f", "-p", "80", "-h", "/var/www")

    def answers(port):
        p = daemon.in_netns("curl", "-s", "-m", "2", f"http://127.0.0.1:{port}/", capture_output=True, text=True)
        return p.stdout == "hello from httpd\n"
    wait_for(lambda: answers(18091), what="web1's published port")
    daemon.in_netns("nft", "flush", "ruleset", check=True)
    assert not answers(18091)
    wait_for(lambda: answers(18091), timeout=15, what="the flushed NAT table to come back")
    assert "was changed behind our back: put back" in daemon.log_text()
    daemon.in_netns("nft", "flush", "ruleset", check=True)  # and a change puts it back at once
    docker(daemon, "run", "-d", "--name", "web2", "-p", "18092:80", image, "httpd", "-f", "-p", "80", "-h", "/var/www")
    wait_for(lambda: answers(18092), what="web2's published port")
    assert answers(18091)
    docker(daemon, "rm", "-f", "web1", "web2")


@pytest.mark.parametrize("runtime", ["missing", "failing"])
def test_a_missing_or_failing_runtime_is_a_clear_error(tmp_path, runtime):
    fake = tmp_path / "runc"
    if runtime == "missing":
        path = str(tmp_path / "nowhere" / "runc")
    else:
        # Fails every command the way runc does: an error line in its JSON log.
        fake.write_text("#!/bin/sh\nlog=\nwhile [ $# -gt 0 ]; do [ \"$1\" = --log ] && log=$2; shift; done\n"
                        "echo '{\"level\":\"error\",\"msg\":\"the fake runtime refuses\"}' >> \"$log\"\n"
                        "echo 'the fake runtime refuses' >&2\nexit 1\n")
        fake.chmod(0o755)
        path = str(fake)
    d = Daemon(tmp_path / "d", tls=False, netns=True, env={"DIND_RUNTIME": path})
    try:
        d.start()
        import_busybox(d, tmp_path / "busybox.tar")
        p = docker(d, "run", "--name", "norun", "busybox:test", "true", check=False)
        assert p.returncode != 0
        msg = p.stderr
        if runtime == "missing":
            assert "runc" in msg and ("no such file" in msg.lower() or "not found" in msg.lower()), msg
        else:
            assert "the fake runtime refuses" in msg, msg
        assert serving(d)
        info = json.loads(docker(d, "inspect", "norun").stdout)[0]
        assert not info["State"]["Running"]
        docker(d, "rm", "-f", "norun")
        assert docker(d, "ps", "-aq").stdout == ""
        shims = subprocess.run(["pgrep", "-f", f"dind[- ]shim.*{d.root}"], capture_output=True, text=True).stdout
        assert shims == ""
    finally:
        d.destroy()
