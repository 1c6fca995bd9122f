"""Revisions of manila_lite's schema."""
