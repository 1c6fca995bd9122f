"""Test-wide set-up: the concurrency backend is selected before any oslo.service import."""

import manila_lite.concurrency  # noqa: F401

import pytest  # noqa: E402


@pytest.fixture
def neutron_service():
    """A started fake Neutron (tests/functional/fake_neutron.py) on 127.0.0.1."""
    from tests.functional import fake_neutron
    fake = fake_neutron.FakeNeutron().start()
    yield fake
    fake.stop()
