"""Mark a share instance deleting the way upstream's API does and cast delete_share_instance with upstream's ShareAPI.

Print the id as JSON (runs inside the upstream venv).
"""

from oslo_utils import timeutils

import _upstream


def main():
    p = _upstream.parser(__doc__)
    p.add_argument('--share-instance-id', required=True)
    p.add_argument('--force', action='store_true')
    args = p.parse_args()
    ctx = _upstream.setup(args)

    from manila.common import constants
    from manila import db
    from manila.share import rpcapi

    instance = db.share_instance_update(
        ctx, args.share_instance_id,
        {'status': constants.STATUS_DELETING,
         'terminated_at': timeutils.utcnow()})
    rpcapi.ShareAPI().delete_share_instance(ctx, instance, force=args.force,
                                            deferred_delete=False)
    _upstream.finish({'share_instance_id': instance['id'],
                      'status': instance['status']})


if __name__ == '__main__':
    main()
