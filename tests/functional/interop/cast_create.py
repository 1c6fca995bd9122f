"""Create a share the way upstream's API does (upstream DB API) and cast create_share_instance to a share host with upstream's ShareAPI.

Print the ids as JSON (runs inside the upstream venv).
"""

import types
import uuid

import _upstream


def create_share(ctx, host, size=1, proto='NFS', name='interop-share',
                 reserve_quota=False, replication_type=None,
                 snapshot_id=None, share_type_id=None, before_cast=None):
    """Write the share rows as upstream's API does and cast; return the ids.

    ``reserve_quota`` also reserves shares/gigabytes (and, for a type with
    ``replication_type``, share_replicas/replica_gigabytes) before the share
    row is written and commits them after, as upstream's API does. With
    ``snapshot_id`` the share is created from that snapshot (give the
    parent's ``share_type_id``); ``before_cast(share_id)`` runs once the
    rows are written, before the cast.
    """
    from manila import db
    from manila import quota
    from manila.share import api as share_api
    from manila.share import rpcapi

    extra_specs = {'driver_handles_share_servers': 'False',
                   'snapshot_support': 'True',
                   'create_share_from_snapshot_support': 'True'}
    deltas = {'shares': 1, 'gigabytes': size}
    if replication_type:
        extra_specs['replication_type'] = replication_type
        deltas.update(share_replicas=1, replica_gigabytes=size)
    if share_type_id is None:
        share_type_id = db.share_type_create(ctx, {
            'name': 'interop-%s' % uuid.uuid4().hex[:8],
            'extra_specs': extra_specs,
        })['id']
    share_type = db.share_type_get(ctx, share_type_id)
    reservations = None
    if reserve_quota:
        reservations = quota.QUOTAS.reserve(
            ctx, share_type_id=share_type['id'], **deltas)
    # Upstream's own helpers; neither needs more of the API object than .db.
    api_like = types.SimpleNamespace(db=db)
    options = {
        'size': size,
        'user_id': ctx.user_id,
        'project_id': ctx.project_id,
        'snapshot_id': snapshot_id,
        'metadata': {},
        'display_name': name,
        'display_description': 'made by upstream manila 23.0.1',
        'share_proto': proto,
        'is_public': False,
        'share_group_id': None,
        'qos_type_id': None,
    }
    options.update(share_api.API.get_share_attributes_from_share_type(
        api_like, share_type))
    share = db.share_create(ctx, options, create_share_instance=False)
    if reservations:
        quota.QUOTAS.commit(ctx, reservations, share_type_id=share_type['id'])
    request_spec, instance = (
        share_api.API.create_share_instance_and_get_request_spec(
            api_like, ctx, share, host=host,
            share_type_id=share_type['id']))
    if before_cast is not None:
        before_cast(share['id'])
    rpcapi.ShareAPI().create_share_instance(
        ctx, instance, host, request_spec=request_spec,
        filter_properties={'scheduler_hints': None}, snapshot_id=snapshot_id)
    return {'share_id': share['id'], 'share_instance_id': instance['id'],
            'share_type_id': share_type['id']}


def main():
    p = _upstream.parser(__doc__)
    p.add_argument('--host', required=True, help='H@B#pool')
    p.add_argument('--size', type=int, default=1)
    p.add_argument('--proto', default='NFS')
    p.add_argument('--name', default='interop-share')
    args = p.parse_args()
    ctx = _upstream.setup(args)
    _upstream.finish(create_share(ctx, args.host, size=args.size,
                                  proto=args.proto, name=args.name))


if __name__ == '__main__':
    main()
