"""manila_lite: a lighter, wire-compatible re-implementation of Manila's share service."""
