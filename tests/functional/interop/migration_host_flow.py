"""A host-assisted share migration driven by upstream manila's own share API, copied by upstream's own manila-data (runs inside the upstream venv).

A DHSS=False share on the source pool, a file written into its directory,
``migration_start`` with ``force_host_assisted_migration``, the copy by the
data service, then ``migration_complete``. The scheduler's steps (the
create's host, the migration's host check) are done here as upstream's
filter scheduler does them. Prints what it saw as JSON.
"""

import os
import time
import uuid

import _upstream
import migration_flow as flow     # its create and scheduler steps

_status = _upstream.status
CONTENT = 'written before the migration\n'
_KIB = 4


def _fill(directory, files):
    """``files`` more files of 4 KiB in ``directory`` (for the benchmark)."""
    block = os.urandom(_KIB * 1024)
    for n in range(files):
        with open(os.path.join(directory, 'f%06d' % n), 'wb') as f:
            f.write(block)


def _watch(read, wanted, timeout, what, seen_at):
    """Poll ``read()`` every 20 ms until one of ``wanted``; ``seen_at[value]`` is when each value was first seen (monotonic)."""
    deadline = time.monotonic() + timeout
    while True:
        value = read()
        seen_at.setdefault(value, time.monotonic())
        if value in wanted:
            return value
        if time.monotonic() > deadline:
            raise AssertionError('%s is %r, not %r after %ss'
                                 % (what, value, wanted, timeout))
        time.sleep(0.02)


def _timings(began, seen_at, completing):
    """Seconds of the phases: start (to the copy), copy, complete, total."""
    copy_began = seen_at.get('data_copying_in_progress', began)
    copied = seen_at.get('data_copying_completed', copy_began)
    ended = seen_at.get('migration_success', completing)
    return {'start': copy_began - began, 'copy': copied - copy_began,
            'complete': ended - completing, 'total': ended - began}


def run(ctx, args):
    from manila import db
    from manila.share import api as share_api_module
    ctx = _upstream.admin(ctx)
    api = share_api_module.API()
    seen = {}
    share = _upstream.create_share(
        ctx, api, args.src_host,
        _upstream.share_type(ctx, 'interop-hostmig', dhss=False),
        args.timeout, 'hostmig')
    flow._play_the_scheduler(api)
    seen['created'] = share['status']
    src_id = share.instance['id']
    seen['src_instance'] = src_id
    directory = os.path.join(args.src_pool, 'share-%s' % src_id)
    with open(os.path.join(directory, 'kept.txt'), 'w') as f:
        f.write(CONTENT)
    _fill(directory, args.files)
    seen_at = {}
    began = time.monotonic()
    api.migration_start(ctx, share, args.dest_host,
                        force_host_assisted_migration=True,
                        preserve_metadata=False, writable=False,
                        nondisruptive=False, preserve_snapshots=False)
    seen['copied'] = _watch(
        lambda: flow._task(ctx, share['id']),
        ('data_copying_completed', 'data_copying_error', 'migration_error'),
        args.timeout, 'task_state of share %s' % share['id'], seen_at)
    share = db.share_get(ctx, share['id'])
    seen['instances_during'] = sorted(i['status'] for i in share.instances)
    completing = time.monotonic()
    api.migration_complete(ctx, share)
    seen['completed'] = _watch(
        lambda: flow._task(ctx, share['id']),
        ('migration_success', 'migration_error'), args.timeout,
        'task_state of share %s' % share['id'], seen_at)
    seen['timings'] = _timings(began, seen_at, completing)
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
    p.add_argument('--files', type=int, default=0,
                   help='files of 4 KiB to add to the share (benchmark)')
    args = p.parse_args()
    ctx = _upstream.setup(args)
    ctx.project_id = 'interop-%s' % uuid.uuid4().hex[:12]
    _upstream.finish(run(ctx, args))


if __name__ == '__main__':
    main()
