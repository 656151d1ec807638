"""docker-compose 1.29 (Debian's) through a whole project life (issue #18):
up -d, ps, logs, exec, run --rm, down -v of three services on a user network
with a named volume, a published port and depends_on; nothing is left
behind afterwards."""
import subprocess
import textwrap

from ctrtest import assert_nothing_left_behind, cli_env, docker, state, wait_for

PROJECT = "cproj"
PORT = 18082


def compose(daemon, cwd, *args, check=True, timeout=120):
    env = dict(cli_env(daemon), COMPOSE_PROJECT_NAME=PROJECT)
    p = subprocess.run(["docker-compose", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    if check:
        assert p.returncode == 0, (args, p.stdout, p.stderr)
    return p


def ask(host):
    """A shell line reading the cache's answer from `host`: the server takes
    one connection at a time, so a client may come while it restarts."""
    return f"for i in 1 2 3 4 5 6 7 8 9 10; do nc {host} 6379 </dev/null 2>/dev/null && break; sleep 0.2; done"


def test_compose_project_life_leaves_nothing(daemon, image, tmp_path):
    (tmp_path / "docker-compose.yml").write_text(textwrap.dedent(f"""\
        version: "3.7"
        services:
          web:
            image: {image}
            command: ["httpd", "-f", "-p", "80", "-h", "/www"]
            ports: ["{PORT}:80"]
            volumes: ["data:/www"]
            networks: [front]
          cache:
            image: {image}
            command: ["sh", "-c", "while true; do echo cached | nc -l -p 6379; done"]
            networks:
              front:
                aliases: [kv]
          worker:
            image: {image}
            command: ["sh", "-c", "echo from-worker > /data/index.html; while true; do echo working; sleep 0.2; done"]
            volumes: ["data:/data"]
            networks: [front]
            depends_on: [web, cache]
        networks:
          front: {{}}
        volumes:
          data: {{}}
        """))
    try:
        up = compose(daemon, tmp_path, "up", "-d")
        err = up.stderr
        assert f'Creating network "{PROJECT}_front" with the default driver' in err, err
        assert f'Creating volume "{PROJECT}_data" with default driver' in err, err
        for svc in ("web", "cache", "worker"):
            assert f"Creating {PROJECT}_{svc}_1" in err and state(daemon, f"{PROJECT}_{svc}_1")["State"]["Running"]
        # depends_on: the worker started after both of its dependencies.
        started = {s: state(daemon, f"{PROJECT}_{s}_1")["State"]["StartedAt"] for s in ("web", "cache", "worker")}
        assert started["worker"] > started["web"] and started["worker"] > started["cache"], started

        ps = compose(daemon, tmp_path, "ps").stdout
        rows = {line.split()[0]: line for line in ps.splitlines()[2:] if line.strip()}
        assert sorted(rows) == [f"{PROJECT}_{s}_1" for s in ("cache", "web", "worker")], ps
        assert all(" Up " in r for r in rows.values()), ps
        assert f"0.0.0.0:{PORT}->80/tcp" in rows[f"{PROJECT}_web_1"], ps

        # The named volume carries the worker's file to the web server, and
        # the published port reaches it from the daemon's host.
        def served():
            p = daemon.in_netns("curl", "-s", "-m", "2", f"http://127.0.0.1:{PORT}/index.html",
                                capture_output=True, text=True)
            return p.stdout == "from-worker\n"
        wait_for(served, what="the page through the published port")

        wait_for(lambda: "working" in compose(daemon, tmp_path, "logs", "--no-color", "--tail=2", "worker").stdout,
                 what="the worker's logs")
        logs = compose(daemon, tmp_path, "logs", "--no-color", "--tail=2", "worker").stdout
        assert [line.split("|", 1)[1].strip() for line in logs.splitlines() if "|" in line] == ["working"] * 2, logs

        # exec in a service: the others by service name and by alias.
        out = compose(daemon, tmp_path, "exec", "-T", "web", "sh", "-c",
                      f"echo exec-ok; {ask('kv')}; {ask('cache')}; wget -qO- http://web/index.html")
        assert out.stdout == "exec-ok\ncached\ncached\nfrom-worker\n", (out.stdout, out.stderr)
        bad = compose(daemon, tmp_path, "exec", "-T", "web", "sh", "-c", "exit 7", check=False)
        assert bad.returncode == 7

        # run --rm: a one-off container of the service, on its network and
        # volume, gone afterwards.
        run = compose(daemon, tmp_path, "run", "--rm", "-T", "worker", "sh", "-c",
                      f"echo from-run; cat /data/index.html; {ask('kv')}")
        assert run.stdout == "from-run\nfrom-worker\ncached\n", (run.stdout, run.stderr)
        names = docker(daemon, "ps", "-a", "--format", "{{.Names}}").stdout.split()
        assert sorted(names) == [f"{PROJECT}_{s}_1" for s in ("cache", "web", "worker")], names

        down = compose(daemon, tmp_path, "down", "-v", "-t", "1")
        for what in (f"Removing {PROJECT}_worker_1", f"Removing {PROJECT}_web_1", f"Removing {PROJECT}_cache_1",
                     f"Removing network {PROJECT}_front", f"Removing volume {PROJECT}_data"):
            assert what in down.stderr, down.stderr
    finally:
        compose(daemon, tmp_path, "down", "-v", "-t", "0", check=False)
    assert docker(daemon, "ps", "-aq").stdout == ""
    assert PROJECT not in docker(daemon, "network", "ls", "--format", "{{.Name}}").stdout
    assert docker(daemon, "volume", "ls", "-q").stdout == ""
    assert_nothing_left_behind(daemon, image)
