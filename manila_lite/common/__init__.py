"""Shared constants and small helpers."""
