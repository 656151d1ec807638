"""The appliance entrypoint (`dind` with no subcommand) as PID 1 of its own pid
namespace, as in a container: docker:dind's listeners and certificates, the
health probe, PID 1 duties (signals, zombies), SIGTERM stopping containers
within the grace period (also during certificate generation), and plain TCP
only with the explicit opt-in."""
import os
import signal
import subprocess
import tempfile
import time

import pytest

from ctrtest import CLIS, import_busybox
from dindtest import binary, free_port


class Appliance:
    """`unshare --pid --fork --mount --mount-proc dind ...`: the supervisor is
    PID 1 of the new pid namespace; paths and ports are private."""

    def __init__(self, root, env=None, args=()):
        self.root = root
        self.socket = os.path.join(root, "d.sock")
        self.port = free_port()
        self.env = {"PATH": os.environ["PATH"], "DOCKER_HOST": f"unix://{self.socket}",
                    "DOCKER_TLS_CERTDIR": os.path.join(root, "certs"),
                    "DIND_TCP_ADDRESS": f"127.0.0.1:{self.port}"}
        self.env.update(env or {})
        self.args = ["--data-root", f"{root}/data", "--exec-root", f"{root}/exec", "--pidfile", f"{root}/dind.pid",
                     "--bridge", "none", "--cgroup-parent", f"dindap-{os.urandom(3).hex()}", *args]
        self.log_path = os.path.join(root, "dind.log")

    def start(self, wait=True):
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(["unshare", "--pid", "--fork", "--mount", "--mount-proc", binary("dind"),
                                      *self.args], env=self.env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while not self.supervisor():
            assert time.monotonic() < deadline, "no PID 1"
            time.sleep(0.005)
        if wait:
            while self.health() != 0:
                assert self.proc.poll() is None, self.log_text()
                assert time.monotonic() < deadline + 20, self.log_text()
                time.sleep(0.02)
        return self

    def supervisor(self):
        try:
            with open(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children") as f:
                kids = f.read().split()
            return int(kids[0]) if kids else None
        except OSError:
            return None

    def health(self):
        return subprocess.run([binary("dind"), "health", "-H", f"unix://{self.socket}"],
                              capture_output=True).returncode

    def log_text(self):
        return open(self.log_path, errors="replace").read()

    def terminate(self, sig=signal.SIGTERM, timeout=30):
        """Signals PID 1; returns (its exit status, seconds until it was gone)."""
        pid1 = self.supervisor()
        t0 = time.monotonic()
        os.kill(pid1, sig)
        rc = self.proc.wait(timeout=timeout)  # unshare reports its child's status
        self.log.close()
        return rc, time.monotonic() - t0

    def docker(self, *args, tls=True, check=True):
        env = {"PATH": os.environ["PATH"], "DOCKER_CONFIG": os.path.join(self.root, "cfg")}
        if tls:
            env.update({"DOCKER_HOST": f"tcp://127.0.0.1:{self.port}", "DOCKER_TLS_VERIFY": "1",
                        "DOCKER_CERT_PATH": os.path.join(self.root, "certs", "client")})
        else:
            env["DOCKER_HOST"] = f"unix://{self.socket}"
        p = subprocess.run([CLIS[0], *args], env=env, capture_output=True, text=True, timeout=60)
        if check and p.returncode != 0:
            raise AssertionError(f"{args}: {p.stderr}")
        return p


def leftovers(root):
    return subprocess.run(["pgrep", "-f", root], capture_output=True, text=True).stdout.split()


@pytest.fixture
def root():
    with tempfile.TemporaryDirectory(prefix="dind-app-", ignore_cleanup_errors=True) as r:
        yield r
        for pid in leftovers(r):
            os.kill(int(pid), signal.SIGKILL)


def test_pid1_serves_mtls_health_and_stops_containers_on_sigterm(root):
    a = Appliance(root, env={"DIND_SHUTDOWN_TIMEOUT": "2"}).start()
    out = a.docker("version", "--format", "{{.Server.Version}}").stdout
    assert "dind" in out
    assert sorted(os.listdir(os.path.join(root, "certs", "client"))) >= ["ca.pem", "cert.pem", "key.pem"]
    image = import_busybox(type("D", (), {"socket": a.socket})(), os.path.join(root, "bb.tar"))
    assert a.docker("run", "--rm", "--network", "none", image, "echo", "nested").stdout == "nested\n"
    a.docker("run", "-d", "--network", "none", "--name", "polite", image, "sh", "-c",
             "trap 'exit 3' TERM; while true; do sleep 0.1; done")
    a.docker("run", "-d", "--network", "none", "--name", "stubborn", image, "sleep", "1000")
    # Zombies: the shims the daemon started went to PID 1 when their first
    # process exited; one that ends is reaped there.
    a.docker("run", "--network", "none", image, "true")
    pid1 = a.supervisor()
    time.sleep(0.5)
    zombies = []
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                stat = open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if stat[0] == "Z" and int(stat[1]) == pid1:
                zombies.append(p)
    assert zombies == []
    # The nested environment: / is shared in the appliance's mount namespace.
    root_line = [line for line in open(f"/proc/{pid1}/mountinfo") if line.split()[4] == "/"][0]
    assert "shared:" in root_line, root_line
    rc, took = a.terminate()
    assert rc == 0, a.log_text()
    assert took < 8, "within docker stop's 10 s grace"
    assert leftovers(root) == [], "no process of the appliance remains"
    assert "stopping 2 containers" in a.log_text()


def test_sigterm_during_certificate_generation(root):
    a = Appliance(root, env={"DIND_TLS_KEY_TYPE": "rsa4096"}).start(wait=False)
    time.sleep(0.3)
    assert a.health() != 0, "still generating RSA keys"
    rc, took = a.terminate()
    assert took < 2 and rc != 0
    assert leftovers(root) == []


def test_plain_tcp_only_with_the_opt_in(root):
    a = Appliance(root, env={"DOCKER_TLS_CERTDIR": ""}).start()
    assert "DIND_INSECURE_TCP=1" in a.log_text()
    p = a.docker("-H", f"tcp://127.0.0.1:{a.port}", "version", tls=False, check=False)
    assert p.returncode != 0, "no TCP listener without the opt-in"
    assert a.docker("version", tls=False).returncode == 0, "the unix socket serves"
    a.terminate()
    b = Appliance(root, env={"DOCKER_TLS_CERTDIR": "", "DIND_INSECURE_TCP": "1"}).start()
    p = subprocess.run([CLIS[0], "-H", f"tcp://127.0.0.1:{b.port}", "version", "--format", "{{.Server.Version}}"],
                       capture_output=True, text=True, env={"PATH": os.environ["PATH"]})
    assert p.returncode == 0 and "dind" in p.stdout, p.stderr
    assert "ANYONE" in b.log_text()
    rc, _ = b.terminate()
    assert rc == 0


def test_dind_in_dind_with_our_engine_outside(tmp_path):
    """The appliance image (images/build-rootfs) runs privileged in our own
    engine; a sibling reaches it over mTLS with the shared client certificates
    and runs a container in it."""
    from dindtest import Daemon
    from ctrtest import docker
    rootfs = tmp_path / "appliance.tar"
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    build_dir = os.path.dirname(binary("dind"))[: -len("/bin")]
    subprocess.run([os.path.join(repo, "images", "build-rootfs"), str(rootfs), build_dir], check=True,
                   capture_output=True)
    with tempfile.TemporaryDirectory(prefix="dind-did-", ignore_cleanup_errors=True) as r:
        outer = Daemon(r, tls=False, netns=True).start()
        try:
            docker(outer, "import", "-c", 'ENTRYPOINT ["dind"]', "-c", "ENV DOCKER_TLS_CERTDIR=/certs",
                   str(rootfs), "dind:local")
            os.makedirs(f"{r}/inner-data")
            os.makedirs(f"{r}/inner-certs")
            port = free_port()
            docker(outer, "run", "-d", "--privileged", "--name", "docker", "-p", f"{port}:2376",
                   "-e", "DIND_ADDRESS_POOLS=base=10.123.0.0/16,size=24",
                   "-v", f"{r}/inner-data:/var/lib/docker", "-v", f"{r}/inner-certs:/certs", "dind:local")
            deadline = time.monotonic() + 30
            while docker(outer, "exec", "docker", "dind", "health", check=False).returncode != 0:
                assert time.monotonic() < deadline, docker(outer, "logs", "docker", check=False).stderr
                time.sleep(0.1)
            env = {"PATH": os.environ["PATH"], "DOCKER_HOST": f"tcp://127.0.0.1:{port}", "DOCKER_TLS_VERIFY": "1",
                   "DOCKER_CERT_PATH": f"{r}/inner-certs/client", "DOCKER_CONFIG": r}

            def inner(*args, **kw):
                return outer.in_netns(CLIS[0], *args, env=env, capture_output=True, text=True, timeout=60, **kw)
            assert "dind" in inner("version", "--format", "{{.Server.Version}}").stdout
            # A busybox image into the nested engine, and a container there.
            subprocess.run(["tar", "-C", "/", "-cf", str(tmp_path / "bb.tar"), "bin/busybox"], check=True)
            assert inner("import", "-c", 'ENTRYPOINT ["/bin/busybox"]', str(tmp_path / "bb.tar"), "bb:inner").returncode == 0
            p = inner("run", "--rm", "bb:inner", "echo", "dind in dind")
            assert p.returncode == 0 and p.stdout == "dind in dind\n", p.stderr
            # A knob as a variable: new networks come from DIND_ADDRESS_POOLS.
            assert inner("network", "create", "pooled").returncode == 0
            p = inner("network", "inspect", "pooled", "--format", "{{(index .IPAM.Config 0).Subnet}}")
            assert p.stdout.strip().startswith("10.123."), p.stdout + p.stderr
            p = inner("info", "--format", "{{.Containers}}")
            assert p.returncode == 0 and p.stdout.strip() == "0"
            docker(outer, "stop", "docker")
            assert docker(outer, "inspect", "-f", "{{.State.ExitCode}}", "docker").stdout.strip() == "0"
        finally:
            docker(outer, "rm", "-f", "docker", check=False)
            outer.destroy()


def test_help_names_every_subcommand_and_exits_zero():
    top = subprocess.run([binary("dind"), "--help"], capture_output=True, text=True, timeout=10)
    assert top.returncode == 0
    assert "dind health" in top.stdout and "dind daemon" in top.stdout and "dind version" in top.stdout
    health = subprocess.run([binary("dind"), "health", "--help"], capture_output=True, text=True, timeout=10)
    assert health.returncode == 0, health.stderr
    assert health.stdout.startswith("usage: dind health")
    bad = subprocess.run([binary("dind"), "health", "--bogus"], capture_output=True, text=True, timeout=10)
    assert bad.returncode == 2 and bad.stderr.startswith("usage: dind health") and bad.stdout == ""
