"""docker events (issue #18): one bus in the engine; container, image,
network and volume events in dockerd's JSON, the kept history for --since,
--until, filters and live streams, with both CLIs."""
import json
import subprocess
import time

import pytest

from ctrtest import CLIS, api, cli_env, docker, wait_for


def replay(daemon, since, *filters, cli=None):
    """The events from `since` until now, as dicts."""
    until = f"{time.time() + 0.2:.3f}"
    time.sleep(0.3)
    args = ["events", "--since", since, "--until", until, "--format", "{{json .}}"]
    for f in filters:
        args += ["--filter", f]
    out = docker(daemon, *args, cli=cli, timeout=20).stdout
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def actions(events, kind=None):
    return [e["Action"] for e in events if kind is None or e["Type"] == kind]


@pytest.mark.parametrize("cli", CLIS)
def test_container_life_in_events_with_dockerd_fields(daemon, image, cli):
    t0 = f"{time.time():.3f}"
    name = "ev-life" + str(len(cli))
    docker(daemon, "run", "--name", name, "--label", "evspy=1", image, "sh", "-c", "exit 3", check=False, cli=cli)
    docker(daemon, "rm", name, cli=cli)
    events = replay(daemon, t0, "label=evspy=1", cli=cli)
    assert actions(events) == ["create", "attach", "start", "die", "destroy"], events
    die = events[3]
    assert die["status"] == "die" and die["from"] == image and die["Type"] == "container"
    assert die["Actor"]["Attributes"] == {"exitCode": "3", "image": image, "name": name, "evspy": "1"}
    assert die["id"] == die["Actor"]["ID"] and len(die["id"]) == 64 and die["scope"] == "local"
    assert die["time"] == die["timeNano"] // 10**9


def test_every_family_publishes(daemon, image):
    t0 = f"{time.time():.3f}"
    docker(daemon, "network", "create", "ev-net")
    docker(daemon, "volume", "create", "ev-vol")
    docker(daemon, "run", "-d", "--name", "ev-all", "--network", "ev-net", "-v", "ev-vol:/data",
           "--health-cmd", "true", "--health-interval", "200ms", image, "sleep", "300")
    wait_for(lambda: "healthy" in docker(daemon, "ps", "--filter", "name=ev-all").stdout, what="healthy")
    docker(daemon, "exec", "ev-all", "sh", "-c", "exit 4", check=False)
    docker(daemon, "pause", "ev-all")
    docker(daemon, "unpause", "ev-all")
    docker(daemon, "rename", "ev-all", "ev-all2")
    docker(daemon, "kill", "-s", "USR1", "ev-all2")
    docker(daemon, "stop", "-t", "1", "ev-all2")
    docker(daemon, "tag", image, "ev/tagged:1")
    docker(daemon, "rmi", "ev/tagged:1")
    docker(daemon, "rm", "ev-all2")
    docker(daemon, "volume", "rm", "ev-vol")
    docker(daemon, "network", "rm", "ev-net")
    events = replay(daemon, t0)
    container = actions(events, "container")
    for a in ["create", "start", "health_status: healthy", "exec_create: sh -c exit 4",
              "exec_start: sh -c exit 4", "exec_die", "pause", "unpause", "rename", "kill", "die", "stop",
              "destroy"]:
        assert a in container, (a, container)
    assert container.index("die") < container.index("stop") < container.index("destroy")
    exec_die = next(e for e in events if e["Action"] == "exec_die")
    assert exec_die["Actor"]["Attributes"]["exitCode"] == "4"
    rename = next(e for e in events if e["Action"] == "rename")
    assert rename["Actor"]["Attributes"]["oldName"] == "ev-all" and rename["Actor"]["Attributes"]["name"] == "ev-all2"
    kills = [e["Actor"]["Attributes"]["signal"] for e in events if e["Action"] == "kill"]
    assert kills[:2] == ["10", "15"], kills
    assert actions(events, "network") == ["create", "connect", "disconnect", "destroy"]
    assert actions(events, "volume") == ["create", "mount", "unmount", "destroy"]
    mount = next(e for e in events if e["Type"] == "volume" and e["Action"] == "mount")
    assert mount["Actor"]["ID"] == "ev-vol" and mount["Actor"]["Attributes"]["destination"] == "/data"
    assert actions(events, "image") == ["tag", "untag"]
    tag = next(e for e in events if e["Type"] == "image")
    assert tag["status"] == "tag" and tag["Actor"]["Attributes"]["name"] == "ev/tagged:1"
    assert "from" not in tag
    net = next(e for e in events if e["Type"] == "network")
    assert "status" not in net and net["Actor"]["Attributes"] == {"name": "ev-net", "type": "bridge"}
    # Filters: by type, event, container name, network, volume, image.
    assert set(actions(replay(daemon, t0, "type=volume"))) == {"create", "mount", "unmount", "destroy"}
    assert actions(replay(daemon, t0, "event=exec_die")) == ["exec_die"]
    assert actions(replay(daemon, t0, "event=exec_create")) == ["exec_create: sh -c exit 4"]
    assert {e["Type"] for e in replay(daemon, t0, "container=ev-all")} == {"container"}
    assert actions(replay(daemon, t0, "network=ev-net")) == ["create", "connect", "disconnect", "destroy"]
    assert actions(replay(daemon, t0, "type=image", "image=ev/tagged:1")) == ["tag", "untag"]


def test_live_stream_and_refusals(daemon, image):
    env = cli_env(daemon)
    p = subprocess.Popen([CLIS[0], "events", "--format", "{{.Action}} {{.Actor.Attributes.name}}",
                          "--filter", "type=container", "--filter", "event=start"],
                         stdout=subprocess.PIPE, text=True, env=env)
    try:
        time.sleep(0.5)
        docker(daemon, "run", "--rm", "--name", "ev-live", image, "true")
        assert p.stdout.readline().strip() == "start ev-live"
    finally:
        p.kill()
        p.wait()
    for cli in CLIS:
        r = docker(daemon, "events", "--filter", "color=red", "--until", "1s", cli=cli, check=False)
        assert r.returncode != 0 and "Invalid filter 'color'" in r.stderr, r.stderr
    code, body = api(daemon, "GET", "/events?filters=%7Bnot-json")
    assert code == 400 and json.loads(body)["message"]
    code, body = api(daemon, "GET", "/events?since=yesterday")
    assert code == 400
    # An until in the past ends the stream at once (after the history).
    code, body = api(daemon, "GET", f"/events?since=0&until={int(time.time()) - 1}")
    assert code == 200
    wait_for(lambda: api(daemon, "GET", "/_ping")[0] == 200, what="ping")
