"""Healthchecks as dockerd runs them: from run flags and from an image's
HEALTHCHECK, starting/healthy/unhealthy with the failing streak and the last
five results, timeouts, start periods, no restarts for unhealthy containers,
`docker ps` and its health filter, compose's service_healthy, the SDK."""
import json
import os
import subprocess
import textwrap
import time

from ctrtest import CLIS, api, cli_env, docker, state, wait_for

FAST = ["--health-interval", "200ms", "--health-timeout", "2s"]


def health(daemon, name):
    return state(daemon, name)["State"].get("Health")


def status_line(daemon, name):
    return docker(daemon, "ps", "-a", "--filter", f"name=^{name}$", "--format", "{{.Status}}").stdout.strip()


def test_a_probe_moves_the_state_starting_healthy_unhealthy(daemon, image):
    docker(daemon, "run", "-d", "--name", "hc-flags", "--health-cmd", "test -f /tmp/ok && echo fine",
           "--health-retries", "2", *FAST, image, "sleep", "300")
    try:
        first = health(daemon, "hc-flags")
        assert first["Status"] == "starting" and first["FailingStreak"] == 0
        assert status_line(daemon, "hc-flags").endswith("(health: starting)")
        wait_for(lambda: health(daemon, "hc-flags")["Status"] == "unhealthy", what="unhealthy after 2 failures")
        h = health(daemon, "hc-flags")
        assert h["FailingStreak"] >= 2 and h["Log"][-1]["ExitCode"] == 1
        assert status_line(daemon, "hc-flags").endswith("(unhealthy)")
        docker(daemon, "exec", "hc-flags", "touch", "/tmp/ok")
        wait_for(lambda: health(daemon, "hc-flags")["Status"] == "healthy", what="healthy")
        h = health(daemon, "hc-flags")
        assert h["FailingStreak"] == 0 and h["Log"][-1]["ExitCode"] == 0 and h["Log"][-1]["Output"] == "fine\n"
        assert h["Log"][-1]["Start"] < h["Log"][-1]["End"]
        assert status_line(daemon, "hc-flags").endswith("(healthy)")
        wait_for(lambda: len(health(daemon, "hc-flags")["Log"]) == 5, what="five results")
        time.sleep(0.5)
        assert len(health(daemon, "hc-flags")["Log"]) == 5, "only the last five are kept"
        ids = docker(daemon, "ps", "-q", "--no-trunc", "--filter", "health=healthy").stdout.split()
        assert ids == [state(daemon, "hc-flags")["Id"]]
        assert docker(daemon, "ps", "-q", "--filter", "health=unhealthy").stdout == ""
        p = docker(daemon, "ps", "--filter", "health=bogus", check=False)
        assert p.returncode != 0 and "Unrecognised filter value for health: bogus" in p.stderr
        # Probes leave no files behind in the container's bundle.
        bundle = os.path.join(daemon.root, "exec", "containers", state(daemon, "hc-flags")["Id"], "exec")
        if os.path.isdir(bundle):
            assert len(os.listdir(bundle)) <= 4, os.listdir(bundle)
    finally:
        docker(daemon, "rm", "-f", "hc-flags")


def test_image_healthcheck_and_no_healthcheck(daemon, image, tmp_path):
    (tmp_path / "Dockerfile").write_text(textwrap.dedent(f"""\
        FROM {image}
        HEALTHCHECK --interval=200ms --timeout=2s --retries=1 CMD ["/bin/echo", "from the image"]
        """))
    env = dict(cli_env(daemon), DOCKER_BUILDKIT="0")
    subprocess.run([CLIS[-1], "build", "-q", "-t", "hc-image:1", str(tmp_path)], env=env, check=True,
                   capture_output=True, timeout=120)
    docker(daemon, "run", "-d", "--name", "hc-img", "hc-image:1", "sleep", "300")
    docker(daemon, "run", "-d", "--name", "hc-none", "--no-healthcheck", "hc-image:1", "sleep", "300")
    # Flags override parts of the image's healthcheck and keep the rest.
    docker(daemon, "run", "-d", "--name", "hc-mixed", "--health-cmd", "echo mine", "hc-image:1", "sleep", "300")
    try:
        wait_for(lambda: health(daemon, "hc-img")["Status"] == "healthy", what="healthy from the image")
        assert health(daemon, "hc-img")["Log"][0]["Output"] == "from the image\n"
        assert health(daemon, "hc-none") is None
        assert state(daemon, "hc-none")["Config"]["Healthcheck"]["Test"] == ["NONE"]
        assert not status_line(daemon, "hc-none").endswith(")")
        mixed = state(daemon, "hc-mixed")["Config"]["Healthcheck"]
        assert mixed["Test"] == ["CMD-SHELL", "echo mine"] and mixed["Interval"] == 200_000_000 and mixed["Retries"] == 1
        wait_for(lambda: (health(daemon, "hc-mixed")["Log"] or [{}])[0].get("Output") == "mine\n", what="mixed probe")
    finally:
        docker(daemon, "rm", "-f", "hc-img", "hc-none", "hc-mixed")
        docker(daemon, "rmi", "hc-image:1")


def test_timeouts_start_periods_and_no_restart_when_unhealthy(daemon, image):
    docker(daemon, "run", "-d", "--name", "hc-slow", "--health-cmd", "sleep 5", "--health-timeout", "300ms",
           "--health-interval", "200ms", "--health-retries", "1", "--restart", "always", image, "sleep", "300")
    docker(daemon, "run", "-d", "--name", "hc-grace", "--health-cmd", "false", "--health-start-period", "3s",
           "--health-interval", "200ms", "--health-retries", "1", image, "sleep", "300")
    try:
        wait_for(lambda: health(daemon, "hc-slow")["Status"] == "unhealthy", what="unhealthy by timeout")
        last = health(daemon, "hc-slow")["Log"][-1]
        assert last["ExitCode"] == -1 and last["Output"] == "Health check exceeded timeout (300ms)"
        # Failures inside the start period do not count.
        time.sleep(1.2)
        grace = health(daemon, "hc-grace")
        assert grace["Status"] == "starting" and grace["FailingStreak"] == 0 and len(grace["Log"]) >= 2
        wait_for(lambda: health(daemon, "hc-grace")["Status"] == "unhealthy", timeout=10, what="after the start period")
        # Unhealthy is not a reason to restart (dockerd's rule).
        s = state(daemon, "hc-slow")
        assert s["State"]["Running"] and s["RestartCount"] == 0
        # A restart starts the health over.
        docker(daemon, "restart", "-t", "0", "hc-grace")
        assert health(daemon, "hc-grace")["Status"] == "starting"
    finally:
        docker(daemon, "rm", "-f", "hc-slow", "hc-grace")


def test_bad_healthcheck_settings_are_refused(daemon, image):
    for hc, msg in [({"Test": ["CMD", "true"], "Interval": 5}, "Interval in Healthcheck cannot be less than 1ms"),
                    ({"Test": ["CMD", "true"], "Retries": -1}, "Retries in Healthcheck cannot be negative"),
                    ({"Test": ["BOGUS", "x"]}, "unknown Healthcheck type 'BOGUS'")]:
        code, out = api(daemon, "POST", "/containers/create", json.dumps({"Image": image, "Healthcheck": hc}))
        assert (code, json.loads(out)["message"]) == (400, msg)


def test_compose_waits_for_a_healthy_dependency(daemon, image, tmp_path):
    (tmp_path / "docker-compose.yml").write_text(textwrap.dedent(f"""\
        version: "2.4"
        services:
          db:
            image: {image}
            command: ["sh", "-c", "sleep 1; touch /tmp/ready; sleep 300"]
            healthcheck:
              test: ["CMD", "test", "-f", "/tmp/ready"]
              interval: 200ms
              retries: 30
          web:
            image: {image}
            command: ["sleep", "300"]
            depends_on:
              db:
                condition: service_healthy
        """))
    env = dict(cli_env(daemon), COMPOSE_PROJECT_NAME="hcproj")
    try:
        p = subprocess.run(["docker-compose", "up", "-d"], cwd=tmp_path, env=env, capture_output=True, text=True,
                           timeout=120)
        assert p.returncode == 0, p.stderr
        assert docker(daemon, "ps", "-q", "--filter", "name=hcproj_web_1").stdout.strip(), (p.stdout, p.stderr)
        db = state(daemon, "hcproj_db_1")
        web = state(daemon, "hcproj_web_1")
        healthy_at = [r["End"] for r in db["State"]["Health"]["Log"] if r["ExitCode"] == 0][0]
        assert web["State"]["StartedAt"] > healthy_at, (web["State"]["StartedAt"], healthy_at)
    finally:
        subprocess.run(["docker-compose", "down", "-t", "0"], cwd=tmp_path, env=env, capture_output=True, timeout=120)
    assert docker(daemon, "ps", "-aq", "--filter", "name=hcproj").stdout == ""
