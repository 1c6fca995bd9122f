"""Hook drivers run before, after and besides share driver calls (hook_drivers)."""


def execute_periodic_hook(mgr, context):
    """Periodic task body; not built yet, runs nothing."""
    return None
