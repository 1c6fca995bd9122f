"""LocalFSDriver: shares as directories of local pools, exported over NFS (exports file) and CIFS (Samba include file).

The reference driver for one-machine deployments and end-to-end tests, in
either mode: with ``driver_handles_share_servers = True`` each share server
is a namespace of its own (``servers.py``). Shares, snapshots, clones,
reverts, access, resizes and manage/unmanage do real work on real data;
options are in ``manila_lite.conf.localfs``. Snapshot and clone flows live in
``snapshots.py``, manage/unmanage in ``manage.py``, share migration in
``migration.py`` and share server migration in ``server_migration.py``,
all mixed in here.

Operator notes:

* A share is ``<pool>/share-<instance id>`` (an adopted share keeps its
  own directory name); the pool is the ``#pool`` part of the share host.
* NFS access becomes lines of the exports file (``ip(rw|ro,<options>)``);
  CIFS access becomes a Samba section with ``valid users`` / ``read list``
  for user rules and ``hosts allow`` for ip rules (both must match when a
  share has both kinds). Snapshots are exported read-only.
* The rules are kept in private storage, so the files are rebuilt at every
  start (``do_setup``) and by ``ensure_shares``; a share the driver has no
  record of is returned with ``reapply_access_rules`` so the service sends
  its rules again. ``get_backend_info`` is not implemented on purpose: the
  start-up ensure always runs.
* Commands (exportfs, smbcontrol, xfs_quota) go through oslo.concurrency
  processutils; ``localfs_root_helper`` is used when the service is not
  root.
"""

import copy
import grp
import ipaddress
import os
import pwd
import shutil
import socket

from oslo_concurrency import processutils
from oslo_config import cfg
from oslo_log import log
from oslo_utils import timeutils

from manila_lite.common import hosts
from manila_lite.conf import localfs as localfs_opts
from manila_lite import exception
from manila_lite.share import driver
from manila_lite.share.drivers.localfs import exports
from manila_lite.share.drivers.localfs import fsops
from manila_lite.share.drivers.localfs import groups
from manila_lite.share.drivers.localfs import jobs
from manila_lite.share.drivers.localfs import manage
from manila_lite.share.drivers.localfs import migration
from manila_lite.share.drivers.localfs import paths
from manila_lite.share.drivers.localfs import quota
from manila_lite.share.drivers.localfs import replication
from manila_lite.share.drivers.localfs import server_migration
from manila_lite.share.drivers.localfs import servers
from manila_lite.share.drivers.localfs import snapshots
from manila_lite.share import drivers_private_data

LOG = log.getLogger(__name__)
CONF = cfg.CONF

VERSION = '1.0'


def _conf_value(name, default):
    try:
        return CONF[name]
    except cfg.NoSuchOptError:
        return default


def _parse_mode(text):
    try:
        mode = int(str(text).strip(), 8)
    except ValueError:
        mode = -1
    if not 0 <= mode <= 0o7777:
        raise exception.BadConfigurationException(
            reason='localfs_share_mode %r is not an octal mode like 0770'
                   % (text,))
    return mode


def _lookup_id(value, by_name, what):
    if value.isdigit():
        return int(value)
    try:
        return by_name(value)
    except KeyError:
        raise exception.BadConfigurationException(
            reason='localfs_share_owner: unknown %s %r' % (what, value))


def _parse_owner(text):
    """'' -> None; 'user', 'user:group', 'uid:gid' -> (uid, gid)."""
    text = (text or '').strip()
    if not text:
        return None
    user, _, group = text.partition(':')
    uid = _lookup_id(user, lambda n: pwd.getpwnam(n).pw_uid, 'user')
    if group:
        gid = _lookup_id(group, lambda n: grp.getgrnam(n).gr_gid, 'group')
    else:
        gid = pwd.getpwuid(uid).pw_gid if not user.isdigit() else -1
    return uid, gid


def _parse_ips(values, option):
    result = []
    for value in values or []:
        value = value.strip().strip('[]')
        if not value:
            continue
        try:
            result.append(ipaddress.ip_address(value))
        except ValueError:
            raise exception.BadConfigurationException(
                reason='%s: %r is not an IP address' % (option, value))
    return result


class LocalFSDriver(groups.GroupMixin, snapshots.SnapshotMixin,
                    manage.ManageMixin, servers.ServerMixin,
                    replication.ReplicationMixin,
                    server_migration.ServerMigrationMixin,
                    migration.MigrationMixin,
                    driver.ExecuteMixin, driver.ShareDriver):
    """Local directories as shares; see the package docstring and ``manila_lite.conf.localfs``."""

    def __init__(self, *args, **kwargs):
        super().__init__([False, True], *args,
                         config_opts=[localfs_opts.localfs_opts],
                         **kwargs)
        self.private_storage = (
            kwargs.get('private_storage')
            or drivers_private_data.DriverPrivateData(
                storage=drivers_private_data.MemoryStorageDriver()))
        self.ipv6_implemented = True
        self.backend_name = (self.configuration.safe_get('share_backend_name')
                             or 'LocalFS')
        self._read_options()
        self._pools = {p.name: p for p in paths.build_pools(
            self.configuration.localfs_pools)}
        self._quotas = {}
        self._reflink = {}
        self.backend_host = '%s@%s' % (
            _conf_value('host', socket.gethostname()), self._section_name())
        self.registry = exports.Registry(self.private_storage,
                                         self.backend_host)
        self.jobs = jobs.CopyJobs()
        self.writer = exports.ExportWriter(
            self.registry, self._section_name(), self._exports_file,
            self._samba_file, self.configuration.localfs_nfs_export_options,
            self._apply, self._record_is_safe)

    def _read_options(self):
        config = self.configuration
        self._mode = _parse_mode(config.localfs_share_mode)
        self._owner = _parse_owner(config.localfs_share_owner)
        self._export_ips = _parse_ips(config.localfs_export_ips,
                                      'localfs_export_ips')
        self._admin_ips = _parse_ips(config.localfs_admin_export_ips,
                                     'localfs_admin_export_ips')
        if (not self._export_ips and not self._admin_ips
                and not self.driver_handles_share_servers):
            raise exception.BadConfigurationException(
                reason='localfs_export_ips lists no address')
        self._protocols = [p.upper() for p in
                           config.localfs_enabled_share_protocols or []]
        if not self._protocols:
            raise exception.BadConfigurationException(
                reason='localfs_enabled_share_protocols is empty')
        base = os.path.join(_conf_value('state_path', '/var/lib/manila'),
                            'localfs')
        self._exports_file = (config.localfs_exports_file or os.path.join(
            base, '%s.exports' % self._section_name()))
        self._samba_file = (config.localfs_samba_include_file or os.path.join(
            base, '%s-smb.conf' % self._section_name()))

    # ------------------------------------------------------------------
    # Commands
    # ------------------------------------------------------------------

    def _run_command(self, *cmd):
        helper = self.configuration.localfs_root_helper
        kwargs = {'run_as_root': True, 'root_helper': helper} if helper else {}
        try:
            return self._execute(*cmd, **kwargs)
        except (processutils.ProcessExecutionError, OSError) as exc:
            raise exception.ShareBackendException(
                msg='localfs command "%s" failed: %s'
                    % (' '.join(cmd),
                       (getattr(exc, 'stderr', None) or str(exc)).strip()))

    def _apply(self, kind):
        """Make the NFS or Samba server re-read the file (when installed and enabled)."""
        if kind == 'nfs':
            enabled = self.configuration.localfs_apply_nfs_exports
            cmd = ('exportfs', '-ra')
        else:
            enabled = self.configuration.localfs_apply_samba_config
            cmd = ('smbcontrol', 'smbd', 'reload-config')
        if not enabled:
            return
        if not shutil.which(cmd[0]):
            LOG.debug('%s is not installed; %s access is only written to '
                      'its file.', cmd[0], kind.upper())
            return
        self._run_command(*cmd)

    def _sync_exports(self, protos, strict=True):
        kinds = {'NFS': 'nfs', 'CIFS': 'cifs'}
        try:
            self.writer.sync(nfs='nfs' in {kinds.get(p) for p in protos},
                             cifs='cifs' in {kinds.get(p) for p in protos})
        except exception.ShareBackendException as exc:
            if strict:
                raise
            LOG.warning('localfs could not apply its export files: %s', exc)

    # ------------------------------------------------------------------
    # Lifecycle and stats
    # ------------------------------------------------------------------

    def do_setup(self, context):
        """Create missing pool directories, probe quotas and reflink, rebuild the export files."""
        self._pools = {p.name: p for p in paths.build_pools(
            self.configuration.localfs_pools)}
        for pool in list(self._pools.values()):
            with fsops.translated('prepare pool %s' % pool.name, pool.path):
                if not os.path.isdir(pool.path):
                    LOG.info('Creating localfs pool directory %s.',
                             pool.path)
                fsops.ensure_dir(pool.path)
                for sub in (pool.snapshots_dir, pool.staging_dir,
                            pool.trash_dir):
                    fsops.ensure_dir(sub, 0o700)
                fsops.empty_trash(pool.trash_dir)
            self._pools[pool.name] = paths.Pool(pool.configured_path)
            self._quotas[pool.name] = quota.probe(
                pool.path, self._execute,
                self.configuration.localfs_root_helper,
                self.configuration.localfs_quota)
            self._reflink[pool.name] = fsops.probe_reflink(pool.staging_dir)
        self.registry.load()
        self._publish_layout()
        self._sync_exports(self._protocols, strict=False)

    def check_for_setup_error(self):
        """Every pool is a writable directory and the export files can be written."""
        for pool in self._pools.values():
            if not os.path.isdir(pool.path):
                raise exception.ShareBackendException(
                    msg='localfs pool %s (%s) is not a directory'
                        % (pool.name, pool.path))
            if not os.access(pool.path, os.W_OK | os.X_OK):
                raise exception.ShareBackendException(
                    msg='localfs pool %s (%s) is not writable by this '
                        'service' % (pool.name, pool.path))
        for path in (self._exports_file, self._samba_file):
            directory = os.path.dirname(path)
            if not os.access(directory, os.W_OK):
                raise exception.ShareBackendException(
                    msg='localfs cannot write %s (directory missing or not '
                        'writable)' % path)

    def get_configured_ip_versions(self):
        if self.driver_handles_share_servers:
            # servers serve on what the network plugin allocates
            return [4, 6]
        addresses = self._export_ips + self._admin_ips
        return sorted({ip.version for ip in addresses})

    def _pool_stats(self, pool):
        try:
            total, free = fsops.statvfs_gib(pool.path)
        except OSError as exc:
            LOG.error('localfs pool %(pool)s is not usable: %(exc)s',
                      {'pool': pool.name, 'exc': exc})
            total = free = 0
        config = self.configuration
        provisioned = sum(r.size for r in self.registry.all()
                          if r.pool == pool.name and r.kind == exports.SHARE)
        hard = self._quotas.get(pool.name) is not None
        return {
            'pool_name': pool.name,
            'total_capacity_gb': total,
            'free_capacity_gb': free,
            'reserved_percentage': config.reserved_share_percentage,
            'reserved_snapshot_percentage':
                config.reserved_share_from_snapshot_percentage,
            'reserved_share_extend_percentage':
                config.reserved_share_extend_percentage,
            'provisioned_capacity_gb': provisioned,
            'allocated_capacity_gb': provisioned,
            'max_over_subscription_ratio':
                config.max_over_subscription_ratio,
            'thin_provisioning': True,
            'localfs_hard_limits': hard,
            'localfs_reflink': bool(self._reflink.get(pool.name)),
            'dedupe': False,
            'compression': False,
            'qos': False,
        }

    def _update_share_stats(self, data=None):
        stats = {
            'share_backend_name': self.backend_name,
            'vendor_name': 'manila_lite',
            'driver_version': VERSION,
            'driver_name': 'LocalFS',
            'storage_protocol': '_'.join(p for p in ('NFS', 'CIFS')
                                         if p in self._protocols),
            'snapshot_support': True,
            'create_share_from_snapshot_support': True,
            'revert_to_snapshot_support': True,
            'mount_snapshot_support': True,
            # Group snapshots are checked to be consistent across the
            # pools of this backend (localfs/groups.py).
            'share_group_stats': {'consistent_snapshot_support': 'host'},
            'pools': [self._pool_stats(p) for p in self._pools.values()],
        }
        stats.update(self._replication_stats())
        super()._update_share_stats(stats)

    def get_pool(self, share):
        pool = hosts.extract_host(share['host'], 'pool')
        if pool:
            return pool
        record = self.registry.get(share['id'])
        if record is not None:
            return record.pool
        for pool in self._pools.values():
            if os.path.isdir(os.path.join(pool.path, share['name'])):
                return pool.name
        return None

    # ------------------------------------------------------------------
    # Paths and export locations
    # ------------------------------------------------------------------

    def _pool(self, name, server_id=None):
        """The pool called ``name``, or the namespace of share server ``server_id`` in it."""
        pool = self._pools.get(name)
        if pool is None:
            raise exception.ShareBackendException(
                msg='pool %r is not a localfs pool of backend %s (pools: %s)'
                    % (name, self._section_name(),
                       ', '.join(sorted(self._pools))))
        if server_id:
            return paths.ServerPool(pool, server_id)
        return pool

    def _share_pool(self, share):
        record = self.registry.get(share['id'])
        if record is not None:
            return self._pool(record.pool, record.server)
        name = hosts.extract_host(share['host'], 'pool')
        if name is None and len(self._pools) == 1:
            name = next(iter(self._pools))
        return self._pool(name, servers.server_id_of(share))

    def _share_location(self, share):
        """Return ``(pool, resolved share directory)``, refusing paths outside the pool."""
        record = self.registry.get(share['id'])
        pool = self._share_pool(share)
        path = record.path if record else pool.share_path(share['name'])
        return pool, pool.confine(path, 'share directory')

    def connection_get_info(self, context, share, share_server=None):
        """How a data service on this machine mounts ``share`` (host-assisted migration): a bind mount of its directory.

        The data service fills ``%(path)s`` with its mount point and runs
        the command split on whitespace, as root (processutils adds no root
        helper when the service already is root). It also grants its
        ``data_node_access_ips`` an ip rule of the share's protocol first.
        """
        proto = self._check_protocol(share['share_proto'])
        unused, path = self._share_location(share)
        if not os.path.isdir(path):
            raise exception.ShareResourceNotFound(share_id=share['id'])
        if any(char.isspace() for char in path):
            raise exception.ShareBackendException(
                msg='share directory %r contains whitespace, which the data '
                    'service\'s mount command cannot carry' % path)
        return {'mount': 'mount --bind %s %%(path)s' % path.replace('%', '%%'),
                'unmount': 'umount %(path)s',
                'access_mapping': {'ip': [proto.lower()]}}

    def _check_protocol(self, proto):
        proto = (proto or '').upper()
        if proto not in self._protocols:
            raise exception.InvalidShare(
                reason='share protocol %s is not served by localfs backend '
                       '%s (enabled: %s)' % (proto, self._section_name(),
                                             ', '.join(self._protocols)))
        return proto

    @staticmethod
    def _host_text(ip):
        return '[%s]' % ip if ip.version == 6 else str(ip)

    def _locations(self, path, proto, name, snapshot=False, server_id=None,
                   addresses=None):
        """Export locations of a directory: public IPs first (the first preferred), then admin ones.

        A share server's directory is exported on the server's addresses;
        ``addresses`` (``[(ip, is_admin)]``) are another backend's (the
        destination of a migration).
        """
        result = []
        if addresses is not None:
            ips = [(ipaddress.ip_address(ip), admin)
                   for ip, admin in addresses]
        elif server_id:
            ips = self._server_addresses(server_id)
        else:
            ips = [(ip, False) for ip in self._export_ips]
            ips += [(ip, True) for ip in self._admin_ips]
        for index, (ip, admin) in enumerate(ips):
            if proto == 'CIFS':
                where = '\\\\%s\\%s' % (self._host_text(ip), name)
            else:
                where = '%s:%s' % (self._host_text(ip), path)
            location = {'path': where, 'is_admin_only': admin}
            if not snapshot:
                location['metadata'] = {'preferred': index == 0 and not admin}
            result.append(location)
        return result

    def _record_locations(self, record):
        return self._locations(record.path, record.proto, record.name,
                               snapshot=record.kind == exports.SNAPSHOT,
                               server_id=record.server)

    # ------------------------------------------------------------------
    # Shares
    # ------------------------------------------------------------------

    def _set_limit(self, pool, path, entity_id, size):
        xfs = self._quotas.get(pool.name)
        if xfs is not None:
            xfs.set_limit(path, quota.project_id_for(entity_id), size)

    def _clear_limit(self, pool, path, entity_id):
        xfs = self._quotas.get(pool.name)
        if xfs is not None:
            try:
                xfs.clear(path, quota.project_id_for(entity_id))
            except exception.ShareBackendException as exc:
                LOG.warning('localfs: %s', exc)

    def create_share(self, context, share, share_server=None):
        proto = self._check_protocol(share['share_proto'])
        pool = self._share_pool(share)
        if pool.server_id:
            self._server_addresses(pool.server_id)
            self._prepare_namespace(pool)
        path = pool.share_path(share['name'])
        pool.confine(path, 'share directory')
        if self._interrupted_create(share, path):
            LOG.info('localfs share %(id)s: finishing the interrupted '
                     'creation of %(path)s.', {'id': share['id'],
                                               'path': path})
        elif os.path.lexists(path):
            raise exception.ShareBackendException(
                msg='localfs share directory %s already exists; refusing to '
                    'reuse it (use manage to adopt existing data)' % path)
        else:
            with fsops.translated('create share directory', path):
                fsops.make_directory(path, self._mode, self._owner)
        try:
            self._set_limit(pool, path, share['id'], share['size'])
            record = exports.Record(share['id'], exports.SHARE, pool.name,
                                    path, proto, share['name'],
                                    size=share['size'],
                                    server=pool.server_id)
            self.registry.save(record)
        except Exception:
            with fsops.translated('remove a half-created share', path):
                fsops.remove_tree(path, pool.trash_dir)
            raise
        LOG.info('localfs share %(id)s created at %(path)s.',
                 {'id': share['id'], 'path': path})
        return self._record_locations(record)

    def _interrupted_create(self, share, path):
        """True when ``path`` is this very share's directory from a create cut short (crash, lost reply).

        Either the driver recorded it for this instance id, or it is the
        empty real directory ``share-<instance id>`` made just before the
        crash (nobody could have written to it: it was never exported).
        """
        if os.path.islink(path) or not os.path.isdir(path):
            return False
        record = self.registry.get(share['id'])
        if record is not None:
            return record.kind == exports.SHARE and record.path == path
        return not os.listdir(path)

    def delete_share(self, context, share, share_server=None):
        self.jobs.cancel(share['id'])
        try:
            pool = self._share_pool(share)
        except exception.ShareBackendException:
            LOG.warning('localfs share %s has no pool here; nothing to '
                        'delete.', share['id'])
            self.registry.forget(share['id'])
            return
        record = self.registry.get(share['id'])
        path = record.path if record else pool.share_path(share['name'])
        if os.path.lexists(path):
            path = pool.confine(path, 'share directory')
        self.registry.forget(share['id'])
        if record is not None and record.rules:
            self._sync_exports([record.proto])
        self._clear_limit(pool, path, share['id'])
        with fsops.translated('delete share directory', path):
            fsops.remove_tree(pool.staging_path(share['name']),
                              pool.trash_dir)
            if not fsops.remove_tree(path, pool.trash_dir):
                LOG.info('localfs share directory %s was already gone.',
                         path)

    def _ensure_one(self, share):
        """Re-register one share; return its ensure update."""
        # Under the registry lock: an access change or resize running at
        # the same time (start-up ensure runs while RPC is served) must not
        # be overwritten by a copy of the record read before it.
        with self.registry.lock:
            return self._ensure_one_locked(share)

    def _ensure_one_locked(self, share):
        record = self.registry.get(share['id'])
        try:
            pool, path = self._share_location(share)
        except exception.ShareBackendException as exc:
            LOG.error('localfs cannot ensure share %(id)s: %(exc)s',
                      {'id': share['id'], 'exc': exc})
            return {'status': 'error'}
        if not os.path.isdir(path):
            LOG.error('localfs share directory %(path)s of share %(id)s is '
                      'missing.', {'path': path, 'id': share['id']})
            return {'status': 'error'}
        fresh = copy.copy(record) if record else exports.Record(
            share['id'], exports.SHARE, pool.name, path,
            share['share_proto'], share['name'], server=pool.server_id)
        fresh.size = int(share.get('size') or fresh.size or 0)
        self.registry.save(fresh)
        return {'export_locations': self._record_locations(fresh),
                'reapply_access_rules': record is None}

    def ensure_shares(self, context, shares):
        """Check the directories, refresh export locations and rewrite the export files from the database."""
        updates = {share['id']: self._ensure_one(share) for share in shares}
        self._sync_exports(self._protocols, strict=False)
        return updates

    def ensure_share(self, context, share, share_server=None):
        update = self._ensure_one(share)
        self._sync_exports([share['share_proto'].upper()], strict=False)
        if 'status' in update:
            raise exception.ShareResourceNotFound(share_id=share['id'])
        return update['export_locations']

    def _resize(self, share, new_size, check_used):
        pool, path = self._share_location(share)
        if not os.path.isdir(path):
            raise exception.ShareResourceNotFound(share_id=share['id'])
        if check_used:
            used, _apparent = fsops.tree_usage(path)
            if used > new_size * fsops.GiB:
                LOG.warning('localfs share %(id)s holds %(used).2f GiB; not '
                            'shrinking it to %(new)s GiB.',
                            {'id': share['id'], 'used': used / fsops.GiB,
                             'new': new_size})
                raise exception.ShareShrinkingPossibleDataLoss(
                    share_id=share['id'])
        self._set_limit(pool, path, share['id'], new_size)
        with self.registry.lock:
            record = self.registry.get(share['id'])
            if record is not None:
                record = copy.copy(record)
                record.size = int(new_size)
                self.registry.save(record)

    def extend_share(self, share, new_size, share_server=None):
        self._resize(share, new_size, check_used=False)

    def shrink_share(self, share, new_size, share_server=None):
        self._resize(share, new_size, check_used=True)

    def update_share_usage_size(self, context, shares):
        result = []
        for share in shares:
            try:
                _pool, path = self._share_location(share)
            except exception.ShareBackendException:
                continue
            if not os.path.isdir(path):
                continue
            used, _apparent = fsops.tree_usage(path)
            result.append({'id': share['id'],
                           'used_size': round(used / fsops.GiB, 2),
                           'gathered_at': timeutils.utcnow()})
        return result

    # ------------------------------------------------------------------
    # Access
    # ------------------------------------------------------------------

    def _checked_rules(self, rules, proto, readonly):
        valid, updates = [], {}
        ipv6 = 6 in self.get_configured_ip_versions()
        for rule in rules or []:
            checked, reason = exports.check_rule(rule, proto, ipv6, readonly)
            if checked is None:
                LOG.warning('localfs refuses access rule %(id)s: %(why)s.',
                            {'id': rule['access_id'], 'why': reason})
                updates[rule['access_id']] = {'state': 'error'}
            else:
                valid.append(checked)
        return valid, updates

    def _confine_record(self, record):
        """Resolve a record's directory, refusing one that now leaves its pool."""
        if record.kind == exports.SERVER:
            return self._pool(record.pool).confine(record.path,
                                                   'server namespace')
        return self._pool(record.pool, record.server).confine(
            record.path, '%s directory' % record.kind,
            internal=record.kind == exports.SNAPSHOT)

    def _record_is_safe(self, record):
        try:
            self._confine_record(record)
        except exception.ShareBackendException:
            return False
        return True

    def _apply_rules(self, record, access_rules, readonly):
        self._confine_record(record)
        valid, updates = self._checked_rules(access_rules, record.proto,
                                             readonly)
        with self.registry.lock:
            fresh = copy.copy(self.registry.get(record.entity_id) or record)
            fresh.rules = valid
            self.registry.save(fresh)
        self._sync_exports([record.proto])
        return updates or None

    def update_access(self, context, share, access_rules, add_rules,
                      delete_rules, update_rules=None, share_server=None):
        """Make the share's exports equal ``access_rules`` (the full list); invalid rules come back as ``error``."""
        record = self.registry.get(share['id'])
        if record is None:
            update = self._ensure_one(share)
            if 'status' in update:
                raise exception.ShareResourceNotFound(share_id=share['id'])
            record = self.registry.get(share['id'])
        return self._apply_rules(record, access_rules, readonly=False)
