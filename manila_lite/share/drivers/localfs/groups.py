"""Share groups of the localfs driver: group snapshots consistent across their members, and groups cloned from them.

A group snapshot must hold every member share as it was at one instant.
localfs copies (reflinks) one directory tree after the other, so it checks
instead that nothing changed while it copied: it records the inode, size,
mtime and ctime of every entry of every member tree, copies all members,
and records them again. Equal records mean no write, create, rename or
removal touched any member during the copies, so each copy equals its
share at any instant of that window. Otherwise the copies are dropped and
the whole group is taken again, a few times; a group that never holds
still fails rather than give an inconsistent snapshot. Writes through a
shared memory mapping that the kernel has not yet stamped are the one
blind spot. The first record waits until every entry's ctime is older
than one clock tick, so a write in the tick of the record cannot keep an
unchanged timestamp.
"""

import os
import time

from oslo_log import log

from manila_lite.common import constants
from manila_lite import exception

LOG = log.getLogger(__name__)

# Attempts at a quiet window before a group snapshot fails.
GROUP_SNAPSHOT_ATTEMPTS = 5
# Longer than a kernel timestamp tick (HZ=100: 10 ms).
_TICK_NS = 20 * 1000 * 1000


def _fingerprint(paths):
    """``{path: (inode, size, mtime, ctime)}`` of every entry below ``paths`` (the roots too)."""
    result = {}
    for root in paths:
        for directory, dirs, files in os.walk(root):
            for name in [''] + dirs + files:
                path = os.path.join(directory, name) if name else directory
                try:
                    st = os.lstat(path)
                except FileNotFoundError:
                    result[path] = None
                    continue
                result[path] = (st.st_ino, st.st_size, st.st_mtime_ns,
                                st.st_ctime_ns)
    return result


def _settled_fingerprint(paths, deadline):
    """A fingerprint taken when no entry changed within the last tick (or at the deadline)."""
    while True:
        start = time.time_ns()
        found = _fingerprint(paths)
        newest = max((v[3] for v in found.values() if v), default=0)
        if start - newest > _TICK_NS or time.monotonic() > deadline:
            return found
        time.sleep((_TICK_NS - (start - newest)) / 1e9)


class GroupMixin(object):
    """Group snapshot and group-from-snapshot methods of LocalFSDriver (needs its snapshot helpers)."""

    def _member_paths(self, members):
        paths = []
        for member in members:
            _pool, path = self._share_location(member['share'])
            if not os.path.isdir(path):
                raise exception.ShareBackendException(
                    msg='localfs share directory %s of share %s is missing; '
                        'cannot snapshot it' % (path, member['share']['id']))
            paths.append(path)
        return paths

    def _drop_member_snapshots(self, context, snapshots):
        for snapshot in snapshots:
            self.delete_snapshot(context, snapshot)

    def _take_group_once(self, context, snapshots, paths):
        """Copy every member once; the updates if nothing changed meanwhile, else None."""
        before = _settled_fingerprint(paths, time.monotonic() + 1)
        taken, updates = [], []
        try:
            for snapshot in snapshots:
                if self.registry.get(snapshot['id']) is not None:
                    # Left by an earlier attempt or a crash: taken anew.
                    self.delete_snapshot(context, snapshot)
                update = self.create_snapshot(context, snapshot)
                taken.append(snapshot)
                updates.append({'id': snapshot['id'],
                                'provider_location':
                                    update['provider_location']})
        except Exception:
            self._drop_member_snapshots(context, taken)
            raise
        if _fingerprint(paths) == before:
            return updates
        self._drop_member_snapshots(context, taken)
        return None

    def create_share_group_snapshot(self, context, snap_dict,
                                    share_server=None):
        """Snapshot every member share as of one instant (see the module docstring)."""
        members = snap_dict.get('share_group_snapshot_members') or []
        if not members:
            return None, None
        snapshots = [self._group_member_snapshot(m) for m in members]
        paths = self._member_paths(members)
        for attempt in range(1, GROUP_SNAPSHOT_ATTEMPTS + 1):
            updates = self._take_group_once(context, snapshots, paths)
            if updates is not None:
                LOG.info('localfs group snapshot %(id)s of %(count)d shares '
                         'taken (attempt %(attempt)d).',
                         {'id': snap_dict['id'], 'count': len(members),
                          'attempt': attempt})
                return None, updates
            LOG.warning('localfs group snapshot %(id)s: a member share '
                        'changed during attempt %(attempt)d; taking it '
                        'again.', {'id': snap_dict['id'], 'attempt': attempt})
        raise exception.ShareBackendException(
            msg='localfs group snapshot %s: the member shares kept changing '
                'during %d attempts; no consistent snapshot was possible'
                % (snap_dict['id'], GROUP_SNAPSHOT_ATTEMPTS))

    def create_share_group_from_share_group_snapshot(
            self, context, share_group_dict, share_group_snapshot_dict,
            share_server=None):
        """Clone each member snapshot into its new share, in the foreground: the group is usable when this returns."""
        updates = []
        for clone in self._collate_share_group_snapshot_info(
                share_group_dict, share_group_snapshot_dict):
            share = clone['share']
            record = self.registry.get(share['id'])
            if (record is None or record.copy_source
                    or not os.path.isdir(record.path)):
                record = self._clone_record(share, clone['snapshot'])
                self._clone(record)
            updates.append({'id': share['id'],
                            'status': constants.STATUS_AVAILABLE,
                            'export_locations':
                                self._record_locations(record)})
        return None, updates
