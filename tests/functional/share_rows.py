"""Rows and casts as upstream's API writes and sends them, for the functional tests of the share lifecycle."""

from manila_lite import context as ml_context
from tests.unit.share import helpers


def user_ctx(project='p1', user='u1'):
    return ml_context.RequestContext(user_id=user, project_id=project,
                                     roles=['member'])


def admin_ctx():
    return ml_context.get_admin_context()


def share(pg, daemon, status, size=1, charge=True, **extra):
    """A share + instance on the daemon's pool; with ``charge`` its quota is committed."""
    ctx = admin_ctx()
    row, inst = helpers.make_share(pg, ctx, host=daemon.pool_host(),
                                   status=status, size=size, **extra)
    if charge:
        res = pg.quota_reserve(ctx, {'shares': 1, 'gigabytes': size}, 'p1',
                               'u1', share_type_id=inst['share_type_id'])
        pg.reservation_commit(ctx, res)
    return pg.share_get(ctx, row['id'])


def available_share(pg, daemon, share_rpc, size=1, charge=True):
    """A share created by the daemon (create_share_instance cast), waited for."""
    row = share(pg, daemon, 'creating', size=size, charge=charge)
    share_rpc.create_share_instance(user_ctx(), row['instance'],
                                    daemon.pool_host(), request_spec={},
                                    filter_properties={})
    wait_status(daemon, row['id'], 'available')
    return pg.share_get(admin_ctx(), row['id'])


def instance(daemon, share_id):
    return daemon.db.row('SELECT * FROM share_instances WHERE share_id = :s '
                         "AND deleted = 'False'", s=share_id)


def share_row(daemon, share_id):
    return daemon.db.row('SELECT * FROM shares WHERE id = :s', s=share_id)


def wait_status(daemon, share_id, status, timeout=30):
    daemon.wait_for(lambda: (instance(daemon, share_id) or {}).get(
        'status') == status, timeout=timeout,
        message='share %s never became %s' % (share_id, status))


def set_status(pg, share_id, status, **values):
    values['status'] = status
    return pg.share_update(admin_ctx(), share_id, values)


def messages(daemon, resource_id):
    return [(m['action_id'], m['detail_id'], m['resource_type'],
             m['project_id'])
            for m in daemon.db.rows(
                'SELECT * FROM messages WHERE resource_id = :r '
                'ORDER BY created_at', r=resource_id)]


def usage(pg, resource, type_id=None):
    """(in_use, reserved) of ``resource`` for user u1 of p1, or for a share type."""
    if type_id:
        rows = pg.quota_usage_get_all_by_project_and_share_type(
            admin_ctx(), 'p1', type_id)
    else:
        rows = pg.quota_usage_get_all_by_project_and_user(admin_ctx(), 'p1',
                                                          'u1')
    entry = rows.get(resource) or {'in_use': 0, 'reserved': 0}
    return entry['in_use'], entry['reserved']
