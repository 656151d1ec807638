"""Containers with the real docker CLI (28 and Debian's 20.10) and the python
SDK against one real `dind` running in a network namespace of its own: run
with output, exit codes and stdin, detached containers and their logs,
stop/kill/wait codes, rm, ps filters, inspect, bind mounts and volumes, user
networks with names and aliases, published ports, and a leak check at the end."""
import json
import os
import re
import subprocess
import tempfile
import time

import pytest

from ctrtest import CLIS, api, assert_nothing_left_behind, docker, frames, import_busybox, netns_daemon


@pytest.fixture(scope="module")
def daemon():
    with netns_daemon("dind-ctr-") as d:
        yield d


@pytest.fixture(scope="module")
def image(daemon, tmp_path_factory):
    return import_busybox(daemon, tmp_path_factory.mktemp("rootfs") / "busybox.tar")


@pytest.mark.parametrize("cli", CLIS)
def test_run_rm_output_exit_codes_and_errors(daemon, image, cli):
    p = docker(daemon, "run", "--rm", image, "echo", "hi", cli=cli)
    assert p.stdout == "hi\n"
    p = docker(daemon, "run", "--rm", image, "sh", "-c", "echo out; echo err >&2; exit 3", cli=cli, check=False)
    assert (p.returncode, p.stdout) == (3, "out\n") and "err\n" in p.stderr
    p = docker(daemon, "run", "--rm", image, "nosuch-command", cli=cli, check=False)
    assert p.returncode == 127 and 'exec: "nosuch-command": executable file not found in $PATH' in p.stderr
    p = docker(daemon, "run", "--rm", "--pull", "never", "nosuch:1", "true", cli=cli, check=False)
    assert p.returncode != 0 and "No such image: nosuch:1" in p.stderr
    assert docker(daemon, "ps", "-aq", cli=cli).stdout == "", "--rm removed every container"


@pytest.mark.parametrize("cli", CLIS)
def test_run_interactive_with_piped_stdin(daemon, image, cli):
    data = "".join(f"line {i}\n" for i in range(2000))
    p = docker(daemon, "run", "--rm", "-i", image, "sh", "-c", "wc -l; echo done", cli=cli, stdin=data)
    assert p.stdout.split() == ["2000", "done"]


def test_detached_logs_tail_timestamps_and_follow(daemon, image):
    cid = docker(daemon, "run", "-d", "--name", "logger", image, "sh", "-c",
                 "for i in 1 2 3 4 5; do echo out$i; echo err$i >&2; done; sleep 0.5; echo late").stdout.strip()
    assert re.fullmatch(r"[0-9a-f]{64}", cid)
    p = docker(daemon, "logs", "-f", "logger")  # follows until the container exits
    assert p.stdout.split() == ["out1", "out2", "out3", "out4", "out5", "late"]
    assert p.stderr.split() == ["err1", "err2", "err3", "err4", "err5"]
    p = docker(daemon, "logs", "--tail", "2", "logger")
    assert p.stdout.split() == ["late"] and p.stderr.split() == ["err5"]
    p = docker(daemon, "logs", "-t", "--tail", "1", "logger")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z late\n", p.stdout)
    log_path = json.loads(docker(daemon, "inspect", "logger").stdout)[0]["LogPath"]
    first = json.loads(open(log_path).readline())
    assert list(first) == ["log", "stream", "time"] and first["log"] == "out1\n"
    # tail: a count of 0 or more limits; -1 (Testcontainers), "all" and junk
    # mean every line, as dockerd.
    for tail, lines in [("-1", 6), ("all", 6), ("abc", 6), ("0", 0), ("2", 2)]:
        code, body = api(daemon, "GET", f"/containers/logger/logs?stdout=1&tail={tail}")
        assert code == 200 and body.count(b"\n") == lines, (tail, body)
    assert docker(daemon, "wait", "logger").stdout.strip() == "0"
    docker(daemon, "rm", "logger")


def test_stop_kill_and_wait_codes(daemon, image):
    docker(daemon, "run", "-d", "--name", "sleeper", image, "sleep", "100")
    t0 = time.monotonic()
    docker(daemon, "stop", "-t", "1", "sleeper")  # PID 1 ignores TERM: killed after 1 s
    assert 0.9 < time.monotonic() - t0 < 10
    info = json.loads(docker(daemon, "inspect", "sleeper").stdout)[0]["State"]
    assert (info["Status"], info["ExitCode"], info["Running"]) == ("exited", 137, False)
    # A container that handles TERM exits with its own code.
    docker(daemon, "run", "-d", "--name", "trapper", image, "sh", "-c",
           "trap 'exit 143' TERM; while true; do sleep 0.1; done")
    docker(daemon, "stop", "trapper")
    assert docker(daemon, "wait", "trapper").stdout.strip() == "143"
    docker(daemon, "start", "sleeper")
    docker(daemon, "kill", "sleeper")
    assert docker(daemon, "wait", "sleeper").stdout.strip() == "137"
    p = docker(daemon, "kill", "-s", "HUP", "sleeper", check=False)
    assert p.returncode == 1 and "is not running" in p.stderr
    docker(daemon, "start", "sleeper")
    p = docker(daemon, "kill", "-s", "NOSUCHSIG", "sleeper", check=False)
    assert p.returncode == 1 and "Invalid signal: NOSUCHSIG" in p.stderr
    docker(daemon, "kill", "-s", "TERM", "sleeper")  # delivered, ignored by PID 1
    time.sleep(0.2)
    assert json.loads(docker(daemon, "inspect", "sleeper").stdout)[0]["State"]["Running"] is True
    docker(daemon, "restart", "-t", "0", "sleeper")
    state = json.loads(docker(daemon, "inspect", "sleeper").stdout)[0]["State"]
    assert state["Running"] is True
    docker(daemon, "rm", "-f", "sleeper", "trapper")


def test_rm_conflicts_and_missing(daemon, image):
    docker(daemon, "run", "-d", "--name", "busy", image, "sleep", "100")
    p = docker(daemon, "rm", "busy", check=False)
    assert p.returncode == 1 and "You cannot remove a running container" in p.stderr and "force remove" in p.stderr
    p = docker(daemon, "run", "-d", "--name", "busy", image, "true", check=False)
    assert p.returncode != 0 and 'Conflict. The container name "/busy" is already in use' in p.stderr
    p = docker(daemon, "rm", "nosuch", check=False)
    assert p.returncode == 1 and "No such container: nosuch" in p.stderr
    p = docker(daemon, "create", "--name", "bad!name", image, check=False)
    assert p.returncode != 0 and "Invalid container name (bad!name)" in p.stderr
    p = docker(daemon, "rmi", image, check=False)
    assert p.returncode == 1 and "must force" in p.stderr and "is using its referenced image" in p.stderr
    docker(daemon, "rm", "-f", "busy")
    assert docker(daemon, "ps", "-aq").stdout == ""


def test_ps_filters_and_formats(daemon, image):
    docker(daemon, "run", "-d", "--name", "up1", "--label", "team=a", image, "sleep", "100")
    docker(daemon, "run", "--name", "done3", "--label", "team=b", image, "sh", "-c", "exit 3", check=False)
    docker(daemon, "create", "--name", "fresh", image, "true")
    names = lambda *a: sorted(docker(daemon, "ps", *a, "--format", "{{.Names}}").stdout.split())
    assert names() == ["up1"]
    assert names("-a") == ["done3", "fresh", "up1"]
    assert names("-a", "--filter", "status=exited") == ["done3"]
    assert names("-a", "--filter", "status=created") == ["fresh"]
    assert names("-a", "--filter", "exited=3") == ["done3"]
    assert names("-a", "--filter", "label=team=a") == ["up1"]
    assert names("-a", "--filter", "label=team") == ["done3", "up1"]
    assert names("-a", "--filter", "name=fre") == ["fresh"]
    assert names("-a", "--filter", f"ancestor={image}") == ["done3", "fresh", "up1"]
    assert len(docker(daemon, "ps", "-a", "-n", "1", "-q").stdout.split()) == 1
    status = docker(daemon, "ps", "-a", "--filter", "name=done3", "--format", "{{.Status}}").stdout
    assert status.startswith("Exited (3) ")
    assert docker(daemon, "ps", "--format", "{{.Status}}").stdout.startswith("Up ")
    p = docker(daemon, "ps", "--filter", "status=bogus", check=False)
    assert p.returncode != 0 and "invalid filter" in p.stderr
    docker(daemon, "rm", "-f", "up1", "done3", "fresh")


def test_inspect_fields(daemon, image):
    cid = docker(daemon, "run", "-d", "--name", "insp", "-e", "FOO=bar", "-w", "/tmp", "--hostname", "box",
                 image, "sleep", "100").stdout.strip()
    info = json.loads(docker(daemon, "inspect", "insp").stdout)[0]
    assert info["Id"] == cid and info["Name"] == "/insp"
    assert info["Path"] == "sleep" and info["Args"] == ["100"]
    assert info["State"]["Running"] and info["State"]["Pid"] > 0 and info["State"]["StartedAt"].endswith("Z")
    assert info["Config"]["Image"] == image and "FOO=bar" in info["Config"]["Env"]
    assert info["Config"]["Hostname"] == "box" and info["Config"]["WorkingDir"] == "/tmp"
    assert info["Image"].startswith("sha256:")
    net = info["NetworkSettings"]["Networks"]["bridge"]
    assert re.fullmatch(r"\d+\.\d+\.\d+\.\d+", net["IPAddress"]) and net["IPAddress"] == info["NetworkSettings"]["IPAddress"]
    bridge = json.loads(docker(daemon, "network", "inspect", "bridge").stdout)[0]
    assert net["NetworkID"] == bridge["Id"] and net["Gateway"] == bridge["IPAM"]["Config"][0]["Gateway"]
    assert os.path.exists(info["LogPath"]) and os.path.exists(info["HostsPath"])
    out = docker(daemon, "exec" if False else "logs", "insp").stdout  # nothing printed yet
    assert out == ""
    p = subprocess.run(["cat", f"/proc/{info['State']['Pid']}/environ"], capture_output=True)
    env = p.stdout.split(b"\0")
    assert b"FOO=bar" in env and b"HOSTNAME=box" in env and any(e.startswith(b"PATH=") for e in env)
    top = docker(daemon, "top", "insp").stdout
    assert "sleep 100" in top
    docker(daemon, "rename", "insp", "insp2")
    assert json.loads(docker(daemon, "inspect", "insp2").stdout)[0]["Name"] == "/insp2"
    p = docker(daemon, "inspect", "nosuch", check=False)
    assert p.returncode == 1 and "No such object: nosuch" in p.stderr or "No such container" in p.stderr
    docker(daemon, "rm", "-f", "insp2")


def test_top_runs_ps_without_a_shell(daemon, image, tmp_path):
    """ps_args become ps's argument vector: a newline, `;`, `|`, `&&`,
    backticks or `$(...)` never run a second command (issue #14)."""
    from urllib.parse import quote
    docker(daemon, "run", "-d", "--name", "topper", image, "sleep", "100")
    marker = tmp_path / "ran"
    for sep in ["\n", ";", " | ", " && ", " `", " $("]:
        tail = {" `": "`", " $(": ")"}.get(sep, "")
        status, body = api(daemon, "GET", "/containers/topper/top?ps_args=" + quote(f"-ef{sep}touch {marker}{tail}"))
        assert status in (400, 500) and b'"message"' in body, (sep, status, body)
        assert not marker.exists(), f"ps_args with {sep!r} ran a second command"
    status, body = api(daemon, "GET", "/containers/topper/top?ps_args=" + quote("-o pid,args"))
    top = json.loads(body)
    assert status == 200 and top["Titles"] == ["PID", "COMMAND"], body
    assert [p[1] for p in top["Processes"]] == ["sleep 100"]
    docker(daemon, "rm", "-f", "topper")


def test_user_workdir_entrypoint_env(daemon, image):
    run = lambda *a: docker(daemon, "run", "--rm", *a).stdout
    assert run("--user", "nobody", image, "id").startswith("uid=65534(nobody) gid=65534(nogroup)")
    assert run("--user", "app", image, "id", "-G").split() == ["1000", "2000"]
    assert run("--user", "1234:5678", image, "id", "-u").strip() == "1234"
    assert run("-w", "/var/www", image, "pwd").strip() == "/var/www"
    assert run("--entrypoint", "echo", image, "a", "b").strip() == "a b"
    assert run("-e", "A=1", "--env", "B=two", image, "sh", "-c", "echo $A$B").strip() == "1two"
    assert run("--hostname", "myhost", image, "hostname").strip() == "myhost"
    assert run("--add-host", "db:10.1.2.3", image, "cat", "/etc/hosts").count("10.1.2.3\tdb") == 1
    assert "nameserver 10.9.9.9" in run("--dns", "10.9.9.9", image, "cat", "/etc/resolv.conf")
    p = docker(daemon, "run", "--rm", "--user", "ghost", image, "true", check=False)
    assert p.returncode != 0 and "unable to find user ghost" in p.stderr
    # Default confinement: Docker's 14 capabilities and a seccomp filter.
    status = run(image, "cat", "/proc/self/status")
    assert re.search(r"CapEff:\s+00000000a80425fb", status)
    if os.path.exists("/usr/share/containers/seccomp.json"):
        assert re.search(r"Seccomp:\s+2", status)


def test_bind_mounts_and_volumes(daemon, image, tmp_path):
    host = tmp_path / "shared"
    host.mkdir()
    (host / "in.txt").write_text("from host\n")
    out = docker(daemon, "run", "--rm", "-v", f"{host}:/data", image, "sh", "-c",
                 "cat /data/in.txt; echo from container > /data/out.txt").stdout
    assert out == "from host\n" and (host / "out.txt").read_text() == "from container\n"
    p = docker(daemon, "run", "--rm", "-v", f"{host}:/data:ro", image, "touch", "/data/x", check=False)
    assert p.returncode != 0 and "Read-only file system" in p.stderr
    created = tmp_path / "made-by-v"
    docker(daemon, "run", "--rm", "-v", f"{created}:/m", image, "true")
    assert created.is_dir(), "-v creates a missing host directory, as dockerd does"
    p = docker(daemon, "run", "--rm", "--mount", f"type=bind,source={tmp_path}/absent,target=/m", image, "true",
               check=False)
    assert p.returncode != 0 and "bind source path does not exist" in p.stderr
    docker(daemon, "run", "--rm", "-v", "keep:/v", image, "sh", "-c", "echo persisted > /v/f")
    assert docker(daemon, "run", "--rm", "-v", "keep:/v:ro", image, "cat", "/v/f").stdout == "persisted\n"
    out = docker(daemon, "run", "--rm", "--tmpfs", "/scratch", image, "sh", "-c", "grep ' /scratch ' /proc/mounts").stdout
    assert "tmpfs" in out
    p = docker(daemon, "run", "--rm", "-v", "/a:rel", image, "true", check=False)
    assert p.returncode != 0 and "mount path must be absolute" in p.stderr
    cid = docker(daemon, "create", "-v", "keep:/v", image, "true").stdout.strip()
    mounts = json.loads(docker(daemon, "inspect", cid).stdout)[0]["Mounts"]
    assert mounts[0]["Type"] == "volume" and mounts[0]["Name"] == "keep" and mounts[0]["Destination"] == "/v"
    assert docker(daemon, "ps", "-a", "-q", "--filter", "volume=keep").stdout.strip() == cid[:12]
    docker(daemon, "rm", cid)


def test_user_network_names_aliases_and_isolation(daemon, image):
    docker(daemon, "network", "create", "appnet")
    p = docker(daemon, "network", "create", "appnet", check=False)
    assert p.returncode != 0 and "already exists" in p.stderr
    docker(daemon, "run", "-d", "--name", "web", "--network", "appnet", "--network-alias", "frontend", image,
           "httpd", "-f", "-p", "80", "-h", "/var/www")
    for host in ["web", "frontend"]:
        out = docker(daemon, "run", "--rm", "--network", "appnet", image, "wget", "-qO-", f"http://{host}/").stdout
        assert out == "hello from httpd\n", host
    # The default bridge has no names: the lookup fails there.
    p = docker(daemon, "run", "--rm", image, "wget", "-T", "2", "-qO-", "http://web/", check=False)
    assert p.returncode != 0
    info = json.loads(docker(daemon, "inspect", "web").stdout)[0]["NetworkSettings"]["Networks"]["appnet"]
    assert "frontend" in info["Aliases"] and "web" in info["DNSNames"]
    p = docker(daemon, "network", "rm", "appnet", check=False)
    assert p.returncode != 0 and "active endpoints" in p.stderr
    docker(daemon, "rm", "-f", "web")
    docker(daemon, "network", "rm", "appnet")
    p = docker(daemon, "run", "--rm", "--pull", "never", "--network", "appnet", image, "true", check=False)
    assert p.returncode != 0 and "network appnet not found" in p.stderr


def test_published_port_from_the_hosts_loopback(daemon, image):
    docker(daemon, "run", "-d", "--name", "pub", "-p", "18080:80", "-p", "127.0.0.1::80", image,
           "httpd", "-f", "-p", "80", "-h", "/var/www")
    ports = docker(daemon, "port", "pub").stdout
    assert "80/tcp -> 0.0.0.0:18080" in ports
    random_port = int(re.search(r"127\.0\.0\.1:(\d+)", ports).group(1))
    for port in [18080, random_port]:
        deadline = time.monotonic() + 5
        while True:
            p = daemon.in_netns("curl", "-s", "-m", "2", f"http://127.0.0.1:{port}/", capture_output=True, text=True)
            if p.returncode == 0 or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert p.stdout == "hello from httpd\n", (port, p.stderr)
    assert "0.0.0.0:18080->80/tcp" in docker(daemon, "ps", "--format", "{{.Ports}}").stdout
    # The picked port is held by the engine from the moment it was picked:
    # nobody else can bind it while the mapping lives.
    probe = ("import socket,sys; s=socket.socket(); "
             "s.bind(('127.0.0.1', int(sys.argv[1]))); print('bound')")
    p = daemon.in_netns("/usr/bin/python3", "-c", probe, str(random_port), capture_output=True, text=True)
    assert p.returncode != 0 and "Address already in use" in p.stderr, (p.stdout, p.stderr)
    p = docker(daemon, "run", "--rm", "-p", "18080:80", image, "true", check=False)
    assert p.returncode != 0 and "port is already allocated" in p.stderr
    p = docker(daemon, "run", "--rm", "-p", "99999:80", image, "true", check=False)
    assert p.returncode != 0 and "invalid" in p.stderr.lower()
    docker(daemon, "rm", "-f", "pub")


def test_network_none_and_host(daemon, image):
    out = docker(daemon, "run", "--rm", "--network", "none", image, "ip", "-o", "link").stdout
    assert "lo" in out and "eth0" not in out
    host_links = daemon.in_netns("ip", "-o", "link", capture_output=True, text=True).stdout
    out = docker(daemon, "run", "--rm", "--network", "host", image, "ip", "-o", "link").stdout
    assert len(out.splitlines()) == len(host_links.splitlines())


def test_python_sdk_run_and_logs(daemon, image):
    env = {k: v for k, v in os.environ.items() if k not in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")}
    script = f"""
import docker
c = docker.DockerClient(base_url="unix://{daemon.socket}")
print(c.containers.run("{image}", ["echo", "sdk says hi"], remove=True).decode(), end="")
ctr = c.containers.run("{image}", ["sh", "-c", "echo one; echo two"], detach=True)
print(ctr.wait()["StatusCode"])
print(ctr.logs().decode(), end="")
ctr.remove()
print(len(c.containers.list(all=True)))
"""
    p = subprocess.run(["/usr/bin/python3", "-c", script], capture_output=True, text=True, env=env, timeout=60)
    assert p.returncode == 0, p.stderr
    assert p.stdout.split("\n") == ["sdk says hi", "0", "one", "two", "0", ""]


def test_followed_logs_survive_the_containers_removal(tmp_path):
    """A client that follows the logs, waits, removes the container and only
    then reads the stream (the python SDK's run() does) still gets every line:
    the daemon reads the log through a file it holds open. A daemon that reads
    followed logs every 2 s makes the removal come before the read."""
    with netns_daemon("dind-logpoll-", env={"DIND_TEST_LOG_POLL_MS": "2000"}) as d:
        image = import_busybox(d, tmp_path / "busybox.tar")
        env = {k: v for k, v in os.environ.items() if k not in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")}
        script = f"""
import docker
api = docker.APIClient(base_url="unix://{d.socket}")
c = api.create_container("{image}", ["sh", "-c", "sleep 0.3; echo first; echo last"])
api.start(c)
stream = api.logs(c, stream=True, follow=True)
api.wait(c)
api.remove_container(c)
print(b"".join(stream).decode().split())
"""
        p = subprocess.run(["/usr/bin/python3", "-c", script], capture_output=True, text=True, env=env,
                           timeout=60)
        assert p.returncode == 0, p.stderr
        assert p.stdout.strip() == "['first', 'last']"


def test_start_attach_and_attach_log_replay(daemon, image):
    docker(daemon, "create", "--name", "att", image, "sh", "-c", "echo one; echo oops >&2; sleep 0.3; echo two")
    p = docker(daemon, "start", "-a", "att")
    assert p.stdout == "one\ntwo\n" and p.stderr == "oops\n"
    code, body = api(daemon, "POST", "/containers/att/attach?logs=1&stdout=1&stderr=1&stream=0")
    assert code == 200
    assert frames(body) == [(1, b"one\n"), (2, b"oops\n"), (1, b"two\n")]
    code, body = api(daemon, "POST", "/containers/att/attach?logs=1&stdout=1&stream=0")
    assert [f for f in frames(body)] == [(1, b"one\n"), (1, b"two\n")]
    docker(daemon, "rm", "att")


def test_failed_start_leaves_the_container_created(daemon, image):
    docker(daemon, "create", "--name", "broken", image, "no-such-binary")
    p = docker(daemon, "start", "broken", check=False)
    assert p.returncode != 0 and 'exec: "no-such-binary": executable file not found in $PATH' in p.stderr
    state = json.loads(docker(daemon, "inspect", "broken").stdout)[0]["State"]
    assert state["Status"] == "created" and state["ExitCode"] == 128 and not state["Running"]
    assert "executable file not found" in state["Error"]
    assert docker(daemon, "ps", "-a", "--filter", "name=broken", "--format", "{{.Names}}").stdout.strip() == "broken"
    root = str(daemon.root)
    assert not [line for line in open("/proc/self/mountinfo") if root in line], "nothing stays mounted"
    docker(daemon, "rm", "broken")


def test_wait_conditions_and_errors_over_the_api(daemon, image):
    cid = docker(daemon, "create", image, "sh", "-c", "exit 5").stdout.strip()
    code, body = api(daemon, "POST", f"/containers/{cid}/wait?condition=not-running")
    assert code == 200 and json.loads(body) == {"Error": None, "StatusCode": 0}
    code, body = api(daemon, "POST", f"/containers/{cid}/wait?condition=sideways")
    assert code == 400 and "invalid condition" in json.loads(body)["message"]
    code, body = api(daemon, "POST", "/containers/nosuch/wait")
    assert code == 404 and json.loads(body) == {"message": "No such container: nosuch"}
    docker(daemon, "start", cid)
    code, body = api(daemon, "POST", f"/containers/{cid}/wait?condition=not-running")
    assert code == 200 and json.loads(body)["StatusCode"] == 5
    code, body = api(daemon, "POST", "/containers/create", "{not json")
    assert code == 400 and "message" in json.loads(body)
    code, body = api(daemon, "POST", "/containers/create", json.dumps({"Image": image, "Cmd": ["true"],
                                                                        "HostConfig": {"Binds": ["::"]}}))
    assert code == 400 and "invalid" in json.loads(body)["message"]
    code, body = api(daemon, "POST", f"/containers/{cid}/kill?signal=SIGNOPE")
    assert code == 400 and json.loads(body)["message"] == "Invalid signal: SIGNOPE"
    code, body = api(daemon, "GET", f"/containers/{cid}/logs")
    assert code == 400 and "at least one" in json.loads(body)["message"]
    docker(daemon, "rm", cid)


def test_logs_since_and_until(daemon, image):
    docker(daemon, "run", "--name", "timed", image, "sh", "-c", "echo early; sleep 1.2; echo late")
    lines = docker(daemon, "logs", "-t", "timed").stdout.splitlines()
    assert [line.split(" ", 1)[1] for line in lines] == ["early", "late"]
    import datetime
    t_early = datetime.datetime.fromisoformat(lines[0].split(" ")[0][:26].rstrip("Z")).replace(
        tzinfo=datetime.timezone.utc)
    middle = (t_early + datetime.timedelta(seconds=0.6)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    assert docker(daemon, "logs", "--since", middle, "timed").stdout == "late\n"
    assert docker(daemon, "logs", "--until", middle, "timed").stdout == "early\n"
    docker(daemon, "rm", "timed")


def test_sizes_and_prune(daemon, image):
    docker(daemon, "run", "--name", "writer", image, "sh", "-c", "head -c 100000 /dev/zero > /tmp/blob")
    info = json.loads(docker(daemon, "inspect", "-s", "writer").stdout)[0]
    assert 100000 <= info["SizeRw"] < 200000 and info["SizeRootFs"] > info["SizeRw"]
    assert docker(daemon, "ps", "-a", "-s", "--format", "{{.Size}}").stdout.startswith("100kB")
    keep = docker(daemon, "run", "-d", image, "sleep", "100").stdout.strip()
    out = docker(daemon, "container", "prune", "-f").stdout
    writer_id = info["Id"]
    assert writer_id in out and keep not in out
    assert docker(daemon, "ps", "-aq", "--no-trunc").stdout.split() == [keep]
    docker(daemon, "rm", "-f", keep)


def test_daemon_restart_keeps_running_containers(daemon, image):
    docker(daemon, "run", "-d", "--name", "survivor", image, "sh", "-c",
           "i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.2; done")
    docker(daemon, "run", "--name", "finished", image, "sh", "-c", "exit 4", check=False)
    pid = json.loads(docker(daemon, "inspect", "survivor").stdout)[0]["State"]["Pid"]
    assert daemon.stop() == 0
    time.sleep(0.5)  # the container keeps running (and logging) without the daemon
    daemon.start()
    state = json.loads(docker(daemon, "inspect", "survivor").stdout)[0]["State"]
    assert state["Running"] and state["Pid"] == pid
    assert json.loads(docker(daemon, "inspect", "finished").stdout)[0]["State"]["ExitCode"] == 4
    ticks = [int(line.split()[1]) for line in docker(daemon, "logs", "survivor").stdout.split("\n") if line]
    assert ticks == list(range(len(ticks))) and len(ticks) >= 4, "the log kept flowing, nothing lost"
    docker(daemon, "stop", "-t", "1", "survivor")
    assert json.loads(docker(daemon, "inspect", "survivor").stdout)[0]["State"]["ExitCode"] == 137
    docker(daemon, "rm", "survivor", "finished")


def test_tty_run_size_and_resize(daemon, image):
    out = docker(daemon, "run", "--rm", "-t", image, "sh", "-c", "tty; echo done", text=False).stdout
    assert out == b"/dev/pts/0\r\ndone\r\n", out  # one raw stream, the pty's ONLCR
    # Under a terminal (script gives the CLI one): the size goes in with the
    # create request and the container sees it.
    cmd = f"stty rows 33 cols 111; DOCKER_HOST=unix://{daemon.socket} {CLIS[0]} run --rm -it {image} stty size"
    p = subprocess.run(["script", "-qec", cmd, "/dev/null"], capture_output=True, text=True, timeout=60,
                       env={"PATH": os.environ["PATH"], "DOCKER_CONFIG": tempfile.gettempdir() + "/dind-test-docker-config"})
    assert "33 111" in p.stdout, p.stdout + p.stderr
    # A resize of a running TTY container reaches its terminal.
    cid = docker(daemon, "run", "-d", "-t", image, "sh", "-c", "sleep 1; stty size; sleep 100").stdout.strip()
    code, body = api(daemon, "POST", f"/containers/{cid}/resize?h=44&w=99")
    assert code == 200, body
    deadline = time.monotonic() + 10
    while "99" not in docker(daemon, "logs", cid).stdout and time.monotonic() < deadline:
        time.sleep(0.1)
    assert docker(daemon, "logs", cid, text=False).stdout == b"44 99\r\n"
    code, body = api(daemon, "POST", f"/containers/{cid}/resize?h=x&w=1")
    assert code == 400
    plain = docker(daemon, "run", "-d", image, "sleep", "100").stdout.strip()
    code, body = api(daemon, "POST", f"/containers/{plain}/resize?h=10&w=10")
    assert code == 409 and "TTY" in json.loads(body)["message"]
    docker(daemon, "rm", "-f", cid, plain)


def test_volume_commands(daemon, image):
    assert docker(daemon, "volume", "create", "--label", "team=a", "data1").stdout.strip() == "data1"
    info = json.loads(docker(daemon, "volume", "inspect", "data1").stdout)[0]
    assert info["Driver"] == "local" and info["Labels"] == {"team": "a"} and info["Name"] == "data1"
    assert info["Mountpoint"].endswith("/volumes/data1/_data") and os.path.isdir(info["Mountpoint"])
    assert "data1" in docker(daemon, "volume", "ls", "-q").stdout.split()
    cid = docker(daemon, "run", "-d", "-v", "data1:/d", "-v", "/anon", image, "sleep", "100").stdout.strip()
    p = docker(daemon, "volume", "rm", "data1", check=False)
    assert p.returncode == 1 and f"remove data1: volume is in use - [{cid}]" in p.stderr
    p = docker(daemon, "volume", "inspect", "nosuch", check=False)
    assert p.returncode == 1 and "no such volume" in p.stderr.lower()
    p = docker(daemon, "volume", "create", "bad/name", check=False)
    assert p.returncode == 1 and "includes invalid characters" in p.stderr
    docker(daemon, "rm", "-f", cid)
    anon = [v for v in docker(daemon, "volume", "ls", "-q").stdout.split() if len(v) == 64]
    assert len(anon) == 1, "rm without -v keeps the anonymous volume"
    out = docker(daemon, "volume", "prune", "-f").stdout
    assert anon[0] in out and "data1" not in out
    docker(daemon, "volume", "rm", "data1")
    assert "data1" not in docker(daemon, "volume", "ls", "-q").stdout.split()
    cid = docker(daemon, "run", "-d", "-v", "/anon2", image, "sleep", "100").stdout.strip()
    before = set(docker(daemon, "volume", "ls", "-q").stdout.split())
    docker(daemon, "rm", "-f", "-v", cid)
    assert len(before - set(docker(daemon, "volume", "ls", "-q").stdout.split())) == 1, "rm -v removes it"


def test_diff_shows_added_changed_deleted(daemon, image):
    docker(daemon, "run", "--name", "differ", image, "sh", "-c",
           "mkdir /tmp/sub && echo x > /tmp/sub/a.txt && echo extra >> /etc/group && rm /var/www/index.html")
    lines = docker(daemon, "diff", "differ").stdout.splitlines()
    for want in ["A /tmp/sub", "A /tmp/sub/a.txt", "C /etc", "C /etc/group", "C /var/www", "D /var/www/index.html"]:
        assert want in lines, lines
    assert not any(line.endswith(("/etc/hosts", "/etc/hostname", "/etc/resolv.conf")) for line in lines)
    p = docker(daemon, "diff", "nosuch", check=False)
    assert p.returncode == 1 and "No such container: nosuch" in p.stderr
    docker(daemon, "rm", "differ")


def test_diff_never_follows_an_images_symlinks(daemon, image, tmp_path):
    """An image layer with `hop -> /`: a container that replaces hop with a
    directory and adds hop/etc/passwd added a file; looking it up in the
    image's layer must not follow hop to the host's /etc/passwd."""
    import io
    import tarfile
    layer = tmp_path / "hop.tar"
    with tarfile.open(layer, "w") as t:
        info = tarfile.TarInfo("hop")
        info.type = tarfile.SYMTYPE
        info.linkname = "/"
        t.addfile(info)
        data = b"#!/bin/sh\n"
        f = tarfile.TarInfo("marker")
        f.size = len(data)
        t.addfile(f, io.BytesIO(data))
    docker(daemon, "import", str(layer), "hop:test")
    docker(daemon, "run", "--name", "hopper", "-v", "/bin/busybox:/bin/busybox:ro", "hop:test",
           "/bin/busybox", "sh", "-c", "busybox rm /hop && busybox mkdir -p /hop/etc && busybox touch /hop/etc/passwd")
    lines = docker(daemon, "diff", "hopper").stdout.splitlines()
    assert "A /hop/etc/passwd" in lines and "A /hop/etc" in lines, lines
    docker(daemon, "rm", "hopper")
    docker(daemon, "rmi", "hop:test")


def test_nothing_left_behind(daemon, image):
    assert_nothing_left_behind(daemon)
