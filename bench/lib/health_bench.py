"""bench/run health: the engine's CPU time per 1000 health probes, ours
(native exec through the shim) against Debian's dockerd (runc exec through
containerd) in one run. 10 containers probe every 100 ms with a command that
appends a line to a file on a bind mount, so the probes that really ran are
counted on the host; the CPU is the engine's processes' user+system time,
their reaped children included (daemon and shims; dockerd, containerd and
its shims)."""
import os
import pathlib
import shutil
import tempfile
import time

from engine_cli import EngineCli

CONTAINERS = 10
WINDOW_S = 6.0


def cpu_ms(pids):
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # utime stime cutime cstime: fields 14-17 (1-based), 12-15 after the name
        total += sum(int(f) for f in fields[11:15])
    return total * 1000.0 / tick


def probes(counts):
    return sum(len(p.read_bytes()) for p in counts.iterdir() if p.is_file())


def scenario_health(runs, busybox_tar, engines):
    rows = []
    work = pathlib.Path(tempfile.mkdtemp(prefix="dind-bench-health-"))
    try:
        tar = work / "busybox.tar"
        busybox_tar(str(tar))
        for label, make in engines:
            counts = work / f"counts-{label}"
            counts.mkdir()
            with make() as d:
                docker = EngineCli(d.socket, work).out

                docker("import", str(tar), "bb:bench")
                for i in range(CONTAINERS):
                    docker("run", "-d", "--network", "none", "-v", f"{counts}:/c", "--health-cmd",
                           f"echo -n . >> /c/{i}", "--health-interval", "100ms", "--health-retries", "1",
                           "bb:bench", "sleep", "3600")
                time.sleep(2.0)  # every container probing
                per_1000 = []
                for _ in range(runs):
                    pids = d.pids()
                    c0, n0 = cpu_ms(pids), probes(counts)
                    time.sleep(WINDOW_S)
                    c1, n1 = cpu_ms(pids), probes(counts)
                    per_1000.append((c1 - c0) / max(1, n1 - n0) * 1000.0)
                rows.append((f"{label} engine CPU per 1000 health probes (ms)", per_1000))
                ids = docker("ps", "-aq").split()
                if ids:
                    docker("rm", "-f", *ids)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return rows, None
