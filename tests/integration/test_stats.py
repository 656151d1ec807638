"""docker stats (issue #18): samples of the container's cgroups and network
namespace in dockerd's StatsJSON shape, streamed a second apart; both CLIs'
tables."""
import json
import subprocess
import time

import pytest

from ctrtest import CLIS, api, docker

# The key paths of dockerd 20.10's answer on this machine's hybrid cgroups
# (../shared/reference/captures/35-stats-no-stream.txt), memory.stat keys aside.
DOCKERD_KEYS = {"read", "preread", "pids_stats", "blkio_stats", "num_procs", "storage_stats", "cpu_stats",
                "precpu_stats", "memory_stats", "name", "id", "networks"}


@pytest.fixture(scope="module")
def busy(daemon, image):
    docker(daemon, "run", "-d", "--name", "st-busy", "-m", "64m", image, "sh", "-c", "while :; do :; done")
    docker(daemon, "run", "-d", "--name", "st-idle", image, "sleep", "300")
    yield "st-busy"
    docker(daemon, "rm", "-f", "st-busy", "st-idle")


def test_stats_document_has_dockerds_shape_and_real_figures(daemon, busy):
    code, body = api(daemon, "GET", f"/containers/{busy}/stats?stream=0")
    assert code == 200
    doc = json.loads(body)
    assert set(doc) == DOCKERD_KEYS
    assert doc["name"] == "/st-busy" and len(doc["id"]) == 64
    cpu, pre = doc["cpu_stats"], doc["precpu_stats"]
    assert set(cpu) == {"cpu_usage", "system_cpu_usage", "online_cpus", "throttling_data"}
    assert cpu["online_cpus"] >= 1 and cpu["system_cpu_usage"] > pre["system_cpu_usage"] > 0
    # A busy loop: at least a tenth of a CPU over the second between the samples.
    used = cpu["cpu_usage"]["total_usage"] - pre["cpu_usage"]["total_usage"]
    assert used > 100_000_000, used
    mem = doc["memory_stats"]
    assert mem["limit"] == 64 * 1024 * 1024 and 0 < mem["usage"] < mem["limit"] and mem["stats"]
    assert doc["pids_stats"]["current"] >= 1
    assert doc["networks"]["eth0"]["rx_packets"] >= 0 and set(doc["networks"]["eth0"]) == {
        "rx_bytes", "rx_packets", "rx_errors", "rx_dropped", "tx_bytes", "tx_packets", "tx_errors", "tx_dropped"}
    assert set(doc["blkio_stats"]) >= {"io_service_bytes_recursive", "io_serviced_recursive"}
    # one-shot: a single sample, no base.
    code, body = api(daemon, "GET", f"/containers/{busy}/stats?stream=0&one-shot=1")
    one = json.loads(body)
    assert one["preread"] == "0001-01-01T00:00:00Z" and one["precpu_stats"]["cpu_usage"]["total_usage"] == 0


def test_streamed_samples_come_a_second_apart(daemon, busy):
    p = subprocess.Popen(["curl", "-sN", "--unix-socket", daemon.socket, f"http://d/containers/{busy}/stats"],
                         stdout=subprocess.PIPE, text=True)
    try:
        first = json.loads(p.stdout.readline())
        second = json.loads(p.stdout.readline())
        assert first["preread"] == "0001-01-01T00:00:00Z"
        assert second["preread"] == first["read"]
        assert second["precpu_stats"] == first["cpu_stats"]
    finally:
        p.kill()
        p.wait()


@pytest.mark.parametrize("cli", CLIS)
def test_cli_tables(daemon, busy, cli):
    row = json.loads(docker(daemon, "stats", "--no-stream", "--format", "{{json .}}", busy, cli=cli).stdout)
    assert row["Name"] == busy and float(row["CPUPerc"].rstrip("%")) > 10, row
    assert row["MemUsage"].endswith("64MiB") and row["PIDs"] != "0"
    assert "B / " in row["NetIO"]
    names = docker(daemon, "stats", "--no-stream", "--format", "{{.Name}}", cli=cli).stdout.split()
    assert sorted(names) == ["st-busy", "st-idle"]


def test_stats_of_a_stopped_and_a_missing_container(daemon, image):
    docker(daemon, "create", "--name", "st-stopped", image, "true")
    try:
        code, body = api(daemon, "GET", "/containers/st-stopped/stats?stream=0")
        doc = json.loads(body)
        assert code == 200 and doc["read"] == "0001-01-01T00:00:00Z" and doc["name"] == "/st-stopped"
        code, body = api(daemon, "GET", "/containers/st-stopped/stats")
        assert code == 200
    finally:
        docker(daemon, "rm", "st-stopped")
    code, body = api(daemon, "GET", "/containers/st-nope/stats?stream=0")
    assert code == 404 and json.loads(body)["message"] == "No such container: st-nope"
    code, body = api(daemon, "GET", "/containers/st-nope/stats?stream=1&one-shot=1")
    assert code == 400
