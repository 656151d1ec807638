"""pytest wiring for tests/integration and tests/priv."""
import pathlib
import sys

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent / "support"))

import deps  # noqa: E402

_missing = {}


@pytest.fixture(autouse=True, scope="module")
def _outside_dependencies(request):
    """Fails every test of a module at once, naming the Debian packages, when
    a program it runs (or one tests/external-programs lists for it) is absent:
    better than a timeout deep inside a scenario."""
    rel = str(pathlib.Path(request.module.__file__).resolve().relative_to(deps.REPO))
    if rel not in _missing:
        _missing[rel] = deps.require_for(rel)
    if _missing[rel]:
        pytest.fail(_missing[rel], pytrace=False)


@pytest.fixture
def certdir(tmp_path):
    return tmp_path / "certs"
