"""Fixtures the container suites share: one daemon per test module in a
network namespace of its own, with the busybox test image imported. A module
that needs another daemon defines its own `daemon` fixture, which wins."""
import pytest

from ctrtest import import_busybox, netns_daemon


@pytest.fixture(scope="module")
def daemon(request):
    name = request.module.__name__.rsplit(".", 1)[-1].replace("test_", "")
    with netns_daemon(f"dind-{name}-") as d:
        yield d


@pytest.fixture(scope="module")
def image(daemon, tmp_path_factory):
    return import_busybox(daemon, tmp_path_factory.mktemp("rootfs") / "busybox.tar")
