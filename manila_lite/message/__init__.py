"""User messages recorded on failures."""
