"""Share server migration driven by upstream manila's own share API: a DHSS server checked, migrated and completed to another backend (upstream venv).

A share on a server of ``--source`` (created as in servers_flow.py), then
upstream's ``share_server_migration_check``, ``share_server_migration_start``,
its progress, and ``share_server_migration_complete`` to ``--dest``. Prints
what it saw as JSON.
"""

import uuid

import _upstream
import servers_flow


_wait = _upstream.wait
_status = _upstream.status


def _task(ctx, server_id):
    from manila import db
    return _status(db.share_server_get, ctx, server_id, 'task_state')


def run(ctx, args):
    from manila import db
    from manila.share import api as share_api_module
    ctx = _upstream.admin(ctx)
    api = share_api_module.API()
    seen = {}
    net, _subnet = servers_flow._network(ctx)
    share_type = _upstream.share_type(ctx, 'interop-dhss', dhss=True)
    share = _upstream.create_share(ctx, api, args.source, share_type,
                                   args.timeout, 'migrating',
                                   share_network_id=net['id'])
    seen['share'] = share['status']
    server_id = share.instance['share_server_id']
    server = db.share_server_get(ctx, server_id)
    check = api.share_server_migration_check(
        ctx, server, args.dest, True, False, True)
    seen['check'] = check['compatible']
    api.share_server_migration_start(ctx, server, args.dest, True, False,
                                     True)
    seen['phase1'] = _wait(
        lambda: _task(ctx, server_id),
        ('migration_driver_phase1_done', 'migration_error'), args.timeout,
        'first phase')
    progress = api.share_server_migration_get_progress(ctx, server_id)
    seen['progress'] = progress.get('total_progress')
    dest_id = progress['destination_share_server_id']
    answer = api.share_server_migration_complete(
        ctx, db.share_server_get(ctx, server_id))
    seen['dest_is_answered'] = answer['destination_share_server_id'] == \
        dest_id
    seen['dest'] = _wait(
        lambda: _status(db.share_server_get, ctx, dest_id),
        ('active', 'error'), args.timeout, 'destination server')
    seen['dest_task'] = _task(ctx, dest_id)
    moved = db.share_get(ctx, share['id'])
    seen['moved'] = [moved['status'], moved.instance['share_server_id'] ==
                     dest_id, moved.instance['host'].split('#')[0]]
    seen['source'] = _wait(
        lambda: _status(db.share_server_get, ctx, server_id),
        ('gone', 'error'), args.timeout, 'source server deletion')
    return seen


def main():
    p = _upstream.parser(__doc__)
    p.add_argument('--source', required=True, help='H@B#pool')
    p.add_argument('--dest', required=True, help='H@B')
    p.add_argument('--timeout', type=float, default=60.0)
    _upstream.add_lock_options(p)
    args = p.parse_args()
    ctx = _upstream.setup(args)
    ctx.project_id = 'interop-%s' % uuid.uuid4().hex[:12]
    with _upstream.share_service_locks(args):
        seen = run(ctx, args)
    _upstream.finish(seen)


if __name__ == '__main__':
    main()
