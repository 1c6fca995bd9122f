"""Share servers of a DHSS=True backend driven by upstream manila's own share API against a share service (runs inside the upstream venv).

A share network without Neutron ids, a DHSS=True share type, a share
(its server created, its addresses from the standalone ranges), a second
share on the same server, a snapshot, an access rule, an extension, an
LDAP security service added to the network in use (check, then update),
every deletion, the server unmanaged and managed again (the API's abandon and
adopt), then the server's deletion through the API's admin action. The
scheduler's one step (set the host, cast create_share_instance) is done
here as upstream's filter scheduler does it. Prints what it saw as JSON.
"""

import uuid

import _upstream


_wait = _upstream.wait
_status = _upstream.status


def _network(ctx):
    from manila import db
    net = db.share_network_create(ctx, {
        'id': str(uuid.uuid4()),
        'project_id': ctx.project_id, 'user_id': ctx.user_id,
        'name': 'interop-net'})
    subnet = db.share_network_subnet_create(ctx, {
        'id': str(uuid.uuid4()), 'share_network_id': net['id'],
        'availability_zone_id': None})
    return net, subnet


def _snapshot_status(ctx, snapshot_id):
    """The status of the snapshot's one instance, or 'gone'.

    Read from the instance: upstream's ``ShareSnapshot.instance`` fails
    (its share instance loads as None) when the read meets a row change
    made at that moment.
    """
    from manila import db
    found = db.share_snapshot_instance_get_all_with_filters(
        ctx, {'snapshot_ids': [snapshot_id]})
    return found[0]['status'] if found else 'gone'


def _allocations(ctx, server_id):
    from manila import db
    return sorted((a['label'], a['ip_address'], a['ip_version'])
                  for a in db.network_allocations_get_for_share_server(
                      ctx, server_id))


def _lifecycle(ctx, api, args, seen):
    """Two shares on one server, a snapshot, access, an extension; returns the shares."""
    from manila import db
    net, subnet = _network(ctx)
    share_type = _upstream.share_type(ctx, 'interop-dhss', dhss=True)
    first = _upstream.create_share(ctx, api, args.host, share_type,
                                   args.timeout, 'a',
                                   share_network_id=net['id'])
    seen['first'] = first['status']
    server_id = first.instance['share_server_id']
    server = db.share_server_get(ctx, server_id)
    seen['server'] = server['status']
    seen['server_subnets'] = server['share_network_subnet_ids']
    seen['subnet_id'] = subnet['id']
    seen['allocations'] = _allocations(ctx, server_id)
    subnet = db.share_network_subnet_get(ctx, subnet['id'])
    seen['subnet'] = [subnet['cidr'], subnet['gateway'], subnet['mtu']]
    second = _upstream.create_share(ctx, api, args.host, share_type,
                                    args.timeout, 'b',
                                    share_network_id=net['id'])
    seen['second'] = second['status']
    seen['same_server'] = second.instance['share_server_id'] == server_id
    snap = api.create_snapshot(ctx, first, 'interop-snap', 'on a server')
    seen['snapshot'] = _wait(
        lambda: _snapshot_status(ctx, snap['id']),
        ('available', 'error'), args.timeout, 'snapshot')
    access = api.allow_access(ctx, first, 'ip', '10.0.0.7', 'rw')
    seen['access'] = _wait(
        lambda: _status(db.share_access_get, ctx, access['id'], 'state'),
        ('active', 'error'), args.timeout, 'access rule')
    api.extend(ctx, db.share_get(ctx, first['id']), 2, force=True)
    _wait(lambda: _status(db.share_get, ctx, first['id']),
          ('available', 'extending_error'), args.timeout, 'extension')
    seen['extended'] = _status(db.share_get, ctx, first['id'], 'size')
    seen['usages_in_use'] = _upstream.usages(ctx)
    _add_security_service(ctx, api, args, net['id'], server_id, seen)
    api.delete_snapshot(ctx, db.share_snapshot_get(ctx, snap['id']))
    seen['snapshot_deleted'] = _wait(
        lambda: _snapshot_status(ctx, snap['id']),
        ('gone', 'error_deleting'), args.timeout, 'snapshot deletion')
    return server_id, [first['id'], second['id']]


def _cleanup(ctx, api, args, server_id, share_ids, seen):
    """Deleting a server with shares is refused; then the shares, then the server."""
    from manila import db
    from manila import exception
    try:
        api.delete_share_server(ctx, db.share_server_get(ctx, server_id))
        seen['in_use_refused'] = False
    except exception.ShareServerInUse:
        seen['in_use_refused'] = True
    for share_id in share_ids:
        api.delete(ctx, db.share_get(ctx, share_id))
    seen['shares_deleted'] = [
        _wait(lambda s=s: _status(db.share_get, ctx, s),
              ('gone', 'error_deleting'), args.timeout, 'share deletion')
        for s in share_ids]
    server_id = _abandon_and_adopt(ctx, api, args, server_id, seen)
    api.delete_share_server(ctx, db.share_server_get(ctx, server_id))
    seen['server_deleted'] = _wait(
        lambda: _status(db.share_server_get, ctx, server_id),
        ('gone', 'error'), args.timeout, 'server deletion')
    seen['allocations_after'] = _allocations(ctx, server_id)
    seen['usages_after'] = {k: v for k, v in _upstream.usages(ctx).items() if v}


def _add_security_service(ctx, api, args, net_id, server_id, seen):
    """Add an LDAP service to the network in use as upstream's REST layer does: check until compatible, update, associate."""
    from manila import db
    service = db.security_service_create(ctx, {
        'id': str(uuid.uuid4()), 'project_id': ctx.project_id,
        'type': 'ldap', 'name': 'interop-ldap', 'server': '192.0.2.20',
        'domain': 'example.org', 'user': 'admin', 'password': 'secret'})

    def compatible():
        return api.check_share_network_security_service_update(
            ctx, db.share_network_get(ctx, net_id), service)['compatible']
    seen['ss_check'] = _wait(compatible, (True, False), args.timeout,
                             'security service check')
    api.update_share_network_security_service(
        ctx, db.share_network_get(ctx, net_id), service)
    db.share_network_add_security_service(ctx, net_id, service['id'])
    seen['ss_network'] = _wait(
        lambda: _status(db.share_network_get, ctx, net_id),
        ('active', 'error'), args.timeout, 'share network update')
    server = db.share_server_get(ctx, server_id)
    seen['ss_server'] = server['status']
    seen['ss_details'] = 'security_service_ldap' in server['backend_details']


def _abandon_and_adopt(ctx, api, args, server_id, seen):
    """Unmanage the emptied server, then manage it again under its old id; returns the new server's id."""
    from manila import db
    server = db.share_server_get(ctx, server_id)
    subnet = db.share_network_subnet_get(
        ctx, server['share_network_subnet_ids'][0])
    before = _allocations(ctx, server_id)
    api.unmanage_share_server(ctx, server, force=False)
    seen['unmanaged'] = _wait(
        lambda: _status(db.share_server_get, ctx, server_id),
        ('gone', 'unmanage_error'), args.timeout, 'server unmanage')
    seen['allocations_unmanaged'] = _allocations(ctx, server_id)
    managed = api.manage_share_server(ctx, server_id,
                                      args.host.split('#')[0], subnet, {})
    seen['managed'] = _wait(
        lambda: _status(db.share_server_get, ctx, managed['id']),
        ('active', 'manage_error'), args.timeout, 'server manage')
    again = db.share_server_get(ctx, managed['id'])
    seen['managed_identifier_is_old_id'] = again['identifier'] == server_id
    seen['managed_same_addresses'] = (
        sorted(a[1] for a in _allocations(ctx, managed['id'])) ==
        sorted(a[1] for a in before))
    return managed['id']


def run(ctx, args):
    from manila.share import api as share_api_module
    ctx = _upstream.admin(ctx)
    api = share_api_module.API()
    seen = {}
    server_id, share_ids = _lifecycle(ctx, api, args, seen)
    _cleanup(ctx, api, args, server_id, share_ids, seen)
    return seen


def main():
    p = _upstream.parser(__doc__)
    p.add_argument('--host', required=True, help='H@B#pool')
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
