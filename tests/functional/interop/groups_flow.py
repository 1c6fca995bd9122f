"""A share group's whole life driven by upstream manila's own share group API and share API, against a share service (runs inside the upstream venv).

Group type, group, two shares created into it, a group snapshot, a group
from that snapshot, then every deletion; the scheduler's one step (pick
the host, cast create_share_group) is done here as upstream's filter
scheduler does it. Prints the statuses and quota usages it saw, as JSON.
"""

import uuid

import _upstream


_wait = _upstream.wait
_status = _upstream.status


def _usages(ctx):
    from manila import db
    usages = db.quota_usage_get_all_by_project(ctx, ctx.project_id)
    return {k: v for k, v in usages.items() if isinstance(v, dict)}


def _types(ctx):
    from manila import db
    from manila.share import share_types
    from manila.share_group import share_group_types
    share_type = db.share_type_create(ctx, {
        'name': 'interop-%s' % uuid.uuid4().hex[:8],
        'extra_specs': {'driver_handles_share_servers': 'False',
                        'snapshot_support': 'True',
                        'create_share_from_snapshot_support': 'True'}})
    name = 'interop-group-%s' % uuid.uuid4().hex[:8]
    share_group_types.create(ctx, name, [share_type['id']])
    return (share_types.get_share_type(ctx, share_type['id']),
            share_group_types.get_by_name(ctx, name))


def _group(ctx, api, host, share_type, group_type, timeout):
    """Create a group as the API and the scheduler do; returns it available."""
    from manila import db
    from manila.share import rpcapi
    group = api.create(ctx, name='interop-group',
                       share_type_ids=[share_type['id']],
                       share_group_type_id=group_type['id'])
    # The filter scheduler's part: set the host, cast to it.
    group = db.share_group_update(ctx, group['id'], {'host': host})
    rpcapi.ShareAPI().create_share_group(ctx, group, host)
    _wait(lambda: _status(db.share_group_get, ctx, group['id']),
          ('available',), timeout, 'share group %s' % group['id'])
    return db.share_group_get(ctx, group['id'])


def run(ctx, args):
    from manila import db
    from manila.share import api as share_api_module
    from manila.share_group import api as group_api_module
    api = group_api_module.API()
    share_api = share_api_module.API()
    seen = {}
    share_type, group_type = _types(ctx)
    group = _group(ctx, api, args.host, share_type, group_type, args.timeout)
    seen['group'] = _status(db.share_group_get, ctx, group['id'])
    seen['consistent_snapshot_support'] = group[
        'consistent_snapshot_support']
    shares = [share_api.create(ctx, 'NFS', 1, 'in-group-%d' % i, 'interop',
                               share_type=share_type,
                               share_group_id=group['id'])
              for i in range(2)]
    seen['shares'] = [_wait(lambda s=s: _status(db.share_get, ctx, s['id']),
                            ('available', 'error'), args.timeout, 'share')
                      for s in shares]
    snap = api.create_share_group_snapshot(ctx, name='interop-gs',
                                           share_group_id=group['id'])
    seen['group_snapshot'] = _wait(
        lambda: _status(db.share_group_snapshot_get, ctx, snap['id']),
        ('available', 'error'), args.timeout, 'group snapshot')
    seen['members'] = sorted(
        m['status'] for m in db.share_group_snapshot_members_get_all(
            ctx, snap['id']))
    clone = api.create(ctx, name='interop-clone',
                       source_share_group_snapshot_id=snap['id'],
                       share_group_type_id=group_type['id'])
    seen['clone'] = _wait(lambda: _status(db.share_group_get, ctx,
                                          clone['id']),
                          ('available', 'error'), args.timeout, 'clone')
    clone_shares = db.share_get_all(ctx, filters={
        'share_group_id': clone['id']})
    seen['clone_shares'] = sorted(s['status'] for s in clone_shares)
    seen['clone_exports'] = sorted(
        len(s.instance['export_locations']) > 0 for s in clone_shares)
    seen['usages_in_use'] = {k: v['in_use'] for k, v in _usages(ctx).items()}

    api.delete_share_group_snapshot(
        ctx, db.share_group_snapshot_get(ctx, snap['id']))
    seen['group_snapshot_deleted'] = _wait(
        lambda: _status(db.share_group_snapshot_get, ctx, snap['id']),
        ('gone', 'error'), args.timeout, 'group snapshot deletion')
    for share in shares + list(clone_shares):
        share_api.delete(ctx, db.share_get(ctx, share['id']))
    seen['shares_deleted'] = [
        _wait(lambda s=s: _status(db.share_get, ctx, s['id']),
              ('gone', 'error_deleting'), args.timeout, 'share deletion')
        for s in shares + list(clone_shares)]
    for gid in (clone['id'], group['id']):
        api.delete(ctx, db.share_group_get(ctx, gid))
    seen['groups_deleted'] = [
        _wait(lambda g=gid: _status(db.share_group_get, ctx, g),
              ('gone', 'error'), args.timeout, 'group deletion')
        for gid in (clone['id'], group['id'])]
    seen['usages_after'] = {k: v['in_use'] + v['reserved']
                            for k, v in _usages(ctx).items()}
    return seen


def main():
    p = _upstream.parser(__doc__)
    p.add_argument('--host', required=True, help='H@B#pool')
    p.add_argument('--timeout', type=float, default=60.0)
    args = p.parse_args()
    ctx = _upstream.setup(args)
    _upstream.finish(run(ctx, args))


if __name__ == '__main__':
    main()
