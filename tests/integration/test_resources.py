"""Resources and security: limits visible inside (cgroups), OOM kills, docker
update, pause/unpause, dockerd's refusals, capabilities, seccomp,
no-new-privileges, read-only roots, --init and --privileged (runc inside)."""
import json
import time

import pytest

from ctrtest import api, assert_nothing_left_behind, docker, state, wait_for


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


def test_nothing_left_behind(daemon, image):
    assert_nothing_left_behind(daemon, image)
