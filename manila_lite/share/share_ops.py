"""Share-level operations of the 1.22+ surface: transfer accept, metadata updates, connection info."""

from manila_lite.share import unsupported


def transfer_accept(mgr, context, share_id, new_user, new_project, clear_rules=False):
    """Not built yet: refuses loudly (error status, user message)."""
    unsupported.refuse(context, 'transfer_accept', dict(), mgr.host)


def update_share_from_metadata(mgr, context, share_id, metadata):
    """Not built yet: refuses loudly (error status, user message)."""
    unsupported.refuse(context, 'update_share_from_metadata', dict(share_id=share_id), mgr.host)


def connection_get_info(mgr, context, share_instance_id):
    """Not built yet: refuses loudly (error status, user message)."""
    unsupported.refuse(context, 'connection_get_info', dict(), mgr.host)
