"""Driver-assisted share migration between two backends driven by upstream manila's own share API (runs inside the upstream venv).

A share with an access rule migrated from one backend to another: start,
the progress polled through the API until phase 1 is done, complete; then
a second share whose migration is cancelled after phase 1. The
scheduler's steps (set the host and cast create_share_instance; on
migrate_share_to_host, cast migration_start to the source host) are done
here as upstream's filter scheduler does them on success. Prints what it
saw as JSON.
"""

import _upstream


_wait = _upstream.wait
_status = _upstream.status


def _play_the_scheduler(api):
    """Upstream's scheduler on a successful host check: cast migration_start to the source host."""
    from manila import db
    from manila.share import rpcapi

    def migrate_share_to_host(context, share_id, host, *args):
        share_args = args[:7]       # force ... new_share_type_id
        rpcapi.ShareAPI().migration_start(
            context, db.share_get(context, share_id), host, *share_args)
    api.scheduler_rpcapi.migrate_share_to_host = migrate_share_to_host


def _task(ctx, share_id):
    from manila import db
    return _status(db.share_get, ctx, share_id, 'task_state')


def _start(ctx, api, share_id, dest, timeout):
    """migration_start through the API; returns the progress figures the API gave until phase 1 was done."""
    from manila import db
    from manila import exception
    api.migration_start(ctx, db.share_get(ctx, share_id), dest,
                        force_host_assisted_migration=False,
                        preserve_metadata=True, writable=True,
                        nondisruptive=False, preserve_snapshots=False)
    progress = []

    def phase1_done():
        share = db.share_get(ctx, share_id)
        try:
            progress.append(api.migration_get_progress(
                ctx, share)['total_progress'])
        except exception.InvalidShare:
            pass    # between states: the API says it cannot tell yet
        return share['task_state']
    _wait(phase1_done, ('migration_driver_phase1_done', 'migration_error'),
          timeout, 'migration phase 1 of %s' % share_id)
    return progress


def _driver_progress(ctx, api, share_id):
    """Ask the source service for the driver's progress: after phase 1 it answers InvalidShare, which the API's own poll catches."""
    from manila import db
    from manila import exception
    from manila.share import rpcapi
    src_id, dest_id = api.get_migrating_instances(db.share_get(ctx, share_id))
    try:
        return rpcapi.ShareAPI().migration_get_progress(
            ctx, db.share_instance_get(ctx, src_id, with_share_data=True),
            dest_id)
    except exception.InvalidShare as exc:
        return 'InvalidShare from %s' % type(exc).__module__
    except Exception as exc:
        return 'uncaught %s' % type(exc).__name__


def _instances(ctx, share_id):
    from manila import db
    return sorted((i['status'], i['host'])
                  for i in db.share_get(ctx, share_id).instances)


def _completed(ctx, api, args, seen):
    from manila import db
    share = _upstream.create_share(ctx, api, args.source, args.share_type,
                                   args.timeout, 'migrated')
    seen['created'] = share['status']
    rule = api.allow_access(ctx, share, 'ip', '10.0.0.7', 'rw')
    seen['access'] = _wait(
        lambda: _status(db.share_access_get, ctx, rule['id'], 'state'),
        ('active', 'error'), args.timeout, 'access rule')
    seen['during'] = _instances(ctx, share['id'])
    progress = _start(ctx, api, share['id'], args.dest, args.timeout)
    seen['progress_seen'] = sorted(set(progress))
    seen['phase1'] = _task(ctx, share['id'])
    seen['phase1_instances'] = _instances(ctx, share['id'])
    seen['driver_progress_after_phase1'] = _driver_progress(
        ctx, api, share['id'])
    api.migration_complete(ctx, db.share_get(ctx, share['id']))
    seen['completed'] = _wait(
        lambda: _task(ctx, share['id']),
        ('migration_success', 'migration_error'), args.timeout,
        'migration completion')
    share = db.share_get(ctx, share['id'])
    seen['after'] = [share['status'], share['host']]
    seen['after_instances'] = _instances(ctx, share['id'])
    seen['exports'] = len(share.instance['export_locations'])
    seen['rules'] = sorted(
        (r['access_to'], r['state']) for r in
        db.share_access_get_all_for_instance(ctx, share.instance['id']))
    seen['progress_after'] = api.migration_get_progress(ctx, share)
    return share['id']


def _cancelled(ctx, api, args, seen):
    from manila import db
    share = _upstream.create_share(ctx, api, args.source, args.share_type,
                                   args.timeout, 'cancelled')
    _start(ctx, api, share['id'], args.dest, args.timeout)
    api.migration_cancel(ctx, db.share_get(ctx, share['id']))
    seen['cancelled'] = _wait(
        lambda: _task(ctx, share['id']),
        ('migration_cancelled', 'migration_error'), args.timeout,
        'migration cancel')
    share = db.share_get(ctx, share['id'])
    seen['cancelled_share'] = [share['status'], share['host']]
    seen['cancelled_instances'] = _instances(ctx, share['id'])
    return share['id']


def run(ctx, args):
    from manila import db
    from manila.share import api as share_api_module
    api = share_api_module.API()
    _play_the_scheduler(api)
    args.share_type = _upstream.share_type(ctx, 'interop-mig', dhss=False)
    seen = {}
    share_ids = [_completed(ctx, api, args, seen),
                 _cancelled(ctx, api, args, seen)]
    seen['usages_in_use'] = _upstream.usages(ctx)
    for share_id in share_ids:
        api.delete(ctx, db.share_get(ctx, share_id))
    seen['deleted'] = [
        _wait(lambda s=s: _status(db.share_get, ctx, s),
              ('gone', 'error_deleting'), args.timeout, 'share deletion')
        for s in share_ids]
    seen['usages_after'] = {k: v for k, v in _upstream.usages(ctx).items() if v}
    return seen


def main():
    p = _upstream.parser(__doc__)
    p.add_argument('--source', required=True, help='H@B#pool')
    p.add_argument('--dest', required=True, help='H@B#pool')
    p.add_argument('--timeout', type=float, default=60.0)
    _upstream.add_lock_options(p)
    args = p.parse_args()
    ctx = _upstream.setup(args)
    with _upstream.share_service_locks(args):
        seen = run(ctx, args)
    _upstream.finish(seen)


if __name__ == '__main__':
    main()
