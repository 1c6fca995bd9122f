"""Share servers of the localfs driver (DHSS=True): a namespace in every pool and export files naming the server's addresses.

A server ``S`` owns ``<pool>/server-S/`` in each pool (laid out as a pool:
its shares, ``.localfs/snapshots``, staging and trash), and the files
``<backend>-server-S.exports`` and ``<backend>-server-S-smb.conf`` beside
the backend's own (which includes the Samba one). Its shares' export
locations name its allocated addresses (user ones first, then admin
ones), which the driver keeps in its registry as a ``server`` record.
"""

import ipaddress
import os

from oslo_log import log
from oslo_serialization import jsonutils

from manila_lite import exception
from manila_lite.share.drivers.localfs import exports
from manila_lite.share.drivers.localfs import fsops
from manila_lite.share.drivers.localfs import paths

LOG = log.getLogger(__name__)


def allocated_addresses(network_info):
    """``[[ip, is_admin], ...]`` of a server's allocations, user ones first (the first is preferred)."""
    user, admin = [], []
    for net in network_info or []:
        user += [a['ip_address']
                 for a in net.get('network_allocations') or []]
        admin += [a['ip_address']
                  for a in net.get('admin_network_allocations') or []]
    return ([[ip, False] for ip in user] +
            [[ip, True] for ip in admin if ip not in user])


def server_id_of(share):
    """The share server id of a share (or snapshot's share) dict, or None."""
    server = share.get('share_server') or {}
    return share.get('share_server_id') or server.get('id')


class ServerMixin(object):
    """Share-server methods of LocalFSDriver (needs its helpers)."""

    def _namespaces(self, server_id):
        return [paths.ServerPool(pool, server_id)
                for pool in self._pools.values()]

    @staticmethod
    def _prepare_namespace(namespace):
        with fsops.translated('prepare share server namespace',
                              namespace.path):
            fsops.ensure_dir(namespace.path)
            for sub in (namespace.snapshots_dir, namespace.staging_dir,
                        namespace.trash_dir):
                fsops.ensure_dir(sub, 0o700)

    def _server_addresses(self, server_id):
        """``[(ip_address, is_admin)]`` of a server set up here; raises if it is unknown."""
        record = self.registry.get(server_id)
        if record is None or record.kind != exports.SERVER:
            raise exception.ShareBackendException(
                msg='share server %s is not set up on localfs backend %s'
                    % (server_id, self._section_name()))
        return [(ipaddress.ip_address(ip), admin)
                for ip, admin in record.addresses]

    def get_network_allocations_number(self):
        return 1

    def get_admin_network_allocations_number(self):
        return 1 if self._admin_network_api else 0

    def _setup_server(self, network_info, metadata=None):
        """Make the server's namespace in every pool and its (empty) export files."""
        server_id = network_info[0]['server_id']
        addresses = allocated_addresses(network_info)
        if not any(not admin for _ip, admin in addresses):
            raise exception.ShareBackendException(
                msg='share server %s got no user network address'
                    % server_id)
        namespaces = self._namespaces(server_id)
        for namespace in namespaces:
            self._prepare_namespace(namespace)
        self.registry.save(exports.Record(
            server_id, exports.SERVER, namespaces[0].name,
            namespaces[0].path, 'NFS', server_id, server=server_id,
            addresses=addresses))
        self._sync_exports(self._protocols, strict=False)
        LOG.info('localfs share server %(id)s set up on %(ips)s.',
                 {'id': server_id,
                  'ips': ', '.join(ip for ip, _a in addresses)})
        return {
            'server_id': server_id,
            'export_ips': ','.join(ip for ip, a in addresses if not a),
            'admin_ips': ','.join(ip for ip, a in addresses if a),
            'namespace': paths.SERVER_DIR_PREFIX + server_id,
        }

    @staticmethod
    def _leftovers(namespace):
        """Entries of a namespace that are not the driver's own nor empty directories."""
        if not os.path.isdir(namespace.path):
            return []
        found = []
        for entry in os.listdir(namespace.path):
            path = os.path.join(namespace.path, entry)
            if entry == paths.INTERNAL_DIR:
                continue
            if (os.path.isdir(path) and not os.path.islink(path)
                    and not os.listdir(path)):
                continue
            found.append(path)
        return found

    def _teardown_server(self, server_details, security_services=None):
        """Remove the server's namespaces and files; refuses while it still holds data."""
        server_id = (server_details or {}).get('server_id')
        if not server_id:
            LOG.warning('localfs: share server details name no server_id; '
                        'nothing to tear down.')
            return
        namespaces = self._namespaces(server_id)
        held = self.registry.drop_forgotten(
            [r.entity_id for r in self.registry.all()
             if r.server == server_id and r.kind != exports.SERVER])
        held += [p for ns in namespaces for p in self._leftovers(ns)]
        if held:
            raise exception.ShareBackendException(
                msg='localfs share server %s still holds %s; not deleting '
                    'it' % (server_id, ', '.join(sorted(held))))
        self.registry.forget(server_id)
        self.writer.remove_server_files(server_id)
        self._sync_exports(self._protocols, strict=False)
        for namespace in namespaces:
            with fsops.translated('delete share server namespace',
                                  namespace.path):
                fsops.remove_tree(namespace.path, namespace.base.trash_dir)
        LOG.info('localfs share server %s torn down.', server_id)

    # -- manage / unmanage: the backend keeps an unmanaged server ---------

    @staticmethod
    def _marker(namespace):
        return os.path.join(namespace.internal_dir, 'server.json')

    def _read_marker(self, identifier):
        """What an unmanaged server ``identifier`` left in its namespace: ``{'addresses': ...}``."""
        paths.check_name(identifier, 'share server identifier')
        namespace = self._namespaces(identifier)[0]
        try:
            with open(self._marker(namespace)) as f:
                data = jsonutils.loads(f.read())
        except (OSError, ValueError) as exc:
            raise exception.ShareBackendException(
                msg='localfs has no unmanaged share server %s (%s)'
                    % (identifier, exc))
        if not isinstance(data, dict) or not data.get('addresses'):
            raise exception.ShareBackendException(
                msg='localfs share server %s left no addresses' % identifier)
        return data

    def unmanage_server(self, server_details, security_services=None):
        """Forget the server; its namespaces, files and a note of its addresses stay for a later manage."""
        server_id = (server_details or {}).get('server_id')
        record = self.registry.get(server_id) if server_id else None
        if record is None or record.kind != exports.SERVER:
            raise exception.ShareBackendException(
                msg='localfs has no share server %s to unmanage'
                    % server_id)
        for namespace in self._namespaces(server_id):
            self._prepare_namespace(namespace)
            with fsops.translated('note the unmanaged server',
                                  self._marker(namespace)):
                fsops.atomic_write(self._marker(namespace), jsonutils.dumps(
                    {'server_id': server_id,
                     'addresses': record.addresses}))
        self.registry.forget(server_id)
        LOG.info('localfs share server %s unmanaged; its namespace stays.',
                 server_id)

    def get_share_server_network_info(self, context, share_server,
                                      identifier, driver_options):
        return [ip for ip, _admin in
                self._read_marker(identifier)['addresses']]

    def manage_server(self, context, share_server, identifier,
                      driver_options):
        """Adopt an unmanaged server: its namespaces take the new server's id, its files are written again."""
        data = self._read_marker(identifier)
        server_id = share_server['id']
        old = self._namespaces(identifier)
        for namespace, new in zip(old, self._namespaces(server_id)):
            with fsops.translated('adopt share server namespace',
                                  namespace.path):
                if os.path.isdir(namespace.path):
                    if server_id != identifier:
                        os.rename(namespace.path, new.path)
                self._prepare_namespace(new)
                if os.path.exists(self._marker(new)):
                    os.unlink(self._marker(new))
        if server_id != identifier:
            self.writer.remove_server_files(identifier)
        namespaces = self._namespaces(server_id)
        self.registry.save(exports.Record(
            server_id, exports.SERVER, namespaces[0].name,
            namespaces[0].path, 'NFS', server_id, server=server_id,
            addresses=data['addresses']))
        self._sync_exports(self._protocols, strict=False)
        addresses = data['addresses']
        return server_id, {
            'server_id': server_id,
            'export_ips': ','.join(ip for ip, a in addresses if not a),
            'admin_ips': ','.join(ip for ip, a in addresses if a),
            'namespace': paths.SERVER_DIR_PREFIX + server_id,
        }

    def get_share_server_pools(self, share_server):
        """The pools a server can place shares in (all of the backend's), with its own provisioned size."""
        server_id = share_server['id']
        result = []
        for pool in self._pools.values():
            provisioned = sum(r.size for r in self.registry.all()
                              if r.server == server_id and r.pool == pool.name
                              and r.kind == exports.SHARE)
            result.append({'pool_name': pool.name,
                           'provisioned_capacity_gb': provisioned})
        return result
