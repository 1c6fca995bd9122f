"""Hard size limits of localfs shares through XFS project quotas, where a pool's filesystem has them.

A pool gets hard limits when its filesystem is XFS mounted with project
quotas (``prjquota``/``pquota``) and ``xfs_quota`` is installed and reports
project enforcement on. Each share directory then becomes an XFS project
(id derived from the share instance id) with a ``bhard`` block limit of the
share size. Elsewhere limits are soft: usage is measured and reported, and
shrinking below it is refused.
"""

import os
import shutil

from oslo_concurrency import processutils
from oslo_log import log

from manila_lite import exception

LOG = log.getLogger(__name__)

_PROJECT_OPTIONS = ('prjquota', 'pquota', 'pqnoenforce')


def find_mount(path, mountinfo='/proc/self/mountinfo'):
    """Return ``(mount_point, fstype, options)`` of the mount holding ``path``, or None."""
    real = os.path.realpath(path)
    best = None
    try:
        with open(mountinfo, encoding='utf-8') as f:
            lines = f.readlines()
    except OSError:
        return None
    for line in lines:
        left, _, right = line.partition(' - ')
        fields, tail = left.split(), right.split()
        if len(fields) < 6 or len(tail) < 3:
            continue
        point = fields[4].encode().decode('unicode_escape')
        inside = (real == point or point == '/'
                  or real.startswith(point.rstrip('/') + '/'))
        if inside and (best is None or len(point) >= len(best[0])):
            options = set(fields[5].split(',')) | set(tail[2].split(','))
            best = (point, tail[0], options)
    return best


def project_id_for(entity_id):
    """A stable XFS project id (1..2**31-1) for a share instance id."""
    value = int(entity_id.replace('-', '')[:8], 16) & 0x7fffffff
    return value or 1


class XfsQuota(object):
    """Project quotas on one XFS mount, run through ``execute``."""

    def __init__(self, mount_point, execute, root_helper):
        self.mount_point = mount_point
        self._execute = execute
        self._root_helper = root_helper

    def _xfs_quota(self, command):
        kwargs = {}
        if self._root_helper:
            kwargs = {'run_as_root': True, 'root_helper': self._root_helper}
        try:
            return self._execute('xfs_quota', '-x', '-c', command,
                                 self.mount_point, **kwargs)
        except (processutils.ProcessExecutionError, OSError) as exc:
            raise exception.ShareBackendException(
                msg='xfs_quota %r on %s failed: %s'
                    % (command, self.mount_point,
                       getattr(exc, 'stderr', None) or exc))

    def set_limit(self, path, project_id, size_gb):
        """Make ``path`` project ``project_id`` limited to ``size_gb`` GiB."""
        self._xfs_quota('project -s -p %s %d' % (path, project_id))
        self._xfs_quota('limit -p bhard=%dg %d' % (int(size_gb), project_id))

    def clear(self, path, project_id):
        """Remove the limit (the directory may already be gone)."""
        self._xfs_quota('limit -p bhard=0 %d' % project_id)
        if os.path.isdir(path):
            self._xfs_quota('project -C -p %s %d' % (path, project_id))


def probe(pool_path, execute, root_helper, mode):
    """Return an XfsQuota for the pool, or None when limits stay soft.

    ``mode`` is the ``localfs_quota`` option; with ``xfs`` a pool without
    project quotas raises BadConfigurationException.
    """
    if mode == 'none':
        return None
    reason = None
    mount = find_mount(pool_path)
    if mount is None:
        reason = 'its mount point could not be found'
    elif mount[1] != 'xfs':
        reason = 'its filesystem is %s, not xfs' % mount[1]
    elif not mount[2] & set(_PROJECT_OPTIONS):
        reason = '%s is not mounted with prjquota' % mount[0]
    elif not shutil.which('xfs_quota'):
        reason = 'xfs_quota is not installed'
    if reason is None:
        quota = XfsQuota(mount[0], execute, root_helper)
        try:
            out, _err = quota._xfs_quota('state -p')
        except exception.ShareBackendException as exc:
            reason = str(exc)
        else:
            if 'Enforcement: ON' not in (out or ''):
                reason = 'project quota enforcement is off on %s' % mount[0]
            else:
                return quota
    if mode == 'xfs':
        raise exception.BadConfigurationException(
            reason='localfs_quota = xfs, but pool %s cannot have project '
                   'quotas: %s' % (pool_path, reason))
    LOG.info('localfs pool %(pool)s has soft size limits: %(reason)s.',
             {'pool': pool_path, 'reason': reason})
    return None
