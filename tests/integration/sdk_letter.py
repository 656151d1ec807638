"""The python docker SDK the way its users drive it, against DOCKER_HOST
(run by test_api_letter.py with each SDK on the machine). argv[1]: an image.
Exits non-zero at the first answer that differs from dockerd's."""
import io
import sys
import tarfile
import time

import docker
from docker.errors import APIError, ImageLoadError, NotFound

image = sys.argv[1]
client = docker.from_env()
api = client.api
made = []


def expect_api_error(fn, status, text):
    try:
        fn()
    except APIError as e:
        assert e.status_code == status and text in str(e.explanation), (e.status_code, e.explanation)
        return
    raise AssertionError(f"no {status} error")


try:
    # Swarm: 503s that teardown code tolerates.
    expect_api_error(lambda: client.swarm.reload(), 503, "not a swarm manager")
    expect_api_error(lambda: client.services.list(), 503, "not a swarm manager")
    expect_api_error(lambda: client.secrets.list(), 503, "not a swarm manager")

    # A network as the SDK sends it (nulls in the IPAM pool), listed by name and ID.
    pool = docker.types.IPAMPool(subnet="10.72.8.0/24")
    net = client.networks.create("sdk-letter-net", ipam=docker.types.IPAMConfig(pool_configs=[pool]),
                                 labels={"k": "v"})
    made.append(("network", net))
    assert [n.name for n in client.networks.list(names=["sdk-letter-net"])] == ["sdk-letter-net"]
    assert [n.name for n in client.networks.list(ids=[net.id])] == ["sdk-letter-net"]
    assert client.networks.list(ids=["0000000000ff"]) == []
    assert net.attrs["IPAM"]["Config"] == [{"Subnet": "10.72.8.0/24"}]

    # Membership: a running container shows in the network's Containers.
    c = client.containers.run(image, "sleep 100", detach=True, name="sdk-letter-c", network="sdk-letter-net")
    made.append(("container", c))
    net.reload()
    assert list(net.attrs["Containers"]) == [c.id], net.attrs["Containers"]
    assert net.attrs["Containers"][c.id]["IPv4Address"].startswith("10.72.8.")
    created = client.containers.create(image, "true", name="sdk-letter-created", network="sdk-letter-net")
    made.append(("container", created))
    assert list(created.attrs["NetworkSettings"]["Networks"]) == ["sdk-letter-net"]

    # exec_run with a TTY and no stdin: a terminal (\r\n), a raw stream.
    assert c.exec_run("echo hi", tty=True) == (0, b"hi\r\n")
    assert c.exec_run("sh -c 'exit 3'") == (3, b"")
    # A file that is not executable: 126 (dockerd's), a missing command: 127.
    assert c.exec_run("/etc/passwd").exit_code == 126
    assert c.exec_run("/no/such/command").exit_code == 127

    # attach(logs=True, stream=False): what the container wrote.
    done = client.containers.run(image, "echo hello", detach=True, name="sdk-letter-echo")
    made.append(("container", done))
    done.wait()
    assert done.attach(logs=True, stream=False) == b"hello\n"

    # A healthcheck given as the SDK spells it; State.Health as dockerd's.
    hc = client.containers.run(image, "sleep 100", detach=True, name="sdk-letter-health",
                               healthcheck={"test": ["CMD-SHELL", "echo ok"], "interval": 200000000, "retries": 2})
    made.append(("container", hc))
    deadline = time.time() + 20
    while True:
        hc.reload()
        h = hc.attrs["State"]["Health"]
        if h["Status"] == "healthy":
            break
        assert time.time() < deadline, h
        time.sleep(0.1)
    assert h["FailingStreak"] == 0 and h["Log"][-1]["Output"] == "ok\n" and h["Log"][-1]["ExitCode"] == 0
    hc.remove(force=True)
    made.remove(("container", hc))

    # Volumes by name.
    for name in ["sdk-letter-v1", "sdk-letter-v2"]:
        made.append(("volume", client.volumes.create(name)))
    assert [v.name for v in client.volumes.list(filters={"name": "sdk-letter-v1"})] == ["sdk-letter-v1"]

    # A bad archive to load: the error comes in the stream.
    try:
        client.images.load(b"garbage that is no archive" * 100)
        raise AssertionError("no ImageLoadError")
    except ImageLoadError as e:
        assert "not a docker save archive" in str(e), e

    # Files both ways, stats and events (issue #18).
    since = time.time()
    f = client.containers.run(image, ["sleep", "300"], detach=True, name="sdk-letter-files")
    made.append(("container", f))
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        data = b"from the sdk\n"
        info = tarfile.TarInfo("sdk.txt")
        info.size = len(data)
        t.addfile(info, io.BytesIO(data))
    assert f.put_archive("/tmp", buf.getvalue())
    assert f.exec_run(["cat", "/tmp/sdk.txt"]).output == b"from the sdk\n"
    bits, stat = f.get_archive("/tmp/sdk.txt")
    with tarfile.open(fileobj=io.BytesIO(b"".join(bits))) as t:
        assert t.extractfile("sdk.txt").read() == b"from the sdk\n"
    assert stat["name"] == "sdk.txt" and stat["size"] == 13, stat
    expect_api_error(lambda: f.get_archive("/nope"), 404, "Could not find the file /nope")
    s = f.stats(stream=False)
    assert s["name"] == "/sdk-letter-files" and s["memory_stats"]["usage"] > 0, s
    samples = f.stats(decode=True)
    first, second = next(samples), next(samples)
    assert second["preread"] == first["read"]
    f.remove(force=True)
    events = client.events(since=since, until=time.time() + 0.5, decode=True,
                           filters={"container": "sdk-letter-files"})
    seen = [e["Action"] for e in events]
    for action in ["create", "start", "extract-to-dir", "exec_die", "archive-path", "die", "destroy"]:
        assert action in seen, (action, seen)
    assert seen.index("create") < seen.index("start") < seen.index("die") < seen.index("destroy")

    # Prunes answer with their figures.
    c.remove(force=True)
    created.remove()
    done.remove()
    made = [m for m in made if m[0] != "container"]
    report = client.networks.prune(filters={"label": "k=v"})
    assert report["NetworksDeleted"] == ["sdk-letter-net"], report
    made = [m for m in made if m[0] != "network"]
    report = client.containers.prune()
    assert "SpaceReclaimed" in report
    print("ok", docker.__version__)
finally:
    for kind, obj in reversed(made):
        try:
            obj.remove(force=True) if kind == "container" else obj.remove()
        except (APIError, NotFound):
            pass
