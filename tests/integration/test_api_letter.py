"""The API to its letter, as SDK users and dockerd's own clients see it:
swarm answers, handler failures as JSON errors, network lists, filters,
prune, membership and endpoint settings, log drivers, bind propagation,
attach replays, prune figures. Messages are dockerd 20.10's."""
import json
import os
import subprocess
import time

import pytest

from ctrtest import CLIS, api, docker, state

NOT_MANAGER = ('This node is not a swarm manager. Use "docker swarm init" or "docker swarm join" to '
               'connect this node to swarm and try again.')


def message(body):
    return json.loads(body)["message"]


def test_swarm_objects_answer_503_as_dockerd_outside_a_swarm(daemon):
    for path in ["/swarm", "/nodes", "/services", "/tasks", "/secrets", "/configs", "/v1.41/services/abc",
                 "/nodes/x/y"]:
        code, body = api(daemon, "GET", path)
        assert (code, message(body)) == (503, NOT_MANAGER), path
    code, body = api(daemon, "POST", "/services/create", "{}")
    assert (code, message(body)) == (503, NOT_MANAGER)
    code, body = api(daemon, "POST", "/swarm/leave")
    assert (code, message(body)) == (503, "This node is not part of a swarm")
    code, body = api(daemon, "POST", "/swarm/init", "{}")
    assert code == 503 and "not supported" in message(body)
    for cli in CLIS:
        p = docker(daemon, "node", "ls", cli=cli, check=False)
        assert p.returncode == 1 and NOT_MANAGER in p.stderr, (cli, p.stderr)


DEEP = "[" * 100000 + "]" * 100000
HUGE = "1" + "0" * 400


WRONG_SHAPES = [
    ("/containers/create", '{"Image": null, "Cmd": null, "HostConfig": null, "NetworkingConfig": null}'),
    ("/containers/create", '{"Image": "busybox:test", "Cmd": [null]}'),
    ("/containers/create", '{"Image": "busybox:test", "HostConfig": {"Memory": ' + HUGE + '}}'),
    ("/containers/create", '{"Image": "busybox:test", "HostConfig": {"Memory": -1e300}}'),
    ("/containers/create", '{"Image": "busybox:test", "Env": ' + DEEP + '}'),
    ("/containers/create", '{"Image": "busybox:test", "Labels": {"a": ' + DEEP + '}}'),
    ("/containers/create", '{"Image": ["busybox:test"]}'),
    ("/containers/create", '{"Image": "busybox:test", "NetworkingConfig": {"EndpointsConfig": {"bridge": 7}}}'),
    ("/containers/create", '{"Image": "busybox:test", "HostConfig": {"PortBindings": {"80/tcp": [{"HostPort": 5}]}}}'),
    ("/containers/create", '{"Image": "busybox:test", "Healthcheck": {"Test": 5}}'),
    ("/networks/create", '{"Name": null}'),
    ("/networks/create", '{"Name": "x", "IPAM": {"Config": [{"Subnet": 5}]}}'),
    ("/networks/create", '{"Name": "x", "IPAM": {"Config": [null, {"Gateway": null}]}, "Options": ' + DEEP + '}'),
    ("/networks/create", '{"Name": "x", "Labels": {"a": ' + HUGE + '}}'),
    ("/networks/create", DEEP),
    ("/containers/letter-target/exec", '{"Cmd": null}'),
    ("/containers/letter-target/exec", '{"Cmd": ["true"], "Env": [' + HUGE + ']}'),
    ("/containers/letter-target/exec", '{"Cmd": ' + DEEP + '}'),
    ("/containers/letter-target/exec", '{"Cmd": ["true"], "ConsoleSize": [null, "a"]}'),
    ("/containers/letter-target/update", '{"Memory": ' + HUGE + '}'),
    ("/containers/letter-target/update", '{"CpuShares": null, "RestartPolicy": 5}'),
    ("/containers/letter-target/update", DEEP),
]


@pytest.mark.parametrize("path,body", WRONG_SHAPES, ids=[f"{i}-{p.split('/')[-1]}" for i, (p, _) in enumerate(WRONG_SHAPES)])
def test_bodies_of_the_wrong_shape_get_a_json_error_and_the_daemon_serves_on(daemon, image, path, body):
    if not docker(daemon, "ps", "-aq", "--filter", "name=letter-target").stdout.strip():
        docker(daemon, "run", "-d", "--name", "letter-target", image, "sleep", "1000")
    code, out = api(daemon, "POST", path, body)
    assert 400 <= code < 600, (code, out)
    assert isinstance(message(out), str) and message(out), out
    assert api(daemon, "GET", "/_ping") == (200, b"OK")
    assert docker(daemon, "network", "ls", "-q", "--filter", "name=^x$").stdout == ""


def test_network_ipam_with_nulls_as_the_sdk_sends_it(daemon):
    body = {"Name": "letter-nulls", "CheckDuplicate": None, "Driver": None, "Options": None,
            "IPAM": {"Driver": "default", "Config": [{"Subnet": "10.71.3.0/24", "IPRange": None, "Gateway": None,
                                                      "AuxiliaryAddresses": None}], "Options": None}}
    code, out = api(daemon, "POST", "/networks/create", json.dumps(body))
    assert code == 201, out
    n = json.loads(docker(daemon, "network", "inspect", "letter-nulls").stdout)[0]
    assert n["IPAM"]["Config"] == [{"Subnet": "10.71.3.0/24"}]
    docker(daemon, "network", "rm", "letter-nulls")


def test_a_user_network_connected_to_a_bridge_container_brings_the_dns(daemon, image):
    """Connected before start (Testcontainers' aliases) or while running, a
    user network gives a default-bridge container the embedded resolver, and
    its names and aliases resolve (dockerd: 127.0.0.11)."""
    docker(daemon, "network", "create", "--subnet", "10.71.11.0/24", "letter-late")
    try:
        docker(daemon, "run", "-d", "--name", "letter-late-srv", "--network", "letter-late", "--network-alias",
               "srv-alias", image, "sleep", "100")
        docker(daemon, "create", "--name", "letter-before", image, "sleep", "100")
        docker(daemon, "network", "connect", "--alias", "before-alias", "letter-late", "letter-before")
        docker(daemon, "start", "letter-before")
        docker(daemon, "run", "-d", "--name", "letter-after", image, "sleep", "100")
        assert "10.71.11.1" not in docker(daemon, "exec", "letter-after", "cat", "/etc/resolv.conf").stdout
        docker(daemon, "network", "connect", "letter-late", "letter-after")
        for name in ("letter-before", "letter-after"):
            conf = docker(daemon, "exec", name, "cat", "/etc/resolv.conf").stdout
            assert "nameserver 10.71.11.1" in conf, (name, conf)
            p = docker(daemon, "exec", name, "nslookup", "srv-alias", check=False)
            assert p.returncode == 0 and "10.71.11.2" in p.stdout, (name, p.stdout, p.stderr)
        p = docker(daemon, "exec", "letter-after", "nslookup", "before-alias", check=False)
        assert p.returncode == 0 and "10.71.11." in p.stdout, (p.stdout, p.stderr)
        # Disconnected again: the bridge's servers come back.
        docker(daemon, "network", "disconnect", "letter-late", "letter-after")
        conf = docker(daemon, "exec", "letter-after", "cat", "/etc/resolv.conf").stdout
        assert "10.71.11.1" not in conf and "nameserver" in conf, conf
    finally:
        docker(daemon, "rm", "-f", "letter-late-srv", "letter-before", "letter-after", check=False)
        docker(daemon, "network", "rm", "letter-late")


def test_masked_and_read_only_paths_default_and_from_the_request(daemon, image):
    """dockerd's defaults shown by inspect and applied; the CLI's
    systempaths=unconfined (empty lists) applied too."""
    def proc_sys_mounts(*flags):
        out = docker(daemon, "run", "--rm", *flags, image, "cat", "/proc/self/mountinfo").stdout
        return [line for line in out.splitlines() if line.split()[4] == "/proc/sys"]
    assert len(proc_sys_mounts()) == 1 and " ro" in proc_sys_mounts()[0]
    assert proc_sys_mounts("--security-opt", "systempaths=unconfined") == []
    docker(daemon, "create", "--name", "letter-masked", image, "true")
    try:
        hc = state(daemon, "letter-masked")["HostConfig"]
        assert "/proc/kcore" in hc["MaskedPaths"] and "/proc/sys" in hc["ReadonlyPaths"], hc
    finally:
        docker(daemon, "rm", "letter-masked")


def test_a_network_made_again_on_the_same_subnet_keeps_its_dns(daemon, image):
    for round_ in range(3):
        docker(daemon, "network", "create", "--subnet", "10.71.9.0/24", "letter-dns")
        docker(daemon, "run", "-d", "--name", "letter-srv", "--network", "letter-dns", image, "sleep", "100")
        p = docker(daemon, "run", "--rm", "--network", "letter-dns", image, "nslookup", "letter-srv", check=False)
        assert p.returncode == 0 and "10.71.9.2" in p.stdout, (round_, p.stdout, p.stderr)
        docker(daemon, "rm", "-f", "letter-srv")
        docker(daemon, "network", "rm", "letter-dns")
    assert "Address already in use" not in daemon.log_text()


def names(daemon, *filters):
    args = []
    for f in filters:
        args += ["--filter", f]
    return sorted(docker(daemon, "network", "ls", "--format", "{{.Name}}", *args).stdout.split("\n")[:-1])


def test_network_list_builtins_names_and_filters(daemon, image):
    docker(daemon, "network", "create", "--label", "team=a", "letter net")
    docker(daemon, "network", "create", "letter/b")
    used = docker(daemon, "network", "create", "--label", "team=b", "letter-used").stdout.strip()
    docker(daemon, "run", "-d", "--name", "letter-user", "--network", "letter-used", image, "sleep", "100")
    try:
        every = names(daemon)
        assert {"bridge", "host", "none", "letter net", "letter/b", "letter-used"} <= set(every)
        ls = docker(daemon, "network", "ls").stdout
        assert " host " in ls and " null " in ls
        assert names(daemon, "name=^letter") == ["letter net", "letter-used", "letter/b"]
        assert names(daemon, "name=r-us") == ["letter-used"]
        assert names(daemon, f"id={used[:10]}") == ["letter-used"]
        assert names(daemon, "label=team") == ["letter net", "letter-used"]
        assert names(daemon, "label=team=b") == ["letter-used"]
        assert names(daemon, "type=builtin") == ["bridge", "host", "none"]
        assert "bridge" not in names(daemon, "type=custom")
        assert "letter-used" not in names(daemon, "dangling=true") and "letter net" in names(daemon, "dangling=true")
        assert "bridge" not in names(daemon, "dangling=true")
        assert names(daemon, "driver=null") == ["none"]
        p = docker(daemon, "network", "ls", "--filter", "bogus=1", check=False)
        assert p.returncode == 1 and "Invalid filter 'bogus'" in p.stderr
        p = docker(daemon, "network", "ls", "--filter", "type=x", check=False)
        assert p.returncode == 1 and "invalid filter: 'type'='x'" in p.stderr
        for builtin in ["host", "none"]:
            n = json.loads(docker(daemon, "network", "inspect", builtin).stdout)[0]
            assert n["Name"] == builtin and n["Driver"] == {"host": "host", "none": "null"}[builtin]
            p = docker(daemon, "network", "rm", builtin, check=False)
            assert "is a pre-defined network and cannot be removed" in p.stderr
        # prune: the unused custom ones, as the filters say.
        out = docker(daemon, "network", "prune", "-f", "--filter", "label!=team").stdout
        assert "letter/b" in out and "letter net" not in out and "letter-used" not in out
        out = docker(daemon, "network", "prune", "-f").stdout
        assert "letter net" in out and "letter-used" not in out
        assert "letter-used" in names(daemon)
    finally:
        docker(daemon, "rm", "-f", "letter-user")
        docker(daemon, "network", "rm", "letter-used")
    code, out = api(daemon, "POST", "/networks/prune")
    assert code == 200 and json.loads(out) == {"NetworksDeleted": None}


def test_network_settings_membership_and_endpoint_settings_are_echoed(daemon, image):
    docker(daemon, "network", "create", "--subnet", "10.71.5.0/24", "--aux-address", "r=10.71.5.5", "-o", "foo=bar",
           "--label", "l=1", "--attachable", "letter-members")
    try:
        n = json.loads(docker(daemon, "network", "inspect", "letter-members").stdout)[0]
        assert n["IPAM"] == {"Driver": "default", "Options": {},
                             "Config": [{"Subnet": "10.71.5.0/24", "AuxiliaryAddresses": {"r": "10.71.5.5"}}]}
        assert (n["Options"], n["Labels"], n["Attachable"], n["Containers"]) == ({"foo": "bar"}, {"l": "1"}, True, {})
        # The auxiliary address is never handed out (the first free one after .2-.4 is .6).
        ips = [docker(daemon, "run", "--rm", "--network", "letter-members", image, "sh", "-c",
                      "ip -4 -o addr show eth0").stdout.split()[3] for _ in range(4)]
        assert "10.71.5.5/24" not in ips, ips
        docker(daemon, "create", "--name", "letter-created", "--network", "letter-members", "--ip", "10.71.5.40",
               "--network-alias", "early", image, "sleep", "100")
        created = state(daemon, "letter-created")["NetworkSettings"]["Networks"]
        assert list(created) == ["letter-members"]
        assert created["letter-members"]["IPAMConfig"] == {"IPv4Address": "10.71.5.40"}
        assert created["letter-members"]["IPAddress"] == "" and created["letter-members"]["Aliases"] == ["early"]
        docker(daemon, "run", "-d", "--name", "letter-m1", "--network", "letter-members", "--ip", "10.71.5.9",
               "--network-alias", "al1", "--mac-address", "02:42:0a:47:05:77", image, "sleep", "100", cli=CLIS[-1])
        doc = state(daemon, "letter-m1")
        ep = doc["NetworkSettings"]["Networks"]["letter-members"]
        assert ep["IPAMConfig"] == {"IPv4Address": "10.71.5.9"}
        assert (ep["IPAddress"], ep["IPPrefixLen"], ep["Gateway"]) == ("10.71.5.9", 24, "10.71.5.1")
        assert ep["MacAddress"] == "02:42:0a:47:05:77" and "al1" in ep["Aliases"]
        link = docker(daemon, "exec", "letter-m1", "ip", "-o", "link", "show", "eth0").stdout
        assert "02:42:0a:47:05:77" in link
        members = json.loads(docker(daemon, "network", "inspect", "letter-members").stdout)[0]["Containers"]
        assert members == {doc["Id"]: {"Name": "letter-m1", "EndpointID": ep["EndpointID"],
                                       "MacAddress": "02:42:0a:47:05:77", "IPv4Address": "10.71.5.9/24",
                                       "IPv6Address": ""}}
        # Connect with settings: echoed as given.
        docker(daemon, "run", "-d", "--name", "letter-m2", image, "sleep", "100")
        docker(daemon, "network", "connect", "--ip", "10.71.5.20", "--alias", "second", "letter-members", "letter-m2")
        ep2 = state(daemon, "letter-m2")["NetworkSettings"]["Networks"]["letter-members"]
        assert ep2["IPAddress"] == "10.71.5.20" and ep2["IPAMConfig"] == {"IPv4Address": "10.71.5.20"}
        assert "second" in ep2["Aliases"]
        bridge = state(daemon, "letter-m2")["NetworkSettings"]
        assert bridge["MacAddress"].startswith("02:42:ac:") and bridge["Networks"]["bridge"]["MacAddress"] == bridge["MacAddress"]
        # A fixed address on the default bridge, a bad MAC: dockerd's refusals.
        p = docker(daemon, "create", "--ip", "172.17.0.99", image, check=False)
        assert p.returncode != 0 and "user specified IP address is supported on user defined networks only" in p.stderr
        code, out = api(daemon, "POST", "/containers/create", json.dumps(
            {"Image": image, "NetworkingConfig": {"EndpointsConfig": {"letter-members": {"MacAddress": "zz"}}}}))
        assert code == 400 and "is not a valid mac address" in message(out)
    finally:
        docker(daemon, "rm", "-f", "letter-m1", "letter-m2", "letter-created")
        docker(daemon, "network", "rm", "letter-members")


def test_create_naming_an_unknown_network_is_refused(daemon, image):
    body = {"Image": image, "NetworkingConfig": {"EndpointsConfig": {"letter-nope": {}}}}
    code, out = api(daemon, "POST", "/containers/create", json.dumps(body))
    # 400, not dockerd 20.10's 404 at start: the CLI reads a 404 from create as
    # a missing image and would try to pull it.
    assert (code, message(out)) == (400, "network letter-nope not found")
    for cli in CLIS:
        p = docker(daemon, "create", "--network", "letter-nope", image, cli=cli, check=False)
        assert p.returncode != 0 and "network letter-nope not found" in p.stderr
    assert docker(daemon, "ps", "-aq", "--filter", "network=letter-nope").stdout == ""


def test_log_drivers_none_and_local_and_refusals(daemon, image):
    docker(daemon, "run", "--name", "letter-none", "--log-driver", "none", image, "echo", "nowhere")
    p = docker(daemon, "logs", "letter-none", check=False)
    assert p.returncode == 1 and "configured logging driver does not support reading" in p.stderr
    code, _ = api(daemon, "GET", "/containers/letter-none/logs?stdout=1")
    assert code == 501
    assert state(daemon, "letter-none")["HostConfig"]["LogConfig"] == {"Type": "none", "Config": {}}
    docker(daemon, "run", "--name", "letter-local", "--log-driver", "local", "--log-opt", "max-size=1m", image,
           "echo", "kept")
    assert docker(daemon, "logs", "letter-local").stdout == "kept\n"
    assert state(daemon, "letter-local")["HostConfig"]["LogConfig"] == {"Type": "local", "Config": {"max-size": "1m"}}
    docker(daemon, "rm", "letter-none", "letter-local")
    for args, msg in [(["--log-driver", "bogus"], 'error looking up logging plugin bogus: plugin "bogus" not found'),
                      (["--log-opt", "bogus=1"], "unknown log opt 'bogus' for json-file log driver"),
                      (["--log-driver", "local", "--log-opt", "tag=x"], "unknown log opt 'tag' for log driver local"),
                      (["--log-driver", "syslog"], 'logging driver "syslog" is not supported by this engine')]:
        p = docker(daemon, "create", *args, image, check=False)
        assert p.returncode != 0 and msg in p.stderr, (args, p.stderr)


def test_bind_propagation_is_applied_and_reported(daemon, image, tmp_path):
    src = tmp_path / "shared"
    src.mkdir()
    out = docker(daemon, "run", "--name", "letter-prop", "-v", f"{src}:/mnt:rshared", image,
                 "grep", " /mnt ", "/proc/self/mountinfo").stdout
    assert "shared:" in out, out
    m = state(daemon, "letter-prop")["Mounts"][0]
    assert (m["Mode"], m["Propagation"]) == ("rshared", "rshared")
    docker(daemon, "rm", "letter-prop")
    docker(daemon, "create", "--name", "letter-prop2", "--mount", f"type=bind,src={src},dst=/mnt,bind-propagation=rslave",
           image)
    assert state(daemon, "letter-prop2")["Mounts"][0]["Propagation"] == "rslave"
    docker(daemon, "rm", "letter-prop2")
    p = docker(daemon, "create", "-v", "letter-vol:/mnt:rshared", image, check=False)
    assert p.returncode != 0 and "invalid mode" in p.stderr


def test_container_prune_counts_what_it_frees(daemon, image):
    docker(daemon, "run", "--name", "letter-writer", image, "dd", "if=/dev/zero", "of=/blob", "bs=1M", "count=3")
    code, out = api(daemon, "POST", "/containers/prune")
    report = json.loads(out)
    assert code == 200 and report["SpaceReclaimed"] >= 3 << 20, report


def test_volume_list_filters(daemon, image):
    for v in ["letter-v1", "letter-xv12"]:
        docker(daemon, "volume", "create", v)
    docker(daemon, "volume", "create", "--label", "a=b", "letter-lv")
    docker(daemon, "run", "-d", "--name", "letter-vuser", "-v", "letter-v1:/data", image, "sleep", "100")
    try:
        def ls(*f):
            args = []
            for x in f:
                args += ["--filter", x]
            return sorted(v for v in docker(daemon, "volume", "ls", "-q", *args).stdout.split() if v.startswith("letter-"))
        assert ls("name=v1") == ["letter-v1", "letter-xv12"]
        assert ls("name=^letter-v1") == ["letter-v1"]
        assert ls("label=a") == ["letter-lv"] and ls("label=a=c") == []
        assert ls("dangling=true") == ["letter-lv", "letter-xv12"]
        assert ls("dangling=false") == ["letter-v1"]
        assert ls("driver=local") == ["letter-lv", "letter-v1", "letter-xv12"]
        p = docker(daemon, "volume", "ls", "--filter", "bogus=1", check=False)
        assert p.returncode == 1 and "Invalid filter 'bogus'" in p.stderr
        p = docker(daemon, "volume", "ls", "--filter", "dangling=maybe", check=False)
        assert p.returncode == 1 and "Invalid filter 'dangling=[maybe]'" in p.stderr
    finally:
        docker(daemon, "rm", "-f", "letter-vuser")
        docker(daemon, "volume", "rm", "letter-v1", "letter-xv12", "letter-lv")


SDK_SCENARIO = os.path.join(os.path.dirname(__file__), "sdk_letter.py")
SDK_PYTHONS = [p for p in ["/usr/bin/python3", "/root/.pyenv/versions/3.11.7/bin/python3"] if os.path.exists(p)]


@pytest.mark.parametrize("python", SDK_PYTHONS)
def test_python_sdk_scenario(daemon, image, python):
    check = subprocess.run([python, "-c", "import docker; print(docker.__version__)"], capture_output=True, text=True)
    if check.returncode != 0:
        pytest.skip(f"no docker SDK for {python}")
    env = {k: v for k, v in os.environ.items() if k not in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")}
    env["DOCKER_HOST"] = f"unix://{daemon.socket}"
    p = subprocess.run([python, SDK_SCENARIO, image], capture_output=True, text=True, timeout=300, env=env)
    assert p.returncode == 0, f"SDK {check.stdout.strip()}:\n{p.stdout}\n{p.stderr}"


def hijack(daemon, path, body=None):
    """An upgraded connection (attach, exec start): the socket after the 101."""
    import socket
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(10)
    s.connect(daemon.socket)
    data = (body or "").encode()
    s.sendall(f"POST {path} HTTP/1.1\r\nHost: d\r\nUpgrade: tcp\r\nConnection: Upgrade\r\n"
              f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n".encode() + data)
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(1)
        assert chunk, head
        head += chunk
    assert head.startswith(b"HTTP/1.1 101"), head
    return s


def read_until_closed(s, limit=5.0):
    s.settimeout(limit)
    out = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            return out
        out += chunk


def test_the_daemon_detaches_at_the_detach_keys(daemon, image):
    docker(daemon, "run", "-dit", "--name", "letter-tty", image, "sh")
    try:
        # The default sequence (ctrl-p ctrl-q) ends an SDK client's attach; the container runs on.
        s = hijack(daemon, "/containers/letter-tty/attach?stream=1&stdin=1&stdout=1&stderr=1")
        s.sendall(b"echo one\n")
        time.sleep(0.3)
        s.sendall(b"\x10\x11")
        read_until_closed(s)
        s.close()
        assert state(daemon, "letter-tty")["State"]["Running"]
        # Keys of the client's choosing; a half sequence is passed on.
        s = hijack(daemon, "/containers/letter-tty/attach?stream=1&stdin=1&stdout=1&detachKeys=ctrl-a,x")
        s.sendall(b"echo \x01y-marker\n")
        time.sleep(0.3)
        s.sendall(b"\x01x")
        out = read_until_closed(s)
        s.close()
        assert b"y-marker" in out and state(daemon, "letter-tty")["State"]["Running"]
        code, body = api(daemon, "POST", "/containers/letter-tty/attach?stream=1&stdin=1&detachKeys=ctrl-foo")
        assert (code, message(body)) == (400, "Invalid detach keys (ctrl-foo) provided")
        # exec: the exec's DetachKeys; the process keeps running after the detach.
        code, body = api(daemon, "POST", "/containers/letter-tty/exec", json.dumps(
            {"Cmd": ["sh"], "Tty": True, "AttachStdin": True, "AttachStdout": True, "DetachKeys": "ctrl-x"}))
        assert code == 201, body
        exec_id = json.loads(body)["Id"]
        s = hijack(daemon, f"/exec/{exec_id}/start", json.dumps({"Tty": True}))
        s.sendall(b"echo in-exec\n")
        time.sleep(0.3)
        s.sendall(b"\x18")
        out = read_until_closed(s)
        s.close()
        assert b"in-exec" in out
        code, body = api(daemon, "GET", f"/exec/{exec_id}/json")
        assert json.loads(body)["Running"] is True
        code, body = api(daemon, "POST", "/containers/letter-tty/exec",
                         json.dumps({"Cmd": ["sh"], "DetachKeys": "ctrl-"}))
        assert (code, message(body)) == (400, "Invalid escape keys (ctrl-) provided")
    finally:
        docker(daemon, "rm", "-f", "letter-tty")


def test_legacy_links_as_dockerd_gives_them(daemon, image):
    docker(daemon, "run", "-d", "--name", "letter-db", "-e", "SECRET=s3", "-e", "PATH=/bin", "--expose", "5432",
           "--expose", "80/udp", image, "sleep", "300")
    ip = state(daemon, "letter-db")["NetworkSettings"]["IPAddress"]
    short = state(daemon, "letter-db")["Id"][:12]
    try:
        out = docker(daemon, "run", "--rm", "--name", "letter-web", "--link", "letter-db:dbal", "--link", "letter-db",
                     image, "sh", "-c", "env | sort; cat /etc/hosts").stdout
        lines = out.splitlines()
        for want in [f"DBAL_PORT=udp://{ip}:80", f"DBAL_PORT_5432_TCP=tcp://{ip}:5432",
                     f"DBAL_PORT_5432_TCP_ADDR={ip}", "DBAL_PORT_5432_TCP_PORT=5432", "DBAL_PORT_5432_TCP_PROTO=tcp",
                     f"DBAL_PORT_80_UDP=udp://{ip}:80", "DBAL_NAME=/letter-web/dbal", "DBAL_ENV_SECRET=s3",
                     "LETTER_DB_NAME=/letter-web/letter-db", "LETTER_DB_ENV_SECRET=s3",
                     f"{ip}\tdbal {short} letter-db", f"{ip}\tletter-db {short}"]:
            assert want in lines, (want, out)
        assert not any(line.startswith("DBAL_ENV_PATH") for line in lines)
        docker(daemon, "create", "--name", "letter-w2", "--link", "letter-db:dbal", image, "true")
        assert state(daemon, "letter-w2")["HostConfig"]["Links"] == ["/letter-db:/letter-w2/dbal"]
        p = docker(daemon, "create", "--link", "letter-nosuch:x", image, "true", check=False)
        assert p.returncode != 0 and "could not get container for letter-nosuch" in p.stderr
        code, body = api(daemon, "POST", "/containers/create",
                         json.dumps({"Image": image, "HostConfig": {"Links": ["a:b:c"]}}))
        assert (code, message(body)) == (400, "bad format for links: a:b:c")
        docker(daemon, "stop", "-t", "0", "letter-db")
        p = docker(daemon, "start", "letter-w2", check=False)
        assert p.returncode != 0 and "Cannot link to a non running container: /letter-db AS /letter-w2/dbal" in p.stderr
        for cli in CLIS:
            p = docker(daemon, "rm", "--link", "letter-db", cli=cli, check=False)
            assert p.returncode != 0 and "cannot remove the default link name" in p.stderr
        docker(daemon, "rm", "--link", "letter-w2/dbal")
        assert state(daemon, "letter-w2")["HostConfig"]["Links"] is None
        p = docker(daemon, "rm", "--link", "letter-w2/dbal", check=False)
        assert p.returncode != 0 and "No such container: letter-w2/dbal" in p.stderr
        docker(daemon, "start", "letter-w2")  # no link left to refuse it
    finally:
        docker(daemon, "rm", "-f", "letter-db", "letter-w2")


def test_ipv6_networks_dual_stack_containers_and_aaaa(daemon, image):
    docker(daemon, "network", "create", "--ipv6", "--subnet", "fd00:71::/64", "letter-v6")
    try:
        n = json.loads(docker(daemon, "network", "inspect", "letter-v6").stdout)[0]
        assert n["EnableIPv6"] is True
        assert n["IPAM"]["Config"][1] == {"Subnet": "fd00:71::/64"} and "Gateway" in n["IPAM"]["Config"][0]
        docker(daemon, "run", "-d", "--name", "letter-six", "--network", "letter-v6", image, "sleep", "300")
        ep = state(daemon, "letter-six")["NetworkSettings"]["Networks"]["letter-v6"]
        assert (ep["GlobalIPv6Address"], ep["GlobalIPv6PrefixLen"], ep["IPv6Gateway"]) == ("fd00:71::2", 64, "fd00:71::1")
        assert ep["IPAddress"]  # dual stack
        out = docker(daemon, "run", "--rm", "--network", "letter-v6", "--ip6", "fd00:71::99", image, "sh", "-c",
                     "ip -6 addr show eth0; ip -6 route; ping6 -c1 -W2 fd00:71::2 && ping6 -c1 -W2 fd00:71::1 "
                     "&& nslookup -type=AAAA letter-six").stdout
        assert "inet6 fd00:71::99/64 scope global" in out and "default via fd00:71::1 dev eth0" in out, out
        assert "Address: fd00:71::2" in out, out
        members = json.loads(docker(daemon, "network", "inspect", "letter-v6").stdout)[0]["Containers"]
        assert [m["IPv6Address"] for m in members.values()] == ["fd00:71::2/64"]
        docker(daemon, "create", "--name", "letter-six-fixed", "--network", "letter-v6", "--ip6", "fd00:71::7", image)
        fixed = state(daemon, "letter-six-fixed")["NetworkSettings"]["Networks"]["letter-v6"]
        assert fixed["IPAMConfig"] == {"IPv6Address": "fd00:71::7"}
        # dockerd's refusals.
        p = docker(daemon, "network", "create", "--ipv6", "letter-v6-nopool", check=False)
        assert p.returncode != 0 and "could not find an available, non-overlapping IPv6 address pool" in p.stderr
        p = docker(daemon, "network", "create", "--ipv6", "--subnet", "fd00:71:0:0:1::/80", "letter-v6-over", check=False)
        assert p.returncode != 0 and "overlaps" in p.stderr
        code, body = api(daemon, "POST", "/networks/create", json.dumps(
            {"Name": "letter-v6-bad", "EnableIPv6": True, "IPAM": {"Config": [{"Subnet": "fd00::zz/64"}]}}))
        assert code == 400 and "invalid subnet fd00::zz/64" in message(body)
        p = docker(daemon, "run", "--rm", "--network", "letter-v6", "--ip6", "fd00:72::5", image, "true", check=False)
        assert p.returncode != 0 and "is not in subnet fd00:71::/64" in p.stderr
    finally:
        docker(daemon, "rm", "-f", "letter-six", "letter-six-fixed")
        docker(daemon, "network", "rm", "letter-v6")


def test_joining_another_containers_namespaces(daemon, image):
    docker(daemon, "network", "create", "letter-join")
    docker(daemon, "run", "-d", "--name", "letter-host", "--network", "letter-join", "--hostname", "hosty", image,
           "sh", "-c", "httpd -f -p 8080 -h /var/www & sleep 300")
    try:
        web = state(daemon, "letter-host")
        out = docker(daemon, "run", "--rm", "--network", "container:letter-host", image, "sh", "-c",
                     "ip -4 -o addr show eth0; hostname; wget -qO- http://127.0.0.1:8080/; cat /etc/resolv.conf").stdout
        assert web["NetworkSettings"]["Networks"]["letter-join"]["IPAddress"] + "/" in out, out
        assert "hosty" in out and "hello from httpd" in out and "nameserver" in out, out
        docker(daemon, "create", "--name", "letter-joiner", "--network", "container:letter-host", image, "true")
        j = state(daemon, "letter-joiner")
        assert j["HostConfig"]["NetworkMode"] == "container:letter-host" and j["NetworkSettings"]["Networks"] == {}
        # --pid container: sees the other container's processes.
        ps = docker(daemon, "run", "--rm", "--pid", "container:letter-host", image, "ps", "-o", "args").stdout
        assert "httpd -f -p 8080" in ps, ps
        p = docker(daemon, "create", "--network", "container:letter-nosuch", image, check=False)
        assert p.returncode != 0 and "No such container: letter-nosuch" in p.stderr
        p = docker(daemon, "create", "--network", "container:letter-host", "-p", "9999:80", image, check=False)
        assert p.returncode != 0 and "conflicting options: port publishing" in p.stderr
        docker(daemon, "stop", "-t", "0", "letter-host")
        p = docker(daemon, "start", "letter-joiner", check=False)
        assert p.returncode != 0 and "cannot join network of a non running container: letter-host" in p.stderr
    finally:
        docker(daemon, "rm", "-f", "letter-host", "letter-joiner")
        docker(daemon, "network", "rm", "letter-join")
