"""The docker 20.10 CLI against one engine of a side-by-side run: `run`
(quiet, raises on failure), `out` (its output) and `timed` (milliseconds,
after a sync so earlier writes are not counted)."""
import os
import subprocess
import time


class EngineCli:
    def __init__(self, socket, config_dir, **env):
        self.env = {"PATH": os.environ["PATH"], "DOCKER_HOST": f"unix://{socket}",
                    "DOCKER_CONFIG": str(config_dir), **env}

    def run(self, *args):
        subprocess.run(["/usr/bin/docker", *args], env=self.env, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def out(self, *args):
        return subprocess.run(["/usr/bin/docker", *args], env=self.env, check=True, capture_output=True,
                              text=True).stdout

    def timed(self, *args):
        os.sync()
        t0 = time.perf_counter()
        self.run(*args)
        return (time.perf_counter() - t0) * 1000.0
