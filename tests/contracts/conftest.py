"""Chain-backed tests: every block one second after the last (see tests/conftest.py)."""

import pytest


@pytest.fixture(scope="session", autouse=True)
def _one_second_blocks(deterministic_clock):
    yield
