"""pytest wiring for tests/integration and tests/priv."""
import pathlib
import sys

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent / "support"))


@pytest.fixture
def certdir(tmp_path):
    return tmp_path / "certs"
