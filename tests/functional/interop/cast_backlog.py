"""Send many creates and extends as upstream's API does, waiting for nothing; print the new share ids as JSON (upstream venv)."""

import sys

import _upstream
import cast_create


def main():
    p = _upstream.parser(__doc__)
    p.add_argument('--host', required=True, help='H@B#pool of the creates')
    p.add_argument('--create', type=int, default=0,
                   help='how many shares to create')
    p.add_argument('--extend', action='append', default=[],
                   help='id of a share to extend by 1 GB (repeatable)')
    p.add_argument('--project-id', default='interop-project')
    p.add_argument('--state-path', required=True,
                   help="the share service's state_path (coordination)")
    p.add_argument('--lock-path', required=True,
                   help="the share service's [oslo_concurrency] lock_path")
    args = p.parse_args()
    ctx = _upstream.admin(_upstream.setup(args), args.project_id)

    from oslo_config import cfg

    from manila import coordination
    from manila import db
    from manila.share import api as share_api

    # Room for every share of the test (upstream's default is 50).
    cfg.CONF.set_override('shares', -1, group='quota')
    cfg.CONF.set_override('state_path', args.state_path)
    cfg.CONF.set_override('lock_path', args.lock_path,
                          group='oslo_concurrency')
    api = share_api.API()
    created = []
    try:
        # Interleaved, as many clients would send them.
        for index in range(max(args.create, len(args.extend))):
            if index < len(args.extend):
                share = db.share_get(ctx, args.extend[index])
                # force=True: the admin path that casts to the share host.
                api.extend(ctx, share, share['size'] + 1, force=True)
            if index < args.create:
                created.append(cast_create.create_share(
                    ctx, args.host, reserve_quota=True,
                    name='backlog-%d' % index)['share_id'])
    finally:
        coordination.LOCK_COORDINATOR.stop()
    _upstream.finish({'created': created})


if __name__ == '__main__':
    sys.exit(main())
