"""Layer unpacking (image/layer_unpack) with real tars: whiteouts, metadata,
compression, and a corpus of malicious archives where nothing may land
outside the layer directory. Root: mknod, chown, trusted.* xattrs."""
import gzip
import hashlib
import io
import os
import secrets
import shutil
import stat
import subprocess
import tarfile
import tempfile

import pytest

from dindtest import binary

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (mknod, chown, xattrs)")

TAG = secrets.token_hex(4)
EVIL = f"/tmp/dind-evil-{TAG}"  # must never appear


def tar_bytes(build):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        build(t)
    return buf.getvalue()


def add_file(t, name, data=b"x", **kw):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    for k, v in kw.items():
        setattr(info, k, v)
    t.addfile(info, io.BytesIO(data))


def add(t, name, type_, **kw):
    info = tarfile.TarInfo(name)
    info.type = type_
    for k, v in kw.items():
        setattr(info, k, v)
    t.addfile(info)


def tree(root):
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for n in dirnames + filenames:
            p = os.path.join(dirpath, n)
            st = os.lstat(p)
            data = open(p, "rb").read() if stat.S_ISREG(st.st_mode) else None
            out[os.path.relpath(p, root)] = (st.st_mode, st.st_nlink, data)
    return out


@pytest.fixture
def sandbox():
    base = tempfile.mkdtemp(prefix="dind-unpack-")
    os.makedirs(f"{base}/outside")
    with open(f"{base}/outside/secret", "w") as f:
        f.write("do not touch")
    os.makedirs(f"{base}/layer")
    yield base
    shutil.rmtree(base)
    for p in [EVIL, EVIL + "-dir", EVIL + "-victim"]:
        if os.path.lexists(p):
            os.remove(p) if not os.path.isdir(p) else shutil.rmtree(p)


def unpack(sandbox, data):
    layer = os.path.join(sandbox, "layer")
    shutil.rmtree(layer)
    os.makedirs(layer)
    p = subprocess.run([binary("dind-test-unpack"), layer], input=data, capture_output=True, timeout=60)
    return p, layer


def sym(t, name, target):
    add(t, name, tarfile.SYMTYPE, linkname=target)


def hard(t, name, target):
    add(t, name, tarfile.LNKTYPE, linkname=target)


MALICIOUS = {
    "dotdot file": lambda t: add_file(t, "../evil"),
    "dotdot in the middle": lambda t: add_file(t, "a/../../evil"),
    "absolute path": lambda t: add_file(t, EVIL),
    "symlink to / then write through it": lambda t: (sym(t, "link", "/"), add_file(t, "link" + EVIL)),
    "symlink to .. then write through it": lambda t: (sym(t, "link", "../outside"), add_file(t, "link/secret", b"pwned")),
    "symlink chain to /tmp": lambda t: (sym(t, "a", "b"), sym(t, "b", "/tmp"), add_file(t, "a/" + os.path.basename(EVIL))),
    "hardlink with dotdot": lambda t: hard(t, "h", "../outside/secret"),
    "hardlink to an absolute host file": lambda t: hard(t, "h", "/etc/passwd"),
    "hardlink through a symlink to the host": lambda t: (sym(t, "s", "/etc"), hard(t, "h", "s/passwd")),
    "directory through a symlink": lambda t: (sym(t, "d", "/tmp"), add(t, "d/" + os.path.basename(EVIL) + "-dir", tarfile.DIRTYPE)),
    "whiteout of dotdot": lambda t: add_file(t, ".wh..."),
    "whiteout in a dotdot path": lambda t: add_file(t, "../.wh.secret"),
    "whiteout through a symlink": lambda t: (sym(t, "p", "/tmp"), add_file(t, "p/.wh." + os.path.basename(EVIL) + "-victim")),
    "opaque marker through a symlink": lambda t: (sym(t, "p", "/tmp"), add_file(t, "p/.wh..wh..opq")),
    "over-long name": lambda t: add_file(t, "a" * 300),
    "over-long path": lambda t: add_file(t, "/".join(["d" * 200] * 25)),
    "forged overlay xattr": lambda t: add_file(t, "f", pax_headers={"SCHILY.xattr.trusted.overlay.redirect": "/etc"}),
    "file replaced by a symlink then written": lambda t: (add_file(t, "x"), sym(t, "x", EVIL), add_file(t, "x", b"data")),
    "symlink replaced by a directory": lambda t: (sym(t, "d", "/tmp"), add(t, "d", tarfile.DIRTYPE), add_file(t, "d/" + os.path.basename(EVIL))),
    "hardlink to a directory": lambda t: (add(t, "dir", tarfile.DIRTYPE), hard(t, "h", "dir")),
    "hardlink to a symlink to the host": lambda t: (sym(t, "s", "/etc/passwd"), hard(t, "h", "s"), add_file(t, "s", b"replaced")),
    "device node named like a host path": lambda t: add(t, "/dev/" + os.path.basename(EVIL), tarfile.CHRTYPE, devmajor=1, devminor=3),
}


@pytest.mark.parametrize("name", list(MALICIOUS))
def test_malicious_layers_never_write_outside(sandbox, name):
    before_outside = tree(os.path.join(sandbox, "outside"))
    passwd = os.stat("/etc/passwd")
    tmp_before = set(os.listdir("/tmp"))
    p, layer = unpack(sandbox, tar_bytes(MALICIOUS[name]))
    assert p.returncode in (0, 1), p.stderr
    if p.returncode == 1:
        assert b"error:" in p.stderr
    assert tree(os.path.join(sandbox, "outside")) == before_outside
    assert sorted(os.listdir(sandbox)) == ["layer", "outside"]
    assert not os.path.lexists(EVIL) and not os.path.lexists(EVIL + "-dir")
    # (Other processes use /tmp too: only our tagged names count.)
    assert not [n for n in set(os.listdir("/tmp")) - tmp_before if TAG in n]
    after = os.stat("/etc/passwd")
    assert (after.st_nlink, after.st_mtime_ns, after.st_size) == (passwd.st_nlink, passwd.st_mtime_ns, passwd.st_size)
    if name == "forged overlay xattr" and p.returncode == 0:
        assert "trusted.overlay.redirect" not in os.listxattr(os.path.join(layer, "f"))


def test_outright_refusals(sandbox):
    for name in ["dotdot file", "dotdot in the middle", "hardlink with dotdot", "over-long name",
                 "over-long path", "hardlink to an absolute host file", "hardlink to a directory",
                 "whiteout of dotdot", "whiteout in a dotdot path"]:
        p, _ = unpack(sandbox, tar_bytes(MALICIOUS[name]))
        assert p.returncode == 1, name


def test_later_entries_replace_earlier_ones_inside_the_layer(sandbox):
    p, layer = unpack(sandbox, tar_bytes(MALICIOUS["symlink replaced by a directory"]))
    assert p.returncode == 0, p.stderr
    assert stat.S_ISDIR(os.lstat(f"{layer}/d").st_mode)
    assert os.path.isfile(f"{layer}/d/" + os.path.basename(EVIL))
    p, layer = unpack(sandbox, tar_bytes(MALICIOUS["file replaced by a symlink then written"]))
    assert p.returncode == 0 and open(f"{layer}/x", "rb").read() == b"data"
    p, layer = unpack(sandbox, tar_bytes(MALICIOUS["absolute path"]))
    assert p.returncode == 0 and os.path.isfile(f"{layer}" + EVIL), "absolute paths land inside the layer"


def test_whiteouts_metadata_links_and_devices(sandbox):
    def build(t):
        add(t, "etc", tarfile.DIRTYPE, mode=0o755)
        add_file(t, "etc/tool", b"#!/bin/sh\n", mode=0o4755, uid=1234, gid=5678, mtime=1700000000,
                 pax_headers={"SCHILY.xattr.user.note": "hi"})
        hard(t, "etc/tool-link", "etc/tool")
        sym(t, "etc/rel", "tool")
        add(t, "dev", tarfile.DIRTYPE)
        add(t, "dev/null2", tarfile.CHRTYPE, devmajor=1, devminor=3, mode=0o666)
        add(t, "dev/fifo", tarfile.FIFOTYPE, mode=0o600)
        add_file(t, "etc/.wh.removed")
        add(t, "opaque", tarfile.DIRTYPE)
        add_file(t, "opaque/.wh..wh..opq")
    p, layer = unpack(sandbox, tar_bytes(build))
    assert p.returncode == 0, p.stderr
    st = os.lstat(f"{layer}/etc/tool")
    assert stat.S_IMODE(st.st_mode) == 0o4755 and (st.st_uid, st.st_gid) == (1234, 5678)
    assert st.st_mtime == 1700000000
    assert os.getxattr(f"{layer}/etc/tool", "user.note") == b"hi"
    assert os.lstat(f"{layer}/etc/tool-link").st_ino == st.st_ino
    assert os.readlink(f"{layer}/etc/rel") == "tool"
    dev = os.lstat(f"{layer}/dev/null2")
    assert stat.S_ISCHR(dev.st_mode) and os.major(dev.st_rdev) == 1 and os.minor(dev.st_rdev) == 3
    assert stat.S_ISFIFO(os.lstat(f"{layer}/dev/fifo").st_mode)
    wh = os.lstat(f"{layer}/etc/removed")
    assert stat.S_ISCHR(wh.st_mode) and wh.st_rdev == 0, "a whiteout is a 0/0 character device"
    assert not os.path.lexists(f"{layer}/etc/.wh.removed")
    assert os.getxattr(f"{layer}/opaque", "trusted.overlay.opaque") == b"y"
    assert not os.path.lexists(f"{layer}/opaque/.wh..wh..opq")


def test_compression_and_diff_id(sandbox):
    raw = tar_bytes(lambda t: (add_file(t, "a", b"hello" * 1000), add(t, "d", tarfile.DIRTYPE)))
    want = "sha256:" + hashlib.sha256(raw).hexdigest()
    zst = subprocess.run(["zstd", "-q", "-c"], input=raw, capture_output=True, check=True).stdout
    for label, data in [("plain", raw), ("gzip", gzip.compress(raw)), ("zstd", zst)]:
        p, layer = unpack(sandbox, data)
        assert p.returncode == 0, (label, p.stderr)
        assert p.stdout.split()[0].decode() == want, label
        assert open(f"{layer}/a", "rb").read() == b"hello" * 1000
    for bad in [gzip.compress(raw)[:100], os.urandom(4096), b""]:
        p, _ = unpack(sandbox, bad)
        assert p.returncode == 1
