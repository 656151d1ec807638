"""Helpers the container suites share: a busybox image, the docker CLI and raw
API requests against a test daemon, stdcopy frames, and the leak check."""
import contextlib
import io
import json
import os
import subprocess
import tarfile
import tempfile
import time

CLIS = [c for c in ["/usr/local/bin/docker", "/usr/bin/docker"] if os.path.exists(c)]
IMAGE = "busybox:test"


@contextlib.contextmanager
def netns_daemon(prefix, env=None):
    """One daemon in a network namespace of its own for a whole suite; it must
    stop cleanly at the end. env: extra variables for the daemon."""
    from dindtest import Daemon
    with tempfile.TemporaryDirectory(prefix=prefix, ignore_cleanup_errors=True) as root:
        d = Daemon(root, tls=False, netns=True, env=env).start()
        try:
            yield d
        finally:
            # A failed test may leave containers (paused ones too): they go
            # with the suite, since the daemon leaves them running at stop.
            left = docker(d, "ps", "-aq", check=False).stdout.split()
            if left:
                docker(d, "rm", "-f", *left, check=False)
            # Stopped on a failure too (a function-scoped use would otherwise
            # leave its daemon and namespace running).
            rc = d.destroy()
            log = "".join(line + "\n" for line in d.log_text().splitlines()[-100:]
                          if "level=debug handler" not in line)
        assert rc == 0, f"dind exited with {rc}:\n{log}"


def import_busybox(daemon, path, tag=IMAGE):
    """busybox-static with every applet linked, plus passwd/group files."""
    applets = subprocess.run(["/bin/busybox", "--list"], capture_output=True, text=True, check=True).stdout.split()
    with tarfile.open(path, "w") as t:
        for d in ["bin", "etc", "tmp", "root", "var", "var/www"]:
            info = tarfile.TarInfo(d)
            info.type = tarfile.DIRTYPE
            info.mode = 0o1777 if d == "tmp" else 0o755
            t.addfile(info)
        t.add("/bin/busybox", "bin/busybox")
        for applet in applets:
            if applet != "busybox":
                info = tarfile.TarInfo(f"bin/{applet}")
                info.type = tarfile.SYMTYPE
                info.linkname = "busybox"
                t.addfile(info)
        for name, text in [("etc/passwd", "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/sh\n"
                                          "app:x:1000:1000:app:/tmp:/bin/sh\n"),
                           ("etc/group", "root:x:0:\nnogroup:x:65534:\napp:x:1000:\nextra:x:2000:app\n"),
                           ("var/www/index.html", "hello from httpd\n")]:
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            t.addfile(info, io.BytesIO(data))
    docker(daemon, "import", "-c", 'CMD ["/bin/sh"]', str(path), tag)
    return tag


def docker(d, *args, cli=None, check=True, stdin=None, timeout=60, text=True):
    env = {"PATH": os.environ["PATH"], "DOCKER_HOST": f"unix://{d.socket}",
           "DOCKER_CONFIG": tempfile.gettempdir() + "/dind-test-docker-config"}
    p = subprocess.run([cli or CLIS[0], *args], capture_output=True, text=text, timeout=timeout, input=stdin, env=env)
    if check and p.returncode != 0:
        raise AssertionError(f"{args}: rc={p.returncode} {p.stderr}")
    return p


def api(daemon, method, path, data=None):
    """One raw API request over the unix socket: (status, body bytes)."""
    args = ["curl", "-sS", "--unix-socket", daemon.socket, "-X", method, "-o", "-", "-w", "\n%{http_code}",
            f"http://d{path}"]
    if data is not None:  # through stdin: a body may exceed the argument limit
        args += ["-H", "Content-Type: application/json", "--data-binary", "@-"]
    out = subprocess.run(args, capture_output=True, timeout=30,
                         input=None if data is None else (data.encode() if isinstance(data, str) else data)).stdout
    body, _, code = out.rpartition(b"\n")
    return int(code), body


def frames(raw):
    """Splits a stdcopy stream into (stream, bytes) pairs."""
    out = []
    while raw:
        assert len(raw) >= 8, raw
        size = int.from_bytes(raw[4:8], "big")
        out.append((raw[0], raw[8:8 + size]))
        raw = raw[8 + size:]
    return out


def assert_nothing_left_behind(daemon, image=IMAGE):
    """No container mounts, veths, DNAT rules, cgroups, shims or sockets remain
    (after one more container with a published port came and went)."""
    docker(daemon, "run", "-d", "--name", "last", "-p", "18081:80", image, "sleep", "100")
    docker(daemon, "rm", "-f", "last")
    assert docker(daemon, "ps", "-aq").stdout == ""
    root = str(daemon.root)
    mounts = [line for line in open("/proc/self/mountinfo") if root in line]
    assert mounts == []
    links = daemon.in_netns("ip", "-o", "link", capture_output=True, text=True).stdout
    assert "veth" not in links
    rules = daemon.in_netns("nft", "list", "ruleset", capture_output=True, text=True).stdout
    assert "dport" not in rules, rules
    leftover = []
    for ctrl in os.listdir("/sys/fs/cgroup"):
        parent = os.path.join("/sys/fs/cgroup", ctrl, daemon.cgroup_parent)
        if os.path.isdir(parent):
            leftover.append(parent)
    assert leftover == []
    shims = subprocess.run(["pgrep", "-f", f"dind[- ]shim.*{root}"], capture_output=True, text=True).stdout
    assert shims == ""
    assert os.listdir(os.path.join(root, "exec", "s")) == []


def state(daemon, name):
    """The container's inspect document."""
    return json.loads(docker(daemon, "inspect", name).stdout)[0]


def wait_for(cond, timeout=20, what=""):
    """Polls cond until true (assertion after timeout seconds)."""
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def cli_env(daemon):
    return {"PATH": os.environ["PATH"], "DOCKER_HOST": f"unix://{daemon.socket}",
            "DOCKER_CONFIG": tempfile.gettempdir() + "/dind-test-docker-config", "TERM": "xterm"}
