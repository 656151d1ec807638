"""Restart policies (no, always, unless-stopped, on-failure[:N]) with Docker's
backoff, stop and kill suspending them, their validation messages, and their
application at daemon start."""
import json
import os
import time

from ctrtest import CLIS, api, assert_nothing_left_behind, docker, state, wait_for


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


def test_nothing_left_behind(daemon, image):
    assert_nothing_left_behind(daemon, image)
