"""localfs share server migration: a server's shares and snapshots move into a server of a DHSS=True localfs backend here.

As upstream, the destination backend's driver runs every step; the source
backend (this one or another localfs backend here) is known by the layout
and records every backend keeps in the private storage they share
(``migration.py``, ``exports.Registry``).

Phase 1 (``share_server_migration_start``, then ``..._continue`` until
done) copies each share and snapshot directory of the source server, in
one background job, into the staging directory of the destination server's
namespace in the pool of the same name (the destination's first pool when
it has no such pool). The source stays exported and writable; progress is
in bytes over every directory. A restart loses the job; the next continue
copies what is not whole yet again.

Phase 2 (``share_server_migration_complete``) unexports the source server
(its export files are written empty), syncs what changed in each share
since its copy, renames the copies into place, records them for the
destination server with the source's access rules (exported on the
destination server's addresses), forgets the source records and removes
the source directories. The source server itself is torn down afterwards
by its own backend. ``share_server_migration_cancel`` stops the copy and
removes the staged copies; the source is not touched.
"""

import copy
import os

from oslo_log import log

from manila_lite.common import hosts
from manila_lite import exception
from manila_lite.share.drivers.localfs import exports
from manila_lite.share.drivers.localfs import fsops
from manila_lite.share.drivers.localfs import migration
from manila_lite.share.drivers.localfs import paths

LOG = log.getLogger(__name__)


class _Entry(object):
    """One directory that moves: its source record and namespace, its destination namespace and the three paths."""

    def __init__(self, record, source_ns, dest_ns, item):
        self.record = record
        self.source_ns = source_ns
        self.dest_ns = dest_ns
        self.src, self.staged, self.final = item

    @property
    def is_share(self):
        return self.record.kind == exports.SHARE


class _ServerPlan(migration.CopyPlan):
    """The directories of one share server migration, shares first."""

    def __init__(self, source, registry, src_id, dest_id, entries):
        self.source = source            # the source backend's Peer
        self.registry = registry        # the source backend's records
        self.src_id = src_id
        self.dest_id = dest_id
        self.entries = entries

    @property
    def items(self):
        return [(e.src, e.staged, e.final) for e in self.entries]

    def trash(self, staged):
        for entry in self.entries:
            if entry.staged == staged:
                return entry.dest_ns.trash_dir
        raise KeyError(staged)


class ServerMigrationMixin(object):
    """Share server migration methods of LocalFSDriver (needs its helpers and MigrationMixin)."""

    # -- compatibility ------------------------------------------------------

    def _server_incompatibility(self, share_server, dest_host, protos):
        """Why ``share_server`` cannot move to this backend, or None."""
        if not self.driver_handles_share_servers:
            return ('backend %s does not handle share servers'
                    % self.backend_host)
        if hosts.extract_host(dest_host) != self.backend_host:
            return ('%s is not localfs backend %s'
                    % (dest_host, self.backend_host))
        source = self._peer_of(hosts.extract_host(share_server['host']))
        if source is None:
            return ('the source %s is not a localfs backend of this machine'
                    % share_server['host'])
        if not source.dhss:
            return 'the source backend does not handle share servers'
        missing = sorted(set(protos) - set(self._protocols))
        if missing:
            return '%s does not serve %s' % (self.backend_host,
                                             ', '.join(missing))
        return None

    def share_server_migration_check_compatibility(
            self, context, share_server, dest_host, old_share_network,
            new_share_network, shares_request_spec):
        """Compatible with a share server of any DHSS=True localfs backend of this machine.

        Writable during phase 1 (a background copy, then a final sync) and
        snapshots preserved; never nondisruptive (the server's addresses
        and export paths change).
        """
        specs = (shares_request_spec or {}).get('shares_req_spec') or []
        protos = {(spec.get('share_properties', {}).get('share_proto')
                   or '').upper() for spec in specs}
        why = self._server_incompatibility(share_server, dest_host, protos)
        if why:
            LOG.info('localfs cannot migrate share server %(id)s: %(why)s.',
                     {'id': share_server['id'], 'why': why})
        ok = why is None
        return {'compatible': ok, 'writable': ok, 'preserve_snapshots': ok,
                'nondisruptive': False, 'migration_cancel': ok,
                'migration_get_progress': ok,
                'share_network_id': (new_share_network or {}).get('id')}

    # -- the plan -------------------------------------------------------------

    def _source_record(self, source, entity_id):
        record = self._record_of(source.backend_host, entity_id)
        if record is None:
            raise exception.ShareBackendException(
                msg='localfs has no record of %s on the source backend'
                    % entity_id)
        return record

    def _dest_namespace(self, pool_name, dest_id):
        name = pool_name if pool_name in self._pools else sorted(
            self._pools)[0]
        return paths.ServerPool(self._pools[name], dest_id)

    def _entry(self, source, src_id, dest_id, entity_id):
        record = self._source_record(source, entity_id)
        snapshot = record.kind == exports.SNAPSHOT
        source_ns = paths.ServerPool(source.pool(record.pool), src_id)
        src = source_ns.confine(record.path, '%s directory' % record.kind,
                                internal=snapshot)
        dest_ns = self._dest_namespace(record.pool, dest_id)
        name = os.path.basename(src)
        final = (dest_ns.snapshot_path(name) if snapshot
                 else dest_ns.share_path(name))
        staged = dest_ns.staging_path('migrate-%s' % entity_id)
        return _Entry(record, source_ns, dest_ns, (src, staged, final))

    def _server_plan(self, src_server, dest_server, shares, snapshots):
        why = self._server_incompatibility(
            src_server, dest_server['host'],
            {(s['share_proto'] or '').upper() for s in shares})
        if why:
            raise exception.ShareBackendException(
                msg='localfs cannot migrate share server %s: %s'
                    % (src_server['id'], why))
        source = self._peer_of(hosts.extract_host(src_server['host']))
        registry = (self.registry if source.backend_host == self.backend_host
                    else exports.Registry(self.private_storage,
                                          source.backend_host))
        ids = ([s['id'] for s in shares] +
               [s['id'] for s in snapshots or []])
        entries = [self._entry(source, src_server['id'],
                               dest_server['id'], entity_id)
                   for entity_id in ids]
        return _ServerPlan(source, registry, src_server['id'],
                           dest_server['id'], entries)

    # -- phase 1 ------------------------------------------------------------

    def share_server_migration_start(self, context, src_share_server,
                                     dest_share_server, shares, snapshots):
        """Begin copying every share and snapshot of the server into the destination server's staging directories."""
        plan = self._server_plan(src_share_server, dest_share_server, shares,
                                 snapshots)
        for entry in plan.entries:
            if os.path.lexists(entry.final):
                raise exception.ShareBackendException(
                    msg='localfs destination directory %s already exists'
                        % entry.final)
            self._prepare_namespace(entry.dest_ns)
        self._start_copy(dest_share_server['id'], plan)
        LOG.info('localfs migration of share server %(src)s (%(n)d '
                 'directories) to %(dst)s started.',
                 {'src': src_share_server['id'], 'n': len(plan.entries),
                  'dst': dest_share_server['id']})

    def share_server_migration_continue(self, context, src_share_server,
                                        dest_share_server, shares,
                                        snapshots):
        """True once every copy is whole; a failed copy raises; a copy lost to a restart starts again."""
        return self._poll_copy(
            dest_share_server['id'], lambda: self._server_plan(
                src_share_server, dest_share_server, shares, snapshots),
            'share server %s' % src_share_server['id'])

    def share_server_migration_get_progress(self, context, src_share_server,
                                            dest_share_server, shares,
                                            snapshots):
        """Bytes copied out of the bytes to copy over every share and snapshot (100 once all are whole)."""
        return self._copy_progress(
            dest_share_server['id'], lambda: self._server_plan(
                src_share_server, dest_share_server, shares, snapshots))

    # -- phase 2 and cancel -------------------------------------------------

    def _unexport_source(self, plan):
        """Take every access rule off the source's records and write the source server's files without them."""
        for entry in plan.entries:
            if entry.record.rules:
                bare = copy.copy(entry.record)
                bare.rules = []
                plan.registry.save(bare)
        if plan.registry is self.registry:
            self._sync_exports(self._protocols)
            return
        source = plan.source
        if not (source.section and source.exports_file
                and source.samba_file):
            LOG.warning('localfs backend %s published no export files; its '
                        'share server %s stays exported until it is torn '
                        'down.', source.backend_host, plan.src_id)
            return
        exports.ExportWriter(
            plan.registry, source.section, source.exports_file,
            source.samba_file, source.nfs_options, self._apply,
            lambda record: True).blank_server(plan.src_id)

    def _move_into_place(self, plan, shares):
        sizes = {s['id']: s['size'] for s in shares}
        reflink = self.configuration.localfs_reflink
        for entry in plan.entries:
            with fsops.translated('move migrated %s %s into place'
                                  % (entry.record.kind,
                                     entry.record.entity_id), entry.final):
                if entry.is_share:
                    fsops.sync_tree(entry.src, entry.staged, reflink=reflink)
                    self._set_limit(entry.dest_ns, entry.staged,
                                    entry.record.entity_id,
                                    sizes.get(entry.record.entity_id)
                                    or entry.record.size)
                os.rename(entry.staged, entry.final)

    def _record_moved(self, plan):
        """Forget the source records, record the moved directories for the destination server; the manager's updates."""
        for entry in plan.entries:
            plan.registry.forget(entry.record.entity_id)
        share_updates, snapshot_updates = {}, {}
        for entry in plan.entries:
            old = entry.record
            record = exports.Record(
                old.entity_id, old.kind, entry.dest_ns.name, entry.final,
                old.proto, old.name, size=old.size, rules=old.rules,
                server=plan.dest_id)
            self.registry.save(record)
            locations = self._record_locations(record)
            if entry.is_share:
                share_updates[old.entity_id] = {
                    'export_locations': locations,
                    'pool_name': entry.dest_ns.name}
            else:
                snapshot_updates[old.entity_id] = {
                    'provider_location': entry.final,
                    'export_locations': locations}
        self._sync_exports(self._protocols, strict=False)
        return {'share_updates': share_updates,
                'snapshot_updates': snapshot_updates}

    def _remove_source_dirs(self, plan):
        same = plan.registry is self.registry
        for entry in plan.entries:
            if same and entry.is_share:
                self._clear_limit(entry.source_ns, entry.src,
                                  entry.record.entity_id)
            try:
                with fsops.translated('remove the migrated source', entry.src):
                    fsops.remove_tree(entry.src, entry.source_ns.trash_dir)
            except exception.ShareBackendException as exc:
                LOG.warning('localfs could not remove %(src)s of migrated '
                            'share server %(id)s: %(exc)s',
                            {'src': entry.src, 'id': plan.src_id,
                             'exc': exc})

    def share_server_migration_complete(self, context, src_share_server,
                                        dest_share_server, shares, snapshots,
                                        new_network_info):
        """Unexport the source, sync what changed, move the copies into place, export them on the destination server, remove the source."""
        plan = self._server_plan(src_share_server, dest_share_server, shares,
                                 snapshots)
        self._take_whole_copy(dest_share_server['id'], plan,
                              'share server %s' % src_share_server['id'])
        self._server_addresses(dest_share_server['id'])
        self._unexport_source(plan)
        self._move_into_place(plan, shares)
        answer = self._record_moved(plan)
        self._remove_source_dirs(plan)
        LOG.info('localfs share server %(src)s migrated to %(dst)s '
                 '(%(n)d shares).', {'src': src_share_server['id'],
                                     'dst': dest_share_server['id'],
                                     'n': len(answer['share_updates'])})
        return answer

    def share_server_migration_cancel(self, context, src_share_server,
                                      dest_share_server, shares, snapshots):
        """Stop the copy and remove every staged copy; the source is not touched."""
        self.jobs.cancel(dest_share_server['id'])
        self._remove_copies(self._server_plan(
            src_share_server, dest_share_server, shares, snapshots))
        LOG.info('localfs migration of share server %s cancelled.',
                 src_share_server['id'])
