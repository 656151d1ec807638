"""Helpers shared by the integration and priv tiers: binaries, commands, ports, trees."""
import os
import pathlib
import socket
import subprocess

import pytest

BIN_DIR = pathlib.Path(os.environ.get("DIND_BIN_DIR", pathlib.Path(__file__).resolve().parents[2] / "build" / "bin"))


def binary(name):
    path = BIN_DIR / name
    if not path.exists():
        pytest.fail(f"{path} is missing: build first (cmake --build build)")
    return str(path)


def run(args, env=None, check=True, **kw):
    """Runs a command with a clean, explicit environment on top of PATH."""
    full_env = {"PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"), "HOME": os.environ.get("HOME", "/root")}
    full_env.update(env or {})
    proc = subprocess.run(args, env=full_env, capture_output=True, text=True, timeout=120, **kw)
    if check and proc.returncode != 0:
        raise AssertionError(f"{args} exited {proc.returncode}\nstdout: {proc.stdout}\nstderr: {proc.stderr}")
    return proc


def certgen(certdir, *args, env=None, check=True):
    e = {"DOCKER_TLS_CERTDIR": str(certdir)}
    e.update(env or {})
    return run([binary("dind-certgen"), *args], env=e, check=check)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tree_state(root):
    """Every path under root with its mode and bytes: for byte-identical checks."""
    root = pathlib.Path(root)
    state = {}
    if not root.exists():
        return state
    for p in sorted([root, *root.rglob("*")]):
        st = p.lstat()
        state[str(p.relative_to(root))] = (st.st_mode, p.read_bytes() if p.is_file() else None)
    return state




class Daemon:
    """A real `dind daemon`: temp data root, exec root and pid file, a unix socket,
    and optionally a mutual-TLS TCP listener on a free port with a fresh bundle.
    Logs at debug level so tests can count the requests that reached a handler."""

    def __init__(self, root, tls=True, extra_args=(), env=None, netns=False):
        """netns=True runs the daemon in a network namespace of its own (made
        here, deleted at stop), with its own cgroup parent: what containers
        need so that tests never touch the host's networking. Without it the
        daemon runs with --bridge=none (no default network)."""
        self.root = pathlib.Path(root)
        # netns: True = a namespace of its own (made and deleted here); a
        # name = join that existing namespace (another daemon's, say).
        self.owns_netns = netns is True
        self.netns = f"dindt-{os.urandom(4).hex()}" if netns is True else (netns or None)
        self.cgroup_parent = self.netns if self.owns_netns else f"dindt-{os.urandom(4).hex()}"
        self.root.mkdir(parents=True, exist_ok=True)
        self.socket = str(self.root / "d.sock")
        self.certs = self.root / "certs"
        self.port = free_port() if tls else None
        self.extra_args = list(extra_args)
        self.env = dict(env or {})
        self.proc = None
        self.log_path = self.root / "daemon.log"
        self.log_offset = 0

    def args(self):
        a = [binary("dind"), "daemon", "-H", f"unix://{self.socket}",
             "--data-root", str(self.root / "data"), "--exec-root", str(self.root / "exec"),
             "--pidfile", str(self.root / "dind.pid"), "--log-level", "debug",
             "--config-file", str(self.root / "daemon.json")]
        if os.environ.get("DIND_TEST_GDB"):  # debugging: backtraces land in the daemon log
            a = ["gdb", "-batch", "-ex", "handle SIGTERM nostop pass", "-ex", "run", "-ex",
                 "thread apply all bt 20", "--args"] + a
        if self.netns:
            a = ["nsenter", f"--net=/run/netns/{self.netns}"] + a + ["--cgroup-parent", self.cgroup_parent]
        elif not any(x in ("-b", "--bridge") or x.startswith("--bridge=") for x in self.extra_args):
            a += ["--bridge", "none"]
        if self.port:
            a += ["-H", f"tcp://127.0.0.1:{self.port}", "--tlsverify",
                  "--tlscacert", str(self.certs / "server/ca.pem"),
                  "--tlscert", str(self.certs / "server/cert.pem"),
                  "--tlskey", str(self.certs / "server/key.pem")]
        return a + self.extra_args

    def start(self, wait=True):
        if self.port and not (self.certs / "client/ca.pem").exists():
            certgen(self.certs, "-q")
        cfg = self.root / "daemon.json"
        if not cfg.exists():
            cfg.write_text("{}")
        env = {"PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")}
        env.update(self.env)
        if self.owns_netns and not os.path.exists(f"/run/netns/{self.netns}"):
            subprocess.run(["ip", "netns", "add", self.netns], check=True)
            subprocess.run(["ip", "netns", "exec", self.netns, "ip", "link", "set", "lo", "up"], check=True)
        self.log = open(self.log_path, "ab")
        self.log_offset = self.log_path.stat().st_size  # this run's lines start here
        self.proc = subprocess.Popen(self.args(), stdout=self.log, stderr=subprocess.STDOUT, env=env)
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout=10.0):
        import time
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"dind exited with {self.proc.returncode}:\n{self.log_text()}")
            if "ready in" in self.log_text()[self.log_offset:]:
                return
            time.sleep(0.01)
        raise AssertionError(f"dind not ready:\n{self.log_text()}")

    def log_text(self):
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def handled(self):
        """Requests that reached a handler so far (from the debug log)."""
        return self.log_text().count("level=debug handler ")

    def client_env(self, tmp=None):
        e = {"DOCKER_HOST": f"tcp://127.0.0.1:{self.port}", "DOCKER_TLS_VERIFY": "1",
             "DOCKER_CERT_PATH": str(self.certs / "client")}
        if tmp:
            e["DOCKER_CONFIG"] = str(tmp)
        return e

    def stop(self, sig=None):
        import signal as _signal
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig or _signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if getattr(self, "log", None):
            self.log.close()
            self.log = None
        self.print_sanitizer_reports()
        return self.proc.returncode if self.proc else None

    def print_sanitizer_reports(self):
        """A sanitizer's reports from the daemon's log (scripts/test --tsan,
        --sanitize), printed for pytest to show with the failing test: the
        log itself goes with the test's temp directory."""
        text = self.log_text()
        for marker in ("WARNING: ThreadSanitizer", "ERROR: AddressSanitizer", "runtime error:"):
            at = text.find(marker)
            if at >= 0:
                print(f"--- {self.root}/daemon.log, from the first report ---\n{text[at:at + 30000]}")
                break

    def destroy(self):
        """Stops the daemon and deletes its network namespace."""
        rc = self.stop()
        if self.owns_netns:
            subprocess.run(["ip", "netns", "del", self.netns], check=False)
        return rc

    def in_netns(self, *cmd, **kw):
        """Runs a command in the daemon's network namespace (its "host")."""
        return subprocess.run(["nsenter", f"--net=/run/netns/{self.netns}", *cmd], **kw)


def wait_port_closed(port, timeout=5.0):
    import time
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) != 0:
                return True
        time.sleep(0.05)
    return False
