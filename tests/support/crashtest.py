"""Crash consistency (issue #19): the daemon is SIGKILLed at a random moment
during one operation, restarted, and checked. Shared by the CI test
(tests/integration/test_crash_consistency.py) and bench/crash (100
iterations).

An iteration: the operation's setup; the operation started with the docker
CLI; SIGKILL after a delay drawn from [0, 1.2 x the operation's measured
duration]; a restart; then
  - the operation's object is fully there (it works: a container starts and
    is removed, an image runs, a volume's directory exists) or fully gone;
  - no container's recorded state lies: running means a live process, not
    running means no shim;
  - no temporary file of an interrupted write remains, every JSON state
    file parses, every mount under the data root is a running container's;
  - a second SIGKILL and restart with nothing in between changes nothing
    (containers, images, volumes, networks and the state files' content).
Then the iteration's objects are removed, which must work too."""
import contextlib
import hashlib
import json
import os
import pathlib
import random
import shutil
import signal
import subprocess
import tempfile
import time

from ctrtest import CLIS, IMAGE


class Crash:
    """One daemon (tests/support/dindtest.Daemon, in a netns of its own with
    the busybox image) and a plain-HTTP registry in its netns."""

    OPS = ["create", "start", "stop", "rm", "connect", "volume_rm", "load", "pull", "push", "build"]

    def __init__(self, daemon, registry, work, seed=None, log=print):
        self.d = daemon
        self.reg = registry
        self.work = pathlib.Path(work)
        self.seed = seed if seed is not None else int.from_bytes(os.urandom(4), "big")
        self.rng = random.Random(self.seed)
        self.log = log
        self.durations = {}
        self.n = 0
        self.kills = {op: [] for op in self.OPS}  # the delays used, in ms
        self.known = set()  # the names of the containers the iteration made

    # -- the CLI ------------------------------------------------------------
    def env(self):
        return {"PATH": os.environ["PATH"], "DOCKER_HOST": f"unix://{self.d.socket}",
                "DOCKER_CONFIG": str(self.work / "cli")}

    def cli(self, *args, check=True, timeout=120):
        p = subprocess.run([CLIS[0], *args], capture_output=True, text=True, timeout=timeout, env=self.env())
        if check and p.returncode != 0:
            raise AssertionError(f"docker {' '.join(args)}: rc={p.returncode} {p.stderr.strip()}")
        return p

    def exists(self, kind, name):
        return self.cli(kind, "inspect", name, check=False).returncode == 0

    def inspect(self, kind, name):
        return json.loads(self.cli(kind, "inspect", name).stdout)[0]

    # -- one-time preparation -------------------------------------------------
    def prepare(self):
        (self.work / "cli").mkdir(parents=True, exist_ok=True)
        # An image of its own for load/pull/push: 3 layers, 24 MiB.
        ctx = self.work / "ctx-base"
        ctx.mkdir(exist_ok=True)
        (ctx / "Dockerfile").write_text(
            f"FROM {IMAGE}\nRUN head -c 8388608 /dev/urandom > /a\nRUN head -c 8388608 /dev/urandom > /b\n"
            "RUN head -c 8388608 /dev/urandom > /c\n")
        self.cli("build", "-q", "-t", "crash/app:1", str(ctx))
        self.cli("save", "-o", str(self.work / "app.tar"), "crash/app:1")
        self.app_ref = f"{self.reg.host}/crash/app:1"
        self.cli("tag", "crash/app:1", self.app_ref)
        self.cli("push", self.app_ref)
        self.cli("rmi", self.app_ref)
        # Each operation once without a kill: its duration sets the range
        # the kill delays are drawn from.
        for op in self.OPS:
            self.n += 1
            names = self.names()
            getattr(self, f"setup_{op}")(names)
            argv = getattr(self, f"argv_{op}")(names)
            t0 = time.monotonic()
            self.cli(*argv, timeout=300)
            self.durations[op] = time.monotonic() - t0
            self.cleanup(op, names)
        self.log("operation durations (ms): " +
                 ", ".join(f"{op} {v * 1000:.0f}" for op, v in self.durations.items()))

    def names(self):
        n = self.n
        return {"c": f"crash-c{n}", "net": f"crash-net{n}", "vol": f"crash-vol{n}",
                "img": f"crash/built:{n}", "repo": f"{self.reg.host}/crash/push{n}:1", "n": n}

    # -- the operations: setup, argv, check of the object, cleanup ------------
    def setup_create(self, x):
        pass

    def argv_create(self, x):
        return ["create", "--name", x["c"], IMAGE, "sleep", "300"]

    def setup_start(self, x):
        self.cli("create", "--name", x["c"], IMAGE, "sleep", "300")

    def argv_start(self, x):
        return ["start", x["c"]]

    def setup_stop(self, x):
        self.cli("run", "-d", "--name", x["c"], IMAGE, "sleep", "300")

    def argv_stop(self, x):
        return ["stop", "-t", "1", x["c"]]

    setup_rm = setup_stop

    def argv_rm(self, x):
        return ["rm", "-f", x["c"]]

    def setup_connect(self, x):
        self.cli("network", "create", x["net"])
        self.cli("run", "-d", "--name", x["c"], IMAGE, "sleep", "300")

    def argv_connect(self, x):
        return ["network", "connect", x["net"], x["c"]]

    def setup_volume_rm(self, x):
        self.cli("volume", "create", x["vol"])
        self.cli("run", "--rm", "-v", f"{x['vol']}:/v", IMAGE, "sh", "-c", "echo kept > /v/f")

    def argv_volume_rm(self, x):
        return ["volume", "rm", x["vol"]]

    def setup_load(self, x):
        if self.exists("image", "crash/app:1"):
            self.cli("rmi", "crash/app:1")

    def argv_load(self, x):
        return ["load", "-q", "-i", str(self.work / "app.tar")]

    def setup_pull(self, x):
        if self.exists("image", self.app_ref):
            self.cli("rmi", self.app_ref)

    def argv_pull(self, x):
        return ["pull", "-q", self.app_ref]

    def setup_push(self, x):
        if not self.exists("image", "crash/app:1"):
            self.cli("load", "-q", "-i", str(self.work / "app.tar"))
        self.cli("tag", "crash/app:1", x["repo"])

    def argv_push(self, x):
        return ["push", "-q", x["repo"]]

    def setup_build(self, x):
        ctx = self.work / f"ctx{x['n']}"
        ctx.mkdir()
        (ctx / "f").write_text(f"iteration {x['n']}\n")
        (ctx / "Dockerfile").write_text(
            f"FROM {IMAGE}\nCOPY f /f\nRUN head -c 8388608 /dev/urandom > /r && cat /f\n"
            "RUN echo second step > /s\n")

    def argv_build(self, x):
        return ["build", "-q", "-t", x["img"], str(self.work / f"ctx{x['n']}")]

    def runs(self, ref):
        """An image works: a container of it runs and sees its files."""
        out = self.cli("run", "--rm", ref, "ls", "/").stdout
        assert "bin" in out, out

    def check_op(self, op, x):
        """The interrupted operation's object: whole or gone."""
        c = x["c"]
        if op in ("create", "start", "stop", "rm", "connect"):
            present = self.exists("container", c)
            if op in ("start", "stop", "connect"):
                assert present, f"{op}: the container {c} disappeared"
            if present:
                info = self.inspect("container", c)
                if op == "connect" and x["net"] in info["NetworkSettings"]["Networks"]:
                    ip = info["NetworkSettings"]["Networks"][x["net"]]["IPAddress"]
                    addrs = self.cli("exec", c, "ip", "-o", "-4", "addr").stdout
                    assert ip and ip in addrs, f"connect: inspect says {ip} on {x['net']}, the container has {addrs}"
                self.cli("start", c)  # whatever it was, it starts (or already runs)
                assert self.inspect("container", c)["State"]["Running"]
        elif op == "volume_rm":
            path = self.d.root / "data" / "volumes" / x["vol"]
            if self.exists("volume", x["vol"]):
                mp = self.inspect("volume", x["vol"])["Mountpoint"]
                assert os.path.isdir(mp), f"volume {x['vol']} listed, {mp} missing"
                out = self.cli("run", "--rm", "-v", f"{x['vol']}:/v", IMAGE, "cat", "/v/f").stdout
                assert out == "kept\n", f"volume {x['vol']} listed with {out!r} in it"
            else:
                assert not path.exists(), f"volume {x['vol']} gone, {path} remains"
        elif op in ("load", "push"):
            ref = "crash/app:1" if op == "load" else x["repo"]
            if op == "push":
                assert self.exists("image", ref), "push: the local image disappeared"
            if self.exists("image", ref):
                self.runs(ref)
            if op == "push":
                self.cli("push", "-q", ref)  # a second push completes what the first began
        elif op == "pull":
            if self.exists("image", self.app_ref):
                self.runs(self.app_ref)
        elif op == "build":
            if self.exists("image", x["img"]):
                self.runs(x["img"])

    def cleanup(self, op, x):
        self.cli("rm", "-f", x["c"], check=False)
        for kind, name in (("network", x["net"]), ("volume", x["vol"])):
            if self.exists(kind, name):
                self.cli(kind, "rm", name)
        for ref in (x["img"], x["repo"], self.app_ref):
            if self.exists("image", ref):
                self.cli("rmi", ref)

    # -- the checks every restart gets ----------------------------------------
    def shims(self):
        return subprocess.run(["pgrep", "-af", f"dind[- ]shim.*{self.d.root}"], capture_output=True,
                              text=True).stdout

    def check_state(self, settle_s=10):
        """Problems found; the daemon gets settle_s to finish what it does
        by itself after a start (stray shims it killed exit a moment later)."""
        deadline = time.monotonic() + settle_s
        while True:
            problems = self.state_problems()
            if not problems or time.monotonic() > deadline:
                return problems
            time.sleep(0.2)

    def state_problems(self):
        root = self.d.root / "data"
        problems = []
        shims = self.shims()
        running = set()
        for cid in self.cli("ps", "-aq", "--no-trunc").stdout.split():
            info = self.inspect("container", cid)
            st = info["State"]
            if info["Name"].lstrip("/") not in self.known:
                problems.append(f"{info['Name']} ({st['Status']}) is no object of the test: an operation's leftover")
            if st["Running"]:
                running.add(cid)
                pid = st["Pid"]
                alive = pid > 0 and os.path.exists(f"/proc/{pid}")
                if alive:
                    with open(f"/proc/{pid}/stat") as f:
                        alive = f.read().rsplit(")", 1)[1].split()[0] != "Z"
                if not alive:
                    problems.append(f"{info['Name']} recorded running with pid {pid}, which is not alive")
            elif cid in shims:
                problems.append(f"{info['Name']} recorded {st['Status']} but its shim runs")
        for dirpath, _dirs, files in os.walk(root):
            for f in files:
                p = os.path.join(dirpath, f)
                if ".tmp-" in f:
                    problems.append(f"an interrupted write left {p}")
                elif f.endswith(".json") and "/overlay" not in p and os.path.isfile(p):
                    try:
                        json.loads(pathlib.Path(p).read_bytes() or b"x")
                    except ValueError:
                        problems.append(f"{p} is not JSON")
        for line in open("/proc/self/mountinfo"):
            mp = line.split()[4]
            if mp.startswith(str(self.d.root)) and not any(cid in mp for cid in running):
                problems.append(f"mount {mp} belongs to no running container")
        return problems

    def fingerprint(self):
        """What a second restart must not change."""
        ps = sorted(self.cli("ps", "-a", "--no-trunc", "--format", "{{.ID}} {{.Names}} {{.State}}").stdout.splitlines())
        images = sorted(self.cli("images", "-a", "--no-trunc", "--format", "{{.ID}} {{.Repository}}:{{.Tag}}").stdout.splitlines())
        vols = sorted(self.cli("volume", "ls", "-q").stdout.split())
        nets = sorted(self.cli("network", "ls", "--no-trunc", "--format", "{{.ID}} {{.Name}}").stdout.splitlines())
        files = {}
        root = self.d.root / "data"
        for dirpath, _dirs, fs in os.walk(root):
            if "/overlay" in dirpath or "/volumes/" in dirpath:
                continue
            for f in fs:
                p = os.path.join(dirpath, f)
                if f.endswith(".json") and os.path.isfile(p):
                    files[os.path.relpath(p, root)] = hashlib.sha256(pathlib.Path(p).read_bytes()).hexdigest()[:12]
        return {"containers": ps, "images": images, "volumes": vols, "networks": nets, "state_files": files}

    def restart(self):
        self.d.stop(signal.SIGKILL)
        self.d.start()

    # -- one iteration --------------------------------------------------------
    def iteration(self, op):
        """Returns a list of problems (empty: consistent)."""
        self.n += 1
        x = self.names()
        self.known = {x["c"]}
        getattr(self, f"setup_{op}")(x)
        delay = self.rng.uniform(0, 1.2 * self.durations[op])
        self.kills[op].append(round(delay * 1000))
        p = subprocess.Popen([CLIS[0], *getattr(self, f"argv_{op}")(x)], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, env=self.env())
        time.sleep(delay)
        self.d.stop(signal.SIGKILL)
        p.wait(timeout=60)
        where = f"iteration {x['n']} ({op}, kill after {delay * 1000:.0f} ms, seed {self.seed})"
        self.d.start()
        problems = [f"{where}: {p}" for p in self.check_state()]
        try:
            self.check_op(op, x)
        except AssertionError as e:
            problems.append(f"{where}: {e}")
        before = self.fingerprint()
        self.restart()
        after = self.fingerprint()
        for key in before:
            if before[key] != after[key]:
                if isinstance(before[key], dict):
                    changed = sorted(k for k in set(before[key]) | set(after[key])
                                     if before[key].get(k) != after[key].get(k))
                    problems.append(f"{where}: a second restart changed {key}: {changed}")
                else:
                    problems.append(f"{where}: a second restart changed {key}: {before[key]} -> {after[key]}")
        problems += [f"{where}, after the second restart: {p}" for p in self.check_state()]
        try:
            self.cleanup(op, x)
        except AssertionError as e:
            problems.append(f"{where}: cleanup: {e}")
        return problems

    def run(self, iterations, ops=None):
        """Iterations spread evenly over the operations (all by default), in a
        shuffled order."""
        ops = ops or self.OPS
        plan = [ops[i % len(ops)] for i in range(iterations)]
        self.rng.shuffle(plan)
        problems = []
        for op in plan:
            found = self.iteration(op)
            for p in found:
                self.log("PROBLEM: " + p)
            problems += found
        return problems


@contextlib.contextmanager
def crash_session(seed=None, log=print, keep=False):
    """A daemon in a netns of its own with the busybox image, a plain-HTTP
    registry beside it, and a prepared Crash; everything goes at the end."""
    from ctrtest import import_busybox
    from dindtest import Daemon
    from regtest import Registry
    with tempfile.TemporaryDirectory(prefix="dind-crash-", ignore_cleanup_errors=True) as root:
        root = pathlib.Path(root)
        if keep:  # the daemon's log stays for a look: copied out at the end
            log(f"daemon log: {root}.log")
        d = Daemon(root / "d", tls=False, netns=True)
        reg = Registry(root / "registry", d.netns, tls=False)
        try:
            d.start()  # inside: a daemon that never got ready is stopped too
            reg.start()
            import_busybox(d, root / "busybox.tar")
            crash = Crash(d, reg, root / "work", seed=seed, log=log)
            log(f"seed {crash.seed}")
            crash.prepare()
            yield crash
        finally:
            left = subprocess.run([CLIS[0], "-H", f"unix://{d.socket}", "ps", "-aq"], capture_output=True,
                                  text=True).stdout.split()
            if left:
                subprocess.run([CLIS[0], "-H", f"unix://{d.socket}", "rm", "-f", *left], capture_output=True)
            reg.stop()
            d.destroy()
            if keep:
                shutil.copy(d.log_path, f"{root}.log")
