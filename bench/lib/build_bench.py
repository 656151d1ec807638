"""bench/run build: the classic builder, ours against Debian's dockerd in one
run: a cold build (--no-cache) of a 10-step Dockerfile with a 50 MiB context,
the fully cached rebuild, and the rebuild after one small file changed (its
COPY and every later step run again)."""
import os
import pathlib
import shutil
import tempfile

from engine_cli import EngineCli

DOCKERFILE = """\
FROM bb:bench
ENV APP=/app
WORKDIR /app
COPY data/ /app/data/
RUN echo built > /app/built.txt
ARG VERSION=1
LABEL bench=build
COPY small.txt /app/small.txt
RUN echo "$VERSION" > /app/version
EXPOSE 8080
CMD ["sh", "-c", "echo /app/built.txt"]
"""


def make_context(ctx):
    (ctx / "data").mkdir(parents=True)
    for i in range(50):
        (ctx / "data" / f"blob{i:02d}.bin").write_bytes(os.urandom(1 << 20))
    (ctx / "small.txt").write_text("v0\n")
    (ctx / "Dockerfile").write_text(DOCKERFILE)


def scenario_build(runs, bin_dir, busybox_tar, engines):
    rows = []
    work = pathlib.Path(tempfile.mkdtemp(prefix="dind-bench-build-"))
    try:
        tar = work / "busybox.tar"
        busybox_tar(str(tar))
        ctx = work / "ctx"
        make_context(ctx)
        for label, make in engines:
            with make() as d:
                cli = EngineCli(d.socket, work, DOCKER_BUILDKIT="0")
                docker = cli.run

                def timed_build(*a):
                    return cli.timed("build", *a, "-t", "bench/built:1", str(ctx))

                docker("import", str(tar), "bb:bench")
                cold, cached, changed = [], [], []
                timed_build()  # warm: the first run pays for page cache and the network
                for r in range(runs):
                    cold.append(timed_build("--no-cache"))
                    cached.append(timed_build())
                    (ctx / "small.txt").write_text(f"{label} {r}\n")
                    changed.append(timed_build())
                rows.append((f"{label} cold build, 10 steps, 50 MiB context (ms)", cold))
                rows.append((f"{label} cached rebuild (ms)", cached))
                rows.append((f"{label} rebuild after one file changed (ms)", changed))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return rows, None
