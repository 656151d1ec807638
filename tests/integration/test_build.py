"""docker build (the classic builder behind POST /build) with the real CLIs
(28 without buildx, and 20.10 with DOCKER_BUILDKIT=0), docker-compose and
the python SDK: steps, the cache, multi-stage builds, COPY/ADD semantics,
failures and what they leave behind."""
import io
import json
import os
import pathlib
import signal
import subprocess
import tarfile
import time

import pytest

from ctrtest import CLIS, api, cli_env, docker, import_busybox, netns_daemon, wait_for

BASE = "busybox:test"


@pytest.fixture(scope="module")
def daemon(tmp_path_factory):
    with netns_daemon("dind-build-") as d:
        import_busybox(d, tmp_path_factory.mktemp("bb") / "busybox.tar", BASE)
        yield d


def write(ctx, files):
    ctx.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        p = ctx / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return ctx


def build(d, ctx, *args, cli=None, check=True, stdin=None, timeout=180):
    env = cli_env(d)
    env["DOCKER_BUILDKIT"] = "0"
    p = subprocess.run([cli or CLIS[0], "build", *args, str(ctx)], capture_output=True, text=True,
                       env=env, input=stdin, timeout=timeout)
    if check and p.returncode != 0:
        raise AssertionError(f"build {args}: rc={p.returncode}\n{p.stdout}\n{p.stderr}\n" + d.log_text()[-3000:])
    return p


def inspect(d, name):
    return json.loads(docker(d, "image", "inspect", name).stdout)[0]


def no_containers_left(d):
    assert docker(d, "ps", "-aq").stdout.split() == []
    mounts = [line for line in open("/proc/self/mountinfo") if str(d.root) in line]
    assert mounts == [], mounts


@pytest.mark.parametrize("cli", CLIS)
def test_steps_run_and_dockerignore(daemon, tmp_path, cli):
    """The capture's Dockerfile: the step lines as dockerd prints them, the
    image runs, .dockerignore keeps a file out of COPY ."""
    ctx = write(tmp_path / "ctx", {
        "Dockerfile": 'FROM busybox:test\nENV GREETING=hello\nCOPY hello.txt /hello.txt\n'
                      'COPY . /ctx/\nLABEL spy=1\nCMD ["cat", "/hello.txt"]\n',
        "hello.txt": "hello from build ctx\n",
        "ignored.txt": "should not be copied\n",
        "sub/kept.txt": "kept\n",
        ".dockerignore": "ignored.txt\n",
    })
    tag = f"built/steps:{os.path.basename(cli)}"
    p = build(daemon, ctx, "--no-cache", "-t", tag, cli=cli)
    out = p.stdout
    assert "Step 1/6 : FROM busybox:test" in out
    assert "Step 2/6 : ENV GREETING=hello" in out
    assert " ---> Running in " in out and "Removing intermediate container " in out
    assert "Step 6/6 : CMD [\"cat\", \"/hello.txt\"]" in out
    assert "Successfully built " in out and f"Successfully tagged {tag}" in out
    run = docker(daemon, "run", "--rm", tag)
    assert run.stdout == "hello from build ctx\n"
    listing = docker(daemon, "run", "--rm", tag, "sh", "-c", "ls /ctx /ctx/sub; echo $GREETING").stdout.split()
    assert "ignored.txt" not in listing and "hello.txt" in listing and "kept.txt" in listing
    assert listing[-1] == "hello"
    img = inspect(daemon, tag)
    assert img["Config"]["Cmd"] == ["cat", "/hello.txt"]
    assert img["Config"]["Labels"] == {"spy": "1"}
    assert "GREETING=hello" in img["Config"]["Env"]
    hist = json.loads(docker(daemon, "image", "inspect", "--format", "{{json .RootFS.Layers}}", tag).stdout)
    assert len(hist) == len(inspect(daemon, BASE)["RootFS"]["Layers"]) + 2
    history = docker(daemon, "history", "--no-trunc", "--format", "{{.CreatedBy}}", tag).stdout.splitlines()
    assert history[0] == '/bin/sh -c #(nop)  CMD ["cat" "/hello.txt"]'
    assert history[1] == "/bin/sh -c #(nop)  LABEL spy=1"
    assert history[3].startswith("/bin/sh -c #(nop) COPY file:") and history[3].endswith(" in /hello.txt ")
    assert history[4] == "/bin/sh -c #(nop)  ENV GREETING=hello"
    no_containers_left(daemon)


def test_cache_reuse_and_invalidation(daemon, tmp_path):
    existing = set(docker(daemon, "images", "-aq", "--no-trunc").stdout.split())
    ctx = write(tmp_path / "ctx", {
        "Dockerfile": "FROM busybox:test\nRUN echo one > /one\nCOPY a.txt /a.txt\nRUN cat /a.txt > /copy\n"
                      "COPY b.txt /b.txt\nCMD cat /copy /b.txt\n",
        "a.txt": "a1\n", "b.txt": "b1\n",
    })
    first = build(daemon, ctx, "-t", "built/cache:1")
    assert "Using cache" not in first.stdout
    image1 = inspect(daemon, "built/cache:1")["Id"]
    again = build(daemon, ctx, "-t", "built/cache:2")
    assert again.stdout.count(" ---> Using cache") == 5, again.stdout
    assert "Running in" not in again.stdout
    assert inspect(daemon, "built/cache:2")["Id"] == image1
    (ctx / "b.txt").write_text("b2\n")
    changed = build(daemon, ctx, "-t", "built/cache:3")
    assert changed.stdout.count(" ---> Using cache") == 3, changed.stdout
    assert docker(daemon, "run", "--rm", "built/cache:3").stdout == "a1\nb2\n"
    # The same content under a new mtime is still a hit.
    os.utime(ctx / "a.txt", (1, 1))
    assert build(daemon, ctx, "-t", "built/cache:4").stdout.count(" ---> Using cache") == 5
    nocache = build(daemon, ctx, "--no-cache", "-t", "built/cache:5")
    assert "Using cache" not in nocache.stdout
    # Intermediate images are hidden from docker images, shown with -a.
    shown = docker(daemon, "images", "-q").stdout.split()
    every = docker(daemon, "images", "-aq").stdout.split()
    assert len(every) > len(shown)
    removed = docker(daemon, "rmi", "built/cache:1", "built/cache:2", "built/cache:3", "built/cache:4",
                     "built/cache:5").stdout
    # The intermediate images go with the last image built on them.
    assert removed.count("Deleted: ") >= 10, removed
    left = set(docker(daemon, "images", "-aq", "--no-trunc").stdout.split())
    assert left == existing, removed
    no_containers_left(daemon)


@pytest.mark.parametrize("cli", CLIS)
def test_build_args_run_output_and_history(daemon, tmp_path, cli):
    ctx = write(tmp_path / "ctx", {
        "Dockerfile": 'FROM busybox:test\nARG WHO=world\nRUN echo "built for $WHO" > /built.txt && echo "said $WHO"\n'
                      'CMD ["cat", "/built.txt"]\n'})
    p = build(daemon, ctx, "--network", "none", "--build-arg", "WHO=spy", "-t", "built/args:1", cli=cli)
    assert "said spy" in p.stdout
    assert docker(daemon, "run", "--rm", "built/args:1").stdout == "built for spy\n"
    history = docker(daemon, "history", "--no-trunc", "--format", "{{.CreatedBy}}", "built/args:1").stdout.splitlines()
    assert history[1] == '|1 WHO=spy /bin/sh -c echo "built for $WHO" > /built.txt && echo "said $WHO"'
    assert history[2] == "/bin/sh -c #(nop)  ARG WHO=world"
    # The argument is not in the image's environment.
    assert not any(e.startswith("WHO=") for e in inspect(daemon, "built/args:1")["Config"]["Env"])
    default = build(daemon, ctx, "-t", "built/args:2", cli=cli)
    assert "said world" in default.stdout
    docker(daemon, "rmi", "built/args:1", "built/args:2")


@pytest.mark.parametrize("cli", CLIS)
def test_failing_run_reports_code_and_leaves_nothing(daemon, tmp_path, cli):
    ctx = write(tmp_path / "ctx", {"Dockerfile": "FROM busybox:test\nRUN echo last words; exit 3\n"})
    p = build(daemon, ctx, "-t", "built/fail:1", cli=cli, check=False)
    assert p.returncode == 3, p.stdout + p.stderr
    assert "last words" in p.stdout
    assert "The command '/bin/sh -c echo last words; exit 3' returned a non-zero code: 3" in p.stdout + p.stderr
    no_containers_left(daemon)
    assert docker(daemon, "images", "-q", "built/fail:1").stdout == ""


def test_dockerfile_from_stdin_and_quiet(daemon, tmp_path):
    dockerfile = "FROM busybox:test\nRUN echo stdin > /from-stdin\n"
    env = cli_env(daemon)
    env["DOCKER_BUILDKIT"] = "0"
    p = subprocess.run([CLIS[0], "build", "-t", "built/stdin:1", "-"], input=dockerfile, capture_output=True,
                       text=True, env=env, timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr
    assert docker(daemon, "run", "--rm", "built/stdin:1", "cat", "/from-stdin").stdout == "stdin\n"
    ctx = write(tmp_path / "ctx", {"Dockerfile": "FROM busybox:test\nLABEL quiet=1\n"})
    q = build(daemon, ctx, "-q", "-t", "built/quiet:1")
    ident = q.stdout.strip()
    assert ident.startswith("sha256:") and ident == inspect(daemon, "built/quiet:1")["Id"]
    # -f - with a context: the Dockerfile travels in the context.
    f = subprocess.run([CLIS[0], "build", "-q", "-f", "-", "-t", "built/quiet:2", str(ctx)],
                       input="FROM busybox:test\nLABEL other=1\n", capture_output=True, text=True, env=env, timeout=120)
    assert f.returncode == 0, f.stderr
    assert inspect(daemon, "built/quiet:2")["Config"]["Labels"] == {"other": "1"}
    docker(daemon, "rmi", "built/stdin:1", "built/quiet:1", "built/quiet:2")


def test_multi_stage_target_and_metadata(daemon, tmp_path):
    ctx = write(tmp_path / "ctx", {
        "Dockerfile": """\
ARG BASE=busybox:test
FROM ${BASE} AS builder
ARG GREETING=hi
WORKDIR /src
RUN echo "$GREETING from builder" > out.txt && mkdir -p /src/sub && echo deep > /src/sub/deep
FROM busybox:test AS unused
RUN exit 7
FROM $BASE
ARG BASE
ENV APP_HOME=/app
WORKDIR $APP_HOME
COPY --from=builder /src/out.txt ./
COPY --from=0 /src/sub ./sub
COPY --chown=app:app greeting.txt owned.txt
USER app
EXPOSE 8080/tcp 9090
VOLUME ["/data"]
STOPSIGNAL SIGUSR1
HEALTHCHECK --interval=5s --timeout=2s --retries=4 CMD test -f /app/out.txt
ONBUILD RUN echo triggered > /tmp/onbuild
MAINTAINER someone@example.com
ENTRYPOINT ["cat"]
CMD ["/app/out.txt"]
""",
        "greeting.txt": "owned\n"})
    p = build(daemon, ctx, "-t", "built/multi:1", "--build-arg", "GREETING=hello")
    assert "RUN exit 7" not in p.stdout  # the stage nobody needs is skipped
    assert docker(daemon, "run", "--rm", "built/multi:1").stdout == "hello from builder\n"
    info = docker(daemon, "run", "--rm", "--entrypoint", "sh", "built/multi:1", "-c",
                  "id -u; pwd; cat sub/deep; stat -c '%u:%g %a' owned.txt /app/out.txt").stdout.split("\n")
    assert info[:3] == ["1000", "/app", "deep"]
    assert info[3] == "1000:1000 644" and info[4].startswith("0:0 ")
    cfg = inspect(daemon, "built/multi:1")["Config"]
    assert cfg["User"] == "app" and cfg["WorkingDir"] == "/app"
    assert cfg["ExposedPorts"] == {"8080/tcp": {}, "9090/tcp": {}}
    assert cfg["Volumes"] == {"/data": {}}
    assert cfg["StopSignal"] == "SIGUSR1"
    assert cfg["Healthcheck"] == {"Test": ["CMD-SHELL", "test -f /app/out.txt"], "Interval": 5000000000,
                                  "Timeout": 2000000000, "Retries": 4}
    assert cfg["OnBuild"] == ["RUN echo triggered > /tmp/onbuild"]
    assert cfg["Entrypoint"] == ["cat"] and cfg["Cmd"] == ["/app/out.txt"]
    assert inspect(daemon, "built/multi:1")["Author"] == "someone@example.com"
    history = docker(daemon, "history", "--no-trunc", "--format", "{{.CreatedBy}}", "built/multi:1").stdout
    assert '/bin/sh -c #(nop)  HEALTHCHECK &{["CMD-SHELL" "test -f /app/out.txt"] "5s" "2s" "0s" \'\\x04\'}' in history
    assert "/bin/sh -c #(nop) WORKDIR /app" in history
    # --target stops at a stage; the image of that stage is tagged.
    build(daemon, ctx, "--target", "builder", "-t", "built/multi:builder")
    out = docker(daemon, "run", "--rm", "built/multi:builder", "cat", "/src/out.txt").stdout
    assert out == "hi from builder\n"
    # ONBUILD fires in a child build.
    child = write(tmp_path / "child", {"Dockerfile": "FROM built/multi:1\n"})
    c = build(daemon, child, "-t", "built/child:1")
    assert "# Executing 1 build trigger" in c.stdout
    assert docker(daemon, "run", "--rm", "built/child:1", "/tmp/onbuild").stdout == "triggered\n"
    assert inspect(daemon, "built/child:1")["Config"]["OnBuild"] is None
    missing = build(daemon, ctx, "--target", "nosuch", check=False)
    assert missing.returncode != 0 and "failed to reach build target nosuch" in missing.stderr
    docker(daemon, "rmi", "built/child:1", "built/multi:1", "built/multi:builder")
    no_containers_left(daemon)


def test_add_archive_heredocs_and_dirs(daemon, tmp_path):
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    with tarfile.open(ctx / "bundle.tar.gz", "w:gz") as t:
        data = b"from the archive\n"
        info = tarfile.TarInfo("pkg/file.txt")
        info.size = len(data)
        t.addfile(info, io.BytesIO(data))
    write(ctx, {
        "Dockerfile": """\
FROM busybox:test
ADD bundle.tar.gz /opt/
COPY dir /copied/
COPY dir/a.txt dir/b.txt /two/
COPY <<EOF /etc/greeting
hello $HOSTNAME_UNSET heredoc
EOF
RUN <<EOT
echo first > /script-out
echo second >> /script-out
EOT
COPY *.md /docs/
""",
        "dir/a.txt": "a\n", "dir/b.txt": "b\n", "dir/nested/c.txt": "c\n", "README.md": "readme\n"})
    build(daemon, ctx, "-t", "built/add:1")
    out = docker(daemon, "run", "--rm", "built/add:1", "sh", "-c",
                 "cat /opt/pkg/file.txt; ls /copied; ls /copied/nested; ls /two; cat /etc/greeting /script-out; "
                 "ls /docs").stdout
    assert out.split("\n") == ["from the archive", "a.txt", "b.txt", "nested", "c.txt", "a.txt", "b.txt",
                               "hello  heredoc", "first", "second", "README.md", ""]
    docker(daemon, "rmi", "built/add:1")


@pytest.mark.parametrize("dockerfile,message", [
    ("FROM busybox:test\nFOO bar\n", "dockerfile parse error line 2: unknown instruction: FOO"),
    ("RUN echo no from\n", "no build stage in current context"),
    ("FROM busybox:test\nCOPY missing.txt /\n", "file not found in build context or excluded by .dockerignore"),
    ("FROM busybox:test\nCOPY ../outside /\n", "COPY failed: forbidden path outside the build context: ../outside ()"),
    ("FROM busybox:test\nCOPY escape/passwd /x\n", "file not found in build context"),
    ("FROM busybox:test\nCOPY --chown=nosuchuser a.txt /\n", "unable to convert uid/gid chown string"),
    ("FROM busybox:test\nCOPY a.txt b.txt /dest\n", "the destination must be a directory and end with a /"),
    ("FROM nosuch/image:1\n", "nosuch/image"),
    ("FROM busybox:test\nRUN --mount=type=cache,target=/x true\n", "Unknown flag: mount"),
])
def test_bad_dockerfiles(daemon, tmp_path, dockerfile, message):
    ctx = write(tmp_path / "ctx", {"Dockerfile": dockerfile, "a.txt": "a\n", "b.txt": "b\n"})
    (ctx / "escape").symlink_to("/etc")
    p = build(daemon, ctx, "-t", "built/bad:1", check=False)
    assert p.returncode != 0
    assert message in p.stdout + p.stderr, p.stdout + p.stderr
    no_containers_left(daemon)


def test_client_leaving_stops_the_build(daemon, tmp_path):
    ctx = write(tmp_path / "ctx", {"Dockerfile": "FROM busybox:test\nRUN echo started; sleep 60\n"})
    env = cli_env(daemon)
    env["DOCKER_BUILDKIT"] = "0"
    proc = subprocess.Popen([CLIS[0], "build", "-t", "built/left:1", str(ctx)], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=env)
    seen = ""
    deadline = time.monotonic() + 60
    while "started" not in seen and time.monotonic() < deadline:
        seen += proc.stdout.readline()
    assert "started" in seen
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    wait_for(lambda: docker(daemon, "ps", "-aq").stdout.split() == [], timeout=20, what="the build's container to go")
    no_containers_left(daemon)
    assert docker(daemon, "images", "-q", "built/left:1").stdout == ""


def test_buildkit_clients_get_a_clear_message(daemon):
    code, body = api(daemon, "POST", "/build?version=2")
    assert code == 400 and b"DOCKER_BUILDKIT=0" in body
    code, body = api(daemon, "POST", "/session")
    assert code == 400 and b"DOCKER_BUILDKIT=0" in body
    code, body = api(daemon, "POST", "/build?buildargs=%7Bbad")
    assert code == 400 and b"buildargs" in body


def test_python_sdk_and_compose(daemon, tmp_path):
    ctx = write(tmp_path / "app", {
        "Dockerfile": "FROM busybox:test\nARG FLAVOUR=plain\nRUN echo $FLAVOUR > /flavour\nCMD cat /flavour\n",
        "docker-compose.yml": "version: '3'\nservices:\n  web:\n    build:\n      context: .\n"
                              "      args:\n        FLAVOUR: composed\n    image: built/compose:1\n"})
    env = {k: v for k, v in os.environ.items() if k not in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")}
    script = f"""
import docker
c = docker.DockerClient(base_url="unix://{daemon.socket}")
img, logs = c.images.build(path="{ctx}", tag="built/sdk:1", buildargs={{"FLAVOUR": "sdk"}}, rm=True)
print(img.id, any("Successfully built" in l.get("stream", "") for l in logs))
try:
    c.images.build(fileobj=__import__("io").BytesIO(b"FROM busybox:test\\nRUN exit 5\\n"), rm=True)
except docker.errors.BuildError as e:
    print("failed:", e.msg)
"""
    p = subprocess.run(["/usr/bin/python3", "-c", script], capture_output=True, text=True, env=env, timeout=120)
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert lines[0].startswith("sha256:") and lines[0].endswith(" True")
    assert lines[1] == "failed: The command '/bin/sh -c exit 5' returned a non-zero code: 5"
    assert docker(daemon, "run", "--rm", "built/sdk:1").stdout == "sdk\n"
    cenv = dict(env, DOCKER_HOST=f"unix://{daemon.socket}", COMPOSE_PROJECT_NAME="buildtest")
    c = subprocess.run(["docker-compose", "build"], cwd=ctx, capture_output=True, text=True, env=cenv, timeout=180)
    assert c.returncode == 0, c.stdout + c.stderr
    assert docker(daemon, "run", "--rm", "built/compose:1").stdout == "composed\n"
    docker(daemon, "rmi", "built/sdk:1", "built/compose:1")
    no_containers_left(daemon)


REFERENCE_DOCKERFILE = """\
ARG BASE=busybox:test
FROM $BASE AS builder
ARG GREETING=hi
ENV STAGE=builder
WORKDIR /src
RUN echo "$GREETING from builder" > out.txt
FROM ${BASE}
ARG BASE
MAINTAINER someone@example.com
ENV APP_HOME=/app PATH=/usr/bin:/bin
LABEL org.example.name="the app" version=1
WORKDIR $APP_HOME
COPY --from=builder /src/out.txt ./
COPY --chown=app:app greeting.txt owned.txt
ADD greeting.txt /added/
SHELL ["/bin/sh", "-e", "-c"]
RUN echo shell > /app/shell.txt
USER app
EXPOSE 8080/tcp 9090
VOLUME ["/data"]
STOPSIGNAL SIGUSR1
HEALTHCHECK --interval=5s --timeout=2s --retries=4 CMD test -f /app/out.txt
ONBUILD RUN echo triggered > /tmp/onbuild
ENTRYPOINT ["cat"]
CMD ["/app/out.txt"]
"""


def normalized_image(docker_fn, name):
    """What both engines must agree on: the history (the COPY/ADD content
    hashes aside, which dockerd computes with its tarsum), the number of
    layers, and the config."""
    import re
    info = json.loads(docker_fn("image", "inspect", name))[0]
    history = json.loads("[" + ",".join(docker_fn("history", "--no-trunc", "--format", "{{json .}}", name)
                                        .splitlines()) + "]")
    # (Sizes are not compared: dockerd counts a layer's file bytes, we the tar's.)
    steps = [re.sub(r"(file|dir|multi):[0-9a-f]{64}", r"\1:HASH", h["CreatedBy"]) for h in history]
    cfg = {k: v for k, v in info["Config"].items() if k not in ("Image", "Hostname")}
    ccmd = info.get("ContainerConfig", {}).get("Cmd")
    ccmd = [re.sub(r"(file|dir|multi):[0-9a-f]{64}", r"\1:HASH", c) for c in ccmd or []]
    return {"steps": steps, "config": cfg, "container_cmd": ccmd, "author": info["Author"],
            "layers": len(info["RootFS"]["Layers"])}


@pytest.mark.skipif(not os.path.exists("/usr/sbin/dockerd"), reason="Debian's dockerd is not installed")
def test_same_image_as_dockerd_classic_builder(daemon, tmp_path):
    """The reference: Debian's dockerd 20.10 builds the same Dockerfile from
    the same base in the same run; history, layers and config must match."""
    import sys
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "bench" / "lib"))
    from dockerd import Dockerd
    ctx = write(tmp_path / "ctx", {"Dockerfile": REFERENCE_DOCKERFILE, "greeting.txt": "owned\n"})
    ours = lambda *a: docker(daemon, *a, cli="/usr/bin/docker").stdout  # noqa: E731  (API 1.41: ContainerConfig)
    build(daemon, ctx, "--network", "none", "-t", "ref/app:1", "--build-arg", "GREETING=hello", cli="/usr/bin/docker")
    mine = normalized_image(ours, "ref/app:1")
    with Dockerd() as d:
        env = {"PATH": os.environ["PATH"], "DOCKER_HOST": f"unix://{d.socket}", "DOCKER_BUILDKIT": "0",
               "DOCKER_CONFIG": str(tmp_path)}

        def theirs(*a):
            p = subprocess.run(["/usr/bin/docker", *a], env=env, capture_output=True, text=True, timeout=180)
            assert p.returncode == 0, p.stdout + p.stderr
            return p.stdout
        bb = tmp_path / "bb.tar"
        docker(daemon, "save", "-o", str(bb), BASE)
        theirs("load", "-i", str(bb))
        theirs("build", "--network", "none", "-t", "ref/app:1", "--build-arg", "GREETING=hello", str(ctx))
        reference = normalized_image(theirs, "ref/app:1")
    assert mine["steps"] == reference["steps"]
    assert mine["config"] == reference["config"]
    assert mine["container_cmd"] == reference["container_cmd"]
    assert (mine["author"], mine["layers"]) == (reference["author"], reference["layers"])
    docker(daemon, "rmi", "ref/app:1")


def test_cache_from_a_loaded_image(daemon, tmp_path):
    """CI's pattern: the previous image comes back without its intermediate
    images (docker load, or a pull), and --cache-from reuses its steps."""
    ctx = write(tmp_path / "ctx", {
        "Dockerfile": "FROM busybox:test\nENV MODE=cached\nCOPY a.txt /a.txt\nRUN cat /a.txt > /b.txt\n"
                      "WORKDIR /w\nCMD [\"cat\", \"/b.txt\"]\n",
        "a.txt": "from cache\n"})
    build(daemon, ctx, "-t", "built/cachefrom:1")
    archive = tmp_path / "img.tar"
    docker(daemon, "save", "-o", str(archive), "built/cachefrom:1")
    docker(daemon, "rmi", "built/cachefrom:1")
    docker(daemon, "load", "-i", str(archive))
    plain = build(daemon, ctx, "-t", "built/cachefrom:plain")
    assert "Using cache" not in plain.stdout
    docker(daemon, "rmi", "built/cachefrom:plain")
    cached = build(daemon, ctx, "--cache-from", "built/cachefrom:1", "-t", "built/cachefrom:2")
    assert cached.stdout.count(" ---> Using cache") == 5, cached.stdout
    assert "Running in" not in cached.stdout
    assert docker(daemon, "run", "--rm", "built/cachefrom:2").stdout == "from cache\n"
    mine, source = inspect(daemon, "built/cachefrom:2"), inspect(daemon, "built/cachefrom:1")
    assert mine["RootFS"]["Layers"] == source["RootFS"]["Layers"]
    assert mine["Config"]["Cmd"] == ["cat", "/b.txt"] and mine["Config"]["WorkingDir"] == "/w"
    # A changed file: the cache holds until its COPY.
    (ctx / "a.txt").write_text("changed\n")
    partly = build(daemon, ctx, "--cache-from", "built/cachefrom:1", "-t", "built/cachefrom:3")
    assert partly.stdout.count(" ---> Using cache") == 1, partly.stdout
    assert docker(daemon, "run", "--rm", "built/cachefrom:3").stdout == "changed\n"
    docker(daemon, "rmi", "built/cachefrom:1", "built/cachefrom:2", "built/cachefrom:3")
    no_containers_left(daemon)


def test_builder_prune_drops_only_what_nothing_holds(daemon, tmp_path):
    docker(daemon, "builder", "prune", "-f")  # what other tests left
    ctx = write(tmp_path / "ctx", {"Dockerfile": "FROM busybox:test\nCOPY a.txt /a\nRUN echo step > /s\n",
                                   "a.txt": "kept\n"})
    build(daemon, ctx, "-t", "built/prune:kept")
    failing = write(tmp_path / "failing", {"Dockerfile": "FROM busybox:test\nCOPY a.txt /a\nENV LEFT=over\nRUN exit 1\n",
                                           "a.txt": "orphan\n"})
    assert build(daemon, failing, check=False).returncode == 1
    orphans = [i for i in docker(daemon, "images", "-aq", "--no-trunc").stdout.split()
               if docker(daemon, "image", "inspect", "--format", "{{.Parent}}", i).stdout.strip()
               and not json.loads(docker(daemon, "image", "inspect", i).stdout)[0]["RepoTags"]]
    p = docker(daemon, "builder", "prune", "-f")
    assert "Total reclaimed space:" in p.stdout, p.stdout
    left = docker(daemon, "images", "-aq", "--no-trunc").stdout.split()
    # The failed build's two steps are gone; the tagged image and its steps stay.
    gone = [o for o in orphans if o not in left]
    assert len(gone) == 2, (orphans, left, p.stdout)
    assert all(g[7:19] in p.stdout for g in gone)
    again = build(daemon, ctx, "-t", "built/prune:kept")
    assert again.stdout.count(" ---> Using cache") == 2
    code, body = api(daemon, "POST", "/build/prune")
    assert code == 200 and json.loads(body) == {"CachesDeleted": None, "SpaceReclaimed": 0}
    docker(daemon, "rmi", "built/prune:kept")


def test_streams_outlive_the_write_deadline(tmp_path):
    """A streamed answer (a build, a followed log) lasts longer than the
    server's write deadline: that deadline bounds each write, not the
    stream. (The disconnect watch once inherited it: builds and `logs -f`
    ended with "unexpected EOF" after 120 s.)"""
    with netns_daemon("dind-build-long-", env={"DIND_WRITE_TIMEOUT_MS": "1500", "DIND_BODY_TIMEOUT_MS": "1500",
                                                   "DIND_HEADER_TIMEOUT_MS": "1500"}) as d:
        import_busybox(d, tmp_path / "bb.tar", BASE)
        ctx = write(tmp_path / "ctx", {"Dockerfile": "FROM busybox:test\nRUN sleep 4; echo slept\n"})
        p = build(d, ctx, "-t", "built/long:1")
        assert "slept" in p.stdout and "Successfully tagged built/long:1" in p.stdout
        docker(d, "run", "-d", "--name", "ticker", BASE, "sh", "-c", "for i in 1 2 3 4 5 6; do echo t$i; sleep 0.7; done")
        logs = docker(d, "logs", "-f", "ticker", timeout=30).stdout.split()
        assert logs == ["t1", "t2", "t3", "t4", "t5", "t6"]
        docker(d, "rm", "-f", "ticker")


def test_non_ascii_names_survive_a_commit(daemon, tmp_path):
    """Debian's ca-certificates links 'NetLock_Arany_=Class_Gold=_Főtanúsítvány.pem':
    names are bytes through the layer tar (the daemon's locale is C)."""
    ctx = write(tmp_path / "ctx", {"Dockerfile": "FROM busybox:test\n"
                                   "RUN echo x > '/Főtanúsítvány.pem' && ln -s 'Főtanúsítvány.pem' /link && "
                                   "printf '\\\\377name' | xargs -0 touch\n"})
    build(daemon, ctx, "-t", "built/utf8:1")
    out = docker(daemon, "run", "--rm", "built/utf8:1", "sh", "-c", "cat /link; ls / | grep -c name").stdout
    assert out == "x\n1\n"
    docker(daemon, "rmi", "built/utf8:1")
