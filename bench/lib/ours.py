"""Our appliance for side-by-side runs: `dind` in appliance mode with a fresh
certificate directory, a private socket, data root and exec root, and the TLS
listener on a chosen loopback port."""
import os
import shutil
import signal
import subprocess
import tempfile
import time


class Dind:
    def __init__(self, binary, tcp_port, ready_probe, timeout=30.0):
        self.binary = binary
        self.tcp_port = tcp_port
        self.ready_probe = ready_probe  # fn(certdir) -> bool
        self.timeout = timeout
        self.proc = None
        self.ready_ms = None

    def __enter__(self):
        self.root = tempfile.mkdtemp(prefix="dindbench-")
        self.certdir = os.path.join(self.root, "certs")
        with open(os.path.join(self.root, "daemon.json"), "w") as f:
            f.write("{}")
        env = {"PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
               "DOCKER_TLS_CERTDIR": self.certdir,
               "DOCKER_HOST": f"unix://{self.root}/d.sock",
               "DIND_TCP_ADDRESS": f"127.0.0.1:{self.tcp_port}"}
        args = [self.binary, "--data-root", f"{self.root}/data", "--exec-root", f"{self.root}/exec",
                "--pidfile", f"{self.root}/dind.pid", "--config-file", f"{self.root}/daemon.json",
                "--log-level", "warn", "--bridge", "none"]
        self.log = open(os.path.join(self.root, "dind.log"), "w")
        t0 = time.perf_counter()
        self.proc = subprocess.Popen(args, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        while time.perf_counter() - t0 < self.timeout:
            if self.proc.poll() is not None:
                raise RuntimeError(f"dind exited: {open(self.log.name).read()}")
            if os.path.exists(os.path.join(self.certdir, "client", "ca.pem")) and self.ready_probe(self.certdir):
                self.ready_ms = (time.perf_counter() - t0) * 1000.0
                return self
            time.sleep(0.001)
        raise RuntimeError("dind did not become ready")

    def pids(self):
        return [self.proc.pid]

    def __exit__(self, *exc):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        shutil.rmtree(self.root, ignore_errors=True)
        return False


class DindDaemon:
    """`dind daemon` on a private unix socket, data root and exec root. With
    netns=True it runs in a network namespace of its own (its default bridge,
    NAT table and DNS live there) and with its own cgroup parent; without,
    it has no default bridge network."""

    def __init__(self, binary, timeout=30.0, netns=False):
        self.binary = binary
        self.timeout = timeout
        self.netns = f"dindb-{os.urandom(3).hex()}" if netns else None

    def pids(self):
        """The daemon and its shims (which are re-parented away from it)."""
        from dockerd import processes_with
        return [self.proc.pid] + processes_with(b"shim", self.root.encode())

    def __enter__(self):
        self.root = tempfile.mkdtemp(prefix="dindbench-d-")
        self.socket = os.path.join(self.root, "d.sock")
        with open(os.path.join(self.root, "daemon.json"), "w") as f:
            f.write("{}")
        self.log = open(os.path.join(self.root, "dind.log"), "w")
        if self.netns:
            subprocess.run(["ip", "netns", "add", self.netns], check=True)
            subprocess.run(["ip", "netns", "exec", self.netns, "ip", "link", "set", "lo", "up"], check=True)
        self.start()
        return self

    def start(self):
        args = [self.binary, "daemon", "-H", f"unix://{self.socket}", "--data-root", f"{self.root}/data",
                "--exec-root", f"{self.root}/exec", "--pidfile", f"{self.root}/dind.pid",
                "--config-file", f"{self.root}/daemon.json", "--log-level", "warn"]
        if self.netns:
            args = ["nsenter", f"--net=/run/netns/{self.netns}"] + args + ["--cgroup-parent", self.netns]
        else:
            args += ["--bridge", "none"]
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT)
        from dockerd import ping
        deadline = time.monotonic() + self.timeout
        while not (os.path.exists(self.socket) and ping(self.socket)):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("dind daemon did not start")
            time.sleep(0.002)

    def kill(self, sig=signal.SIGKILL):
        self.proc.send_signal(sig)
        self.proc.wait(timeout=30)

    def __exit__(self, *exc):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=30)
        self.log.close()
        if self.netns:
            subprocess.run(["ip", "netns", "del", self.netns], check=False)
        shutil.rmtree(self.root, ignore_errors=True)
        return False
