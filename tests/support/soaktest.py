"""Churn soak (issue #19), shared by bench/soak and the CI's short version
(tests/integration/test_soak.py): concurrent docker CLI clients doing mixed
operations against one daemon, then the leak and memory checks (bench/soak's
help says which)."""
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time

from ctrtest import CLIS, IMAGE

LIMIT_S = 60  # one operation's time limit (every command in it together)


class Stuck(Exception):
    pass


class Failed(Exception):
    pass


class Client:
    def __init__(self, daemon, index, deadline_s=LIMIT_S):
        self.d = daemon
        self.i = index
        self.limit = deadline_s
        self.env = {"PATH": os.environ["PATH"], "DOCKER_HOST": f"unix://{daemon.socket}",
                    "DOCKER_CONFIG": tempfile.gettempdir() + "/dind-test-docker-config"}
        self.net = f"soak-c{index}"
        self.seq = 0

    def cli(self, *args, until):
        left = until - time.monotonic()
        if left <= 0:
            raise Stuck(f"docker {' '.join(args)}: no time left")
        try:
            p = subprocess.run([CLIS[0], *args], capture_output=True, text=True, timeout=left, env=self.env)
        except subprocess.TimeoutExpired:
            raise Stuck(f"docker {' '.join(args)}: still running after the operation's {self.limit} s")
        if p.returncode != 0:
            raise Failed(f"docker {' '.join(args)}: rc={p.returncode} {p.stderr.strip()}")
        return p.stdout

    def name(self, what):
        self.seq += 1
        return f"soak-{what}-{self.i}-{self.seq}"

    # The operations: each takes the instant it must be done by.
    def run_bridge(self, until):
        out = self.cli("run", "--rm", IMAGE, "echo", "bridge-ok", until=until)
        if out.strip() != "bridge-ok":
            raise Failed(f"run --rm printed {out!r}")

    def run_published(self, until):
        # The server answers one request on the published port; the client is
        # the daemon's host side (its netns), over the DNAT rule.
        name = self.name("pub")
        self.cli("run", "-d", "--name", name, "--network", self.net, "-p", "80", IMAGE,
                 "sh", "-c", "echo served | nc -l -p 80", until=until)
        try:
            port = self.cli("port", name, "80/tcp", until=until).split(":")[-1].strip()
            got = ""
            while time.monotonic() < until and "served" not in got:
                p = self.d.in_netns("busybox", "nc", "-w", "2", "127.0.0.1", port, stdin=subprocess.DEVNULL,
                                    capture_output=True, text=True, timeout=max(0.1, until - time.monotonic()))
                got = p.stdout
                if "served" not in got:
                    time.sleep(0.05)
            if "served" not in got:
                raise Failed(f"published port {port} never answered")
        finally:
            self.cli("rm", "-f", name, until=until + 30)

    def run_exec_logs(self, until):
        name = self.name("d")
        self.cli("run", "-d", "--name", name, IMAGE, "sh", "-c", "echo started; exec sleep 300", until=until)
        try:
            out = self.cli("exec", name, "sh", "-c", "echo exec-$((6*7))", until=until)
            if out.strip() != "exec-42":
                raise Failed(f"exec printed {out!r}")
            deadline = until
            while "started" not in self.cli("logs", name, until=deadline):
                time.sleep(0.05)
        finally:
            self.cli("rm", "-f", name, until=until + 30)

    def network_churn(self, until):
        name = self.name("net")
        self.cli("network", "create", name, until=until)
        self.cli("network", "rm", name, until=until)

    def volume_churn(self, until):
        name = self.name("vol")
        self.cli("volume", "create", name, until=until)
        self.cli("volume", "rm", name, until=until)

    OPS = ["run_bridge", "run_published", "run_exec_logs", "network_churn", "volume_churn"]

    def do(self, op):
        t0 = time.monotonic()
        getattr(self, op)(t0 + self.limit)
        return (time.monotonic() - t0) * 1000.0


def snapshot(d):
    """What the daemon owns that must not grow: counted while it is idle."""
    root = str(d.root)
    pid = d.proc.pid
    mounts = sum(1 for line in open("/proc/self/mountinfo") if root in line)
    links = d.in_netns("ip", "-o", "link", capture_output=True, text=True).stdout
    veths = links.count("veth")
    nlinks = len(links.splitlines())
    ruleset = d.in_netns("nft", "-a", "list", "ruleset", capture_output=True, text=True).stdout
    rules = sum(1 for line in ruleset.splitlines() if "# handle" in line and not line.strip().startswith(("table", "chain", "set", "map")))
    cgroups = 0
    for ctrl in os.listdir("/sys/fs/cgroup"):
        parent = os.path.join("/sys/fs/cgroup", ctrl, d.cgroup_parent)
        if os.path.isdir(parent):
            cgroups += sum(1 for e in os.scandir(parent) if e.is_dir())
    shims = len(subprocess.run(["pgrep", "-f", f"dind[- ]shim.*{root}"], capture_output=True, text=True).stdout.split())
    run_dirs = len(os.listdir(os.path.join(root, "exec", "s"))) if os.path.isdir(os.path.join(root, "exec", "s")) else 0
    fds = len(os.listdir(f"/proc/{pid}/fd"))
    rss = 0
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1])
    return {"mounts": mounts, "veths": veths, "links": nlinks, "nft_rules": rules, "cgroups": cgroups,
            "shims": shims, "run_dirs": run_dirs, "daemon_fds": fds, "rss_kib": rss}


def daemon_state(d):
    """For a stuck operation's report."""
    ps = subprocess.run([CLIS[0], "-H", f"unix://{d.socket}", "ps", "-a"], capture_output=True, text=True,
                        timeout=30).stdout
    shims = subprocess.run(["pgrep", "-af", f"dind[- ]shim.*{d.root}"], capture_output=True, text=True).stdout
    tail = "\n".join(d.log_text().splitlines()[-40:])
    return f"--- docker ps -a\n{ps}--- shims\n{shims}--- daemon log (tail)\n{tail}"


def soak(d, clients, ops, out=None):
    """Runs the soak against a started daemon with the test image; returns
    the report (a dict) and whether everything passed. out: where the
    figures are printed (stdout by default)."""
    out = out or sys.stdout
    cs = [Client(d, i) for i in range(clients)]
    problems = []
    for c in cs:
        c.cli("network", "create", c.net, until=time.monotonic() + LIMIT_S)

    def warm(c):  # two rounds: the allocator's arenas grow to their working size first
        for op in Client.OPS * 2:
            try:
                c.do(op)
            except Exception as e:  # noqa: BLE001 - every failure is reported
                problems.append(f"client {c.i} warm-up {op} failed: {e}")
    threads = [threading.Thread(target=warm, args=(c,)) for c in cs]
    [t.start() for t in threads]
    [t.join() for t in threads]
    time.sleep(1)
    base = snapshot(d)
    print(f"baseline after warm-up: {base}", file=out, flush=True)

    times = {op: [] for op in Client.OPS}
    lock = threading.Lock()

    def work(c):
        for k in range(ops):
            op = Client.OPS[(k + c.i) % len(Client.OPS)]
            try:
                ms = c.do(op)
                with lock:
                    times[op].append(ms)
            except Stuck as e:
                with lock:
                    problems.append(f"client {c.i} op {k} {op} HUNG: {e}\n{daemon_state(d)}")
                return  # its state is unknown: this client stops
            except Exception as e:  # noqa: BLE001 - every failure is reported
                with lock:
                    problems.append(f"client {c.i} op {k} {op} failed: {e}")
    t0 = time.monotonic()
    threads = [threading.Thread(target=work, args=(c,)) for c in cs]
    [t.start() for t in threads]
    [t.join() for t in threads]
    wall = time.monotonic() - t0
    for c in cs:
        c.cli("network", "rm", c.net, until=time.monotonic() + LIMIT_S)
    # The baseline had the clients' networks; the end has them gone, so
    # their bridges and rules are counted again with one network each.
    for c in cs:
        c.cli("network", "create", c.net, until=time.monotonic() + LIMIT_S)
    time.sleep(1)
    end = snapshot(d)
    for c in cs:
        c.cli("network", "rm", c.net, until=time.monotonic() + LIMIT_S)
    print(f"after {clients}x{ops} operations: {end}", file=out, flush=True)
    for key in ["mounts", "veths", "links", "nft_rules", "cgroups", "shims", "run_dirs", "daemon_fds"]:
        if end[key] > base[key]:
            problems.append(f"leaked {key}: {base[key]} after warm-up, {end[key]} at the end")
    if end["rss_kib"] > base["rss_kib"] * 1.10:
        problems.append(f"daemon RSS grew more than 10%: {base['rss_kib']} KiB -> {end['rss_kib']} KiB")
    report = {"clients": clients, "ops_per_client": ops, "wall_s": round(wall, 1),
              "done": sum(len(v) for v in times.values()), "baseline": base, "end": end,
              "ops": {op: {"n": len(v), "p50_ms": round(statistics.median(v), 1) if v else None,
                           "max_ms": round(max(v), 1) if v else None} for op, v in times.items()},
              "problems": problems}
    for op, s in report["ops"].items():
        print(f"  {op:14} n={s['n']:4}  p50={s['p50_ms']} ms  max={s['max_ms']} ms", file=out)
    print(f"  {report['done']} operations in {report['wall_s']} s", file=out)
    for p in problems:
        print(f"PROBLEM: {p}", file=out)
    return report, not problems
