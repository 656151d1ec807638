"""Helpers shared by the integration and priv tiers: binaries, commands, ports, trees."""
import os
import pathlib
import socket
import subprocess

import pytest

BIN_DIR = pathlib.Path(os.environ.get("DIND_BIN_DIR", pathlib.Path(__file__).resolve().parents[2] / "build" / "bin"))


def binary(name):
    path = BIN_DIR / name
    if not path.exists():
        pytest.fail(f"{path} is missing: build first (cmake --build build)")
    return str(path)


def run(args, env=None, check=True, **kw):
    """Runs a command with a clean, explicit environment on top of PATH."""
    full_env = {"PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"), "HOME": os.environ.get("HOME", "/root")}
    full_env.update(env or {})
    proc = subprocess.run(args, env=full_env, capture_output=True, text=True, timeout=120, **kw)
    if check and proc.returncode != 0:
        raise AssertionError(f"{args} exited {proc.returncode}\nstdout: {proc.stdout}\nstderr: {proc.stderr}")
    return proc


def certgen(certdir, *args, env=None, check=True):
    e = {"DOCKER_TLS_CERTDIR": str(certdir)}
    e.update(env or {})
    return run([binary("dind-certgen"), *args], env=e, check=check)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tree_state(root):
    """Every path under root with its mode and bytes: for byte-identical checks."""
    root = pathlib.Path(root)
    state = {}
    if not root.exists():
        return state
    for p in sorted([root, *root.rglob("*")]):
        st = p.lstat()
        state[str(p.relative_to(root))] = (st.st_mode, p.read_bytes() if p.is_file() else None)
    return state


