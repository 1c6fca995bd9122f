"""Fixtures of the replication tests: the tooz coordinator of replica locks, and dummy faults cleared after each test."""

import pytest

from tests.unit.share.replication import helpers as rh


@pytest.fixture(autouse=True)
def coordinator(tooz_coordinator):
    yield
    rh.clear_faults()
