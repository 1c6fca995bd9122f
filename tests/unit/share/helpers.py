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
