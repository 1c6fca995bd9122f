"""Access rules of share instances and snapshot instances: the rule state machine and driver sync."""

from manila_lite.share import unsupported


def update_access(mgr, context, share_instance_id):
    """Not built yet: refuses loudly (error status, user message)."""
    unsupported.refuse(context, 'update_access', dict(share_instance_id=share_instance_id), mgr.host)


def update_access_for_instances(mgr, context, share_instance_ids, share_server_id=None):
    """Not built yet: refuses loudly (error status, user message)."""
    unsupported.refuse(context, 'update_access_for_instances', dict(share_instance_ids=share_instance_ids), mgr.host)


def snapshot_update_access(mgr, context, snapshot_instance_id):
    """Not built yet: refuses loudly (error status, user message)."""
    unsupported.refuse(context, 'snapshot_update_access', dict(snapshot_instance_id=snapshot_instance_id), mgr.host)
