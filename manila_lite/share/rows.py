"""Loading the rows a flow works on, one way each.

An instance with its share and share server, a share with its current instance,
a snapshot with its instance.

Every share instance a flow hands a driver comes from :func:`instance` or
from a batch read with share data (``share_instance_get_all_by_host``,
snapshot instances ``with_share_data``): all of them carry the share's
columns and the instance's share server row, which :func:`server` reads
(None when the instance has none).
"""

from manila_lite.db import api as db_api
from manila_lite import exception


def instance(context, share_instance_id, check_access_rules=False):
    """The share instance with its share's data and its share server; raises ShareInstanceNotFound.

    ``check_access_rules`` also tells (``has_access_rules``) whether it
    has any access mapping, in the same read.
    """
    return db_api.share_instance_get(context, share_instance_id,
                                     with_share_data=True,
                                     check_access_rules=check_access_rules)


def server(inst):
    """The share server row of an instance loaded with share data, or None when it has none."""
    if inst is None:
        return None
    return inst.get('share_server')


def current_instance(context, share):
    """The share's current instance, loaded by :func:`instance`; InvalidShare when it has none live."""
    current = share['instance']
    if current is None:
        raise exception.InvalidShare(
            reason='share %s has no live instance' % share['id'])
    return instance(context, current['id'])


def share_and_instance(context, share_id):
    """``(share, current instance)``; raises ShareNotFound."""
    share = db_api.share_get(context, share_id)
    return share, current_instance(context, share)


def snapshot_and_instance(context, snapshot_id):
    """``(snapshot, its current instance)``; the instance's ``share`` is the share instance with share data."""
    snapshot = db_api.share_snapshot_get(context, snapshot_id)
    current = snapshot.instance
    if current is None:
        raise exception.ShareSnapshotInstanceNotFound(
            instance_id='(none live for snapshot %s)' % snapshot_id)
    return snapshot, snapshot_instance(context, current['id'])


def snapshot_instance(context, snapshot_instance_id):
    """The snapshot instance; its ``share`` is the share instance with share data and server."""
    return db_api.share_snapshot_instance_get(context, snapshot_instance_id,
                                              with_share_data=True)


def snapshot_server(snapinst):
    """The share server of a snapshot instance's share instance, or None."""
    return server(snapinst['share'])


def attach_group_members(context, inst):
    """Give an instance of a share in a share group its ``share_group_members`` (the group's instances), as upstream's create does."""
    if inst.get('share_group_id'):
        inst['share_group_members'] = (
            db_api.share_instance_get_all_by_share_group_id(
                context, inst['share_group_id']))
    return inst
