"""JSON key parity with Debian's dockerd 20.10: for images, containers,
networks, volumes, info, version, df and stats, the set of key paths our
daemon returns equals the one dockerd returns for the same objects, at API
1.41 (dockerd's own maximum) and at 1.44 (dockerd's 1.41 set moved along the
documented API changes between 1.41 and 1.44, see API_CHANGES).

The same objects are made on both daemons through the same raw API requests
(a user network with a subnet, a named volume, a running container on that
network with a named volume, a bind mount, a published port, env, labels, a
fixed address, an alias and a healthcheck, and a stopped container on the
default bridge), then every document is read over the raw API and reduced to
its key paths ("Config.Cmd", "NetworkSettings.Networks.*.IPAddress"). Keys
that are data rather than schema become "*" (DATA_MAPS); list elements are
merged under "[]". A JSON type that differs at a path both share (null where
dockerd gives [], say) is a failure too. The failure lists every difference
of every document at once. DIND_PARITY_DUMP=<dir> keeps the documents."""
import json
import os
import pathlib
import subprocess
import sys
import time

import pytest

from ctrtest import api, import_busybox
from dindtest import free_port

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "bench" / "lib"))
from dockerd import Dockerd, dockerd_available  # noqa: E402

DOCKERD_CLI = "/usr/bin/docker"  # Debian's 20.10 CLI: speaks dockerd's 1.41 without negotiating down
IMAGE = "busybox:test"
NET, SUBNET, GATEWAY, FIXED_IP = "parity-net", "172.29.251.0/24", "172.29.251.1", "172.29.251.10"
VOLUME = "parity-vol"
RUNNING, STOPPED = "parity-run", "parity-stopped"

pytestmark = pytest.mark.skipif(not dockerd_available(), reason="Debian's dockerd is not installed")


# ---------------------------------------------------------------- key paths

# Maps whose keys are data (names chosen by a user, a driver, the kernel's
# interface list or the daemon's configuration), not schema: their keys become
# "*" and the paths under them are merged. Matched on the map's own key, and
# only when its value is a JSON object (Volumes, Containers, Ports, Status are
# lists, numbers or strings elsewhere and stay as they are there).
DATA_MAPS = {
    "Labels",              # every Labels map (image/container Config, network, volume, summaries): user data
    "Options",             # network driver options, IPAM options, volume driver options, runtime options
    "DriverOpts",          # endpoint driver options (NetworkSettings.Networks.*.DriverOpts)
    "Networks",            # NetworkSettings.Networks: keyed by network name
    "Ports",               # NetworkSettings.Ports: keyed by "80/tcp" (the summary's Ports is a list)
    "PortBindings",        # HostConfig.PortBindings: keyed by "80/tcp"
    "ExposedPorts",        # Config.ExposedPorts / ContainerConfig.ExposedPorts: keyed by "80/tcp"
    "Volumes",             # Config.Volumes: keyed by mount path (the volume list's Volumes is a list)
    "Containers",          # a network's Containers: keyed by container ID (a number or list elsewhere)
    "IndexConfigs",        # info RegistryConfig.IndexConfigs: keyed by registry host name
    "Runtimes",            # info Runtimes: keyed by runtime name (configuration: runc, io.containerd.runc.v2, ...)
    "networks",            # stats networks: keyed by interface name (eth0)
    "Tmpfs", "Sysctls", "StorageOpt", "Annotations",  # HostConfig maps keyed by path / sysctl / option name
    "AuxiliaryAddresses",  # IPAM.Config[].AuxiliaryAddresses: keyed by host name
    "Status",              # a volume's Status: driver-defined map (State.Status is a string, untouched)
    "status",              # info Runtimes.*.status (1.44): runtime-defined map
}
# Data maps only recognisable by their whole path.
DATA_MAP_PATHS = {
    "HostConfig.LogConfig.Config",  # log driver options (max-size, ...): keyed by option name
}
# Not normalized on purpose: memory_stats.stats (the cgroup's memory.stat
# names: clients read "cache" / "total_inactive_file" from it, and both
# daemons read the same kernel), GraphDriver.Data (LowerDir, MergedDir,
# UpperDir, WorkDir: what tools read), version's Components[...].Details
# (ApiVersion, GitCommit, ...: what `docker version` prints). In the version's
# Components list the element named "Engine" (the one clients look up by name,
# whose Details carry ApiVersion, MinAPIVersion, ...) is kept apart as
# "Components[Engine]"; the other components (which ones an engine is made
# of: containerd, runc, docker-init) are data and merge under "Components[]".
KEYED_ELEMENTS = {"Components": ("Name", "Engine")}


def jtype(v):
    return {dict: "object", list: "array", str: "string", bool: "bool", type(None): "null"}.get(type(v), "number")


def key_paths(doc):
    """{path: {json types}} of every key in doc (the top level is "")."""
    out = {}

    def walk(v, path, key):
        if path:
            out.setdefault(path, set()).add(jtype(v))
        if isinstance(v, dict):
            data = key in DATA_MAPS or path in DATA_MAP_PATHS
            for k, sub in v.items():
                walk(sub, f"{path}.{'*' if data else k}" if path else ('*' if data else k), k)
        elif isinstance(v, list):
            for item in v:
                field, value = KEYED_ELEMENTS.get(key, (None, None))
                if field and isinstance(item, dict) and item.get(field) == value:
                    walk(item, f"{path}[{value}]", None)
                else:
                    walk(item, f"{path}[]", None)

    walk(doc, "", None)
    # List elements that are scalars or lists add no key: "Env[]" is no key.
    return {p: t for p, t in out.items() if not p.endswith("[]")}


# ------------------------------------------------------- 1.41 -> 1.44 table

def _value(doc, path):
    for part in path.split("."):
        if not isinstance(doc, dict) or part not in doc:
            return None
        doc = doc[part]
    return doc


# Documented changes between API 1.41 and 1.44 (docs/api/version-history.md,
# /work/shared/reference/docker-api/CHANGELOG.md) that change key paths of the
# documents compared here: (documents, action, path, condition on dockerd's
# 1.41 value or None; for "type": the JSON types at 1.44). drop: the path and
# all below it leave the expected set; add: the path joins it (when its parent
# is there); optional: the path and all below it may be there or not; type:
# the path's JSON type changes.
CONTAINER_DOCS = ("container inspect (running)", "container inspect (stopped)")
API_CHANGES = [
    # v1.44: "The VirtualSize field in the GET /images/{name}/json, GET /images/json,
    # and GET /system/df responses is now omitted. Use the Size field instead"
    (("image inspect",), "drop", "VirtualSize", None),
    (("image list",), "drop", "[].VirtualSize", None),
    (("system df",), "drop", "Images[].VirtualSize", None),
    # v1.43: "GET /images/json no longer includes hardcoded <none>:<none> and
    # <none>@<none> in RepoTags and RepoDigests for untagged images. In such cases,
    # empty arrays will be produced instead." (so never null from 1.43 on)
    (("image list",), "type", "[].RepoTags", {"array"}),
    (("image list",), "type", "[].RepoDigests", {"array"}),
    # v1.42: "GET /containers/{id}/json now omits the KernelMemory and
    # KernelMemoryTCP if they are not set."
    (CONTAINER_DOCS, "drop", "HostConfig.KernelMemory", lambda v: not v),
    (CONTAINER_DOCS, "drop", "HostConfig.KernelMemoryTCP", lambda v: not v),
    # v1.44: "A new field named DNSNames and containing all non-fully qualified DNS
    # names a container takes on a specific network has been added to
    # GET /containers/{name:.*}/json." The summaries of GET /containers/json and
    # GET /system/df carry the same EndpointSettings type (v1.44.yaml:
    # ContainerSummary.NetworkSettings.Networks -> EndpointSettings, which has DNSNames).
    (CONTAINER_DOCS, "add", "NetworkSettings.Networks.*.DNSNames", None),
    (("container list",), "add", "[].NetworkSettings.Networks.*.DNSNames", None),
    (("system df",), "add", "Containers[].NetworkSettings.Networks.*.DNSNames", None),
    # v1.42: "GET /info now omits the KernelMemory and KernelMemoryTCP if they are
    # not supported by the host or host's configuration" (KernelMemory is always
    # reported false, hence omitted, from 1.42 on: kmem limits are deprecated).
    (("info",), "drop", "KernelMemory", None),
    # Whether the answering engine supports it: ours applies no kernel TCP
    # memory limit and says false at 1.41 (dockerd 20.10 says true on this
    # host), so the condition reads our own 1.41 answer ("ours:").
    (("info",), "drop", "KernelMemoryTCP", ("ours", lambda v: not v)),
    # v1.44: "GET /info now includes a CDISpecDirs field indicating the configured
    # CDI specifications directories." (an empty list unless configured)
    (("info",), "add", "CDISpecDirs", None),
    # v1.44: "GET /info now includes status properties in Runtimes." (omitted for a
    # runtime that reports no features)
    (("info",), "optional", "Runtimes.*.status", None),
    # The v1.44 reference (v1.44.yaml, SystemDataUsageResponse) gives BuildCache as
    # an array; dockerd 20.10 answers null without a build cache, moby 25 answers
    # [] at every version (its getDiskUsage: "Ensure empty BuildCache field is
    # represented as empty JSON array"). The one row not from the version history.
    (("system df",), "type", "BuildCache", {"array"}),
    # v1.42: "Removed the BuilderSize field on the GET /system/df endpoint."
    (("system df",), "drop", "BuilderSize", None),
    # v1.42: "The BuildCache.Parent field, as returned by GET /system/df is deprecated
    # and is now omitted." / "GET /system/df now includes a new Parents field"
    (("system df",), "drop", "BuildCache[].Parent", None),
    (("system df",), "add", "BuildCache[].Parents", None),
]
# Not rows: v1.44 "The Container and ContainerConfig fields in the GET
# /images/{name}/json response are deprecated and will no longer be included in
# API v1.45" (still there at 1.44); v1.44 HealthConfig.StartInterval,
# BindOptions.ReadOnlyNonRecursive/ReadOnlyForceRecursive and v1.43
# HostConfig.Annotations (omitted unless set; none is set here); v1.44
# container-wide Config.MacAddress deprecated (omitted when empty, as in 1.41).


def under(path, root):
    """path is root or below it."""
    return path == root or path.startswith(root + ".") or path.startswith(root + "[")


def expected_at_1_44(name, theirs_doc, theirs_paths, ours_41_doc):
    """dockerd's 1.41 paths of one document moved to 1.44: (required paths,
    roots of optional paths, {path: JSON types}). A condition is checked on
    dockerd's value, or on ours at 1.41 when given as ("ours", cond)."""
    required, optional, types = set(theirs_paths), set(), dict(theirs_paths)
    for docs, action, path, cond in API_CHANGES:
        if name not in docs:
            continue
        if action == "type":
            if path in types:
                types[path] = cond
            continue
        if isinstance(cond, tuple):
            if not cond[1](_value(ours_41_doc, path)):
                continue
        elif cond is not None and not cond(_value(theirs_doc, path)):
            continue
        if action == "drop":
            required = {p for p in required if not under(p, path)}
        elif action == "add":
            parent = path.rsplit(".", 1)[0] if "." in path else ""
            if parent == "" or any(p.startswith(parent + ".") for p in required):
                required.add(path)
        else:
            optional.add(path)
            required = {p for p in required if not under(p, path)}
    return required, optional, types


# ------------------------------------------------------ objects on a daemon

def call(d, method, path, body=None, ok=(200, 201, 204, 304)):
    code, out = api(d, method, path, None if body is None else json.dumps(body))
    assert code in ok, f"{method} {path} on {d.socket}: {code} {out[:500]!r}"
    return json.loads(out) if out.strip() else None


def make_objects(d, bind_dir, port):
    """The same objects, through the same requests, on either daemon."""
    call(d, "POST", "/v1.41/networks/create", {
        "Name": NET, "Driver": "bridge", "CheckDuplicate": True, "Labels": {"parity": "net"},
        "IPAM": {"Driver": "default", "Config": [{"Subnet": SUBNET, "Gateway": GATEWAY}]}})
    call(d, "POST", "/v1.41/volumes/create", {"Name": VOLUME, "Driver": "local", "Labels": {"parity": "vol"}})
    call(d, "POST", f"/v1.41/containers/create?name={RUNNING}", {
        "Image": IMAGE, "Cmd": ["sleep", "600"],  # writes nothing: no block I/O entries to race in stats
        "Env": ["PARITY=1"], "Labels": {"parity": "run"}, "ExposedPorts": {"80/tcp": {}},
        "Healthcheck": {"Test": ["CMD-SHELL", "true"], "Interval": 500_000_000, "Timeout": 2_000_000_000,
                        "Retries": 3},
        "HostConfig": {
            "Binds": [f"{bind_dir}:/bind:ro"],
            "Mounts": [{"Type": "volume", "Source": VOLUME, "Target": "/vol"}],
            "PortBindings": {"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": str(port)}]},
            "NetworkMode": NET},
        "NetworkingConfig": {"EndpointsConfig": {NET: {"Aliases": ["web"],
                                                       "IPAMConfig": {"IPv4Address": FIXED_IP}}}}})
    call(d, "POST", f"/v1.41/containers/{RUNNING}/start")
    call(d, "POST", f"/v1.41/containers/create?name={STOPPED}", {
        "Image": IMAGE, "Cmd": ["sh", "-c", "echo x > /f"], "Labels": {"parity": "stopped"}})
    call(d, "POST", f"/v1.41/containers/{STOPPED}/start")
    assert call(d, "POST", f"/v1.41/containers/{STOPPED}/wait")["StatusCode"] == 0
    # Healthy: State.Health.Log holds a probe's result.
    deadline = time.monotonic() + 30
    while call(d, "GET", f"/v1.41/containers/{RUNNING}/json")["State"].get("Health", {}).get("Status") != "healthy":
        assert time.monotonic() < deadline, f"{RUNNING} never became healthy on {d.socket}"
        time.sleep(0.1)


def remove_objects(d):
    for c in (RUNNING, STOPPED):
        api(d, "DELETE", f"/v1.41/containers/{c}?force=1")
    api(d, "DELETE", f"/v1.41/networks/{NET}")
    api(d, "DELETE", f"/v1.41/volumes/{VOLUME}")


def inspect_between_probes(d, v, name):
    """The container's inspect read while no health probe runs: a probe is an
    exec, listed in ExecIDs (null otherwise) while it runs."""
    for _ in range(100):
        doc = call(d, "GET", f"/v{v}/containers/{name}/json")
        if doc.get("ExecIDs") is None:
            break
        time.sleep(0.02)
    return doc


def documents(d, v):
    """Every document compared, read at API version v."""
    return {
        "image inspect": call(d, "GET", f"/v{v}/images/{IMAGE}/json"),
        "image list": call(d, "GET", f"/v{v}/images/json"),
        "container inspect (running)": inspect_between_probes(d, v, RUNNING),
        "container inspect (stopped)": call(d, "GET", f"/v{v}/containers/{STOPPED}/json"),
        "container list": call(d, "GET", f"/v{v}/containers/json?all=1"),
        "network inspect": call(d, "GET", f"/v{v}/networks/{NET}"),
        "network list": call(d, "GET", f"/v{v}/networks"),
        "volume inspect": call(d, "GET", f"/v{v}/volumes/{VOLUME}"),
        "volume list": call(d, "GET", f"/v{v}/volumes"),
        "info": call(d, "GET", f"/v{v}/info"),
        "version": call(d, "GET", f"/v{v}/version"),
        "system df": call(d, "GET", f"/v{v}/system/df"),
        # stream=0 without one-shot: two samples, precpu_stats filled (docker stats --no-stream)
        "stats": call(d, "GET", f"/v{v}/containers/{RUNNING}/stats?stream=0"),
    }


@pytest.fixture(scope="module")
def docs(daemon, tmp_path_factory):
    """{"theirs": dockerd's 1.41 documents, "41"/"44": ours at 1.41 / 1.44}."""
    tmp = tmp_path_factory.mktemp("parity")
    tar = tmp / "busybox.tar"
    import_busybox(daemon, tar, IMAGE)
    bind_dir = tmp / "bind"
    bind_dir.mkdir()
    port = free_port()
    out = {}
    with Dockerd() as real:
        env = {"PATH": os.environ["PATH"], "DOCKER_HOST": f"unix://{real.socket}",
               "DOCKER_CONFIG": str(tmp / "docker-config")}
        subprocess.run([DOCKERD_CLI, "import", "-c", 'CMD ["/bin/sh"]', str(tar), IMAGE], env=env,
                       capture_output=True, check=True, timeout=120)
        try:
            make_objects(real, bind_dir, port)
            out["theirs"] = documents(real, "1.41")
        finally:
            remove_objects(real)
    try:
        make_objects(daemon, bind_dir, port)
        out["41"] = documents(daemon, "1.41")
        out["44"] = documents(daemon, "1.44")
    finally:
        remove_objects(daemon)
    dump = os.environ.get("DIND_PARITY_DUMP")
    if dump:
        os.makedirs(dump, exist_ok=True)
        for k, v in out.items():
            with open(os.path.join(dump, f"{k}.json"), "w") as f:
                json.dump(v, f, indent=1, sort_keys=True)
    return out


# ------------------------------------------------------------------- test

def compare(name, ours, required, optional, types_theirs, types_ours):
    """Lines describing every difference of one document ([] when none)."""
    have = set(ours)
    missing = sorted(required - have)
    extra = sorted(p for p in have - required if not any(under(p, root) for root in optional))
    lines = []
    if missing:
        lines.append(f"  {name}: missing in ours ({len(missing)}):")
        lines += [f"      {p}" for p in missing]
    if extra:
        lines.append(f"  {name}: extra in ours ({len(extra)}):")
        lines += [f"      {p}" for p in extra]
    wrong = [f"      {p}: expected {'|'.join(sorted(types_theirs[p]))}, ours {'|'.join(sorted(types_ours[p]))}"
             for p in sorted(have & set(types_theirs)) if types_theirs[p] != types_ours[p]]
    if wrong:
        lines.append(f"  {name}: other JSON type in ours ({len(wrong)}):")
        lines += wrong
    return lines


def test_key_paths_match_dockerd_at_1_41_and_1_44(docs):
    report = []
    for name, theirs_doc in docs["theirs"].items():
        theirs = key_paths(theirs_doc)
        ours41 = key_paths(docs["41"][name])
        report += compare(f"[1.41] {name}", ours41, set(theirs), set(), theirs, ours41)
        required, optional, types = expected_at_1_44(name, theirs_doc, theirs, docs["41"][name])
        ours44 = key_paths(docs["44"][name])
        report += compare(f"[1.44] {name}", ours44, required, optional, types, ours44)
    if report:
        pytest.fail("key paths differ from dockerd 20.10's:\n" + "\n".join(report), pytrace=False)
