"""Snapshot flows: create, delete, manage, unmanage, revert, and shares created from snapshots."""

from manila_lite.share import unsupported


def create_snapshot(mgr, context, share_id, snapshot_id):
    """Not built yet: refuses loudly (error status, user message)."""
    unsupported.refuse(context, 'create_snapshot', dict(snapshot_id=snapshot_id), mgr.host)


def delete_snapshot(mgr, context, snapshot_id, force=False, deferred_delete=False):
    """Not built yet: refuses loudly (error status, user message)."""
    unsupported.refuse(context, 'delete_snapshot', dict(snapshot_id=snapshot_id), mgr.host)


def manage_snapshot(mgr, context, snapshot_id, driver_options):
    """Not built yet: refuses loudly (error status, user message)."""
    unsupported.refuse(context, 'manage_snapshot', dict(snapshot_id=snapshot_id), mgr.host)


def unmanage_snapshot(mgr, context, snapshot_id):
    """Not built yet: refuses loudly (error status, user message)."""
    unsupported.refuse(context, 'unmanage_snapshot', dict(snapshot_id=snapshot_id), mgr.host)


def revert_to_snapshot(mgr, context, snapshot_id, reservations=None):
    """Not built yet: refuses loudly (error status, user message)."""
    unsupported.refuse(context, 'revert_to_snapshot', dict(snapshot_id=snapshot_id), mgr.host)


def periodic_share_status_update(mgr, context):
    """Periodic task body; not built yet, runs nothing."""
    return None


def deferred_deletion(mgr, context):
    """Periodic task body; not built yet, runs nothing."""
    return None
