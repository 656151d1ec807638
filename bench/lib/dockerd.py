"""A private Debian dockerd for side-by-side runs: own bridge, data root, exec
root, socket and pid file; started and stopped by the caller, leaving nothing
behind (bridge, mounts, directories, processes)."""
import http.client
import os
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import time

DOCKERD = shutil.which("dockerd") or "/usr/sbin/dockerd"


def dockerd_available():
    return os.access(DOCKERD, os.X_OK)


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout=5.0):
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self._path)


def ping(sock_path):
    try:
        conn = UnixHTTPConnection(sock_path, timeout=1.0)
        conn.request("GET", "/_ping")
        ok = conn.getresponse().status == 200
        conn.close()
        return ok
    except OSError:
        return False


def _sh(*args, check=True):
    return subprocess.run(args, check=check, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


class Dockerd:
    """with Dockerd() as d: d.socket, d.ready_ms (start until /_ping answers)."""

    def __init__(self, iptables=False, timeout=60.0, tls_certdir=None, tcp_port=None, before_start=None,
                 ready_probe=None):
        """tls_certdir + tcp_port: also serve tcp://127.0.0.1:PORT with --tlsverify
        using the docker:dind layout in tls_certdir. before_start(root) runs inside
        the timed window (docker:dind's certificate generation) and may return the
        certificate directory it made."""
        self.iptables = iptables
        self.timeout = timeout
        self.tls_certdir = tls_certdir
        self.tcp_port = tcp_port
        self.before_start = before_start
        self.ready_probe = ready_probe  # fn(self) -> bool; default: /_ping on the socket
        self.proc = None
        self.ready_ms = None

    def __enter__(self):
        tag = f"{random.randrange(16**6):06x}"
        self.root = tempfile.mkdtemp(prefix="dbx")  # short: socket paths are limited
        self.bridge = f"dbbr{tag}"
        subnet = f"10.{random.randrange(200, 250)}.{random.randrange(0, 255)}"
        self.socket = os.path.join(self.root, "docker.sock")
        _sh("ip", "link", "add", self.bridge, "type", "bridge")
        _sh("ip", "addr", "add", f"{subnet}.1/24", "dev", self.bridge)
        _sh("ip", "link", "set", self.bridge, "up")
        args = [DOCKERD, "--data-root", os.path.join(self.root, "data"),
                "--exec-root", os.path.join(self.root, "exec"), "-H", f"unix://{self.socket}",
                "--pidfile", os.path.join(self.root, "docker.pid"), "--bridge", self.bridge,
                f"--iptables={str(self.iptables).lower()}", "--ip6tables=false"]
        self.log = open(os.path.join(self.root, "dockerd.log"), "w")
        t0 = time.perf_counter()
        if self.before_start:  # may produce the certificates, inside the timed window
            self.tls_certdir = self.before_start(self.root) or self.tls_certdir
        if self.tls_certdir:
            c = self.tls_certdir
            args += ["-H", f"tcp://127.0.0.1:{self.tcp_port}", "--tlsverify",
                     "--tlscacert", f"{c}/server/ca.pem", "--tlscert", f"{c}/server/cert.pem",
                     "--tlskey", f"{c}/server/key.pem"]
        self.t0 = t0
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = t0 + self.timeout
        while time.perf_counter() < deadline:
            if self.proc.poll() is not None:
                self.__exit__(None, None, None)
                raise RuntimeError("dockerd exited during start")
            if (self.ready_probe(self) if self.ready_probe else ping(self.socket)):
                self.ready_ms = (time.perf_counter() - t0) * 1000.0
                return self
            time.sleep(0.001)
        self.__exit__(None, None, None)
        raise RuntimeError("dockerd did not answer in time")

    def pids(self):
        """dockerd and every descendant (containerd), plus the shims, which
        daemonize away from it (their command line names our root)."""
        out = process_tree(self.proc.pid)
        return out + [p for p in processes_with(b"containerd-shim", self.root.encode()) if p not in out]

    def __exit__(self, *exc):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        if hasattr(self, "log"):
            self.log.close()
        # dockerd may leave mounts under its roots; unmount deepest first.
        with open("/proc/self/mountinfo") as f:
            mounts = [line.split()[4] for line in f if line.split()[4].startswith(self.root)]
        for m in sorted(mounts, key=len, reverse=True):
            _sh("umount", "-l", m, check=False)
        _sh("ip", "link", "del", self.bridge, check=False)
        shutil.rmtree(self.root, ignore_errors=True)
        return False


def processes_with(*needles):
    """Pids whose command line contains every one of the byte strings."""
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    cmd = f.read()
            except OSError:
                continue
            if all(n in cmd for n in needles):
                out.append(int(entry))
    return out


def process_tree(root_pid):
    children = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(entry))
        except OSError:
            continue
    out, todo = [], [root_pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def rss_kib(pids):
    total = 0
    for p in pids:
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total
