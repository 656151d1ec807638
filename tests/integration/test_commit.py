"""Issue #18's first parts: docker commit (a container's changes become an
image on its image, with dockerd's config, history and messages; both CLIs
and the python SDK), image inspect's Config keys, and docker system df."""
import json
import os
import subprocess

import pytest

from ctrtest import CLIS, api, docker, state


def test_commit_keeps_changes_deletions_and_the_config_dockerd_derives(daemon, image):
    docker(daemon, "run", "--name", "cm-src", "-e", "KEEP=1", "-w", "/tmp", image, "sh", "-c",
           "echo made > /made.txt; rm /etc/group; mkdir -p /d/e && echo deep > /d/e/f")
    try:
        out = docker(daemon, "commit", "-c", "LABEL spy=1", "-c", 'CMD ["cat", "/made.txt"]', "-c", "ENV EXTRA=2",
                     "-m", "a message", "-a", "someone <s@example.com>", "cm-src", "cm/committed:1").stdout.strip()
        assert out.startswith("sha256:") and len(out) == 71
        assert docker(daemon, "run", "--rm", "cm/committed:1").stdout == "made\n"
        listing = docker(daemon, "run", "--rm", "cm/committed:1", "sh", "-c",
                         "ls /etc/group 2>&1; cat /d/e/f; echo $KEEP $EXTRA; pwd").stdout
        assert "No such file" in listing and "deep" in listing and "1 2" in listing and "/tmp" in listing
        doc = json.loads(docker(daemon, "image", "inspect", "cm/committed:1").stdout)[0]
        src = state(daemon, "cm-src")
        assert doc["Id"] == out and doc["Parent"] == src["Image"]
        assert doc["Comment"] == "a message" and doc["Author"] == "someone <s@example.com>"
        assert doc["Config"]["Labels"]["spy"] == "1" and doc["Config"]["Cmd"] == ["cat", "/made.txt"]
        assert doc["Config"]["Hostname"] == src["Config"]["Hostname"]
        history = json.loads(docker(daemon, "history", "--no-trunc", "--format", "{{json .}}",
                                    "cm/committed:1").stdout.splitlines()[0])
        assert history["Comment"] == "a message"
        assert history["CreatedBy"] == "sh -c echo made > /made.txt; rm /etc/group; mkdir -p /d/e && echo deep > /d/e/f"
        base_layers = json.loads(docker(daemon, "image", "inspect", image).stdout)[0]["RootFS"]["Layers"]
        assert doc["RootFS"]["Layers"][:-1] == base_layers and len(doc["RootFS"]["Layers"]) == len(base_layers) + 1
        # Nothing changed: no layer, an empty_layer history entry.
        docker(daemon, "create", "--name", "cm-none", image, "true")
        same = docker(daemon, "commit", "cm-none", "cm/empty").stdout.strip()
        assert json.loads(docker(daemon, "image", "inspect", same).stdout)[0]["RootFS"]["Layers"] == base_layers
        assert json.loads(docker(daemon, "image", "inspect", "cm/empty:latest").stdout)[0]["Id"] == same
    finally:
        docker(daemon, "rm", "-f", "cm-src", "cm-none")
        docker(daemon, "rmi", "cm/committed:1", "cm/empty", check=False)


def test_commit_of_a_running_container_with_and_without_pause(daemon, image):
    docker(daemon, "run", "-d", "--name", "cm-live", image, "sh", "-c", "echo live > /live; sleep 300")
    try:
        for pause in ["true", "false"]:
            docker(daemon, "commit", f"--pause={pause}", "cm-live", f"cm/live:{pause}")
            assert docker(daemon, "run", "--rm", f"cm/live:{pause}", "cat", "/live").stdout == "live\n"
            s = state(daemon, "cm-live")["State"]
            assert s["Running"] and not s["Paused"], "unpaused after the commit"
        docker(daemon, "pause", "cm-live")
        docker(daemon, "commit", "cm-live", "cm/live:paused")
        assert state(daemon, "cm-live")["State"]["Paused"], "a paused container stays paused"
        docker(daemon, "unpause", "cm-live")
    finally:
        docker(daemon, "rm", "-f", "cm-live")
        docker(daemon, "rmi", "cm/live:true", "cm/live:false", "cm/live:paused", check=False)


def test_commit_refusals(daemon, image):
    docker(daemon, "create", "--name", "cm-bad", image, "true")
    try:
        for cli in CLIS:
            p = docker(daemon, "commit", "-c", "RUN echo no", "cm-bad", cli=cli, check=False)
            assert p.returncode != 0 and "run is not a valid change command" in p.stderr, p.stderr
            p = docker(daemon, "commit", "cm-nosuch", cli=cli, check=False)
            assert p.returncode != 0 and "No such container: cm-nosuch" in p.stderr, p.stderr
        p = docker(daemon, "commit", "cm-bad", "Bad/Repo:x", check=False)
        assert p.returncode != 0
        code, body = api(daemon, "POST", "/commit?container=cm-bad", '{"Cmd": 5}')
        assert code == 400 and "Cmd" in json.loads(body)["message"]
        assert docker(daemon, "images", "-q", "--filter", "dangling=true").stdout == ""
    finally:
        docker(daemon, "rm", "-f", "cm-bad")


def test_commit_through_the_python_sdk(daemon, image):
    env = {k: v for k, v in os.environ.items() if k not in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")}
    env["DOCKER_HOST"] = f"unix://{daemon.socket}"
    script = f"""
import docker
c = docker.from_env()
ctr = c.containers.run({image!r}, "sh -c 'echo sdk > /sdk'", detach=True, name="cm-sdk")
ctr.wait()
img = ctr.commit(repository="cm/sdk", tag="1", message="from the sdk", changes=["LABEL via=sdk"])
assert img.attrs["Comment"] == "from the sdk", img.attrs["Comment"]
assert img.attrs["Config"]["Labels"]["via"] == "sdk"
assert c.containers.run("cm/sdk:1", "cat /sdk", remove=True) == b"sdk\\n"
ctr.remove()
c.images.remove("cm/sdk:1")
print("ok")
"""
    for python in [p for p in ["/usr/bin/python3", "/root/.pyenv/versions/3.11.7/bin/python3"] if os.path.exists(p)]:
        if subprocess.run([python, "-c", "import docker"], capture_output=True).returncode != 0:
            continue
        p = subprocess.run([python, "-c", script], capture_output=True, text=True, env=env, timeout=120)
        assert p.returncode == 0 and p.stdout.strip() == "ok", (python, p.stdout, p.stderr)


IMAGE_CONFIG_KEYS = {"Hostname", "Domainname", "User", "AttachStdin", "AttachStdout", "AttachStderr", "Tty",
                     "OpenStdin", "StdinOnce", "Env", "Cmd", "Image", "Volumes", "WorkingDir", "Entrypoint",
                     "OnBuild", "Labels"}


def test_image_inspect_config_has_dockerd_keys(daemon, image, tmp_path):
    """An imported image's Config carries every member dockerd always sends
    (SDK users index image.attrs["Config"]["Cmd"])."""
    tar = tmp_path / "one.tar"
    subprocess.run(["tar", "-C", "/", "-cf", str(tar), "bin/busybox"], check=True)
    docker(daemon, "import", str(tar), "cm/imported:1")
    try:
        for version in ["v1.41", "v1.44"]:
            code, body = api(daemon, "GET", f"/{version}/images/cm/imported:1/json")
            doc = json.loads(body)
            assert code == 200 and set(doc["Config"]) == IMAGE_CONFIG_KEYS, doc["Config"]
            assert doc["Config"]["Cmd"] is None and doc["Config"]["Env"] is None
            assert doc["Comment"] == "Imported from -" and doc["DockerVersion"]
            # Deprecated at 1.44, still sent until 1.45 (moby 25).
            assert set(doc["ContainerConfig"]) == IMAGE_CONFIG_KEYS and doc["Container"] == ""
        # What an image sets stays, extra members included.
        doc = json.loads(api(daemon, "GET", f"/images/{image}/json")[1])
        assert doc["Config"]["Cmd"] == ["/bin/sh"] and IMAGE_CONFIG_KEYS <= set(doc["Config"])
    finally:
        docker(daemon, "rmi", "cm/imported:1")


def test_system_df_counts_images_containers_and_volumes(daemon, image):
    docker(daemon, "volume", "create", "df-vol")
    docker(daemon, "run", "--name", "df-writer", "-v", "df-vol:/data", image, "sh", "-c",
           "dd if=/dev/zero of=/data/blob bs=1k count=300 2>/dev/null; dd if=/dev/zero of=/rw bs=1k count=200 2>/dev/null")
    docker(daemon, "commit", "df-writer", "df/child:1")
    try:
        for version in ["v1.41", "v1.44"]:
            code, body = api(daemon, "GET", f"/{version}/system/df")
            df = json.loads(body)
            assert code == 200 and set(df) >= {"LayersSize", "Images", "Containers", "Volumes", "BuildCache"}
            assert ("BuilderSize" in df) == (version == "v1.41")
        base_id = json.loads(docker(daemon, "image", "inspect", image).stdout)[0]["Id"]
        images = {i["Id"]: i for i in df["Images"]}
        child = json.loads(docker(daemon, "image", "inspect", "df/child:1").stdout)[0]
        base, derived = images[base_id], images[child["Id"]]
        assert base["SharedSize"] == base["Size"] > 0, base  # its one layer is the child's too
        assert derived["SharedSize"] == base["Size"] and derived["Size"] > base["Size"] + 200 * 1024
        assert base["Containers"] >= 1 and derived["Containers"] == 0
        assert df["LayersSize"] == derived["Size"] or df["LayersSize"] >= derived["Size"]
        writer = [c for c in df["Containers"] if c["Names"] == ["/df-writer"]][0]
        assert writer["SizeRw"] >= 200 * 1024 and writer["SizeRootFs"] >= writer["SizeRw"] + base["Size"]
        vol = [v for v in df["Volumes"] if v["Name"] == "df-vol"][0]
        assert vol["UsageData"] == {"Size": 300 * 1024, "RefCount": 1}
        for cli in CLIS:
            out = docker(daemon, "system", "df", cli=cli).stdout
            assert out.splitlines()[0].split() == ["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"], out
            assert "Local Volumes" in out and "Build Cache" in out
            verbose = docker(daemon, "system", "df", "-v", cli=cli).stdout
            assert "df-vol" in verbose and "df/child" in verbose and "df-writer" in verbose, verbose
        # type= (API 1.42): only the types asked for, the others null.
        code, body = api(daemon, "GET", "/v1.44/system/df?type=volume&type=container")
        only = json.loads(body)
        assert code == 200 and only["Images"] is None and only["BuildCache"] is None and only["LayersSize"] == 0
        assert [v["UsageData"] for v in only["Volumes"] if v["Name"] == "df-vol"] == [vol["UsageData"]]
        assert [c["SizeRw"] for c in only["Containers"] if c["Names"] == ["/df-writer"]] == [writer["SizeRw"]]
        code, body = api(daemon, "GET", "/v1.44/system/df?type=image")
        only = json.loads(body)
        assert (only["Containers"], only["Volumes"], only["LayersSize"]) == (None, None, df["LayersSize"])
        assert {i["Id"]: i["Containers"] for i in only["Images"]} == {i["Id"]: i["Containers"] for i in df["Images"]}
        code, body = api(daemon, "GET", "/v1.41/system/df?type=image")  # before 1.42: ignored
        assert json.loads(body)["Volumes"] is not None
        code, body = api(daemon, "GET", "/v1.44/system/df?type=image&type=disks")
        assert (code, json.loads(body)) == (400, {"message": "unknown object type: disks"})
    finally:
        docker(daemon, "rm", "-f", "df-writer")
        docker(daemon, "rmi", "df/child:1")
        docker(daemon, "volume", "rm", "df-vol")


def test_prunes_remove_only_what_their_filters_keep(daemon, image):
    docker(daemon, "create", "--name", "pr-keep", "--label", "keep=1", image, "true")
    docker(daemon, "create", "--name", "pr-go", "--label", "go=1", image, "true")
    docker(daemon, "volume", "create", "--label", "keep=1", "pr-vkeep")
    docker(daemon, "volume", "create", "--label", "go=1", "pr-vgo")
    try:
        out = docker(daemon, "container", "prune", "-f", "--filter", "label=go").stdout
        names = docker(daemon, "ps", "-a", "--format", "{{.Names}}").stdout.split()
        assert "pr-keep" in names and "pr-go" not in names, (out, names)
        docker(daemon, "container", "prune", "-f", "--filter", "label!=keep")
        assert "pr-keep" in docker(daemon, "ps", "-a", "--format", "{{.Names}}").stdout.split()
        docker(daemon, "container", "prune", "-f", "--filter", "until=2000-01-01T00:00:00Z")
        assert "pr-keep" in docker(daemon, "ps", "-a", "--format", "{{.Names}}").stdout.split()
        p = docker(daemon, "container", "prune", "-f", "--filter", "bogus=1", check=False)
        assert p.returncode != 0 and "Invalid filter 'bogus'" in p.stderr
        docker(daemon, "volume", "prune", "-f", "-a", "--filter", "label=go")
        vols = docker(daemon, "volume", "ls", "-q").stdout.split()
        assert "pr-vkeep" in vols and "pr-vgo" not in vols, vols
        # An untagged image with a label: only a matching filter prunes it.
        docker(daemon, "commit", "-c", "LABEL flavour=x", "pr-keep", "pr/img:1")
        docker(daemon, "tag", "pr/img:1", "pr/img:2")
        docker(daemon, "rmi", "pr/img:1")
        docker(daemon, "commit", "-c", "LABEL flavour=x", "pr-keep", "pr/img:1")  # takes the tag: :2's ID stays tagged
        docker(daemon, "image", "prune", "-f", "-a", "--filter", "label=flavour=y")
        assert docker(daemon, "images", "-q", "pr/img").stdout.strip()
        import urllib.parse
        code, body = api(daemon, "POST", "/images/prune?filters=" + urllib.parse.quote('{"dangling":["maybe"]}'))
        assert code == 400 and "dangling" in json.loads(body)["message"]
    finally:
        docker(daemon, "rm", "-f", "pr-keep", "pr-go", check=False)
        docker(daemon, "rmi", "pr/img:1", "pr/img:2", check=False)
        docker(daemon, "volume", "rm", "pr-vkeep", "pr-vgo", check=False)


@pytest.mark.parametrize("cli", CLIS)
def test_system_prune_removes_what_nothing_uses(daemon, image, cli):
    keep = "sp-keep" + str(len(cli))
    docker(daemon, "run", "-d", "--name", keep, "-v", "sp-used:/data", image, "sleep", "300")
    docker(daemon, "run", "--name", "sp-stopped", "-v", "/anon", image, "true")
    docker(daemon, "network", "create", "sp-net")
    dangling = docker(daemon, "commit", "sp-stopped", "sp/d:1").stdout.strip()
    tagged = docker(daemon, "commit", "-c", "LABEL again=1", "sp-stopped", "sp/d:1").stdout.strip()
    try:
        out = docker(daemon, "system", "prune", "-f", "--volumes", cli=cli).stdout
        assert "Total reclaimed space" in out, out
        names = docker(daemon, "ps", "-a", "--format", "{{.Names}}").stdout.split()
        assert names == [keep]
        assert "sp-net" not in docker(daemon, "network", "ls", "--format", "{{.Name}}").stdout
        volumes = docker(daemon, "volume", "ls", "--format", "{{.Name}}").stdout.split()
        assert "sp-used" in volumes and not any(len(v) == 64 for v in volumes), volumes
        assert docker(daemon, "image", "inspect", dangling, check=False).returncode != 0, "dangling: pruned"
        assert docker(daemon, "image", "inspect", tagged, check=False).returncode == 0
        # -a: images no container uses go too (the running one's stays).
        docker(daemon, "system", "prune", "-af", cli=cli)
        assert docker(daemon, "image", "inspect", tagged, check=False).returncode != 0
        assert docker(daemon, "image", "inspect", image, check=False).returncode == 0
    finally:
        docker(daemon, "rm", "-f", keep, "sp-stopped", check=False)
        docker(daemon, "network", "rm", "sp-net", check=False)
        docker(daemon, "volume", "rm", "sp-used", check=False)
