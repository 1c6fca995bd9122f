"""Snapshots of the localfs driver: reflink-or-copy snapshots, read-only snapshot exports, clones (possibly in the background) and atomic reverts.

A snapshot is a copy of the share directory under
``<pool>/.localfs/snapshots/<snapshot name>``, built in the staging
directory and renamed into place, so a half-made copy is never taken for a
snapshot. With reflink the copy shares the file extents (copy-on-write);
each file is captured at the moment it is copied, so the snapshot is
point-in-time per file, not across the whole tree.
"""

import copy
import os

from oslo_log import log

from manila_lite.common import constants
from manila_lite import exception
from manila_lite.share.drivers.localfs import exports
from manila_lite.share.drivers.localfs import fsops

LOG = log.getLogger(__name__)


class SnapshotMixin(object):
    """Snapshot, clone and revert methods of LocalFSDriver (needs its helpers)."""

    def _snapshot_location(self, snapshot):
        """Return ``(pool, resolved snapshot directory)``; the path must stay in the share's pool."""
        record = self.registry.get(snapshot['id'])
        if record is not None:
            pool = self._pool(record.pool, record.server)
            path = record.path
        else:
            pool = self._share_pool(snapshot['share'])
            path = pool.snapshot_path(snapshot['name'])
        return pool, pool.confine(path, 'snapshot directory', internal=True)

    def _copy_into(self, pool, src, dst, staging_name, size=None,
                   limit_id=None, progress=None, cancel=None):
        """Copy ``src`` to the new ``dst`` through the pool's staging directory."""
        staging = pool.staging_path(staging_name)
        reflink = self.configuration.localfs_reflink
        with fsops.translated('copy %s' % src, dst):
            fsops.remove_tree(staging, pool.trash_dir)
            try:
                fsops.copy_tree(src, staging, reflink=reflink,
                                progress=progress, cancel=cancel)
                if limit_id is not None:
                    self._set_limit(pool, staging, limit_id, size)
                os.rename(staging, dst)
            except BaseException:
                fsops.remove_tree(staging, pool.trash_dir)
                raise

    def create_snapshot(self, context, snapshot, share_server=None):
        """Copy (reflink where possible) the share into the pool's snapshot directory."""
        share = snapshot['share']
        pool, src = self._share_location(share)
        if not os.path.isdir(src):
            raise exception.ShareBackendException(
                msg='localfs share directory %s of share %s is missing; '
                    'cannot snapshot it' % (src, share['id']))
        dst = pool.snapshot_path(snapshot['name'])
        record = self.registry.get(snapshot['id'])
        if (record is not None and record.path == dst
                and os.path.isdir(dst) and not os.path.islink(dst)):
            # Taken already; the service was stopped before recording it.
            return {'provider_location': dst,
                    'export_locations': self._record_locations(record)}
        if os.path.isdir(dst) and not os.path.islink(dst) and record is None:
            # Renamed into place just before a crash, never recorded: the
            # directory (named after this snapshot instance, in the
            # driver's private area) is taken again.
            with fsops.translated('remove an unrecorded snapshot', dst):
                fsops.remove_tree(dst, pool.trash_dir)
        if os.path.lexists(dst):
            raise exception.ShareBackendException(
                msg='localfs snapshot directory %s already exists' % dst)
        self._copy_into(pool, src, dst, 'snap-%s' % snapshot['id'])
        record = exports.Record(
            snapshot['id'], exports.SNAPSHOT, pool.name, dst,
            share['share_proto'], snapshot['name'],
            size=snapshot.get('size') or share['size'],
            server=pool.server_id)
        self.registry.save(record)
        LOG.info('localfs snapshot %(id)s of share %(share)s at %(path)s.',
                 {'id': snapshot['id'], 'share': share['id'], 'path': dst})
        return {'provider_location': dst,
                'export_locations': self._record_locations(record)}

    def delete_snapshot(self, context, snapshot, share_server=None):
        pool, path = self._snapshot_location(snapshot)
        record = self.registry.get(snapshot['id'])
        self.registry.forget(snapshot['id'])
        if record is not None and record.rules:
            self._sync_exports([record.proto])
        with fsops.translated('delete snapshot directory', path):
            if not fsops.remove_tree(path, pool.trash_dir):
                LOG.info('localfs snapshot directory %s was already gone.',
                         path)

    def snapshot_update_access(self, context, snapshot, access_rules,
                               add_rules, delete_rules, share_server=None):
        """Export the snapshot read-only to ``access_rules`` (every level becomes ro)."""
        record = self.registry.get(snapshot['id'])
        if record is None:
            pool, path = self._snapshot_location(snapshot)
            if not os.path.isdir(path):
                raise exception.SnapshotResourceNotFound(name=snapshot['id'])
            record = exports.Record(
                snapshot['id'], exports.SNAPSHOT, pool.name, path,
                snapshot['share']['share_proto'], snapshot['name'],
                size=snapshot.get('size') or 0, server=pool.server_id)
        return self._apply_rules(record, access_rules, readonly=True)

    def revert_to_snapshot(self, context, snapshot, share_access_rules,
                           snapshot_access_rules, share_server=None):
        """Copy the snapshot aside, then swap it with the share directory in one exchange."""
        share = snapshot['share']
        pool, share_path = self._share_location(share)
        _snap_pool, snap_path = self._snapshot_location(snapshot)
        if not os.path.isdir(snap_path) or not os.path.isdir(share_path):
            raise exception.ShareBackendException(
                msg='localfs cannot revert share %s: %s or %s is missing'
                    % (share['id'], share_path, snap_path))
        staging = pool.staging_path('revert-%s' % share['id'])
        with fsops.translated('revert share %s' % share['id'], share_path):
            fsops.remove_tree(staging, pool.trash_dir)
            try:
                fsops.copy_tree(snap_path, staging,
                                reflink=self.configuration.localfs_reflink)
                self._set_limit(pool, staging, share['id'], share['size'])
                fsops.exchange(staging, share_path)
            finally:
                # After the exchange the staging name holds the old data.
                fsops.remove_tree(staging, pool.trash_dir)
        record = self.registry.get(share['id'])
        if record is not None and record.rules:
            self._sync_exports([record.proto])
        LOG.info('localfs share %(share)s reverted to snapshot %(snap)s.',
                 {'share': share['id'], 'snap': snapshot['id']})

    # ------------------------------------------------------------------
    # Shares from snapshots
    # ------------------------------------------------------------------

    def create_share_from_snapshot(self, context, share, snapshot,
                                   share_server=None, parent_share=None):
        """Copy the snapshot into a new share; large copies continue in the background."""
        record = self._clone_record(share, snapshot)
        src = record.copy_source
        _used, apparent = fsops.tree_usage(src)
        threshold = (self.configuration.localfs_async_copy_threshold_mb
                     * fsops.MiB)
        if threshold and apparent <= threshold:
            self._clone(record)
            return {'status': constants.STATUS_AVAILABLE,
                    'export_locations': self._record_locations(record)}
        self.registry.save(record)
        self._start_clone(record, apparent)
        return {'status': constants.STATUS_CREATING_FROM_SNAPSHOT,
                'export_locations': self._record_locations(record)}

    def _clone_record(self, share, snapshot):
        """The record of a new share copied from ``snapshot`` (its directory must not exist yet)."""
        proto = self._check_protocol(share['share_proto'])
        _src_pool, src = self._snapshot_location(snapshot)
        if not os.path.isdir(src):
            raise exception.ShareBackendException(
                msg='localfs snapshot directory %s is missing' % src)
        pool = self._share_pool(share)
        dst = pool.share_path(share['name'])
        pool.confine(dst, 'share directory')
        if os.path.lexists(dst):
            raise exception.ShareBackendException(
                msg='localfs share directory %s already exists' % dst)
        return exports.Record(share['id'], exports.SHARE, pool.name, dst,
                              proto, share['name'], size=share['size'],
                              copy_source=src, server=pool.server_id)

    def _clone(self, record, progress=None, cancel=None):
        pool = self._pool(record.pool, record.server)
        self._copy_into(pool, record.copy_source, record.path,
                        record.name, size=record.size,
                        limit_id=record.entity_id, progress=progress,
                        cancel=cancel)
        with self.registry.lock:
            done = copy.copy(record)
            done.copy_source = None
            self.registry.save(done)

    def _start_clone(self, record, total_bytes=None):
        if total_bytes is None:
            _used, total_bytes = fsops.tree_usage(record.copy_source)
        return self.jobs.start(
            record.entity_id, total_bytes,
            lambda progress, cancel: self._clone(record, progress, cancel))

    def _resume_clone(self, record):
        """Restart a copy a service restart interrupted; None if it cannot be."""
        source = record.copy_source
        if not any(p.contains(source) for p in self._pools.values()):
            LOG.error('localfs clone source %s of share %s is outside every '
                      'pool; not copying.', source, record.entity_id)
            return None
        if not os.path.isdir(source):
            LOG.error('localfs clone source %s of share %s is gone.',
                      source, record.entity_id)
            return None
        LOG.info('Resuming the copy of share %s from %s.', record.entity_id,
                 source)
        return self._start_clone(record)

    def _give_up_clone(self, entity_id):
        with self.registry.lock:
            record = self.registry.get(entity_id)
            if record is not None and record.copy_source:
                record = copy.copy(record)
                record.copy_source = None
                self.registry.save(record)

    def get_share_status(self, share, share_server=None):
        """Report a background clone: progress while copying, then available (or error)."""
        job = self.jobs.get(share['id'])
        record = self.registry.get(share['id'])
        if job is None and record is not None and record.copy_source:
            job = self._resume_clone(record)
            if job is None:
                self._give_up_clone(share['id'])
        if job is None:
            if record is not None and os.path.isdir(record.path):
                return {'status': constants.STATUS_AVAILABLE,
                        'export_locations': self._record_locations(record),
                        'progress': '100%'}
            return {'status': constants.STATUS_ERROR}
        if not job.finished.is_set():
            return {'status': constants.STATUS_CREATING_FROM_SNAPSHOT,
                    'progress': '%d%%' % job.percent}
        self.jobs.pop(share['id'])
        if job.error is not None:
            LOG.error('localfs copy of share %(id)s failed: %(err)s',
                      {'id': share['id'], 'err': job.error})
            self._give_up_clone(share['id'])
            return {'status': constants.STATUS_ERROR}
        record = self.registry.get(share['id']) or record
        return {'status': constants.STATUS_AVAILABLE,
                'export_locations': self._record_locations(record),
                'progress': '100%'}
