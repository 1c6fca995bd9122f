"""localfs replication: replicas are directories on localfs backends of one replication_domain here, synced from the active one.

The active replica's directory is found through the private storage all
backends share (its record's ``path``). A sync copies only the files
whose size, type or mtime changed (reflinked where the pool's filesystem
can) and removes what the source no longer has; a failed sync reports
``out_of_sync``. ``readable`` replicas are exported read-only with the
share's rules, ``dr`` replicas are not exported until promoted. A
promotion first syncs the new active one from the old, so nothing written
before the quiesce is lost. Replica snapshots are copies of the active
replica's snapshot, taken on each replica's own backend.
"""

import os

from oslo_log import log

from manila_lite.common import constants as c
from manila_lite import exception
from manila_lite.share.drivers.localfs import exports
from manila_lite.share.drivers.localfs import fsops

LOG = log.getLogger(__name__)


def _active(replica_list):
    for replica in replica_list:
        if replica.get('replica_state') == c.REPLICA_STATE_ACTIVE:
            return replica
    raise exception.ReplicationException(
        reason='no active replica in the replica list')


class ReplicationMixin(object):
    """Replica methods of LocalFSDriver (needs its helpers)."""

    @property
    def _replication_type(self):
        return self.configuration.localfs_replication_type

    def _replica_source(self, replica_list):
        """The active replica's directory (any localfs backend on this machine)."""
        active = _active(replica_list)
        record = self.registry.get(active['id'])
        data = ({'path': record.path} if record is not None
                else self.private_storage.get(active['id']) or {})
        path = data.get('path')
        if not path or not os.path.isdir(path):
            raise exception.ShareBackendException(
                msg='localfs cannot find the directory of active replica %s'
                    % active['id'])
        return active, os.path.realpath(path)

    def _sync_from(self, src, record):
        path = self._confine_record(record)
        with fsops.translated('sync replica %s' % record.entity_id, path):
            copied, kept, removed = fsops.sync_tree(
                src, path, reflink=self.configuration.localfs_reflink)
        LOG.debug('localfs replica %(id)s synced from %(src)s: %(c)d files '
                  'copied, %(k)d kept, %(r)d removed.',
                  {'id': record.entity_id, 'src': src, 'c': copied,
                   'k': kept, 'r': removed})

    def _export_as_replica(self, record, access_rules):
        """Apply a non-active replica's rules (read-only, or none for ``dr``); returns its export locations."""
        if self._replication_type == c.REPLICATION_TYPE_DR:
            self._apply_rules(record, [], readonly=True)
            return []
        self._apply_rules(record, access_rules, readonly=True)
        return self._record_locations(record)

    def create_replica(self, context, replica_list, new_replica,
                       access_rules, replica_snapshots, share_server=None):
        """Make the replica's directory, sync it and copy the active replica's snapshots."""
        _active_replica, src = self._replica_source(replica_list)
        proto = self._check_protocol(new_replica['share_proto'])
        pool = self._share_pool(new_replica)
        path = pool.share_path(new_replica['name'])
        pool.confine(path, 'replica directory')
        if not os.path.isdir(path):
            with fsops.translated('create replica directory', path):
                fsops.make_directory(path, self._mode, self._owner)
        self._set_limit(pool, path, new_replica['id'], new_replica['size'])
        record = exports.Record(new_replica['id'], exports.SHARE, pool.name,
                                path, proto, new_replica['name'],
                                size=new_replica['size'],
                                server=pool.server_id)
        self.registry.save(record)
        self._sync_from(src, record)
        for pair in replica_snapshots or []:
            self._copy_replica_snapshot(pair['share_replica_snapshot'],
                                        pair['active_replica_snapshot'],
                                        new_replica)
        return {'export_locations': self._export_as_replica(record,
                                                            access_rules),
                'replica_state': c.REPLICA_STATE_IN_SYNC,
                'access_rules_status': c.STATUS_ACTIVE}

    def delete_replica(self, context, replica_list, replica_snapshots,
                       replica, share_server=None):
        for snapshot in replica_snapshots or []:
            if snapshot.get('share_instance_id') == replica['id']:
                self.delete_snapshot(context, dict(snapshot, share=replica))
        self.delete_share(context, replica)

    def update_replica_state(self, context, replica_list, replica,
                             access_rules, replica_snapshots,
                             share_server=None):
        """Sync the replica from the active one; ``out_of_sync`` when that fails."""
        record = self.registry.get(replica['id'])
        if record is None:
            update = self._ensure_one(replica)
            if 'status' in update:
                return c.STATUS_ERROR
            record = self.registry.get(replica['id'])
        try:
            _active_replica, src = self._replica_source(replica_list)
            self._sync_from(src, record)
        except Exception as exc:
            LOG.warning('localfs replica %(id)s is out of sync: %(exc)s',
                        {'id': replica['id'], 'exc': exc})
            return c.REPLICA_STATE_OUT_OF_SYNC
        self._export_as_replica(record, access_rules)
        return c.REPLICA_STATE_IN_SYNC

    def promote_replica(self, context, replica_list, replica, access_rules,
                        share_server=None, quiesce_wait_time=None):
        """Sync from the old active one, then swap roles; the others must resync from the new one."""
        record = self.registry.get(replica['id'])
        if record is None:
            raise exception.ShareBackendException(
                msg='localfs has no record of replica %s' % replica['id'])
        old = _active(replica_list)
        old_state = c.REPLICA_STATE_IN_SYNC
        try:
            _old, src = self._replica_source(replica_list)
            self._sync_from(src, record)
        except exception.ShareBackendException as exc:
            # the old active one is gone (the disaster): promote what we have
            LOG.warning('localfs promotes replica %(id)s without a final '
                        'sync: %(exc)s', {'id': replica['id'], 'exc': exc})
            old_state = c.REPLICA_STATE_OUT_OF_SYNC
        self._apply_rules(record, access_rules, readonly=False)
        updates = [{'id': replica['id'],
                    'replica_state': c.REPLICA_STATE_ACTIVE,
                    'export_locations': self._record_locations(record),
                    'access_rules_status': c.STATUS_ACTIVE}]
        for other in replica_list:
            if other['id'] == replica['id']:
                continue
            update = {'id': other['id'],
                      'replica_state': (old_state if other['id'] == old['id']
                                        else c.REPLICA_STATE_OUT_OF_SYNC)}
            mine = self.registry.get(other['id'])
            if mine is not None:
                # on this backend: its exports follow its new role now
                update['export_locations'] = self._export_as_replica(
                    mine, access_rules)
            updates.append(update)
        return updates

    # -- replica snapshots -------------------------------------------------

    def _copy_replica_snapshot(self, snapshot, source, replica):
        """Copy ``source`` (the active replica's snapshot instance) as ``snapshot`` of ``replica`` on this backend."""
        src = source.get('provider_location')
        if not src or not os.path.isdir(src):
            raise exception.ShareBackendException(
                msg='localfs cannot find snapshot %s of the active replica'
                    % source.get('id'))
        pool = self._share_pool(replica)
        dst = pool.snapshot_path(snapshot['name'])
        if not os.path.isdir(dst):
            self._copy_into(pool, src, dst, 'snap-%s' % snapshot['id'])
        self.registry.save(exports.Record(
            snapshot['id'], exports.SNAPSHOT, pool.name, dst,
            replica['share_proto'], snapshot['name'],
            size=snapshot.get('size') or replica['size'],
            server=pool.server_id))
        return dst

    def create_replicated_snapshot(self, context, replica_list,
                                   replica_snapshots, share_server=None):
        """Snapshot the active replica now; the others copy it on their backends (``update_replicated_snapshot``)."""
        active = _active(replica_list)
        updates = []
        for snapshot in replica_snapshots:
            if snapshot['share_instance_id'] != active['id']:
                updates.append({'id': snapshot['id'],
                                'status': c.STATUS_CREATING})
                continue
            answer = self.create_snapshot(context,
                                          dict(snapshot, share=active))
            updates.append({'id': snapshot['id'],
                            'status': c.STATUS_AVAILABLE,
                            'provider_location': answer['provider_location']})
        return updates

    def update_replicated_snapshot(self, context, replica_list,
                                   share_replica, replica_snapshots,
                                   replica_snapshot, share_server=None):
        """Take (copy) or remove this replica's instance of a replicated snapshot."""
        snapshot = dict(replica_snapshot, share=share_replica)
        if replica_snapshot['status'] == c.STATUS_DELETING:
            self.delete_snapshot(context, snapshot)
            raise exception.SnapshotResourceNotFound(
                name=replica_snapshot['id'])
        active = _active(replica_list)
        sources = [s for s in replica_snapshots
                   if s['share_instance_id'] == active['id']]
        if not sources:
            raise exception.SnapshotResourceNotFound(
                name=replica_snapshot['id'])
        dst = self._copy_replica_snapshot(replica_snapshot, sources[0],
                                          share_replica)
        return {'id': replica_snapshot['id'], 'status': c.STATUS_AVAILABLE,
                'provider_location': dst}

    def delete_replicated_snapshot(self, context, replica_list,
                                   replica_snapshots, share_server=None):
        """Remove the instances of replicas on this backend now; the others go on their own backends."""
        updates = []
        for snapshot in replica_snapshots:
            owner = [r for r in replica_list
                     if r['id'] == snapshot['share_instance_id']]
            if owner and self.registry.get(owner[0]['id']) is not None:
                self.delete_snapshot(context, dict(snapshot, share=owner[0]))
                updates.append({'id': snapshot['id'],
                                'status': c.STATUS_DELETED})
            else:
                updates.append({'id': snapshot['id'],
                                'status': c.STATUS_DELETING})
        return updates

    def revert_to_replicated_snapshot(self, context, active_replica,
                                      replica_list, active_replica_snapshot,
                                      replica_snapshots, share_access_rules,
                                      snapshot_access_rules,
                                      share_server=None):
        """Revert the active replica; the others follow at their next sync."""
        self.revert_to_snapshot(
            context, dict(active_replica_snapshot, share=active_replica),
            share_access_rules, snapshot_access_rules)

    def _replication_stats(self):
        if not self.configuration.safe_get('replication_domain'):
            return {}
        return {'replication_type': self._replication_type}
