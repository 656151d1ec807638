"""Crash consistency, the short version of bench/crash (issue #19): the
daemon SIGKILLed at a random moment during each kind of operation, twice
each, then restarted and checked (tests/support/crashtest.py)."""
import os

from crashtest import Crash, crash_session


def test_a_sigkill_during_any_operation_leaves_everything_whole_or_gone():
    seed = int(os.environ["DIND_CRASH_SEED"]) if os.environ.get("DIND_CRASH_SEED") else None
    with crash_session(seed=seed) as crash:
        problems = crash.run(2 * len(Crash.OPS))
        assert problems == [], f"seed {crash.seed}:\n" + "\n".join(problems)
