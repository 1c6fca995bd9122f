"""Extend and shrink of shares, with quota commit or rollback."""

from manila_lite.share import unsupported


def extend_share(mgr, context, share_id, new_size, reservations):
    """Not built yet: refuses loudly (error status, user message)."""
    unsupported.refuse(context, 'extend_share', dict(share_id=share_id), mgr.host)


def shrink_share(mgr, context, share_id, new_size):
    """Not built yet: refuses loudly (error status, user message)."""
    unsupported.refuse(context, 'shrink_share', dict(share_id=share_id), mgr.host)
