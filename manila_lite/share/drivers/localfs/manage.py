"""Manage and unmanage for the localfs driver: adopting existing directories of a pool as shares or snapshots, and letting them go.

An adopted share stays where it is (its path is remembered in private
storage), so clients of the directory keep their path. Only a directory
directly inside a pool can become a share; a snapshot must lie inside the
pool of its share and outside the share itself. Unmanaging forgets the
directory and drops its export entries; the data is left untouched.
"""

import os

from oslo_log import log

from manila_lite import exception
from manila_lite.share.drivers.localfs import exports
from manila_lite.share.drivers.localfs import fsops
from manila_lite.share.drivers.localfs import paths

LOG = log.getLogger(__name__)


def _first_location(share):
    locations = share.get('export_locations') or []
    for location in locations:
        path = location['path'] if not isinstance(location, str) else location
        if path:
            return path
    return share.get('export_location')


def _invalid_share(reason):
    return exception.ManageInvalidShare(reason=reason)


def _invalid_snapshot(reason):
    return exception.ManageInvalidShareSnapshot(reason=reason)


class ManageMixin(object):
    """Manage/unmanage methods of LocalFSDriver (needs its helpers)."""

    def _find_cifs_dir(self, name):
        try:
            paths.check_name(name, 'CIFS share name')
        except paths.PathRefused as exc:
            raise _invalid_share(str(exc))
        found = [p for p in self._pools.values()
                 if os.path.isdir(os.path.join(p.path, name))]
        if len(found) != 1:
            raise _invalid_share('%d pools hold a directory named %r; exactly '
                                 'one must' % (len(found), name))
        return found[0], os.path.join(found[0].path, name)

    def _managed_paths(self):
        return {r.path: r.entity_id for r in self.registry.all()}

    def _resolve_manage_path(self, share):
        """Return ``(pool, resolved directory)`` named by the share's export location."""
        location = _first_location(share)
        try:
            kind, value = paths.parse_export_path(location)
        except ValueError as exc:
            raise _invalid_share(str(exc))
        if kind == 'cifs':
            return self._find_cifs_dir(value)
        pool = next((p for p in self._pools.values() if p.contains(value)),
                    None)
        if pool is None:
            raise _invalid_share(
                '%s resolves to %s, which is not inside any pool of this '
                'backend (%s)' % (value, os.path.realpath(value), ', '.join(
                    p.path for p in self._pools.values())))
        real = pool.confine(value, 'directory to manage',
                            error=_invalid_share)
        if os.path.dirname(real) != pool.path:
            raise _invalid_share('%s is not directly inside pool %s (%s)'
                                 % (real, pool.name, pool.path))
        return pool, real

    def manage_existing(self, share, driver_options):
        """Adopt a directory of a pool as this share; size = its usage rounded up to GiB."""
        try:
            proto = self._check_protocol(share['share_proto'])
        except exception.InvalidShare as exc:
            raise _invalid_share(str(exc))
        pool, real = self._resolve_manage_path(share)
        wanted = share.get('host') and share['host'].partition('#')[2]
        if wanted and wanted != pool.name:
            raise _invalid_share('%s is in pool %s but the share is placed on '
                                 'pool %s' % (real, pool.name, wanted))
        if not os.path.isdir(real):
            raise _invalid_share('%s is not a directory' % real)
        owner = self._managed_paths().get(real)
        if owner and owner != share['id']:
            raise _invalid_share('%s already belongs to %s' % (real, owner))
        try:
            exports.quote_path(real)
        except exception.ShareBackendException as exc:
            raise _invalid_share(str(exc))
        used, _apparent = fsops.tree_usage(real)
        size = fsops.gib_ceil(used)
        self._set_limit(pool, real, share['id'], size)
        record = exports.Record(share['id'], exports.SHARE, pool.name, real,
                                proto, share['name'], size=size)
        self.registry.save(record)
        LOG.info('localfs adopted %(path)s as share %(id)s (%(size)s GiB).',
                 {'path': real, 'id': share['id'], 'size': size})
        return {'size': size,
                'export_locations': self._record_locations(record)}

    def unmanage(self, share):
        """Forget the share and drop its export entries; the directory stays."""
        record = self.registry.get(share['id'])
        self.registry.forget(share['id'])
        if record is not None and record.rules:
            self._sync_exports([record.proto])
        LOG.info('localfs share %(id)s unmanaged; %(path)s left in place.',
                 {'id': share['id'],
                  'path': record.path if record else '(unknown path)'})

    def _check_snapshot_dir(self, pool, real, share_path):
        if not os.path.isdir(real):
            raise _invalid_snapshot('%s is not a directory' % real)
        if real == share_path or paths.is_inside(share_path, real):
            raise _invalid_snapshot('%s is the share directory or inside it'
                                    % real)
        if paths.is_inside(real, share_path):
            raise _invalid_snapshot('%s contains the share directory' % real)
        for reserved in (pool.staging_dir, pool.trash_dir):
            if real == reserved or paths.is_inside(reserved, real):
                raise _invalid_snapshot('%s is a working directory of the '
                                        'driver' % real)
        if real in (pool.internal_dir, pool.snapshots_dir):
            raise _invalid_snapshot('%s is a directory of the driver' % real)

    def manage_existing_snapshot(self, snapshot, driver_options):
        """Adopt a directory of the share's pool as this snapshot (``provider_location``)."""
        location = snapshot.get('provider_location')
        if not location or not os.path.isabs(location):
            raise _invalid_snapshot('provider_location %r is not an absolute '
                                    'path' % (location,))
        share = snapshot['share']
        try:
            pool, share_path = self._share_location(share)
        except exception.ShareBackendException as exc:
            raise _invalid_snapshot(str(exc))
        real = pool.confine(location, 'snapshot to manage',
                            error=_invalid_snapshot, internal=True)
        self._check_snapshot_dir(pool, real, share_path)
        owner = self._managed_paths().get(real)
        if owner and owner != snapshot['id']:
            raise _invalid_snapshot('%s already belongs to %s' % (real, owner))
        used, _apparent = fsops.tree_usage(real)
        size = fsops.gib_ceil(used)
        record = exports.Record(
            snapshot['id'], exports.SNAPSHOT, pool.name, real,
            share['share_proto'], snapshot.get('name')
            or 'share-snapshot-%s' % snapshot['id'], size=size,
            server=pool.server_id)
        self.registry.save(record)
        return {'size': size, 'provider_location': real,
                'export_locations': self._record_locations(record)}

    def unmanage_snapshot(self, snapshot):
        """Forget the snapshot and drop its export entries; the directory stays."""
        record = self.registry.get(snapshot['id'])
        self.registry.forget(snapshot['id'])
        if record is not None and record.rules:
            self._sync_exports([record.proto])
