"""Share usage sizes gathered from the driver for telemetry (update_share_usage_size)."""


def update_share_usage_size(mgr, context):
    """Periodic task body; not built yet, runs nothing."""
    return None
