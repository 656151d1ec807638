"""The layer store and the overlay root file system (root: mounts)."""
import hashlib
import io
import os
import shutil
import subprocess
import tarfile
import tempfile

import pytest

from dindtest import binary

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (overlay mounts)")


def layer(entries):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        for name, data in entries:
            info = tarfile.TarInfo(name)
            if data is None:
                info.type = tarfile.DIRTYPE
                info.mode = 0o755
                t.addfile(info)
            else:
                info.size = len(data)
                t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def tool(*args, data=b"", check=True):
    p = subprocess.run([binary("dind-test-layers"), *args], input=data, capture_output=True, timeout=60)
    if check and p.returncode != 0:
        raise AssertionError(p.stderr.decode())
    return p


def digest(b):
    return "sha256:" + hashlib.sha256(b).hexdigest()


@pytest.fixture
def root():
    d = tempfile.mkdtemp(prefix="dind-layers-")
    yield d
    subprocess.run(["umount", "-R", "-l", d], capture_output=True)
    shutil.rmtree(d)


L1 = layer([("etc", None), ("etc/a", b"a"), ("etc/b", b"b"), ("dir", None), ("dir/keep", b"k")])
L2 = layer([("etc", None), ("etc/.wh.b", b""), ("etc/c", b"c"), ("dir", None), ("dir/.wh..wh..opq", b""),
            ("dir/new", b"n")])


def test_chain_ids_dedup_and_the_overlay_rootfs(root):
    c1, d1 = tool("register", root, "-", data=L1).stdout.decode().split()
    assert c1 == d1 == digest(L1), "the first layer's chain ID is its diff ID"
    c2, d2 = tool("register", root, c1, data=L2).stdout.decode().split()
    assert d2 == digest(L2)
    assert c2 == digest(f"{c1} {d2}".encode())
    again = tool("register", root, "-", data=L1).stdout.decode().split()[0]
    assert again == c1 and len(os.listdir(f"{root}/layers")) == 2, "a layer is stored once"

    merged = tool("mount", root, "ctr1", c2).stdout.decode().strip()
    try:
        assert open(f"{merged}/etc/a").read() == "a"
        assert open(f"{merged}/etc/c").read() == "c"
        assert not os.path.exists(f"{merged}/etc/b"), "a whiteout hides the lower file"
        assert os.listdir(f"{merged}/dir") == ["new"], "an opaque directory hides the lower contents"
        assert os.path.exists(f"{merged}/.dockerenv") and os.path.exists(f"{merged}/etc/hosts")
        with open(f"{merged}/written", "w") as f:
            f.write("upper")
        os.remove(f"{merged}/etc/a")
    finally:
        upper = f"{root}/mounts/ctr1/diff"
        assert open(f"{upper}/written").read() == "upper", "writes land in the container's upper layer"
        assert os.path.exists(f"{root}/layers/{c1[7:]}/diff/etc/a"), "image layers are never modified"
        tool("umount", root, "ctr1")
    assert not os.path.exists(f"{root}/mounts/ctr1")


def test_bad_layers_leave_nothing(root):
    c1 = tool("register", root, "-", data=L1).stdout.decode().split()[0]
    before = sorted(os.listdir(f"{root}/layers"))
    p = tool("register", root, c1, "sha256:" + "0" * 64, data=L2, check=False)
    assert p.returncode == 1 and b"layer digest mismatch" in p.stderr
    p = tool("register", root, "sha256:" + "1" * 64, data=L2, check=False)
    assert p.returncode == 1 and b"parent layer" in p.stderr
    p = tool("register", root, "-", data=b"not a tar at all" * 100, check=False)
    assert p.returncode == 1
    assert sorted(os.listdir(f"{root}/layers")) == before
    assert os.listdir(f"{root}/tmp") == []
    assert tool("gc", root).stdout.strip() == b"1"
    assert os.listdir(f"{root}/layers") == []


def test_a_data_root_on_overlayfs_is_refused(root):
    for d in ("lower", "upper", "work", "merged"):
        os.makedirs(f"{root}/ov/{d}")
    subprocess.run(["mount", "-t", "overlay", "overlay", "-o",
                    f"lowerdir={root}/ov/lower,upperdir={root}/ov/upper,workdir={root}/ov/work",
                    f"{root}/ov/merged"], check=True)
    try:
        p = tool("open", f"{root}/ov/merged/data", check=False)
        assert p.returncode == 1
        assert b"is on overlayfs" in p.stderr and b"volume" in p.stderr
    finally:
        subprocess.run(["umount", f"{root}/ov/merged"], check=True)
