"""scripts/install-deps is complete (issue #13): scripts/fresh-check passes on
the package list and fails, naming the program, when a needed package is
dropped from it; a test module whose outside program is missing fails at once
naming the Debian package."""
import os
import pathlib
import subprocess
import sys

REPO = pathlib.Path(__file__).resolve().parents[2]
BUILD = pathlib.Path(os.environ.get("DIND_BIN_DIR", REPO / "build" / "bin")).parent
DNSNAME = "golang-github-containernetworking-plugin-dnsname"


def fresh_check(*args):
    return subprocess.run([str(REPO / "scripts" / "fresh-check"), "--build-dir", str(BUILD), *args],
                          capture_output=True, text=True, timeout=300)


def test_the_package_list_is_complete():
    p = fresh_check()
    assert p.returncode == 0, p.stdout + p.stderr
    assert p.stdout.startswith("fresh-check: ok")


def test_a_dropped_package_is_named():
    p = fresh_check("--without", DNSNAME, "--without", "libseccomp-dev", "--without", "zstd")
    assert p.returncode == 1
    assert f"/usr/lib/cni/dnsname (tests/external-programs:" in p.stdout
    assert f"comes from package {DNSNAME}" in p.stdout
    assert "comes from package libseccomp-dev" in p.stdout  # the build's header or library
    assert "zstd (tests/external-programs:" in p.stdout


def test_a_missing_outside_program_fails_the_module_at_once(tmp_path):
    manifest = (REPO / "tests" / "external-programs").read_text()
    manifest = manifest.replace("/usr/lib/cni/dnsname ", "/nonexistent/cni/dnsname ")
    (tmp_path / "programs").write_text(manifest)
    env = dict(os.environ, DIND_EXTERNAL_PROGRAMS=str(tmp_path / "programs"))
    p = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider",
                        str(REPO / "tests" / "integration" / "test_seed_podman.py")],
                       capture_output=True, text=True, env=env, timeout=120, cwd=tmp_path)
    assert p.returncode != 0
    assert f"/nonexistent/cni/dnsname (Debian package {DNSNAME})" in p.stdout
    assert "ERROR at setup" in p.stdout  # before any fixture of the scenario ran
