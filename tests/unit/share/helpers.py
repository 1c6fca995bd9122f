"""Shared helpers of the share tests.

Rows written the way upstream's API and scheduler write them, a user context,
user messages, errors the RPC guard wrapped.
"""

from oslo_utils import timeutils
from oslo_utils import uuidutils

from manila_lite import context as ml_context


def make_share(db_api, ctx, host='hostA@alpha#fake_pool_for_alpha',
               status='creating', size=1, proto='NFS', project_id='p1',
               user_id='u1', **extra):
    """Create a share and its instance as manila-api + scheduler would."""
    share_type = _share_type(db_api, ctx)
    values = {
        'user_id': user_id, 'project_id': project_id, 'size': size,
        'display_name': 'test-share', 'share_proto': proto,
        'is_public': False, 'snapshot_support': True,
        'create_share_from_snapshot_support': True,
        'status': status, 'host': host, 'scheduled_at': timeutils.utcnow(),
        'share_type_id': share_type['id'], 'cast_rules_to_readonly': False,
    }
    values.update(extra)
    share = db_api.share_create(ctx, values)
    return share, share.instance


def make_snapshot(db_api, ctx, share, status='creating', **extra):
    """A snapshot row as upstream's API writes it before the cast; returns (snapshot, its instance)."""
    values = {'share_id': share['id'], 'size': share['size'],
              'user_id': 'u1', 'project_id': 'p1', 'status': status,
              'progress': '0%', 'share_size': share['size'],
              'display_name': 'snap', 'display_description': 'd',
              'share_proto': share['share_proto']}
    values.update(extra)
    snapshot = db_api.share_snapshot_create(ctx, values)
    return snapshot, snapshot.instance


def _share_type(db_api, ctx):
    from manila_lite import exception
    try:
        return db_api.share_type_get_by_name(ctx, 'default')
    except exception.ShareTypeNotFound:
        return db_api.share_type_create(ctx, {
            'id': uuidutils.generate_uuid(), 'name': 'default',
            'extra_specs': {'driver_handles_share_servers': 'False'}})


def user_ctx(project='p1', user='u1'):
    """A member's request context, as upstream's API casts with."""
    return ml_context.RequestContext(user_id=user, project_id=project,
                                     roles=['member'])


def unwrap(excinfo):
    """The error the RPC guard handed to oslo.messaging as ExpectedException."""
    return excinfo.value.exc_info[1]


def messages(db_api, ctx, resource_id, *fields):
    """The user messages about ``resource_id``: rows, or tuples of ``fields``."""
    rows = [m for m in db_api.message_get_all(ctx)
            if m['resource_id'] == resource_id]
    if not fields:
        return rows
    return [tuple(m[f] for f in fields) for m in rows]


def _insert(db_api, model, values):
    from sqlalchemy import orm
    values = dict(values, id=values.get('id') or uuidutils.generate_uuid(),
                  created_at=timeutils.utcnow(), deleted='False')
    with orm.Session(db_api.get_engine()) as session, session.begin():
        session.add(model(**values))
    return values['id']


def make_group(db_api, ctx, host='hostA@alpha#fake_pool_for_alpha',
               status='creating', share_count=0, project_id='p1',
               source_snapshot=None, share_status=None, **extra):
    """A share group as upstream's API writes it: empty, or from a group snapshot.

    With ``source_snapshot`` (a group snapshot id) each member share comes
    from one member of that snapshot, as upstream's API creates them
    (``share_count`` adds member shares in the group's status: rows the
    API could have added meanwhile).
    Returns ``(group id, [member share instances])``.
    """
    from manila_lite.db.sqlalchemy import models
    share_type = _share_type(db_api, ctx)
    group_id = _insert(db_api, models.ShareGroup, dict(
        user_id='u1', project_id=project_id, host=host, name='group',
        status=status, source_share_group_snapshot_id=source_snapshot,
        **extra))
    _insert(db_api, models.ShareGroupShareTypeMapping,
            {'share_group_id': group_id, 'share_type_id': share_type['id']})
    members = (db_api.share_group_snapshot_members_get_all(
        ctx, source_snapshot) if source_snapshot else [None] * share_count)
    instances = []
    for member in members:
        # a clone inherits its source share's network and server
        source = (db_api.share_instance_get(ctx, member['share_instance_id'])
                  if member else {})
        _share, inst = make_share(
            db_api, ctx, host=host, project_id=project_id,
            status=share_status or status, share_group_id=group_id,
            source_share_group_snapshot_member_id=(
                member['id'] if member else None),
            share_network_id=source.get('share_network_id'),
            share_server_id=source.get('share_server_id'))
        instances.append(inst)
    return group_id, instances


def make_group_snapshot(db_api, ctx, group_id, status='creating'):
    """A share group snapshot and one member per member share, as upstream's API writes them; returns its id."""
    from manila_lite.db.sqlalchemy import models
    snapshot_id = _insert(db_api, models.ShareGroupSnapshot, dict(
        share_group_id=group_id, user_id='u1', project_id='p1',
        name='group-snapshot', status=status))
    for inst in db_api.share_instance_get_all_by_share_group_id(ctx,
                                                                group_id):
        _insert(db_api, models.ShareSnapshotInstance, dict(
            share_group_snapshot_id=snapshot_id, share_instance_id=inst['id'],
            status=status, instance_size=inst['size'], user_id='u1',
            project_id='p1', share_proto=inst['share_proto']))
    return snapshot_id


def dhss_options(section='alpha', **extra):
    """Backend options of a DHSS=True dummy backend with standalone allocations (admin ones from the same range)."""
    values = {'driver_handles_share_servers': True,
              'standalone_network_plugin_gateway': '10.254.0.1',
              'standalone_network_plugin_mask': '24',
              'standalone_network_plugin_allowed_ip_ranges': [
                  '10.254.0.10-10.254.0.200'],
              'admin_network_config_group': section}
    values.update(extra)
    return values
