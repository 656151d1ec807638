"""A real registry for the pull/push suites: Debian's docker-registry (the
distribution registry 2.8) started in a test daemon's network namespace on
loopback, with TLS from a CA our certgen makes (installed for the daemon
through a certs.d directory), optionally htpasswd basic auth or bearer
tokens, and images seeded from OCI layouts this module writes (through
skopeo)."""
import gzip
import hashlib
import io
import json
import os
import pathlib
import shutil
import subprocess
import tarfile
import time

from dindtest import certgen, free_port


def cli(d, *args, config=None, cli_path=None, check=True, timeout=120, stdin=None):
    """The docker CLI against daemon d with its own config directory
    (d.cli_config unless `config`), so logins stay per test."""
    from ctrtest import CLIS
    env = {"PATH": os.environ["PATH"], "DOCKER_HOST": f"unix://{d.socket}",
           "DOCKER_CONFIG": str(config or d.cli_config)}
    p = subprocess.run([cli_path or CLIS[0], *args], capture_output=True, text=True,
                       timeout=timeout, env=env, input=stdin)
    if check and p.returncode != 0:
        raise AssertionError(f"{args}: rc={p.returncode}\n{p.stdout}\n{p.stderr}")
    return p


def docker_login(d, host, user, password, config=None, check=True):
    """docker login with the password on stdin."""
    return cli(d, "login", "-u", user, "--password-stdin", host, config=config, check=check,
               stdin=password)


def sha256(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


class Registry:
    """docker-registry serve, in netns `netns` (None: the host's loopback).
    tls: serve HTTPS with a certgen bundle; users: {name: password} for
    htpasswd auth; token: (realm_url, service, issuer, rootcert path)."""

    def __init__(self, root, netns, tls=True, users=None, token=None, port=None, addr="127.0.0.1"):
        self.root = pathlib.Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.netns = netns
        self.tls = tls
        self.port = port or free_port()
        self.addr = addr
        self.host = f"{addr}:{self.port}"
        self.users = users or {}
        self.token = token
        self.proc = None

    def _ns(self, cmd):
        return (["nsenter", f"--net=/run/netns/{self.netns}"] if self.netns else []) + cmd

    def certs_d(self, certs_dir):
        """Installs this registry's CA for a daemon: <certs_dir>/<host>/ca.crt."""
        if self.tls:
            d = pathlib.Path(certs_dir) / self.host
            d.mkdir(parents=True, exist_ok=True)
            shutil.copy(self.root / "certs/ca/cert.pem", d / "ca.crt")

    def start(self):
        cfg = {"version": 0.1, "log": {"level": "info", "accesslog": {"disabled": False}},
               "storage": {"filesystem": {"rootdirectory": str(self.root / "data")},
                           "delete": {"enabled": True}},
               "http": {"addr": self.host, "secret": "test-secret"}}
        if self.tls:
            certgen(self.root / "certs", "-q", "--san", f"IP:127.0.0.1,IP:{self.addr}")
            cfg["http"]["tls"] = {"certificate": str(self.root / "certs/server/cert.pem"),
                                  "key": str(self.root / "certs/server/key.pem")}
        if self.users:
            lines = []
            for user, pw in self.users.items():
                out = subprocess.run(["htpasswd", "-nbB", user, pw], capture_output=True,
                                     text=True, check=True).stdout.strip()
                lines.append(out)
            (self.root / "htpasswd").write_text("\n".join(lines) + "\n")
            cfg["auth"] = {"htpasswd": {"realm": "test-realm", "path": str(self.root / "htpasswd")}}
        if self.token:
            realm, service, issuer, rootcert = self.token
            cfg["auth"] = {"token": {"realm": realm, "service": service, "issuer": issuer,
                                     "rootcertbundle": str(rootcert)}}
        # YAML is a superset of JSON.
        (self.root / "config.yml").write_text(json.dumps(cfg))
        self.log = open(self.root / "registry.log", "ab")
        self.proc = subprocess.Popen(self._ns(["docker-registry", "serve", str(self.root / "config.yml")]),
                                     stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 15
        scheme = "https" if self.tls else "http"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("docker-registry exited:\n" + self.log_text())
            r = subprocess.run(self._ns(["curl", "-sk", "-o", "/dev/null", "-w", "%{http_code}",
                                         f"{scheme}://{self.host}/v2/"]), capture_output=True, text=True)
            if r.stdout.strip() in ("200", "401"):
                return self
            time.sleep(0.1)
        raise AssertionError("docker-registry not ready:\n" + self.log_text())

    def log_text(self):
        p = self.root / "registry.log"
        return p.read_text(errors="replace") if p.exists() else ""

    def requests(self):
        """(method, path) of the requests the registry logged, in order."""
        out = []
        for line in self.log_text().splitlines():
            if "http.request.method=" in line and "response completed" in line:
                f = dict(kv.split("=", 1) for kv in line.split() if "=" in kv and kv.count('"') in (0, 2))
                out.append((f.get("http.request.method", ""), f.get("http.request.uri", "").strip('"')))
        return out

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if getattr(self, "log", None):
            self.log.close()
            self.log = None

    def skopeo_copy(self, src, dest_ref, creds=None, all_images=False):
        """skopeo copy SRC docker://<host>/<dest_ref>, trusting our CA."""
        args = ["skopeo", "copy", "-q"]
        if all_images:
            args.append("--all")
        if self.tls:
            args += ["--dest-cert-dir", str(self.root / "skopeo-certs")]
            d = self.root / "skopeo-certs"
            d.mkdir(exist_ok=True)
            shutil.copy(self.root / "certs/ca/cert.pem", d / "ca.crt")
        else:
            args.append("--dest-tls-verify=false")
        if creds:
            args += ["--dest-creds", creds]
        args += [src, f"docker://{self.host}/{dest_ref}"]
        env = dict(os.environ, REGISTRY_AUTH_FILE=str(self.root / "skopeo-auth.json"))
        r = subprocess.run(self._ns(args), capture_output=True, text=True, env=env, timeout=120)
        if r.returncode != 0:
            raise AssertionError(f"skopeo copy failed: {r.stderr}")

    def api(self, method, path, creds=None, headers=(), out=None):
        """One request to the registry with curl: (status, body bytes)."""
        scheme = "https" if self.tls else "http"
        args = ["curl", "-sk", "-X", method, "-o", out or "-", "-w", "\n%{http_code}"]
        if method == "HEAD":
            args = ["curl", "-sk", "-I", "-o", "/dev/null", "-w", "\n%{http_code}"]
        if creds:
            args += ["-u", creds]
        for h in headers:
            args += ["-H", h]
        args.append(f"{scheme}://{self.host}{path}")
        r = subprocess.run(self._ns(args), capture_output=True, timeout=60)
        body, _, code = r.stdout.rpartition(b"\n")
        return int(code or 0), body

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def tar_bytes(files):
    """A layer tar from {path: bytes or None (a directory)}; deterministic."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.mtime = 1700000000
            if data is None:
                info.type = tarfile.DIRTYPE
                info.mode = 0o755
                t.addfile(info)
            elif isinstance(data, tuple) and data[0] == "symlink":
                info.type = tarfile.SYMTYPE
                info.linkname = data[1]
                t.addfile(info)
            else:
                info.size = len(data)
                info.mode = 0o755
                t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def busybox_layer():
    """/bin/busybox and a few applets: enough to run `sh -c` in the image."""
    files = {"bin": None, "etc": None, "tmp": None,
             "bin/busybox": pathlib.Path("/bin/busybox").read_bytes()}
    for applet in ["sh", "echo", "cat", "ls", "true", "sleep", "uname"]:
        files[f"bin/{applet}"] = ("symlink", "busybox")
    files["etc/passwd"] = b"root:x:0:0:root:/root:/bin/sh\n"
    return tar_bytes(files)


class Layout:
    """An OCI image layout on disk (skopeo's oci: transport), written blob by
    blob; images() returns the manifest descriptors made so far."""

    def __init__(self, path):
        self.path = pathlib.Path(path)
        (self.path / "blobs/sha256").mkdir(parents=True, exist_ok=True)
        (self.path / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
        self.index = []

    def blob(self, data):
        d = sha256(data)
        (self.path / "blobs/sha256" / d[7:]).write_bytes(data)
        return d

    def image(self, layers, arch="amd64", cmd=("/bin/sh",), compress="gzip", env=None, tag=None,
              labels=None):
        """layers: raw tar bytes, base first. Returns (manifest digest, bytes)."""
        descs, diff_ids = [], []
        for tar in layers:
            diff_ids.append(sha256(tar))
            if compress == "gzip":
                data = gzip.compress(tar, mtime=0)
                mt = "application/vnd.oci.image.layer.v1.tar+gzip"
            elif compress == "zstd":
                data = subprocess.run(["zstd", "-q", "-c"], input=tar, capture_output=True, check=True).stdout
                mt = "application/vnd.oci.image.layer.v1.tar+zstd"
            else:
                data = tar
                mt = "application/vnd.oci.image.layer.v1.tar"
            descs.append({"mediaType": mt, "digest": self.blob(data), "size": len(data)})
        config = {"architecture": arch, "os": "linux",
                  "config": {"Cmd": list(cmd), "Env": env or ["PATH=/bin"], "Labels": labels or {}},
                  "rootfs": {"type": "layers", "diff_ids": diff_ids},
                  "history": [{"created_by": "test layer"} for _ in layers]}
        cfg = json.dumps(config, sort_keys=True).encode()
        manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                               "digest": self.blob(cfg), "size": len(cfg)},
                    "layers": descs}
        mb = json.dumps(manifest).encode()
        desc = {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": self.blob(mb),
                "size": len(mb), "platform": {"architecture": arch, "os": "linux"}}
        if tag:
            desc = dict(desc, annotations={"org.opencontainers.image.ref.name": tag})
        self.index.append(desc)
        self._write_index()
        return desc["digest"], mb

    def multi(self, tag, image_descs):
        """An image index over earlier manifests, tagged `tag`."""
        idx = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
               "manifests": [{k: v for k, v in d.items() if k != "annotations"} for d in image_descs]}
        ib = json.dumps(idx).encode()
        desc = {"mediaType": "application/vnd.oci.image.index.v1+json", "digest": self.blob(ib),
                "size": len(ib), "annotations": {"org.opencontainers.image.ref.name": tag}}
        self.index.append(desc)
        self._write_index()
        return desc["digest"]

    def _write_index(self):
        (self.path / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": self.index}))
