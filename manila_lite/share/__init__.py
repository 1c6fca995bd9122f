"""Share service: manager, RPC client, per-resource flows and drivers."""
