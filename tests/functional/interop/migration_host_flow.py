"""A host-assisted share migration driven by upstream manila's own share API, copied by upstream's own manila-data (runs inside the upstream venv).

A DHSS=False share on the source pool, a file written into its directory,
``migration_start`` with ``force_host_assisted_migration``, the copy by the
data service, then ``migration_complete``. The scheduler's steps (the
create's host, the migration's host check) are done here as upstream's
filter scheduler does them. Prints what it saw as JSON.
"""

import os
import uuid

import _upstream

_wait = _upstream.wait
_status = _upstream.status
CONTENT = 'written before the migration\n'


def _admin(ctx):
    from manila import context
    return context.RequestContext(
        user_id=ctx.user_id, project_id=ctx.project_id, is_admin=True,
        roles=['admin', 'member', 'reader'])


def _create(ctx, api, host, timeout):
    from manila import db
    from manila.share import rpcapi
    from manila.share import share_types
    row = db.share_type_create(ctx, {
        'name': 'interop-hostmig-%s' % uuid.uuid4().hex[:8],
        'extra_specs': {'driver_handles_share_servers': 'False'}})
    share_type = share_types.get_share_type(ctx, row['id'])
    share = api.create(ctx, 'NFS', 1, 'hostmig', 'to be migrated',
                       share_type=share_type)
    inst_id = share.instance['id']
    db.share_instance_update(ctx, inst_id, {'host': host})
    inst = db.share_instance_get(ctx, inst_id, with_share_data=True)
    rpcapi.ShareAPI().create_share_instance(
        ctx, inst, host, request_spec={'share_id': share['id']},
        filter_properties={'scheduler_hints': None})
    _wait(lambda: _status(db.share_get, ctx, share['id']),
          ('available', 'error'), timeout, 'share %s' % share['id'])
    return db.share_get(ctx, share['id'])


class _HandScheduler:
    """The scheduler's part of a migration: the destination passed its filters; cast migration_start to the source."""

    def migrate_share_to_host(self, context, share_id, host,
                              force_host_assisted_migration,
                              preserve_metadata, writable, nondisruptive,
                              preserve_snapshots, new_share_network_id,
                              new_share_type_id, request_spec=None,
                              filter_properties=None):
        from manila import db
        from manila.share import rpcapi
        rpcapi.ShareAPI().migration_start(
            context, db.share_get(context, share_id), host,
            force_host_assisted_migration, preserve_metadata, writable,
            nondisruptive, preserve_snapshots, new_share_network_id,
            new_share_type_id)


def _task(ctx, share_id):
    from manila import db
    return db.share_get(ctx, share_id)['task_state']


def run(ctx, args):
    from manila import db
    from manila.share import api as share_api_module
    ctx = _admin(ctx)
    api = share_api_module.API()
    seen = {}
    share = _create(ctx, api, args.src_host, args.timeout)
    api.scheduler_rpcapi = _HandScheduler()
    seen['created'] = share['status']
    src_id = share.instance['id']
    seen['src_instance'] = src_id
    with open(os.path.join(args.src_pool, 'share-%s' % src_id, 'kept.txt'),
              'w') as f:
        f.write(CONTENT)
    api.migration_start(ctx, share, args.dest_host,
                        force_host_assisted_migration=True,
                        preserve_metadata=False, writable=False,
                        nondisruptive=False, preserve_snapshots=False)
    seen['copied'] = _wait(
        lambda: _task(ctx, share['id']),
        ('data_copying_completed', 'data_copying_error', 'migration_error'),
        args.timeout, 'task_state of share %s' % share['id'])
    share = db.share_get(ctx, share['id'])
    seen['instances_during'] = sorted(i['status'] for i in share.instances)
    api.migration_complete(ctx, share)
    seen['completed'] = _wait(
        lambda: _task(ctx, share['id']),
        ('migration_success', 'migration_error'), args.timeout,
        'task_state of share %s' % share['id'])
    share = db.share_get(ctx, share['id'])
    seen['instances_after'] = [(i['id'], i['status'], i['host'])
                               for i in share.instances]
    seen['status'] = share['status']
    seen['export_locations'] = list(share.export_locations)
    seen['content'] = CONTENT
    return seen


def main():
    p = _upstream.parser(__doc__)
    p.add_argument('--src-host', required=True, help='H@B#pool')
    p.add_argument('--dest-host', required=True, help='H@B#pool')
    p.add_argument('--src-pool', required=True, help='source pool directory')
    p.add_argument('--timeout', type=float, default=120.0)
    args = p.parse_args()
    ctx = _upstream.setup(args)
    ctx.project_id = 'interop-%s' % uuid.uuid4().hex[:12]
    _upstream.finish(run(ctx, args))


if __name__ == '__main__':
    main()
