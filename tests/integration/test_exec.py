"""docker exec with the real docker CLI (28 and Debian's 20.10), the python SDK
and raw API requests against one real `dind` in a network namespace of its
own: output, exit codes, env, user, workdir, stdin, TTY and resize, detach
keys, detached execs and their inspect, privileged, the plain-200 stream,
errors, and the confinement an exec joins."""
import json
import os
import pty
import select
import socket
import subprocess
import time

import pytest

from ctrtest import CLIS, api, assert_nothing_left_behind, cli_env, docker, frames, state


@pytest.fixture(scope="module")
def box(daemon, image):
    """One running container the exec tests share."""
    cid = docker(daemon, "run", "-d", "--name", "box", "-e", "BASE=1", image, "sleep", "1000").stdout.strip()
    yield cid
    docker(daemon, "rm", "-f", cid, check=False)


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


def test_nothing_left_behind(daemon, image, box):
    docker(daemon, "rm", "-f", box)
    assert_nothing_left_behind(daemon, image)
