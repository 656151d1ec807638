"""certgen on hostile file systems and across users (root: mounts, setpriv)."""
import os
import pathlib
import shutil
import subprocess
import tempfile

import pytest

from dindtest import certgen, run, tree_state

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (mounts, setpriv)")


@pytest.fixture
def tmpfs():
    """A private tmpfs mount point, unmounted and removed afterwards."""
    mnt = pathlib.Path(tempfile.mkdtemp(prefix="dind-certgen-tmpfs-"))
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m,mode=0755", "tmpfs", str(mnt)], check=True)
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)
        mnt.rmdir()


def test_read_only_file_system_fails_clearly_and_writes_nothing(tmpfs):
    subprocess.run(["mount", "-o", "remount,ro", str(tmpfs)], check=True)
    proc = certgen(tmpfs / "certs", check=False)
    assert proc.returncode == 1
    assert "Read-only file system" in proc.stderr
    assert not any(tmpfs.iterdir())


def test_refresh_on_a_file_system_turned_read_only_leaves_the_bundle_intact(tmpfs):
    certgen(tmpfs / "certs")
    before = tree_state(tmpfs)
    subprocess.run(["mount", "-o", "remount,ro", str(tmpfs)], check=True)
    proc = certgen(tmpfs / "certs", check=False)
    assert proc.returncode == 1
    assert "Read-only file system" in proc.stderr
    assert tree_state(tmpfs) == before
    # Still a valid bundle.
    assert certgen(tmpfs / "certs", "verify").returncode == 0


def test_a_full_disk_mid_write_leaves_no_partial_files(tmpfs):
    certgen(tmpfs / "certs")
    before = tree_state(tmpfs)
    # Fill the file system so that staging the new certificates fails.
    filler = tmpfs / "filler"
    with open(filler, "wb") as f:
        try:
            while True:
                f.write(b"\0" * 65536)
        except OSError:
            pass
    proc = certgen(tmpfs / "certs", check=False)
    assert proc.returncode == 1
    assert "No space left" in proc.stderr
    after = tree_state(tmpfs)
    del after["filler"]
    assert after == before


def test_another_uid_can_read_the_client_key_but_not_server_or_ca_keys():
    base = pathlib.Path(tempfile.mkdtemp(prefix="dind-certgen-uid-"))
    try:
        os.chmod(base, 0o755)
        certdir = base / "certs"
        certgen(certdir)
        as_nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "cat"]
        assert run(as_nobody + [str(certdir / "client/key.pem")]).stdout.startswith("-----BEGIN PRIVATE KEY-----")
        for secret in ["server/key.pem", "ca/key.pem"]:
            assert run(as_nobody + [str(certdir / secret)], check=False).returncode != 0
    finally:
        shutil.rmtree(base)
