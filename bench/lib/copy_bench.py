"""bench/run copy: docker cp of a 200 MiB directory (200 files of 1 MiB)
into and out of a running container, and docker commit of a container
holding those 200 MiB of changes; ours against Debian's dockerd in one run
(docker 20.10 CLI)."""
import os
import pathlib
import shutil
import tempfile

from engine_cli import EngineCli

FILES, SIZE = 200, 1 << 20


def scenario_copy(runs, busybox_tar, engines):
    rows = []
    work = pathlib.Path(tempfile.mkdtemp(prefix="dind-bench-copy-"))
    try:
        tar = work / "busybox.tar"
        busybox_tar(str(tar))
        src = work / "data"
        src.mkdir()
        for i in range(FILES):
            (src / f"blob{i:03d}.bin").write_bytes(os.urandom(SIZE))
        for label, make in engines:
            with make() as d:
                cli = EngineCli(d.socket, work)
                docker, timed = cli.run, cli.timed
                docker("import", "-c", 'CMD ["sh"]', str(tar), "bb:bench")
                cp_in, cp_out, commits = [], [], []
                for r in range(runs + 1):  # the first round warms the page cache
                    name = f"bench-cp-{r}"
                    docker("run", "-d", "--name", name, "bb:bench", "sleep", "600")
                    t_in = timed("cp", str(src), f"{name}:/data")
                    out = work / f"out-{label}-{r}"
                    t_out = timed("cp", f"{name}:/data", str(out))
                    assert len(os.listdir(out)) == FILES
                    shutil.rmtree(out)
                    t_commit = timed("commit", name, f"bench/committed:{r}")
                    docker("rm", "-f", name)
                    docker("rmi", f"bench/committed:{r}")
                    if r > 0:
                        cp_in.append(t_in)
                        cp_out.append(t_out)
                        commits.append(t_commit)
                rows.append((f"{label} cp 200 MiB directory in (ms)", cp_in))
                rows.append((f"{label} cp 200 MiB directory out (ms)", cp_out))
                rows.append((f"{label} commit of 200 MiB of changes (ms)", commits))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return rows, None
