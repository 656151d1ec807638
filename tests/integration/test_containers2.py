"""Containers II with the real docker CLI (28 and Debian's 20.10), the python
SDK and raw API requests against one real `dind` in a network namespace of its
own: exec (output, exit codes, env, user, workdir, stdin, TTY and resize,
detached, privileged, the plain-200 stream, errors)."""
import json
import os
import pty
import select
import socket
import subprocess
import tempfile
import time

import pytest

from ctrtest import CLIS, api, assert_nothing_left_behind, docker, frames, import_busybox, netns_daemon


@pytest.fixture(scope="module")
def daemon():
    with netns_daemon("dind-ctr2-") as d:
        yield d


@pytest.fixture(scope="module")
def image(daemon, tmp_path_factory):
    return import_busybox(daemon, tmp_path_factory.mktemp("rootfs") / "busybox.tar")


@pytest.fixture(scope="module")
def box(daemon, image):
    """One running container the exec tests share."""
    cid = docker(daemon, "run", "-d", "--name", "box", "-e", "BASE=1", image, "sleep", "1000").stdout.strip()
    yield cid
    docker(daemon, "rm", "-f", cid, check=False)


def cli_env(daemon):
    return {"PATH": os.environ["PATH"], "DOCKER_HOST": f"unix://{daemon.socket}",
            "DOCKER_CONFIG": tempfile.gettempdir() + "/dind-test-docker-config", "TERM": "xterm"}


class PtyRun:
    """A command under a pseudo-terminal of its own (as a user's shell runs the
    CLI): write keystrokes, resize the terminal (the CLI gets SIGWINCH), read
    what the terminal shows."""

    def __init__(self, args, env, rows=24, cols=80):
        self.master, slave = pty.openpty()
        self.resize(rows, cols)
        self.proc = subprocess.Popen(args, stdin=slave, stdout=slave, stderr=slave, env=env,
                                     start_new_session=True,
                                     preexec_fn=lambda: __import__("fcntl").ioctl(0, __import__("termios").TIOCSCTTY, 0))
        os.close(slave)
        self.out = b""

    def resize(self, rows, cols):
        import fcntl
        import struct
        import termios
        fcntl.ioctl(self.master, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        if getattr(self, "proc", None):
            os.killpg(self.proc.pid, __import__("signal").SIGWINCH)

    def write(self, data):
        os.write(self.master, data)

    def read_until(self, needle, timeout=20):
        deadline = time.monotonic() + timeout
        while needle not in self.out and time.monotonic() < deadline:
            r, _, _ = select.select([self.master], [], [], 0.1)
            if r:
                try:
                    self.out += os.read(self.master, 65536)
                except OSError:
                    break
        assert needle in self.out, self.out
        return self.out

    def wait(self, timeout=30):
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None and time.monotonic() < deadline:
            r, _, _ = select.select([self.master], [], [], 0.1)
            if r:
                try:
                    self.out += os.read(self.master, 65536)
                except OSError:
                    pass
        code = self.proc.wait(timeout=5)
        os.close(self.master)
        return code


@pytest.mark.parametrize("cli", CLIS)
def test_exec_output_exit_codes_env_user_workdir(daemon, box, cli):
    assert docker(daemon, "exec", box, "echo", "hi", cli=cli).stdout == "hi\n"
    p = docker(daemon, "exec", box, "sh", "-c", "echo out; echo err >&2; exit 5", cli=cli, check=False)
    assert (p.returncode, p.stdout, p.stderr) == (5, "out\n", "err\n")
    p = docker(daemon, "exec", "-e", "FOO=bar", "-u", "app", "-w", "/tmp", box, "sh", "-c",
               'echo $FOO $BASE $(id -u) $(id -g) $(pwd) $HOSTNAME', cli=cli)
    assert p.stdout.split() == ["bar", "1", "1000", "1000", "/tmp", box[:12]]
    # The exec's Env overrides the container's; PATH is the default.
    p = docker(daemon, "exec", "-e", "BASE=2", box, "sh", "-c", "echo $BASE $PATH", cli=cli)
    assert p.stdout.split() == ["2", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]
    p = docker(daemon, "exec", box, "nosuch-command", cli=cli, check=False)
    assert p.returncode == 127 and 'exec: "nosuch-command": executable file not found in $PATH' in p.stdout + p.stderr
    p = docker(daemon, "exec", "-u", "nobodyx", box, "true", cli=cli, check=False)
    assert p.returncode != 0 and "nobodyx" in p.stdout + p.stderr
    data = "".join(f"line {i}\n" for i in range(3000))
    p = docker(daemon, "exec", "-i", box, "sh", "-c", "wc -l; echo done", stdin=data, cli=cli)
    assert p.stdout.split() == ["3000", "done"]
    # The exec runs in the container's namespaces: its processes and files.
    p = docker(daemon, "exec", box, "sh", "-c", "echo made > /tmp/from-exec; ps -o comm", cli=cli)
    assert "sleep" in p.stdout.split()
    assert docker(daemon, "exec", box, "cat", "/tmp/from-exec", cli=cli).stdout == "made\n"


def test_exec_tty_size_resize_and_exit_code(daemon, box):
    run = PtyRun([CLIS[0], "exec", "-it", box, "sh"], cli_env(daemon), rows=33, cols=111)
    run.read_until(b"# ")
    run.write(b"stty size\n")
    run.read_until(b"33 111")
    run.resize(44, 99)
    time.sleep(0.5)  # the CLI posts /exec/{id}/resize on SIGWINCH
    run.write(b"stty size; tty\n")
    out = run.read_until(b"/dev/pts/")
    assert b"44 99" in out, out
    run.write(b"exit 3\n")
    assert run.wait() == 3, run.out
    # Without a terminal on our side: -t still gives the process a pty.
    out = docker(daemon, "exec", "-t", box, "sh", "-c", "tty; echo done", text=False).stdout
    assert out.startswith(b"/dev/pts/") and out.endswith(b"\r\ndone\r\n"), out


def test_detach_keys_leave_the_container_running(daemon, image, box):
    """ctrl-p ctrl-q detaches `docker run -it` and `docker attach`; the
    container and its terminal stay, and a new attach finds the same shell."""
    env = cli_env(daemon)
    run = PtyRun([CLIS[0], "run", "-it", "--name", "detachable", image, "sh"], env)
    run.read_until(b"# ")
    run.write(b"echo first-$((20+1))\n")
    run.read_until(b"first-21")
    run.write(b"\x10\x11")
    assert run.wait() == 0
    assert state(daemon, "detachable")["State"]["Running"]
    again = PtyRun([CLIS[0], "attach", "detachable"], env)
    time.sleep(0.3)
    again.write(b"echo second-$((40+2))\n")
    again.read_until(b"second-42")
    again.write(b"exit 5\n")
    assert again.wait() == 5
    assert docker(daemon, "wait", "detachable").stdout.strip() == "5"
    # A custom sequence.
    run = PtyRun([CLIS[0], "exec", "-it", "--detach-keys", "ctrl-x,x", "box", "sh"], env)
    run.read_until(b"# ")
    run.write(b"\x18x")
    run.wait()  # the CLI's exec reports the detach as an error (as with dockerd)
    assert b"read escape sequence" in run.out, run.out
    docker(daemon, "rm", "detachable")


def exec_create(daemon, cid, body):
    code, out = api(daemon, "POST", f"/containers/{cid}/exec", json.dumps(body))
    assert code == 201, out
    return json.loads(out)["Id"]


def exec_json(daemon, eid):
    code, out = api(daemon, "GET", f"/exec/{eid}/json")
    assert code == 200, out
    return json.loads(out)


def test_exec_detached_and_inspect(daemon, box):
    eid = exec_create(daemon, box, {"Cmd": ["sh", "-c", "sleep 0.5; exit 3"], "User": "app"})
    info = exec_json(daemon, eid)
    assert (info["Running"], info["ExitCode"], info["Pid"]) == (False, None, 0)
    code, out = api(daemon, "POST", f"/exec/{eid}/start", json.dumps({"Detach": True}))
    assert code == 200, out
    info = exec_json(daemon, eid)
    assert info["Running"] and info["Pid"] > 0 and info["ContainerID"] == box
    assert info["ProcessConfig"] == {"tty": False, "entrypoint": "sh", "arguments": ["-c", "sleep 0.5; exit 3"],
                                     "privileged": False, "user": "app"}
    assert os.path.exists(f"/proc/{info['Pid']}"), "Pid is the host's pid of the process"
    deadline = time.monotonic() + 10
    while exec_json(daemon, eid)["Running"] and time.monotonic() < deadline:
        time.sleep(0.1)
    assert (exec_json(daemon, eid)["Running"], exec_json(daemon, eid)["ExitCode"]) == (False, 3)
    code, out = api(daemon, "POST", f"/exec/{eid}/start", json.dumps({"Detach": True}))
    assert code == 409 and "has already run" in json.loads(out)["message"]
    # The CLI's -d.
    docker(daemon, "exec", "-d", box, "sh", "-c", "echo detached > /tmp/d")
    deadline = time.monotonic() + 10
    while docker(daemon, "exec", box, "cat", "/tmp/d", check=False).stdout != "detached\n":
        assert time.monotonic() < deadline
        time.sleep(0.1)


def test_exec_plain_200_stream_without_upgrade(daemon, box):
    """dockerode (testcontainers-node) starts execs without Upgrade headers."""
    eid = exec_create(daemon, box, {"Cmd": ["sh", "-c", "echo out; echo err >&2; exit 4"],
                                    "AttachStdout": True, "AttachStderr": True})
    body = json.dumps({"Detach": False, "Tty": False}).encode()
    s = socket.socket(socket.AF_UNIX)
    s.connect(daemon.socket)
    s.sendall(b"POST /v1.44/exec/" + eid.encode() + b"/start HTTP/1.1\r\nHost: d\r\n"
              b"Content-Type: application/json\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
    raw = b""
    s.settimeout(20)
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        raw += chunk
    s.close()
    head, _, rest = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head
    assert b"application/vnd.docker.multiplexed-stream" in head
    assert sorted(frames(rest)) == [(1, b"out\n"), (2, b"err\n")]
    assert exec_json(daemon, eid)["ExitCode"] == 4


def test_exec_python_sdk(daemon, box):
    env = {k: v for k, v in os.environ.items() if k not in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")}
    script = f"""
import docker
c = docker.DockerClient(base_url="unix://{daemon.socket}").containers.get("{box}")
r = c.exec_run(["sh", "-c", "echo sdk; echo e >&2; exit 2"], demux=True)
print(r.exit_code, r.output[0].decode().strip(), r.output[1].decode().strip())
r = c.exec_run("env", environment={{"X": "y"}}, user="app", workdir="/tmp")
print("X=y" in r.output.decode().split(), r.exit_code)
"""
    p = subprocess.run(["/usr/bin/python3", "-c", script], capture_output=True, text=True, env=env, timeout=60)
    assert p.returncode == 0, p.stderr
    assert p.stdout.split("\n") == ["2 sdk e", "True 0", ""]


def test_exec_joins_the_containers_confinement(daemon, image, tmp_path):
    """The exec'd process shares the container's cgroups, namespaces, rlimits,
    no_new_privs and seccomp filter (the shim execs it itself)."""
    profile = tmp_path / "no-mkdir.json"
    profile.write_text(json.dumps({"defaultAction": "SCMP_ACT_ALLOW",
                                   "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]}))
    cid = docker(daemon, "run", "-d", "--security-opt", f"seccomp={profile}", "--security-opt", "no-new-privileges",
                 "--ulimit", "nofile=321:654", "--pids-limit", "33", image, "sleep", "1000").stdout.strip()
    init = state(daemon, cid)["State"]["Pid"]
    p = docker(daemon, "exec", cid, "sh", "-c",
                 "cat /proc/self/cgroup; echo ---; grep -E 'NoNewPrivs|Seccomp:' /proc/self/status; ulimit -n; "
                 "for f in /proc/1/ns/pid /proc/self/ns/pid /proc/1/ns/mnt /proc/self/ns/mnt; do readlink $f; done", check=False)
    if p.returncode != 0:
        docker(daemon, "rm", "-f", cid)
    assert p.returncode == 0, p.stderr
    cgroups, rest = p.stdout.split("---\n")
    assert cgroups == open(f"/proc/{init}/cgroup").read()
    lines = rest.split()
    assert "NoNewPrivs:" in lines and lines[lines.index("NoNewPrivs:") + 1] == "1"
    assert lines[lines.index("Seccomp:") + 1] == "2"
    assert "321" in lines
    ns = [x for x in lines if x.startswith(("pid:", "mnt:"))]
    assert ns[0] == ns[1] and ns[2] == ns[3], ns
    try:
        p = docker(daemon, "exec", cid, "mkdir", "/tmp/blocked", check=False)
        assert p.returncode != 0 and "Operation not permitted" in p.stderr
    finally:
        docker(daemon, "rm", "-f", cid)


def test_exec_privileged_gets_the_daemons_capabilities(daemon, box):
    def caps(*flags):
        out = docker(daemon, "exec", *flags, box, "grep", "-E", "^Cap(Eff|Bnd)", "/proc/self/status").stdout
        return {line.split()[0]: int(line.split()[1], 16) for line in out.splitlines()}
    plain = caps()
    priv = caps("--privileged")
    own = {line.split()[0]: int(line.split()[1], 16) for line in open("/proc/self/status") if line.startswith("CapBnd")}
    assert bin(plain["CapEff:"]).count("1") == 14
    assert priv["CapEff:"] == priv["CapBnd:"] == own["CapBnd:"]


def test_exec_errors(daemon, image, box):
    stopped = docker(daemon, "create", image, "true").stdout.strip()
    for cli in CLIS:
        p = docker(daemon, "exec", stopped, "true", cli=cli, check=False)
        assert p.returncode != 0 and f"Container {stopped} is not running" in p.stderr
    code, out = api(daemon, "POST", f"/containers/{stopped}/exec", json.dumps({"Cmd": ["true"]}))
    assert code == 409
    code, out = api(daemon, "POST", "/containers/nosuch/exec", json.dumps({"Cmd": ["true"]}))
    assert code == 404 and json.loads(out)["message"] == "No such container: nosuch"
    code, out = api(daemon, "POST", f"/containers/{box}/exec", json.dumps({"Cmd": []}))
    assert code == 400 and json.loads(out)["message"] == "No exec command specified"
    code, out = api(daemon, "POST", f"/containers/{box}/exec", "{not json")
    assert code == 400
    code, out = api(daemon, "POST", f"/containers/{box}/exec", json.dumps({"Cmd": "true", "Env": [1]}))
    assert code == 400 and "Env" in json.loads(out)["message"]
    code, out = api(daemon, "POST", f"/containers/{box}/exec", json.dumps({"Cmd": ["true"], "WorkingDir": "rel"}))
    assert code == 400 and "absolute path" in json.loads(out)["message"]
    missing = "0" * 64
    for method, path in [("POST", f"/exec/{missing}/start"), ("GET", f"/exec/{missing}/json"),
                         ("POST", f"/exec/{missing}/resize?h=1&w=1")]:
        code, out = api(daemon, method, path, "{}" if method == "POST" else None)
        assert code == 404 and json.loads(out)["message"] == f"No such exec instance: {missing}", (path, out)
    eid = exec_create(daemon, box, {"Cmd": ["sleep", "5"]})
    code, out = api(daemon, "POST", f"/exec/{eid}/resize?h=x&w=1")
    assert code == 400
    code, _ = api(daemon, "POST", f"/exec/{eid}/start", json.dumps({"Detach": True}))
    assert code == 200
    code, out = api(daemon, "POST", f"/exec/{eid}/start", json.dumps({"Detach": True}))
    assert code == 409 and "is already running" in json.loads(out)["message"]
    code, out = api(daemon, "POST", f"/exec/{eid}/resize?h=10&w=10")
    assert code == 409 and "TTY" in json.loads(out)["message"]
    docker(daemon, "rm", stopped)


def test_exec_ends_when_the_container_stops(daemon, image):
    cid = docker(daemon, "run", "-d", image, "sleep", "1000").stdout.strip()
    p = subprocess.Popen([CLIS[0], "exec", cid, "sleep", "1000"], env=cli_env(daemon),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(0.5)
    docker(daemon, "stop", "-t", "0", cid)
    assert p.wait(timeout=20) == 137  # the pid namespace went: SIGKILL
    docker(daemon, "rm", cid)


def state(daemon, name):
    return json.loads(docker(daemon, "inspect", name).stdout)[0]


def wait_for(cond, timeout=20, what=""):
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_restart_on_failure_with_a_maximum(daemon, image):
    docker(daemon, "run", "-d", "--name", "flaky", "--restart", "on-failure:2", image, "sh", "-c", "echo run; exit 3")
    wait_for(lambda: state(daemon, "flaky")["RestartCount"] == 2 and state(daemon, "flaky")["State"]["Status"] == "exited",
             what="two restarts")
    time.sleep(1)  # the backoff is 100 ms, 200 ms: no third restart comes
    info = state(daemon, "flaky")
    assert (info["RestartCount"], info["State"]["ExitCode"], info["State"]["Status"]) == (2, 3, "exited")
    assert docker(daemon, "logs", "flaky").stdout == "run\nrun\nrun\n"
    assert info["HostConfig"]["RestartPolicy"] == {"Name": "on-failure", "MaximumRetryCount": 2}
    # A clean exit is not a failure.
    docker(daemon, "run", "-d", "--name", "clean", "--restart", "on-failure", image, "true")
    wait_for(lambda: state(daemon, "clean")["State"]["Status"] == "exited", what="clean exit")
    time.sleep(0.5)
    assert state(daemon, "clean")["RestartCount"] == 0
    docker(daemon, "rm", "flaky", "clean")


def test_restart_always_stop_kill_and_unless_stopped(daemon, image):
    docker(daemon, "run", "-d", "--name", "phoenix", "--restart", "always", image, "sh", "-c", "sleep 0.3; exit 1")
    wait_for(lambda: state(daemon, "phoenix")["RestartCount"] >= 2, what="restarts")
    # The status shows the backoff between runs.
    seen = set()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not {"running", "restarting"} <= seen:
        seen.add(state(daemon, "phoenix")["State"]["Status"])
    assert {"running", "restarting"} <= seen
    # docker stop suspends the policy: it stays down.
    docker(daemon, "stop", "-t", "1", "phoenix")
    count = state(daemon, "phoenix")["RestartCount"]
    time.sleep(1.5)
    info = state(daemon, "phoenix")
    assert info["State"]["Status"] == "exited" and info["RestartCount"] == count
    # docker start: running again, the count starts over.
    docker(daemon, "start", "phoenix")
    assert state(daemon, "phoenix")["RestartCount"] == 0
    docker(daemon, "rm", "-f", "phoenix")
    # kill: always comes back, unless-stopped stays down.
    docker(daemon, "run", "-d", "--name", "always-k", "--restart", "always", image, "sleep", "1000")
    docker(daemon, "run", "-d", "--name", "unless-k", "--restart", "unless-stopped", image, "sleep", "1000")
    docker(daemon, "kill", "always-k", "unless-k")
    wait_for(lambda: state(daemon, "always-k")["State"]["Running"] and state(daemon, "always-k")["RestartCount"] == 1,
             what="always after kill")
    time.sleep(0.5)
    assert state(daemon, "unless-k")["State"]["Status"] == "exited"
    assert "Restarting" not in docker(daemon, "ps", "-a", "--filter", "name=unless-k", "--format", "{{.Status}}").stdout
    docker(daemon, "rm", "-f", "always-k", "unless-k")


def test_restart_policy_errors(daemon, image):
    before = docker(daemon, "ps", "-aq").stdout
    for cli in CLIS:
        p = docker(daemon, "run", "-d", "--restart", "sometimes", image, "true", cli=cli, check=False)
        assert p.returncode != 0 and "sometimes" in p.stderr
    body = {"Image": image, "Cmd": ["true"], "HostConfig": {"RestartPolicy": {"Name": "always", "MaximumRetryCount": 3}}}
    code, out = api(daemon, "POST", "/containers/create", json.dumps(body))
    assert code == 400 and json.loads(out)["message"] == \
        "invalid restart policy: maximum retry count can only be used with 'on-failure'"
    body["HostConfig"] = {"RestartPolicy": {"Name": "on-failure", "MaximumRetryCount": -1}}
    code, out = api(daemon, "POST", "/containers/create", json.dumps(body))
    assert code == 400 and "cannot be negative" in json.loads(out)["message"]
    body["HostConfig"] = {"RestartPolicy": {"Name": "always"}, "AutoRemove": True}
    code, out = api(daemon, "POST", "/containers/create", json.dumps(body))
    assert code == 400 and "AutoRemove" in json.loads(out)["message"]
    assert docker(daemon, "ps", "-aq").stdout == before, "nothing was half-created"


def test_restart_policies_at_daemon_start(daemon, image):
    """Containers that died while the daemon was away (as after a reboot) come
    back by their policy; stopped ones by always only."""
    for name, policy in [("r-always", "always"), ("r-unless", "unless-stopped"), ("r-no", "no"),
                         ("r-always-stopped", "always"), ("r-unless-stopped", "unless-stopped")]:
        docker(daemon, "run", "-d", "--name", name, "--restart", policy, image, "sleep", "1000")
    docker(daemon, "stop", "-t", "0", "r-always-stopped", "r-unless-stopped")
    pids = {n: state(daemon, n)["State"]["Pid"] for n in ["r-always", "r-unless", "r-no"]}
    assert daemon.stop() == 0
    for pid in pids.values():
        os.kill(pid, 9)
    time.sleep(0.5)  # the shims record the exits and go
    daemon.start()
    for name in ["r-always", "r-unless", "r-always-stopped"]:
        wait_for(lambda: state(daemon, name)["State"]["Running"], what=f"{name} back")
    assert state(daemon, "r-always")["State"]["Pid"] != pids["r-always"]
    info = state(daemon, "r-no")["State"]
    assert (info["Status"], info["ExitCode"]) == ("exited", 137)
    assert state(daemon, "r-unless-stopped")["State"]["Status"] == "exited"
    docker(daemon, "rm", "-f", "r-always", "r-unless", "r-no", "r-always-stopped", "r-unless-stopped")


def cgroup_value(daemon, image, args, v1, v2):
    """A cgroup file seen from inside a container (v1 path, else the v2 one)."""
    out = docker(daemon, "run", "--rm", *args, image, "sh", "-c",
                 f"cat /sys/fs/cgroup/{v1} 2>/dev/null || cat /sys/fs/cgroup/{v2}").stdout
    return out.strip()


def test_resource_limits_visible_inside(daemon, image):
    args = ["--memory", "32m", "--memory-swap", "48m", "--memory-reservation", "16m", "--cpus", "0.5",
            "--cpu-shares", "512", "--cpuset-cpus", "0", "--pids-limit", "50", "--shm-size", "16m",
            "--ulimit", "nofile=256:512", "--ulimit", "nproc=100:200"]
    assert cgroup_value(daemon, image, args, "memory/memory.limit_in_bytes", "memory.max") == str(32 << 20)
    assert cgroup_value(daemon, image, args, "memory/memory.memsw.limit_in_bytes", "memory.swap.max") \
        in (str(48 << 20), str(16 << 20))
    assert cgroup_value(daemon, image, args, "cpu/cpu.cfs_quota_us", "cpu.max").split()[0] == "50000"
    assert cgroup_value(daemon, image, args, "cpu/cpu.shares", "cpu.weight") in ("512", "20")
    assert cgroup_value(daemon, image, args, "cpuset/cpuset.cpus", "cpuset.cpus") == "0"
    assert cgroup_value(daemon, image, args, "pids/pids.max", "pids.max") == "50"
    out = docker(daemon, "run", "--rm", *args, image, "sh", "-c",
                 "ulimit -n; ulimit -Hn; ulimit -u; ulimit -Hu; df -k /dev/shm | tail -1").stdout.split()
    assert out[:4] == ["256", "512", "100", "200"] and out[5] == str(16 * 1024), out
    cid = docker(daemon, "create", "--memory", "32m", image, "true").stdout.strip()
    hc = state(daemon, cid)["HostConfig"]
    assert (hc["Memory"], hc["MemorySwap"]) == (32 << 20, 64 << 20), "swap defaults to twice the memory"
    docker(daemon, "rm", cid)
    # Without limits the container gets the host's nofile hard limit at most.
    import resource
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    out = docker(daemon, "run", "--rm", image, "sh", "-c", "ulimit -Hn").stdout.strip()
    assert int(out) == min(hard, 1048576)


def test_oom_kill_is_reported(daemon, image):
    p = docker(daemon, "run", "--name", "hog", "--memory", "8m", "--memory-swap", "8m", image, "sh", "-c",
               'x=$(head -c 100000000 /dev/zero | tr "\\0" a); echo survived', check=False)
    assert p.returncode == 137 and "survived" not in p.stdout
    info = state(daemon, "hog")["State"]
    assert (info["OOMKilled"], info["ExitCode"]) == (True, 137)
    docker(daemon, "start", "-a", "hog", check=False)  # a new run starts with OOMKilled cleared, then OOMs again
    assert state(daemon, "hog")["State"]["OOMKilled"] is True
    docker(daemon, "rm", "hog")
    docker(daemon, "run", "--name", "fine", image, "true")
    assert state(daemon, "fine")["State"]["OOMKilled"] is False
    docker(daemon, "rm", "fine")


def test_update_a_running_container(daemon, image):
    cid = docker(daemon, "run", "-d", "--memory", "32m", image, "sleep", "1000").stdout.strip()
    docker(daemon, "update", "--memory", "64m", "--cpus", "1", "--pids-limit", "77", "--restart", "on-failure:3", cid)
    out = docker(daemon, "exec", cid, "sh", "-c",
                 "cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max;"
                 "cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max").stdout.split()
    assert out == [str(64 << 20), "77"]
    hc = state(daemon, cid)["HostConfig"]
    assert (hc["Memory"], hc["NanoCpus"], hc["PidsLimit"]) == (64 << 20, 10 ** 9, 77)
    assert hc["RestartPolicy"] == {"Name": "on-failure", "MaximumRetryCount": 3}
    # Bad values: Docker's messages, nothing changed.
    p = docker(daemon, "update", "--memory", "1m", cid, check=False)
    assert p.returncode != 0 and "Minimum memory limit allowed is 6MB" in p.stderr
    code, out = api(daemon, "POST", f"/containers/{cid}/update", json.dumps({"CpusetCpus": "99"}))
    assert code == 400 and "Requested CPUs are not available" in json.loads(out)["message"]
    code, out = api(daemon, "POST", f"/containers/{cid}/update", json.dumps({"RestartPolicy": {"Name": "bogus"}}))
    assert code == 400
    code, out = api(daemon, "POST", f"/containers/{cid}/update", "[1]")
    assert code == 400
    assert state(daemon, cid)["HostConfig"]["Memory"] == 64 << 20
    code, out = api(daemon, "POST", "/containers/nosuch/update", "{}")
    assert code == 404
    docker(daemon, "rm", "-f", cid)


def test_pause_and_unpause(daemon, image):
    cid = docker(daemon, "run", "-d", image, "sh", "-c", "i=0; while true; do echo $i; i=$((i+1)); sleep 0.05; done").stdout.strip()
    time.sleep(0.3)
    docker(daemon, "pause", cid)
    info = state(daemon, cid)["State"]
    assert (info["Status"], info["Paused"], info["Running"]) == ("paused", True, True)
    assert "(Paused)" in docker(daemon, "ps", "--filter", "status=paused", "--format", "{{.Status}}").stdout
    before = docker(daemon, "logs", cid).stdout
    time.sleep(0.5)
    assert docker(daemon, "logs", cid).stdout == before, "a frozen container writes nothing"
    p = docker(daemon, "exec", cid, "true", check=False)
    assert p.returncode != 0 and "is paused, unpause the container before exec" in p.stderr
    p = docker(daemon, "pause", cid, check=False)
    assert p.returncode != 0 and "is already paused" in p.stderr
    docker(daemon, "unpause", cid)
    wait_for(lambda: len(docker(daemon, "logs", cid).stdout) > len(before), what="output after unpause")
    p = docker(daemon, "unpause", cid, check=False)
    assert p.returncode != 0 and "is not paused" in p.stderr
    # A paused container still stops (it thaws for the kill).
    docker(daemon, "pause", cid)
    docker(daemon, "stop", "-t", "1", cid)
    info = state(daemon, cid)["State"]
    assert (info["Status"], info["Paused"]) == ("exited", False)
    p = docker(daemon, "pause", cid, check=False)
    assert p.returncode != 0 and "is not running" in p.stderr
    docker(daemon, "rm", cid)


def test_resource_errors(daemon, image):
    before = docker(daemon, "ps", "-aq").stdout
    cases = [(["--memory", "1m"], "Minimum memory limit allowed is 6MB"),
             (["--memory", "16m", "--memory-swap", "8m"], "Minimum memoryswap limit should be larger than memory limit"),
             (["--memory", "16m", "--memory-reservation", "32m"], "Minimum memory limit can not be less than memory reservation limit"),
             (["--cpus", "99"], "Range of CPUs is from 0.01 to"),
             (["--cpuset-cpus", "77"], "Requested CPUs are not available"),
             (["--cpuset-cpus", "x"], "Invalid value x for cpuset cpus"),
             (["--cpu-period", "10"], "CPU cfs period can not be less than 1ms")]
    for args, message in cases:
        p = docker(daemon, "run", "--rm", *args, image, "true", check=False)
        assert p.returncode != 0 and message in p.stderr, (args, p.stderr)
    body = {"Image": image, "Cmd": ["true"], "HostConfig": {"Ulimits": [{"Name": "nofile", "Soft": 10, "Hard": 5}]}}
    code, out = api(daemon, "POST", "/containers/create", json.dumps(body))
    assert code == 400 and "soft limit must be less than or equal to hard limit" in json.loads(out)["message"]
    body["HostConfig"] = {"Ulimits": [{"Name": "bogus", "Soft": 1, "Hard": 1}]}
    code, out = api(daemon, "POST", "/containers/create", json.dumps(body))
    assert code == 400 and "invalid ulimit type: bogus" in json.loads(out)["message"]
    own_caps = int([line for line in open("/proc/self/status") if line.startswith("CapBnd")][0].split()[1], 16)
    if not own_caps & (1 << 24):  # no CAP_SYS_RESOURCE (as on these machines): above the host's limit is refused
        import resource
        hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        p = docker(daemon, "run", "--rm", "--ulimit", f"nofile={hard * 2}:{hard * 2}", image, "true", check=False)
        assert p.returncode != 0 and "CAP_SYS_RESOURCE" in p.stderr, p.stderr
    assert docker(daemon, "ps", "-aq").stdout == before, "nothing was half-created"


def caps_of(status_text, key):
    return int([line for line in status_text.splitlines() if line.startswith(key)][0].split()[1], 16)


def test_security_options(daemon, image, tmp_path):
    def status(*args):
        return docker(daemon, "run", "--rm", *args, image, "cat", "/proc/self/status").stdout
    default = status()
    assert bin(caps_of(default, "CapEff")).count("1") == 14 and "Seccomp:\t2" in default
    assert caps_of(status("--cap-add", "NET_ADMIN"), "CapEff") & (1 << 12)
    assert caps_of(status("--cap-drop", "ALL"), "CapEff") == 0
    assert caps_of(status("--cap-drop", "chown"), "CapEff") & 1 == 0
    assert "NoNewPrivs:\t1" in status("--security-opt", "no-new-privileges")
    assert "NoNewPrivs:\t0" in default
    assert "Seccomp:\t0" in status("--security-opt", "seccomp=unconfined")
    profile = tmp_path / "no-mkdir.json"
    profile.write_text(json.dumps({"defaultAction": "SCMP_ACT_ALLOW",
                                   "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]}))
    p = docker(daemon, "run", "--rm", "--security-opt", f"seccomp={profile}", image, "mkdir", "/tmp/x", check=False)
    assert p.returncode != 0 and "Operation not permitted" in p.stderr
    p = docker(daemon, "run", "--rm", "--read-only", "--tmpfs", "/scratch", image, "sh", "-c",
               "touch /scratch/ok && echo tmpfs-ok; touch /nope", check=False)
    assert "tmpfs-ok" in p.stdout and "Read-only file system" in p.stderr
    out = docker(daemon, "run", "--rm", "--device", "/dev/null:/dev/mynull:r", "--group-add", "extra",
                 "--group-add", "4242", image, "sh", "-c", "ls -l /dev/mynull; id -G").stdout
    assert out.startswith("crw") and set(out.split("\n")[1].split()) >= {"0", "2000", "4242"}, out
    assert docker(daemon, "run", "--rm", "--sysctl", "net.ipv4.ip_forward=1", image,
                  "cat", "/proc/sys/net/ipv4/ip_forward").stdout == "1\n"
    before = docker(daemon, "ps", "-aq").stdout
    for args, message in [(["--cap-add", "NOPE"], 'unknown capability: "CAP_NOPE"'),
                          (["--security-opt", "seccomp=/nonexistent.json"], "seccomp"),
                          (["--sysctl", "kernel.hostname=x"], "is not allowed"),
                          (["--device", "/dev/nosuch"], "/dev/nosuch"),
                          (["--group-add", "nosuchgroup"], "Unable to find group nosuchgroup")]:
        p = docker(daemon, "run", "--rm", *args, image, "true", check=False)
        assert p.returncode != 0 and message in p.stderr, (args, p.stderr)
    code, out = api(daemon, "POST", "/containers/create",
                    json.dumps({"Image": image, "HostConfig": {"SecurityOpt": ["foo"]}}))
    assert code == 400 and json.loads(out)["message"] == 'invalid --security-opt 1: "foo"'
    code, out = api(daemon, "POST", "/containers/create",
                    json.dumps({"Image": image, "HostConfig": {"SecurityOpt": ["bar=1"]}}))
    assert code == 400 and json.loads(out)["message"] == 'invalid --security-opt 2: "bar=1"'
    own = int([line for line in open("/proc/self/status") if line.startswith("CapBnd")][0].split()[1], 16)
    if not own & (1 << 24):
        p = docker(daemon, "run", "--rm", "--cap-add", "SYS_RESOURCE", image, "true", check=False)
        assert p.returncode != 0 and "bounding set" in p.stderr
    assert docker(daemon, "ps", "-aq").stdout == before


def static_binary(path):
    with open(path, "rb") as f:
        return b"ld-linux" not in f.read(8192)


def test_init_reaps_and_forwards_signals(daemon, image):
    from dindtest import binary
    if not static_binary(binary("dind-shim")):
        pytest.skip("--init needs the static dind-shim (not in sanitizer builds)")
    out = docker(daemon, "run", "--rm", "--init", image, "sh", "-c",
                 "tr '\\0' ' ' < /proc/1/cmdline; echo; (sleep 0.1 &); sleep 0.5; ps -o stat,comm | grep -c '^Z' || true").stdout
    assert out.startswith("/sbin/docker-init -- sh -c") and out.split("\n")[1] == "0", out
    assert docker(daemon, "run", "--rm", "--init", image, "sh", "-c", "exit 7", check=False).returncode == 7
    # PID 1 ignores TERM without a handler; the init passes it on to the shell.
    cid = docker(daemon, "run", "-d", "--init", image, "sleep", "1000").stdout.strip()
    t0 = time.monotonic()
    docker(daemon, "stop", "-t", "10", cid)
    assert time.monotonic() - t0 < 5
    assert state(daemon, cid)["State"]["ExitCode"] == 143
    docker(daemon, "rm", cid)


def test_privileged_runs_runc_inside(daemon, image):
    own = [line for line in open("/proc/self/status") if line.startswith("CapBnd")][0].split()[1]
    script = """set -e
grep CapEff /proc/self/status
mkdir -p /tmp/b/rootfs/bin; cp /bin/busybox /tmp/b/rootfs/bin/; cd /tmp/b; runc spec
sed -i 's/"terminal": true/"terminal": false/; s/"sh"/"\\/bin\\/busybox","echo","inner runc says hi"/' config.json
runc --root /tmp/rr run -b /tmp/b inner1
"""
    p = docker(daemon, "run", "--rm", "--privileged", "-v", "/usr:/usr:ro", "-v", "/lib:/lib:ro",
               "-v", "/lib64:/lib64:ro", "-e", "PATH=/usr/sbin:/usr/bin:/bin", image, "sh", "-c", script, check=False)
    assert p.returncode == 0, p.stderr
    assert p.stdout.split("\n")[0].split()[1] == own, "every capability of the daemon's bounding set"
    assert "inner runc says hi" in p.stdout


def http_get_in_netns(daemon, url, timeout=10):
    deadline = time.monotonic() + timeout
    while True:
        p = daemon.in_netns("curl", "-s", "-m", "2", url, capture_output=True, text=True)
        if p.returncode == 0 or time.monotonic() > deadline:
            return p.stdout
        time.sleep(0.1)


def ticks(daemon, name):
    out = docker(daemon, "logs", name).stdout
    return [int(line.split()[1]) for line in out.split("\n") if line]


def test_daemon_sigkill_loses_nothing(daemon, image, tmp_path):
    """SIGKILL the daemon with 22 containers running: all are re-adopted,
    logs are continuous, a container that exited meanwhile reports its code and
    time, names and published ports still work, and exec/attach/stop work on
    the re-adopted containers."""
    import signal
    docker(daemon, "network", "create", "crashnet")
    names = [f"tick{i}" for i in range(20)]
    for n in names:
        docker(daemon, "run", "-d", "--name", n, image, "sh", "-c",
               "i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.1; done")
    docker(daemon, "run", "-d", "--name", "web", "--network", "crashnet", "-p", "18090:80", image,
           "httpd", "-f", "-p", "80", "-h", "/var/www")
    # shortlived exits when the test says so (a file in a bind mount): only
    # while the daemon is away, however slow the steps before the kill are.
    go = tmp_path / "go"
    go.mkdir()
    docker(daemon, "run", "-d", "--name", "shortlived", "-v", f"{go}:/go", image, "sh", "-c",
           "while [ ! -e /go/now ]; do sleep 0.05; done; exit 7")
    pids = {n: state(daemon, n)["State"]["Pid"] for n in names + ["web"]}
    assert http_get_in_netns(daemon, "http://127.0.0.1:18090/") == "hello from httpd\n"
    killed_at = time.time()
    daemon.stop(signal.SIGKILL)
    (go / "now").write_text("")
    time.sleep(1.5)  # shortlived exits while the daemon is away
    daemon.start()
    for n in names + ["web"]:
        info = state(daemon, n)["State"]
        assert info["Running"] and info["Pid"] == pids[n], n
    info = state(daemon, "shortlived")["State"]
    assert (info["Status"], info["ExitCode"]) == ("exited", 7)
    finished = info["FinishedAt"]
    import datetime
    t = datetime.datetime.strptime(finished[:26].rstrip("Z"), "%Y-%m-%dT%H:%M:%S.%f").replace(
        tzinfo=datetime.timezone.utc).timestamp()
    assert killed_at < t < time.time(), (finished, killed_at)
    time.sleep(0.3)
    for n in names:
        seen = ticks(daemon, n)
        assert seen == list(range(len(seen))) and len(seen) >= 25, (n, seen[-5:])
    # The network and the published port came through.
    assert http_get_in_netns(daemon, "http://127.0.0.1:18090/") == "hello from httpd\n"
    out = docker(daemon, "run", "--rm", "--network", "crashnet", image, "wget", "-qO-", "http://web/").stdout
    assert out == "hello from httpd\n"
    # exec, attach and stop on re-adopted containers.
    assert docker(daemon, "exec", "tick0", "echo", "still here").stdout == "still here\n"
    p = subprocess.Popen([CLIS[0], "attach", "--no-stdin", "tick1"], env=cli_env(daemon),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(0.5)
    docker(daemon, "stop", "-t", "1", "tick1")
    out, _ = p.communicate(timeout=20)
    assert b"tick" in out
    assert state(daemon, "tick1")["State"]["ExitCode"] == 137
    docker(daemon, "rm", "-f", *names, "web", "shortlived")
    docker(daemon, "network", "rm", "crashnet")


def test_daemon_sigkill_during_a_start_leaves_nothing_half_done(daemon, image):
    """The shim of a container whose start the daemon never finished goes away
    by itself (its sync channel closed); the container stays startable."""
    import signal
    cid = docker(daemon, "create", "--name", "halfway", image, "sleep", "1000").stdout.strip()
    p = subprocess.Popen([CLIS[0], "start", cid], env=cli_env(daemon), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(0.02)
    daemon.stop(signal.SIGKILL)
    p.wait(timeout=20)
    time.sleep(1)
    daemon.start()
    info = state(daemon, cid)["State"]
    if not info["Running"]:
        docker(daemon, "start", cid)
    assert state(daemon, cid)["State"]["Running"]
    assert docker(daemon, "exec", cid, "echo", "ok").stdout == "ok\n"
    docker(daemon, "rm", "-f", cid)


def test_shutdown_without_live_restore_stops_containers(daemon, image):
    """--live-restore=false: SIGTERM stops the containers within the shutdown
    timeout before the daemon exits; restart policies bring back what they
    cover (a shutdown is not a manual stop)."""
    import signal
    saved = daemon.extra_args
    daemon.stop()
    daemon.extra_args = list(saved) + ["--live-restore=false", "--shutdown-timeout", "2"]
    daemon.start()
    try:
        docker(daemon, "run", "-d", "--name", "polite", image, "sh", "-c",
               "trap 'exit 3' TERM; while true; do sleep 0.1; done")
        docker(daemon, "run", "-d", "--name", "stubborn", "--restart", "unless-stopped", image, "sleep", "1000")
        shims = subprocess.run(["pgrep", "-f", f"dind-shim.*{daemon.root}"], capture_output=True, text=True).stdout.split()
        assert len(shims) >= 2
        t0 = time.monotonic()
        assert daemon.stop(signal.SIGTERM) == 0
        assert time.monotonic() - t0 < 10
        left = subprocess.run(["pgrep", "-f", f"dind-shim.*{daemon.root}"], capture_output=True, text=True).stdout
        assert left == "", "every container stopped before the daemon exited"
    finally:
        daemon.extra_args = saved
        daemon.start()
    assert state(daemon, "polite")["State"]["ExitCode"] == 3
    wait_for(lambda: state(daemon, "stubborn")["State"]["Running"], what="unless-stopped back")
    docker(daemon, "rm", "-f", "polite", "stubborn")


def test_network_connect_and_disconnect(daemon, image):
    docker(daemon, "network", "create", "latenet")
    docker(daemon, "run", "-d", "--name", "joiner", image, "httpd", "-f", "-p", "80", "-h", "/var/www")
    docker(daemon, "network", "connect", "--alias", "late-web", "latenet", "joiner")
    assert "latenet" in state(daemon, "joiner")["NetworkSettings"]["Networks"]
    assert docker(daemon, "exec", "joiner", "ip", "-o", "-4", "addr").stdout.count("inet ") == 3  # lo, eth0, eth1
    out = docker(daemon, "run", "--rm", "--network", "latenet", image, "wget", "-qO-", "http://late-web/").stdout
    assert out == "hello from httpd\n"
    p = docker(daemon, "network", "connect", "latenet", "joiner", check=False)
    assert p.returncode != 0 and "already exists in network latenet" in p.stderr
    docker(daemon, "network", "disconnect", "latenet", "joiner")
    assert "latenet" not in state(daemon, "joiner")["NetworkSettings"]["Networks"]
    p = docker(daemon, "network", "disconnect", "latenet", "joiner", check=False)
    assert p.returncode != 0 and "is not connected to network latenet" in p.stderr
    p = docker(daemon, "network", "connect", "nosuchnet", "joiner", check=False)
    assert p.returncode != 0 and "nosuchnet" in p.stderr
    # A created container: the setting applies at its start.
    docker(daemon, "create", "--name", "later", image, "sleep", "1000")
    docker(daemon, "network", "connect", "latenet", "later")
    docker(daemon, "start", "later")
    assert "latenet" in state(daemon, "later")["NetworkSettings"]["Networks"]
    docker(daemon, "rm", "-f", "joiner", "later")
    docker(daemon, "network", "rm", "latenet")


def test_nothing_left_behind(daemon, image, box):
    docker(daemon, "rm", "-f", box)
    assert_nothing_left_behind(daemon, image)
