"""Share backups through the driver: create, delete, restore and their progress polls."""

from manila_lite.share import unsupported


def create_backup(mgr, context, backup):
    """Not built yet: refuses loudly (error status, user message)."""
    unsupported.refuse(context, 'create_backup', dict(backup=backup), mgr.host)


def delete_backup(mgr, context, backup):
    """Not built yet: refuses loudly (error status, user message)."""
    unsupported.refuse(context, 'delete_backup', dict(backup=backup), mgr.host)


def restore_backup(mgr, context, backup, share_id):
    """Not built yet: refuses loudly (error status, user message)."""
    unsupported.refuse(context, 'restore_backup', dict(backup=backup), mgr.host)


def create_backup_continue(mgr, context):
    """Periodic task body; not built yet, runs nothing."""
    return None


def restore_backup_continue(mgr, context):
    """Periodic task body; not built yet, runs nothing."""
    return None
