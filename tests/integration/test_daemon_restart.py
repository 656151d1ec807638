"""The daemon going away while containers run: SIGKILL loses nothing (re-adopted
containers, continuous logs, exits meanwhile recorded), a SIGKILL in the
middle of a start leaves nothing half done, an exec's zygote is no stray
shim, reused pids fool nobody, SIGTERM without live restore stops the
containers; and network connect/disconnect of created and running
containers."""
import os
import subprocess
import time

from ctrtest import CLIS, assert_nothing_left_behind, cli_env, docker, state, wait_for


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


def test_a_container_that_ran_an_exec_survives_daemon_restarts(daemon, image):
    """The shim's exec zygote (a child with the shim's arguments) is no stray
    shim to the restarted daemon: the container keeps running, after a
    SIGKILL and after a SIGTERM alike."""
    import signal
    cid = docker(daemon, "run", "-d", "--name", "execd", image, "sleep", "1000").stdout.strip()
    pid = state(daemon, cid)["State"]["Pid"]
    assert docker(daemon, "exec", cid, "echo", "ok").stdout == "ok\n"
    for sig in (signal.SIGKILL, signal.SIGTERM):
        daemon.stop(sig)
        daemon.start()
        time.sleep(0.5)  # a stray's kill would have landed by now
        info = state(daemon, cid)["State"]
        assert info["Running"] and info["Pid"] == pid, (sig, info)
        assert docker(daemon, "exec", cid, "echo", "still").stdout == "still\n"
    docker(daemon, "rm", "-f", cid)


def spawn_at(pid, argv):
    """argv started as process `pid` (the kernel's next pid set through
    ns_last_pid; tried again while other forks on the machine race us)."""
    for _ in range(100):
        if os.path.exists(f"/proc/{pid}"):
            time.sleep(0.05)
            continue
        with open("/proc/sys/kernel/ns_last_pid", "w") as f:
            f.write(str(pid - 1))
        p = subprocess.Popen(argv)
        if p.pid == pid:
            return p
        p.kill()
        p.wait()
    raise AssertionError(f"could not start a process as pid {pid}")


def test_pids_reused_while_the_daemon_was_down_fool_nobody(daemon, image, tmp_path):
    """The container's shim and init exit while the daemon is down and other
    processes take their pids: one even named dind-shim. The restarted
    daemon records the exit, adopts nothing, and signals neither process
    (stop, kill and rm of the container leave them running)."""
    import shutil
    import signal
    cid = docker(daemon, "run", "-d", "--name", "reused", image, "sleep", "1000").stdout.strip()
    info = state(daemon, cid)["State"]
    init_pid = info["Pid"]
    shim_pid = int(subprocess.run(["pgrep", "-f", f"dind-shim --id {cid}"], capture_output=True,
                                  text=True).stdout.split()[0])
    daemon.stop(signal.SIGKILL)
    os.kill(init_pid, signal.SIGKILL)
    wait_for(lambda: not os.path.exists(f"/proc/{shim_pid}"), what="the shim to record the exit and go")
    fake_shim = tmp_path / "dind-shim"  # a process named as our shims are
    shutil.copy("/bin/sleep", fake_shim)
    imposters = [spawn_at(shim_pid, [str(fake_shim), "300"]), spawn_at(init_pid, ["sleep", "300"])]
    try:
        daemon.start()
        info = state(daemon, cid)["State"]
        assert not info["Running"] and info["ExitCode"] == 137, info
        assert docker(daemon, "kill", cid, check=False).returncode != 0  # not running: refused
        docker(daemon, "stop", cid)
        docker(daemon, "rm", "-f", cid)
        time.sleep(0.5)
        assert [p.poll() for p in imposters] == [None, None], "a process that took a reused pid was signalled"
    finally:
        for p in imposters:
            p.kill()
            p.wait()


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


def test_nothing_left_behind(daemon, image):
    assert_nothing_left_behind(daemon, image)


def test_restart_in_a_fresh_network_namespace(tmp_path):
    """docker:dind's pattern: the appliance container started again on its
    data volume (or a host reboot): the recorded networks' bridges went with
    the old namespace and are made again, so containers start and reach each
    other on the default bridge and on a user network."""
    import tempfile
    from ctrtest import import_busybox
    from dindtest import Daemon
    with tempfile.TemporaryDirectory(prefix="dind-freshns-", ignore_cleanup_errors=True) as root:
        first = Daemon(root, tls=False, netns=True).start()
        try:
            image = import_busybox(first, tmp_path / "bb.tar")
            docker(first, "network", "create", "--subnet", "10.213.0.0/24", "appnet")
            docker(first, "run", "--rm", image, "true")
        finally:
            assert first.destroy() == 0
        second = Daemon(root, tls=False, netns=True).start()
        try:
            assert second.netns != first.netns
            docker(second, "run", "-d", "--name", "srv", "--network", "appnet", image,
                   "httpd", "-f", "-p", "80", "-h", "/var/www")
            out = docker(second, "run", "--rm", "--network", "appnet", image,
                         "wget", "-q", "-O", "-", "http://srv/").stdout
            assert out == "hello from httpd\n"
            assert docker(second, "run", "--rm", image, "sh", "-c", "ip -4 -o addr show eth0").stdout.count("inet") == 1
            links = second.in_netns("ip", "-o", "link", capture_output=True, text=True).stdout
            assert "dind0" in links
            assert "re-creating the bridge dind0 of network bridge" in second.log_text()
        finally:
            docker(second, "rm", "-f", "srv", check=False)
            docker(second, "network", "rm", "appnet", check=False)
            assert second.destroy() == 0
