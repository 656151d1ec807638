"""Testcontainers for Node (issue #18): the npm package pinned in
tests/integration/testcontainers/package.json (with its package-lock.json)
starts a GenericContainer from the pre-loaded busybox image (no pull, no
registry), on a network of its own, copies files in, execs, reads the log
stream and an archive, fetches the mapped port and stops it, with Ryuk
disabled (TESTCONTAINERS_RYUK_DISABLED=true), against dind.

`npm ci` installs into a temporary directory outside the source tree, with a
persistent npm cache (so a warm run pays no download). Node runs inside the
daemon's network namespace, where its published ports are."""
import json
import os
import pathlib
import shutil
import subprocess
import tempfile
import time

import pytest

from ctrtest import docker

PROJECT = pathlib.Path(__file__).resolve().parent / "testcontainers"
NPM_CACHE = tempfile.gettempdir() + "/dind-test-npm-cache"
LABEL = "dind.test=testcontainers-node"


@pytest.fixture(scope="module")
def tc_project():
    """The test package installed with `npm ci` from its lock file."""
    with tempfile.TemporaryDirectory(prefix="dind-tcnode-") as tmp:
        for name in ("package.json", "package-lock.json", "tc.mjs"):
            shutil.copy(PROJECT / name, tmp)
        # --ignore-scripts: no install script is needed (ssh2's optional
        # native cpu-features would otherwise be compiled).
        t0 = time.monotonic()
        p = subprocess.run(["npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--prefer-offline",
                            "--cache", NPM_CACHE], cwd=tmp, capture_output=True, text=True, timeout=600)
        assert p.returncode == 0, f"npm ci failed:\n{p.stdout}\n{p.stderr}"
        print(f"npm ci: {time.monotonic() - t0:.1f}s")
        installed = json.loads((pathlib.Path(tmp) / "node_modules/testcontainers/package.json").read_text())
        pinned = json.loads((PROJECT / "package.json").read_text())["dependencies"]["testcontainers"]
        assert installed["version"] == pinned
        yield pathlib.Path(tmp)


def run_script(daemon, project, image, extra_env=None):
    """Runs tc.mjs in the daemon's network namespace: (json result, process)."""
    home = project / "home"  # no ~/.testcontainers.properties from the machine
    tmp = project / "tmp"  # its lock file goes with the project
    home.mkdir(exist_ok=True)
    tmp.mkdir(exist_ok=True)
    env = {"PATH": os.environ["PATH"], "HOME": str(home), "TMPDIR": str(tmp),
           "DOCKER_HOST": f"unix://{daemon.socket}",
           "DOCKER_CONFIG": tempfile.gettempdir() + "/dind-test-docker-config",
           "TESTCONTAINERS_RYUK_DISABLED": "true",
           "DEBUG": "testcontainers*"}  # its log on stderr, shown on failure
    env.update(extra_env or {})
    p = daemon.in_netns("node", "tc.mjs", image, cwd=project, env=env, capture_output=True, text=True, timeout=300)
    lines = p.stdout.strip().splitlines()
    assert lines, f"no output (rc={p.returncode}):\n{p.stderr[-20000:]}"
    result = json.loads(lines[-1])
    assert p.returncode == 0 and result["ok"], \
        f"rc={p.returncode} {json.dumps(result, indent=1)}\n{p.stderr[-20000:]}\n{daemon_errors(daemon)}"
    return result, p


def daemon_errors(daemon):
    """The daemon's warning and error lines since it started (for a failure message)."""
    text = daemon.log_text()
    return "\n".join(line for line in text.splitlines() if "level=error" in line or "level=warn" in line)[-10000:]


def test_generic_container_copy_exec_logs_http(daemon, image, tc_project):
    # Testcontainers' host: the daemon's loopback, where -p ports are (a client
    # in a container would otherwise look for the bridge gateway).
    result, proc = run_script(daemon, tc_project, image, {"TESTCONTAINERS_HOST_OVERRIDE": "127.0.0.1"})
    assert result["steps"] == ["network", "started", "copied", "stopped", "network-removed"]
    assert result["host"] == "127.0.0.1" and isinstance(result["port"], int) and result["port"] > 0
    # The file copied into the running container, read back through exec.
    assert result["exec"] == {"exitCode": 0, "stdout": "copied by testcontainers\n", "stderr": ""}
    assert result["execFail"] == {"exitCode": 3, "stdout": "to-out\n", "stderr": "to-err\n"}
    assert result["execEnv"] == {"exitCode": 0, "stdout": "hello /tmp 1000\n"}
    # The file copied before start, served by httpd: through the alias on the
    # container's network and through the mapped port from the host.
    assert result["aliasFetch"]["stdout"] == "served through the mapped port\n"
    assert result["http"] == {"status": 200, "body": "served through the mapped port\n"}
    assert "boot-stdout\n" in result["logs"] and "boot-stderr\n" in result["logs"] and "ready\n" in result["logs"]
    assert result["archive"] == {"name": "in.txt", "content": "copied by testcontainers\n"}
    # With aliases Testcontainers creates on the default bridge, then connects
    # its network (as dockerd shows it: both networks in inspect).
    assert sorted(result["networkNames"]) == sorted([result["network"], "bridge"])
    assert result["ip"].count(".") == 3
    # Testcontainers found the image present: no pull was asked for.
    assert "Pulling image" not in proc.stderr and f'Image "{image}" already exists' in proc.stderr
    # Stopped means removed, with its network.
    assert result["stoppedId"] == result["id"]
    assert docker(daemon, "ps", "-aq", "--filter", f"label={LABEL}").stdout == ""
    assert docker(daemon, "ps", "-aq", "--filter", "label=org.testcontainers=true").stdout == ""
    names = docker(daemon, "network", "ls", "--format", "{{.Name}}").stdout.split()
    assert result["network"] not in names


@pytest.mark.parametrize("override", ["localhost", None], ids=["localhost", "resolved"])
def test_host_resolution(daemon, image, tc_project, override):
    """The same scenario at the host a client on the machine gets (localhost)
    and at the one Testcontainers resolves itself: in a container (a
    /.dockerenv) the default bridge's gateway from GET /networks/bridge,
    else localhost. The script fetches the mapped port there."""
    result, _ = run_script(daemon, tc_project, image, {"TESTCONTAINERS_HOST_OVERRIDE": override} if override else {})
    if override:
        expected = override
    elif os.path.exists("/.dockerenv"):
        expected = docker(daemon, "network", "inspect", "bridge", "--format",
                          "{{(index .IPAM.Config 0).Gateway}}").stdout.strip()
    else:
        expected = "localhost"
    assert result["host"] == expected
    assert result["http"] == {"status": 200, "body": "served through the mapped port\n"}
    assert docker(daemon, "ps", "-aq", "--filter", f"label={LABEL}").stdout == ""
