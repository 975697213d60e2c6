import pytest


@pytest.fixture(autouse=True)
def _prefect(prefect_harness: None) -> None:
    """Every end-to-end test runs its flows against the session's temporary Prefect API."""
