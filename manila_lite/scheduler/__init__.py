"""Client side of the scheduler RPC API."""
