"""Adopting existing shares into manila (manage) and letting them go (unmanage)."""

from manila_lite.share import unsupported


def manage_share(mgr, context, share_id, driver_options):
    """Not built yet: refuses loudly (error status, user message)."""
    unsupported.refuse(context, 'manage_share', dict(share_id=share_id), mgr.host)


def unmanage_share(mgr, context, share_id):
    """Not built yet: refuses loudly (error status, user message)."""
    unsupported.refuse(context, 'unmanage_share', dict(share_id=share_id), mgr.host)
