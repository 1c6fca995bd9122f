"""Test-wide set-up: the concurrency backend is selected before any oslo.service import."""

import manila_lite.concurrency  # noqa: F401
