"""Pull, push and login against a real registry (Debian's docker-registry,
the distribution registry 2.8) on the loopback of the daemon's network
namespace: TLS with a CA from our certgen installed through certs.d, htpasswd
basic auth; images seeded with skopeo from OCI layouts the tests write."""
import concurrent.futures
import json
import os
import pathlib
import subprocess
import tempfile

import pytest

from ctrtest import CLIS
from dindtest import Daemon
from regtest import Layout, Registry, busybox_layer, cli, docker_login, tar_bytes

USER, PASSWORD = "alice", "s3cret-pw"


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    root = tmp_path_factory.mktemp("reg")
    certs_d = root / "certs.d"
    certs_d.mkdir()
    with tempfile.TemporaryDirectory(prefix="dind-registry-", ignore_cleanup_errors=True) as droot:
        d = Daemon(droot, tls=False, netns=True,
                   extra_args=["--registry-certs-dir", str(certs_d)]).start()
        d.cli_config = root / "cli"
        d.cli_config.mkdir()
        reg = Registry(root / "registry", d.netns, tls=True, users={USER: PASSWORD})
        plain = Registry(root / "plain", d.netns, tls=False)
        try:
            reg.start()
            plain.start()
            reg.certs_d(certs_d)
            layout = Layout(root / "layout")
            base = busybox_layer()
            app = tar_bytes({"app": None, "app/hello.txt": b"hello from the app layer\n"})
            big = tar_bytes({"data": None, "data/blob.bin": os.urandom(3 << 20)})
            digest, _ = layout.image([base, app, big], tag="app")
            amd, _ = layout.image([base, tar_bytes({"arch": b"amd64\n"})], arch="amd64")
            arm, _ = layout.image([base, tar_bytes({"arch": b"arm64\n"})], arch="arm64")
            layout.multi("multi", [layout.index[1], layout.index[2]])
            layout.image([base, tar_bytes({"z": b"zstd layer\n"})], compress="zstd", tag="zstd")
            creds = f"{USER}:{PASSWORD}"
            reg.skopeo_copy(f"oci:{layout.path}:app", "team/app:1", creds=creds)
            reg.skopeo_copy(f"oci:{layout.path}:multi", "team/multi:1", creds=creds, all_images=True)
            reg.skopeo_copy(f"oci:{layout.path}:zstd", "team/zstd:1", creds=creds)
            plain.skopeo_copy(f"oci:{layout.path}:app", "open/app:1")
            yield {"daemon": d, "reg": reg, "plain": plain, "app_digest": digest,
                   "amd": amd, "arm": arm, "root": root}
        finally:
            left = cli(d, "ps", "-aq", check=False).stdout.split()
            if left:
                cli(d, "rm", "-f", *left, check=False)
            reg.stop()
            plain.stop()
            assert d.destroy() == 0


def login(env, config=None):
    d, reg = env["daemon"], env["reg"]
    p = docker_login(d, reg.host, USER, PASSWORD, config=config, check=False)
    assert p.returncode == 0, p.stderr + d.log_text()[-3000:]
    assert "Login Succeeded" in p.stdout


def rmi(d, *names):
    cli(d, "rmi", "-f", *names, check=False)


def test_login_pull_run_and_up_to_date(env):
    d, reg = env["daemon"], env["reg"]
    login(env)
    ref = f"{reg.host}/team/app:1"
    p = cli(d, "pull", ref)
    out = p.stdout
    assert "1: Pulling from team/app" in out
    assert "Pull complete" in out
    assert f"Digest: {env['app_digest']}" in out
    assert f"Status: Downloaded newer image for {ref}" in out
    run = cli(d, "run", "--rm", ref, "cat", "/app/hello.txt")
    assert run.stdout == "hello from the app layer\n"
    info = json.loads(cli(d, "image", "inspect", ref).stdout)[0]
    assert info["RepoDigests"] == [f"{reg.host}/team/app@{env['app_digest']}"]
    assert info["RepoTags"] == [ref]
    again = cli(d, "pull", ref).stdout
    assert f"Status: Image is up to date for {ref}" in again
    assert "Pull complete" not in again
    rmi(d, ref)


def test_pull_by_digest(env):
    d, reg = env["daemon"], env["reg"]
    login(env)
    ref = f"{reg.host}/team/app@{env['app_digest']}"
    out = cli(d, "pull", ref).stdout
    assert f"{ref}: Pulling from team/app" in out
    assert "Downloaded newer image" in out or "Image is up to date" in out
    info = json.loads(cli(d, "image", "inspect", ref).stdout)[0]
    assert f"{reg.host}/team/app@{env['app_digest']}" in info["RepoDigests"]
    rmi(d, ref)


def test_unknown_tag_and_repository(env):
    d, reg = env["daemon"], env["reg"]
    login(env)
    p = cli(d, "pull", f"{reg.host}/team/app:nope", check=False)
    assert p.returncode != 0
    assert f"manifest for {reg.host}/team/app:nope not found: manifest unknown" in p.stderr
    p = cli(d, "pull", f"{reg.host}/team/nosuchrepo:1", check=False)
    assert p.returncode != 0
    assert "not found" in p.stderr or "unknown" in p.stderr, p.stderr


def test_pull_without_credentials_is_refused(env, tmp_path):
    d, reg = env["daemon"], env["reg"]
    p = cli(d, "pull", f"{reg.host}/team/app:1", config=tmp_path, check=False)
    assert p.returncode != 0
    assert "no basic auth credentials" in p.stderr, p.stderr


def test_login_with_a_wrong_password_fails(env, tmp_path):
    d, reg = env["daemon"], env["reg"]
    p = docker_login(d, reg.host, USER, "wrong", config=tmp_path, check=False)
    assert p.returncode != 0
    assert "401 Unauthorized" in p.stderr, p.stderr
    assert "wrong" not in p.stderr and "wrong" not in d.log_text()


def test_manifest_list_picks_the_platform(env):
    d, reg = env["daemon"], env["reg"]
    login(env)
    ref = f"{reg.host}/team/multi:1"
    cli(d, "pull", ref)
    assert cli(d, "run", "--rm", ref, "cat", "/arch").stdout == "amd64\n"
    info = json.loads(cli(d, "image", "inspect", ref).stdout)[0]
    assert info["Architecture"] == "amd64"
    rmi(d, ref)
    cli(d, "pull", "--platform", "linux/arm64", ref)
    info = json.loads(cli(d, "image", "inspect", ref).stdout)[0]
    assert info["Architecture"] == "arm64"
    rmi(d, ref)
    p = cli(d, "pull", "--platform", "linux/s390x", ref, check=False)
    assert p.returncode != 0
    assert "no matching manifest for linux/s390x in the manifest list entries" in p.stderr


def test_zstd_layers(env):
    d, reg = env["daemon"], env["reg"]
    login(env)
    ref = f"{reg.host}/team/zstd:1"
    cli(d, "pull", ref)
    assert cli(d, "run", "--rm", ref, "cat", "/z").stdout == "zstd layer\n"
    rmi(d, ref)


def test_plain_http_on_loopback_and_run_pulls_a_missing_image(env):
    d, plain = env["daemon"], env["plain"]
    ref = f"{plain.host}/open/app:1"
    rmi(d, ref)
    p = cli(d, "run", "--rm", ref, "cat", "/app/hello.txt")
    assert p.stdout == "hello from the app layer\n"
    assert f"Unable to find image '{ref}' locally" in p.stderr
    assert "Pull complete" in p.stderr or "Already exists" in p.stderr
    rmi(d, ref)


@pytest.mark.parametrize("cli_path", CLIS)
def test_both_clis_pull_and_push_with_progress(env, cli_path):
    d, plain = env["daemon"], env["plain"]
    ref = f"{plain.host}/open/app:1"
    rmi(d, ref)
    out = cli(d, "pull", ref, cli_path=cli_path).stdout
    assert "Pull complete" in out and "Digest: sha256:" in out
    dest = f"{plain.host}/cli/{os.path.basename(cli_path)}-{abs(hash(cli_path)) % 1000}:1"
    cli(d, "tag", ref, dest)
    out = cli(d, "push", dest, cli_path=cli_path).stdout
    assert f"The push refers to repository [{dest[:-2]}]" in out
    assert "Pushed" in out or "Layer already exists" in out or "Mounted from" in out
    assert digest_line(out, "1").startswith("sha256:")
    rmi(d, ref, dest)


def test_concurrent_pulls_share_downloads(env):
    d, plain = env["daemon"], env["plain"]
    ref = f"{plain.host}/open/app:1"
    rmi(d, ref)
    before = len([r for r in plain.requests() if r[0] == "GET" and "/blobs/" in r[1]])
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: cli(d, "pull", ref), range(4)))
    for r in results:
        assert "Digest: sha256:" in r.stdout
    gets = [r for r in plain.requests() if r[0] == "GET" and "/blobs/" in r[1]][before:]
    layer_gets = [g for g in gets if g[1].split("/")[-1]]
    # 3 layers + 1 config per pull at most for the config; layers once each.
    blobs = {}
    for _, uri in layer_gets:
        blobs[uri] = blobs.get(uri, 0) + 1
    assert sum(1 for n in blobs.values() if n == 1) >= 3, blobs
    assert cli(d, "run", "--rm", ref, "cat", "/app/hello.txt").stdout == "hello from the app layer\n"
    rmi(d, ref)


def digest_line(out, tag):
    for line in out.splitlines():
        if line.startswith(f"{tag}: digest: sha256:"):
            return line.split()[2]
    raise AssertionError(f"no digest line in:\n{out}")


@pytest.fixture(scope="module")
def local_image(env, tmp_path_factory):
    from ctrtest import import_busybox
    d = env["daemon"]
    path = tmp_path_factory.mktemp("bb") / "busybox.tar"
    import_busybox(d, path, tag="local/busybox:1")
    return "local/busybox:1"


def test_push_pull_back_identical_and_repush(env, local_image):
    d, reg = env["daemon"], env["reg"]
    login(env)
    ref = f"{reg.host}/team/pushed:1"
    cli(d, "tag", local_image, ref)
    out = cli(d, "push", ref).stdout
    assert f"The push refers to repository [{reg.host}/team/pushed]" in out
    assert "Pushed" in out
    digest = digest_line(out, "1")
    # The registry serves exactly that manifest.
    status, body = reg.api("GET", "/v2/team/pushed/manifests/1", creds=f"{USER}:{PASSWORD}",
                           headers=["Accept: application/vnd.docker.distribution.manifest.v2+json"])
    assert status == 200
    import hashlib
    assert "sha256:" + hashlib.sha256(body).hexdigest() == digest
    # Again: nothing is uploaded, and the manifest digest is the same.
    again = cli(d, "push", ref).stdout
    assert "Layer already exists" in again and "Pushed" not in again
    assert digest_line(again, "1") == digest
    # Pulled back into an empty store: the same image.
    image_id = json.loads(cli(d, "image", "inspect", ref).stdout)[0]["Id"]
    rmi(d, ref, local_image)
    out = cli(d, "pull", ref).stdout
    assert f"Digest: {digest}" in out
    assert json.loads(cli(d, "image", "inspect", ref).stdout)[0]["Id"] == image_id
    assert cli(d, "run", "--rm", ref, "echo", "pushed and pulled").stdout == "pushed and pulled\n"
    cli(d, "tag", ref, local_image)


def test_push_mounts_layers_from_another_repository(env, local_image):
    d, reg = env["daemon"], env["reg"]
    login(env)
    first, second = f"{reg.host}/team/mount-a:1", f"{reg.host}/team/mount-b:1"
    cli(d, "tag", local_image, first)
    cli(d, "push", first)
    cli(d, "tag", local_image, second)
    out = cli(d, "push", second).stdout
    assert "Mounted from team/mount-a" in out, out
    rmi(d, first, second)


def test_push_without_login_and_of_a_missing_image(env, local_image, tmp_path):
    d, reg = env["daemon"], env["reg"]
    ref = f"{reg.host}/team/denied:1"
    cli(d, "tag", local_image, ref)
    p = cli(d, "push", ref, config=tmp_path, check=False)
    assert p.returncode != 0
    assert "no basic auth credentials" in p.stderr or "unauthorized" in p.stderr, p.stderr
    rmi(d, ref)
    p = cli(d, "push", f"{reg.host}/team/nothing:1", check=False)
    assert p.returncode != 0
    assert "An image does not exist locally with the tag" in p.stderr


def test_python_sdk_pulls_and_pushes(env, local_image):
    d, plain = env["daemon"], env["plain"]
    code = f"""
import docker
c = docker.DockerClient(base_url="unix://{d.socket}")
img = c.images.pull("{plain.host}/open/app", tag="1")
print("pulled", img.id)
c.images.get("{local_image}").tag("{plain.host}/open/sdk", tag="2")
last = None
for line in c.images.push("{plain.host}/open/sdk", tag="2", stream=True, decode=True):
    if "error" in line:
        raise SystemExit(line["error"])
    last = line
print("pushed", last["aux"]["Digest"])
"""
    env_vars = {k: v for k, v in os.environ.items() if k not in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")}
    p = subprocess.run(["/usr/bin/python3", "-c", code], capture_output=True, text=True, timeout=120,
                       env=env_vars)
    assert p.returncode == 0, p.stderr
    assert "pulled sha256:" in p.stdout and "pushed sha256:" in p.stdout
    rmi(d, f"{plain.host}/open/app:1", f"{plain.host}/open/sdk:2")


def test_distribution_inspect(env):
    d, reg = env["daemon"], env["reg"]
    login(env)
    from ctrtest import api
    # Without credentials the registry's refusal comes back in its words.
    status, body = api(d, "GET", f"/distribution/{reg.host}/team/multi:1/json")
    assert status == 500 and b"no basic auth credentials" in body
    plain = env["plain"]
    status, body = api(d, "GET", f"/distribution/{plain.host}/open/app:1/json")
    assert status == 200, body
    doc = json.loads(body)
    assert doc["Descriptor"]["digest"].startswith("sha256:")
    assert doc["Platforms"] == [{"architecture": "amd64", "os": "linux"}]


@pytest.fixture(scope="module")
def token_registry(env):
    """A registry with bearer-token auth: our token server signs RS256 JWTs
    with a key whose certificate the registry trusts."""
    import sys
    import time
    from dindtest import free_port
    d, root = env["daemon"], env["root"] / "token"
    root.mkdir()
    key, crt = root / "key.pem", root / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
                    "-out", str(crt), "-days", "1", "-subj", "/CN=token-issuer"], check=True,
                   capture_output=True)
    port = free_port()
    log = root / "tokens.log"
    server = subprocess.Popen(["nsenter", f"--net=/run/netns/{d.netns}", sys.executable,
                               str(pathlib.Path(__file__).resolve().parent.parent / "support/tokenserver.py"),
                               str(port), str(key), str(crt), "test-issuer", "test-registry",
                               f"{USER}:{PASSWORD}", str(log)])
    reg = Registry(root / "registry", d.netns, tls=True,
                   token=(f"http://127.0.0.1:{port}/token", "test-registry", "test-issuer", crt))
    try:
        deadline = time.monotonic() + 10
        while subprocess.run(["nsenter", f"--net=/run/netns/{d.netns}", "curl", "-s", "-o", "/dev/null",
                              f"http://127.0.0.1:{port}/token"]).returncode != 0:
            assert time.monotonic() < deadline, "token server not up"
            time.sleep(0.05)
        reg.start()
        reg.certs_d(env["root"] / "certs.d")
        yield reg, log
    finally:
        reg.stop()
        server.terminate()
        server.wait(timeout=10)


def token_requests(log):
    return [json.loads(l) for l in log.read_text().splitlines()] if log.exists() else []


def test_bearer_tokens_login_identity_token_push_and_pull(env, token_registry, local_image, tmp_path):
    d = env["daemon"]
    reg, log = token_registry
    docker_login(d, reg.host, USER, PASSWORD, config=tmp_path)
    # The token server's refresh token came back as the identity token, which
    # the CLI stores instead of the password.
    stored = json.loads((tmp_path / "config.json").read_text())["auths"][reg.host]
    assert stored.get("identitytoken"), stored
    assert any(r["method"] == "GET" and r["offline"] == "true" for r in token_requests(log))
    ref = f"{reg.host}/team/tokened:1"
    cli(d, "tag", local_image, ref)
    out = cli(d, "push", ref, config=tmp_path).stdout
    assert "Pushed" in out or "Layer already exists" in out
    grants = [r for r in token_requests(log) if r["method"] == "POST"]
    assert grants and grants[-1]["grant"] == "refresh_token"
    assert "repository:team/tokened:pull,push" in grants[-1]["scopes"]
    rmi(d, ref)
    cli(d, "pull", ref, config=tmp_path)
    # A second pull reuses the cached token: no new token request.
    n = len(token_requests(log))
    cli(d, "pull", ref, config=tmp_path)
    assert len(token_requests(log)) == n
    assert cli(d, "run", "--rm", ref, "echo", "tokened").stdout == "tokened\n"
    rmi(d, ref)


def test_bearer_token_refused_without_credentials(env, token_registry, tmp_path):
    d = env["daemon"]
    reg, _ = token_registry
    p = cli(d, "pull", f"{reg.host}/team/tokened:1", config=tmp_path, check=False)
    assert p.returncode != 0
    assert "unauthorized" in p.stderr or "denied" in p.stderr, p.stderr


def test_a_pulled_image_saves_loads_and_pushes_its_blobs_unchanged(env, tmp_path):
    d, reg, plain = env["daemon"], env["reg"], env["plain"]
    login(env)
    src = f"{reg.host}/team/app:1"
    cli(d, "pull", src)
    # docker save of a pulled image: the tars come from the kept blobs.
    archive = tmp_path / "app.tar"
    cli(d, "save", "-o", str(archive), src)
    image_id = json.loads(cli(d, "image", "inspect", src).stdout)[0]["Id"]
    rmi(d, src)
    cli(d, "load", "-i", str(archive))
    assert json.loads(cli(d, "image", "inspect", src).stdout)[0]["Id"] == image_id
    assert cli(d, "run", "--rm", src, "cat", "/app/hello.txt").stdout == "hello from the app layer\n"
    rmi(d, src)
    # Pushed to another registry: the very blobs of the source, no
    # recompression.
    cli(d, "pull", src)
    dest = f"{plain.host}/copied/app:1"
    cli(d, "tag", src, dest)
    cli(d, "push", dest)
    _, source_manifest = reg.api("GET", "/v2/team/app/manifests/1", creds=f"{USER}:{PASSWORD}",
                                 headers=["Accept: application/vnd.oci.image.manifest.v1+json"])
    _, pushed_manifest = plain.api("GET", "/v2/copied/app/manifests/1",
                                   headers=["Accept: application/vnd.docker.distribution.manifest.v2+json"])
    layers = lambda m: [l["digest"] for l in json.loads(m)["layers"]]
    assert layers(pushed_manifest) == layers(source_manifest)
    rmi(d, src, dest)


def test_certs_d_trust_for_a_registry_that_is_not_insecure(env, tmp_path):
    """A registry on a routable address (not loopback, not listed insecure):
    verified TLS only, trusted through certs.d."""
    d = env["daemon"]
    addr = "10.213.77.1"
    # An address of the namespace's own (on its lo): local traffic, but not
    # a loopback address, so nothing marks the registry insecure.
    d.in_netns("ip", "addr", "add", f"{addr}/32", "dev", "lo", check=True)
    try:
        reg = Registry(tmp_path / "routable", d.netns, tls=True, addr=addr)
        with reg:
            reg.skopeo_copy(f"oci:{env['root'] / 'layout'}:app", "team/app:1")
            ref = f"{reg.host}/team/app:1"
            p = cli(d, "pull", ref, check=False)
            assert p.returncode != 0
            assert "x509" in p.stderr, p.stderr
            reg.certs_d(env["root"] / "certs.d")
            cli(d, "pull", ref)
            assert cli(d, "run", "--rm", ref, "cat", "/app/hello.txt").stdout == "hello from the app layer\n"
            rmi(d, ref)
    finally:
        d.in_netns("ip", "addr", "del", f"{addr}/32", "dev", "lo")


def test_run_pull_policies(env):
    d, plain = env["daemon"], env["plain"]
    ref = f"{plain.host}/open/app:1"
    rmi(d, ref)
    p = cli(d, "run", "--rm", "--pull", "never", ref, "true", check=False)
    assert p.returncode != 0
    assert f"No such image: {ref}" in p.stderr, p.stderr
    p = cli(d, "run", "--rm", "--pull", "always", ref, "cat", "/app/hello.txt")
    assert p.stdout == "hello from the app layer\n"
    assert "Downloaded newer image" in p.stderr or "Pull complete" in p.stderr, p.stderr
    # Present now: "always" asks again and is told it is up to date.
    p = cli(d, "run", "--rm", "--pull", "always", ref, "true")
    assert "Image is up to date" in p.stderr, p.stderr
    rmi(d, ref)
