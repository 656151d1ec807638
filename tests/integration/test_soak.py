"""The churn soak, short version (issue #19): bench/soak with 4 clients x 25
mixed operations. Every operation succeeds within its limit, nothing leaks,
the daemon's RSS stays within 10% of its value after warm-up."""
import io

from soaktest import soak


def test_a_short_churn_soak_leaks_nothing(daemon, image):
    out = io.StringIO()
    _report, ok = soak(daemon, clients=4, ops=25, out=out)
    print(out.getvalue())
    assert ok, out.getvalue()
