"""Fixtures of the driver tests: a LocalFS driver factory."""

from tests.unit.share.drivers.localfs_helpers import localfs_factory  # noqa: F401
