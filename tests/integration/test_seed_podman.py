"""The seed scenario (compose-examples/seed) with real outer engines: our own, and Debian's
Podman through its Docker-compatible service (runc, cgroupfs, lowered
default ulimits, everything private: storage, run and tmp dirs, network
configs, a network namespace of its own), driven by docker-compose 1.29. From
inside `machine`: `docker version` over tcp://docker:2376 with the shared
client certificates shows our server, a busybox image loaded into the nested
engine runs, `docker info` answers. Everything is torn down."""
import os
import shutil
import subprocess
import tempfile
import time

import pytest

from dindtest import binary

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PODMAN = shutil.which("podman")
COMPOSE = shutil.which("docker-compose")


@pytest.fixture
def podman():
    if not PODMAN or not COMPOSE:
        pytest.fail("podman and docker-compose are needed (scripts/install-deps installs them)")
    root = tempfile.mkdtemp(prefix="dind-podman-")
    netns = f"dindp-{os.urandom(3).hex()}"
    cgroups_before = {c for c in os.listdir("/sys/fs/cgroup") if os.path.isdir(f"/sys/fs/cgroup/{c}/libpod_parent")}
    conf = os.path.join(root, "containers.conf")
    with open(conf, "w") as f:
        f.write(f"""[containers]
default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]
[engine]
cgroup_manager = "cgroupfs"
runtime = "runc"
events_logger = "file"
tmp_dir = "{root}/tmp"
volume_path = "{root}/volumes"
[network]
network_config_dir = "{root}/networks"
""")
    env = {"PATH": os.environ["PATH"], "CONTAINERS_CONF": conf, "HOME": root}
    base = [PODMAN, "--root", f"{root}/storage", "--runroot", f"{root}/run"]
    subprocess.run(["ip", "netns", "add", netns], check=True)
    subprocess.run(["ip", "netns", "exec", netns, "ip", "link", "set", "lo", "up"], check=True)
    sock = os.path.join(root, "podman.sock")
    service = subprocess.Popen(["nsenter", f"--net=/run/netns/{netns}", *base, "system", "service", "--time=0",
                                f"unix://{sock}"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while not os.path.exists(sock):
        assert service.poll() is None and time.monotonic() < deadline, "podman service did not start"
        time.sleep(0.05)
    try:
        yield {"root": root, "env": env, "base": base, "sock": sock}
    finally:
        service.terminate()
        service.wait(timeout=30)
        subprocess.run([*base, "system", "reset", "--force"], env=env, capture_output=True)
        subprocess.run(["pkill", "-KILL", "-f", f"conmon .*{root}"], capture_output=True)
        for line in reversed(open("/proc/self/mountinfo").read().splitlines()):
            mnt = line.split()[4]
            if mnt.startswith(root):
                subprocess.run(["umount", "-l", mnt], capture_output=True)
        subprocess.run(["ip", "netns", "del", netns], check=False)
        for c in os.listdir("/sys/fs/cgroup"):
            path = f"/sys/fs/cgroup/{c}/libpod_parent"
            if c not in cgroups_before and os.path.isdir(path):
                for d, _, _ in sorted(os.walk(path), key=lambda t: -len(t[0])):
                    try:
                        os.rmdir(d)
                    except OSError:
                        pass
        shutil.rmtree(root, ignore_errors=True)


def seed_images(tmp_path, load):
    """The seed's images without a registry, through load(tar, tag, changes):
    the appliance from images/build-rootfs, a machine with the static docker
    CLI and busybox, and busybox for `web`."""
    appliance = tmp_path / "appliance.tar"
    build_dir = os.path.dirname(binary("dind"))[: -len("/bin")]
    subprocess.run([os.path.join(REPO, "images", "build-rootfs"), str(appliance), build_dir],
                   check=True, capture_output=True)
    load(str(appliance), "dind:local", ['ENTRYPOINT ["dind"]', "ENV DOCKER_TLS_CERTDIR=/certs"])
    mach = tmp_path / "machine"
    for d in ["bin", "usr/local/bin", "tmp"]:
        (mach / d).mkdir(parents=True)
    shutil.copy("/bin/busybox", mach / "bin" / "busybox")
    for applet in ["sh", "sleep", "httpd", "echo"]:
        os.symlink("busybox", mach / "bin" / applet)
    shutil.copy("/usr/local/bin/docker", mach / "usr" / "local" / "bin" / "docker")
    subprocess.run(["tar", "-C", "/", "-cf", str(mach / "bb.tar"), "bin/busybox"], check=True)
    subprocess.run(["tar", "-C", str(mach), "-cf", str(tmp_path / "machine.tar"), "."], check=True)
    load(str(tmp_path / "machine.tar"), "dind-seed-machine:local",
         ['CMD ["sleep", "infinity"]', "ENV PATH=/usr/local/bin:/bin"])
    load(str(tmp_path / "machine.tar"), "busybox:latest", ['CMD ["sh"]'])


def run_seed(docker_host, home):
    """docker-compose up of compose-examples/seed, the checks from inside
    `machine`, and down."""
    seed = os.path.join(REPO, "compose-examples", "seed")
    cenv = {"PATH": os.environ["PATH"], "DOCKER_HOST": docker_host, "HOME": home}
    project = f"seed{os.urandom(2).hex()}"

    def compose(*args, check=True, timeout=180):
        p = subprocess.run([COMPOSE, "-p", project, *args], cwd=seed, env=cenv, capture_output=True, text=True,
                           timeout=timeout)
        if check and p.returncode != 0:
            raise AssertionError(f"docker-compose {args}: {p.stdout}{p.stderr}")
        return p
    try:
        compose("up", "-d", "--no-build")
        deadline = time.monotonic() + 60
        while True:
            p = compose("exec", "-T", "machine", "docker", "version", "--format", "{{.Server.Version}}", check=False)
            if p.returncode == 0 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert p.returncode == 0 and "dind" in p.stdout, p.stdout + p.stderr
        p = compose("exec", "-T", "machine", "sh", "-c",
                    "docker import -c 'ENTRYPOINT [\"/bin/busybox\"]' /bb.tar bb:nested >/dev/null && "
                    "docker run --rm bb:nested echo hello from the nested engine")
        assert p.stdout.strip() == "hello from the nested engine"
        p = compose("exec", "-T", "machine", "docker", "info", "--format", "{{.ServerVersion}}")
        assert "dind" in p.stdout
        assert "Up" in compose("ps", "web").stdout, "the restart: always service runs too"
    finally:
        compose("down", "-v", "-t", "1", check=False)


def test_seed_scenario_under_podman_with_docker_compose(podman, tmp_path):
    def load(tar, tag, changes):
        args = [*podman["base"], "import"]
        for c in changes:
            args += ["-c", c]
        subprocess.run([*args, tar, tag], env=podman["env"], capture_output=True, check=True)
    seed_images(tmp_path, load)
    run_seed(f"unix://{podman['sock']}", podman["root"])


def test_seed_scenario_with_our_engine_outside(tmp_path):
    """The same compose file with our own engine as the outer engine (network
    aliases through compose's disconnect/connect, volumes, privileged)."""
    from dindtest import Daemon
    from ctrtest import docker
    with tempfile.TemporaryDirectory(prefix="dind-seed-", ignore_cleanup_errors=True) as r:
        outer = Daemon(r, tls=False, netns=True).start()
        try:
            def load(tar, tag, changes):
                args = ["import"]
                for c in changes:
                    args += ["-c", c]
                docker(outer, *args, tar, tag)
            seed_images(tmp_path, load)
            run_seed(f"unix://{outer.socket}", r)
            assert docker(outer, "ps", "-aq").stdout == ""
        finally:
            outer.destroy()
