"""localfs driver-assisted migration: a background copy to a pool of this or another localfs backend on this machine, then a final sync at cut-over.

Every localfs backend writes its layout (pool paths, export addresses,
protocols, mode) into the private storage all backends share at
``do_setup``; the source backend reads the destination's from there.

Phase 1 (``migration_start``, then ``migration_continue`` until done)
copies the share and, when the manager maps them, its snapshots into the
destination pool's staging directory (``migrate-<instance id>.part``,
renamed to ``migrate-<instance id>`` when whole), reflinked where the
filesystem can. The source stays exported and writable meanwhile. A
service restart loses the copy thread; the next ``migration_continue``
starts the copy of what is not whole yet again.

Phase 2 (``migration_complete``) unexports the source, syncs what changed
since the first copy (``fsops.sync_tree``: changed files only, removed ones
removed), renames the copies into place, records them for the destination
backend and removes the source directory and snapshots. The export path
changes, so the migration is never nondisruptive; extended attributes and
ACLs are not copied, so metadata is not fully preserved. A share on a
share server (``driver_handles_share_servers = True``) moves into the
destination share server's namespace and is exported on its addresses;
from a server to no server (or back) is refused in the compatibility
answer. Whole share servers migrate in ``server_migration.py``, which
shares the copy helpers here.
"""

import json
import os
import uuid

from oslo_log import log

from manila_lite.common import hosts
from manila_lite import exception
from manila_lite.share.drivers.localfs import exports
from manila_lite.share.drivers.localfs import fsops
from manila_lite.share.drivers.localfs import paths

LOG = log.getLogger(__name__)

_LAYOUT_NAMESPACE = uuid.UUID('0b8f5d7e-3c2a-4f61-8e0d-5a9c7b1e2f34')
_PART = '.part'


def layout_entity_id(backend_host):
    """The private-storage entity holding one backend's layout."""
    return str(uuid.uuid5(_LAYOUT_NAMESPACE, 'localfs-layout:%s'
                          % backend_host))


class Peer(object):
    """What the source needs of a destination backend: its pools, addresses, protocols and mode."""

    def __init__(self, backend_host, data):
        self.backend_host = backend_host
        self.pools = dict(data.get('pools') or {})
        self.export_ips = list(data.get('export_ips') or [])
        self.admin_ips = list(data.get('admin_ips') or [])
        self.protocols = list(data.get('protocols') or [])
        self.dhss = bool(data.get('dhss'))
        # where its export files are (a migrated share server's are blanked)
        self.section = data.get('section')
        self.exports_file = data.get('exports_file')
        self.samba_file = data.get('samba_file')
        self.nfs_options = data.get('nfs_options') or ''

    def pool(self, name):
        path = self.pools.get(name)
        if not path:
            raise exception.ShareBackendException(
                msg='pool %r is not a pool of localfs backend %s'
                    % (name, self.backend_host))
        return paths.Pool(path)

    def addresses(self):
        """``[(ip, is_admin)]`` the destination exports on."""
        return ([(ip, False) for ip in self.export_ips] +
                [(ip, True) for ip in self.admin_ips])


def _staged(pool, entity_id):
    return pool.staging_path('migrate-%s' % entity_id)


class CopyPlan(object):
    """Directories copied in the background: ``items`` are ``(source dir, staged copy, final place)``."""

    items = ()

    def trash(self, staged):
        """The trash directory of the pool ``staged`` is copied into."""
        raise NotImplementedError()

    def whole(self):
        return all(os.path.isdir(staged) for _src, staged, _dst in self.items)


class _Plan(CopyPlan):
    """The directories of one share migration, share first."""

    def __init__(self, share_item, snapshot_items, pool, peer):
        self.share = share_item
        self.snapshots = snapshot_items
        self.pool = pool
        self.peer = peer

    @property
    def items(self):
        return [self.share] + [item for _id, item in self.snapshots]

    def trash(self, staged):
        return self.pool.trash_dir


class MigrationMixin(object):
    """Driver-assisted migration methods of LocalFSDriver (needs its helpers)."""

    # -- the layout every backend publishes -------------------------------

    def _publish_layout(self):
        layout = {'pools': {p.name: p.path for p in self._pools.values()},
                  'export_ips': [str(ip) for ip in self._export_ips],
                  'admin_ips': [str(ip) for ip in self._admin_ips],
                  'protocols': self._protocols,
                  'dhss': bool(self.driver_handles_share_servers),
                  'section': self._section_name(),
                  'exports_file': self._exports_file,
                  'samba_file': self._samba_file,
                  'nfs_options':
                      self.configuration.localfs_nfs_export_options}
        self.private_storage.update(layout_entity_id(self.backend_host),
                                    {'layout': json.dumps(layout)},
                                    delete_existing=True)

    def _peer(self, destination_share):
        """The destination backend's layout, or None when it is no localfs backend here."""
        return self._peer_of(hosts.extract_host(destination_share['host']))

    def _peer_of(self, backend):
        """The layout of localfs backend ``host@backend``, or None."""
        text = self.private_storage.get(layout_entity_id(backend), 'layout')
        if not text:
            return None
        try:
            return Peer(backend, json.loads(text))
        except (ValueError, TypeError, AttributeError):
            LOG.warning('localfs layout of backend %s is unreadable.',
                        backend)
            return None

    # -- compatibility ------------------------------------------------------

    def _incompatibility(self, source_share, destination_share, share_server,
                         destination_share_server):
        """Why the destination cannot be migrated to by this driver, or None."""
        if bool(share_server) != bool(destination_share_server):
            return ('localfs migrates a share from a share server to a '
                    'share server, or between backends without them')
        peer = self._peer(destination_share)
        if peer is None:
            return ('%s is not a localfs backend of this machine'
                    % destination_share['host'])
        if peer.dhss != bool(destination_share_server):
            return ('the destination backend %s share servers'
                    % ('handles' if peer.dhss else 'does not handle'))
        if destination_share_server and self._server_record(
                peer.backend_host, destination_share_server['id']) is None:
            return ('share server %s is not set up on %s'
                    % (destination_share_server['id'], peer.backend_host))
        pool = hosts.extract_host(destination_share['host'], 'pool')
        if pool not in peer.pools:
            return 'pool %r is not a pool of %s' % (pool, peer.backend_host)
        if (source_share['share_proto'] or '').upper() not in peer.protocols:
            return '%s does not serve %s' % (peer.backend_host,
                                             source_share['share_proto'])
        return None

    def migration_check_compatibility(
            self, context, source_share, destination_share,
            share_server=None, destination_share_server=None):
        """Compatible with the pools of every localfs backend of this machine of the same DHSS mode (a share server to a share server).

        Writable during phase 1 and snapshots preserved; never
        nondisruptive (the export path changes) and metadata not preserved
        (extended attributes and ACLs are not copied).
        """
        why = self._incompatibility(source_share, destination_share,
                                    share_server, destination_share_server)
        if why:
            LOG.info('localfs cannot migrate share %(id)s: %(why)s.',
                     {'id': source_share['id'], 'why': why})
        ok = why is None
        return {'compatible': ok, 'writable': ok, 'preserve_snapshots': ok,
                'nondisruptive': False, 'preserve_metadata': False}

    # -- phase 1 ------------------------------------------------------------

    def _plan(self, source_share, destination_share, source_snapshots,
              snapshot_mappings, share_server=None,
              destination_share_server=None):
        why = self._incompatibility(source_share, destination_share,
                                    share_server, destination_share_server)
        if why:
            raise exception.ShareBackendException(
                msg='localfs cannot migrate share %s: %s'
                    % (source_share['id'], why))
        peer = self._peer(destination_share)
        pool = peer.pool(hosts.extract_host(destination_share['host'],
                                            'pool'))
        if destination_share_server:
            pool = paths.ServerPool(pool, destination_share_server['id'])
        _src_pool, src_dir = self._share_location(source_share)
        share_item = (src_dir, _staged(pool, destination_share['id']),
                      pool.share_path(destination_share['name']))
        snapshot_items = []
        for snapshot in source_snapshots or []:
            dest = snapshot_mappings.get(snapshot['id'])
            if dest is None:
                continue
            _snap_pool, snap_dir = self._snapshot_location(
                dict(snapshot, share=source_share))
            snapshot_items.append((dest['id'], (
                snap_dir, _staged(pool, dest['id']),
                pool.snapshot_path(dest['name']))))
        return _Plan(share_item, snapshot_items, pool, peer)

    def _copy_phase1(self, plan, progress, cancel):
        reflink = self.configuration.localfs_reflink
        for src, staged, _dst in plan.items:
            if os.path.isdir(staged):
                continue
            part = staged + _PART
            with fsops.translated('copy %s for a migration' % src, staged):
                fsops.remove_tree(part, plan.trash(staged))
                try:
                    fsops.copy_tree(src, part, reflink=reflink,
                                    progress=progress, cancel=cancel)
                    os.rename(part, staged)
                except BaseException:
                    fsops.remove_tree(part, plan.trash(staged))
                    raise

    def _start_copy(self, key, plan):
        """Copy what of ``plan`` is not whole yet in a background job called ``key``."""
        missing = [src for src, staged, _dst in plan.items
                   if not os.path.isdir(staged)]
        total = sum(fsops.tree_usage(src)[1] for src in missing)
        return self.jobs.start(
            key, total,
            lambda progress, cancel: self._copy_phase1(plan, progress,
                                                       cancel))

    def _poll_copy(self, key, make_plan, what):
        """True once every copy of ``make_plan()`` is whole; a failed copy raises (copies removed); a lost one starts again.

        While the copy runs, the plan is not even built (no read at all).
        """
        job = self.jobs.get(key)
        if job is not None and not job.finished.is_set():
            return False
        plan = make_plan()
        if job is not None:
            self.jobs.pop(key)
            if job.error is not None:
                self._remove_copies(plan)
                raise exception.ShareBackendException(
                    msg='localfs copy of %s failed: %s' % (what, job.error))
        if plan.whole():
            return True
        LOG.info('localfs migration of %s: (re)starting the copy.', what)
        self._start_copy(key, plan)
        return False

    def _copy_progress(self, key, make_plan):
        """``{'total_progress'}``: bytes copied out of the bytes to copy, 100 once ``make_plan()`` is whole."""
        job = self.jobs.get(key)
        if job is not None:
            return {'total_progress': job.percent}
        return {'total_progress': 100 if make_plan().whole() else 0}

    def _take_whole_copy(self, key, plan, what):
        """Forget the finished job ``key``; raise unless every copy of ``plan`` is whole."""
        job = self.jobs.pop(key)
        if (job is not None and not job.finished.is_set()) or not plan.whole():
            raise exception.ShareBackendException(
                msg='localfs has not finished copying %s' % what)

    def migration_start(self, context, source_share, destination_share,
                        source_snapshots, snapshot_mappings,
                        share_server=None, destination_share_server=None):
        """Begin copying the share (and its mapped snapshots) into the destination pool's staging directory."""
        plan = self._plan(source_share, destination_share, source_snapshots,
                          snapshot_mappings, share_server,
                          destination_share_server)
        if os.path.lexists(plan.share[2]):
            raise exception.ShareBackendException(
                msg='localfs destination directory %s already exists'
                    % plan.share[2])
        self._start_copy(destination_share['id'], plan)
        LOG.info('localfs migration of share %(src)s to %(dst)s started.',
                 {'src': source_share['id'], 'dst': plan.share[2]})

    def migration_continue(self, context, source_share, destination_share,
                           source_snapshots, snapshot_mappings,
                           share_server=None, destination_share_server=None):
        """True once every copy is whole; a failed copy raises; a copy lost to a restart starts again."""
        return self._poll_copy(
            destination_share['id'], lambda: self._plan(
                source_share, destination_share, source_snapshots,
                snapshot_mappings, share_server, destination_share_server),
            'share %s' % source_share['id'])

    def migration_get_progress(self, context, source_share,
                               destination_share, source_snapshots,
                               snapshot_mappings, share_server=None,
                               destination_share_server=None):
        """Bytes copied out of the bytes to copy (100 once every copy is whole)."""
        return self._copy_progress(destination_share['id'], lambda: self._plan(
            source_share, destination_share, source_snapshots,
            snapshot_mappings, share_server, destination_share_server))

    # -- phase 2 and cancel -------------------------------------------------

    def _destination_registry(self, peer):
        if peer.backend_host == self.backend_host:
            return self.registry
        return exports.Registry(self.private_storage, peer.backend_host)

    def _record_of(self, backend_host, entity_id):
        """A record of localfs backend ``backend_host``: this one's from memory, another's from private storage; or None."""
        if backend_host == self.backend_host:
            return self.registry.get(entity_id)
        data = self.private_storage.get(entity_id)
        if not data or not data.get('path'):
            return None
        return exports.Record.from_private(entity_id, data)

    def _server_record(self, backend_host, server_id):
        record = self._record_of(backend_host, server_id)
        return record if record and record.kind == exports.SERVER else None

    def _peer_locations(self, peer, record):
        """Export locations of a record of ``peer``: on its share server's addresses, else on the backend's."""
        addresses = peer.addresses()
        if record.server:
            addresses = self._server_record(peer.backend_host,
                                            record.server).addresses
        return self._locations(record.path, record.proto, record.name,
                               snapshot=record.kind == exports.SNAPSHOT,
                               addresses=addresses)

    def migration_complete(self, context, source_share, destination_share,
                           source_snapshots, snapshot_mappings,
                           share_server=None, destination_share_server=None):
        """Unexport the source, sync what changed, move the copies into place, remove the source."""
        plan = self._plan(source_share, destination_share, source_snapshots,
                          snapshot_mappings, share_server,
                          destination_share_server)
        self._take_whole_copy(destination_share['id'], plan,
                              'share %s' % source_share['id'])
        record = self.registry.get(source_share['id'])
        if record is not None and record.rules:
            self._apply_rules(record, [], readonly=True)
        src, staged, final = plan.share
        with fsops.translated('sync the migration of share %s'
                              % source_share['id'], final):
            fsops.sync_tree(src, staged,
                            reflink=self.configuration.localfs_reflink)
            if plan.peer.backend_host == self.backend_host:
                self._set_limit(plan.pool, staged, destination_share['id'],
                                destination_share['size'])
            for _src, staged_dir, final_dir in plan.items:
                os.rename(staged_dir, final_dir)
        answer = self._record_destination(plan, source_share,
                                          destination_share)
        self._remove_source(context, source_share, source_snapshots)
        LOG.info('localfs share %(src)s migrated to %(dst)s.',
                 {'src': source_share['id'], 'dst': final})
        return answer

    def _record_destination(self, plan, source_share, destination_share):
        registry = self._destination_registry(plan.peer)
        proto = source_share['share_proto']
        record = exports.Record(
            destination_share['id'], exports.SHARE, plan.pool.name,
            plan.share[2], proto, destination_share['name'],
            size=destination_share['size'], server=plan.pool.server_id)
        registry.save(record)
        updates = {}
        for snapshot_id, (_src, _staged, final) in plan.snapshots:
            snap = exports.Record(snapshot_id, exports.SNAPSHOT,
                                  plan.pool.name, final, proto,
                                  os.path.basename(final),
                                  size=destination_share['size'],
                                  server=plan.pool.server_id)
            registry.save(snap)
            updates[snapshot_id] = {
                'provider_location': final,
                'export_locations': self._peer_locations(plan.peer, snap)}
        return {'export_locations': self._peer_locations(plan.peer, record),
                'snapshot_updates': updates}

    def _remove_source(self, context, source_share, source_snapshots):
        for snapshot in source_snapshots or []:
            try:
                self.delete_snapshot(context, dict(snapshot,
                                                   share=source_share))
            except exception.ShareBackendException as exc:
                LOG.warning('localfs could not remove snapshot %(id)s of '
                            'the migrated share: %(exc)s',
                            {'id': snapshot['id'], 'exc': exc})
        self.delete_share(context, source_share)

    @staticmethod
    def _remove_copies(plan):
        with fsops.translated('remove the copies of a migration'):
            for _src, staged, _dst in plan.items:
                fsops.remove_tree(staged + _PART, plan.trash(staged))
                fsops.remove_tree(staged, plan.trash(staged))

    def migration_cancel(self, context, source_share, destination_share,
                         source_snapshots, snapshot_mappings,
                         share_server=None, destination_share_server=None):
        """Stop the copy and remove every staged copy; the source is not touched."""
        self.jobs.cancel(destination_share['id'])
        self._remove_copies(self._plan(
            source_share, destination_share, source_snapshots,
            snapshot_mappings, share_server, destination_share_server))
        LOG.info('localfs migration of share %s cancelled.',
                 source_share['id'])
