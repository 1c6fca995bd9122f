"""Pool layout of the localfs driver and the checks that keep every path it touches inside its pool.

A pool is a directory; the driver keeps, inside it::

    <pool>/share-<instance id>/                  one directory per share
    <pool>/.localfs/snapshots/<snapshot name>/  snapshot copies
    <pool>/.localfs/staging/                     copies being built
    <pool>/.localfs/trash/                       directories being deleted
    <pool>/server-<server id>/                   a share server's namespace
                                                 (DHSS=True), laid out as a
                                                 pool of its own

Every path derived from a name, a database value or a manage argument goes
through :meth:`Pool.confine`: it is resolved with ``os.path.realpath``
(symlinks followed) and must stay strictly inside the pool, or the
operation is refused before anything is touched.
"""

import os
import re

from manila_lite import exception

INTERNAL_DIR = '.localfs'
_NAME_RE = re.compile(r'^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$')


class PathRefused(exception.ShareBackendException):
    """A name or path would leave its pool (or names a reserved place)."""


def check_name(name, what='name'):
    """Return ``name`` if it is a plain directory name, else raise PathRefused."""
    if (not isinstance(name, str) or not _NAME_RE.match(name)
            or name in ('.', '..')):
        raise PathRefused(msg='refusing %s %r: only letters, digits, ".", '
                              '"_" and "-" are allowed, not starting with '
                              '"." and without "/"' % (what, name))
    return name


def _real(path):
    return os.path.realpath(path)


def is_inside(root, path):
    """True when ``path`` (resolved) is strictly below ``root`` (resolved)."""
    root, real = _real(root), _real(path)
    if real == root:
        return False
    try:
        return os.path.commonpath([root, real]) == root
    except ValueError:
        return False


class Pool(object):
    """One configured pool directory."""

    server_id = None    # a ServerPool's share server

    def __init__(self, path):
        if not path or not os.path.isabs(path):
            raise exception.BadConfigurationException(
                reason='localfs_pools: %r is not an absolute path' % (path,))
        self.configured_path = path
        self.path = _real(path)
        self.name = os.path.basename(self.path.rstrip(os.sep))
        if not self.name:
            raise exception.BadConfigurationException(
                reason='localfs_pools: the root directory cannot be a pool')

    def __repr__(self):
        return '<Pool %s at %s>' % (self.name, self.path)

    @property
    def internal_dir(self):
        return os.path.join(self.path, INTERNAL_DIR)

    @property
    def snapshots_dir(self):
        return os.path.join(self.internal_dir, 'snapshots')

    @property
    def staging_dir(self):
        return os.path.join(self.internal_dir, 'staging')

    @property
    def trash_dir(self):
        return os.path.join(self.internal_dir, 'trash')

    def share_path(self, name):
        """Directory of the share called ``name`` (checked, not resolved)."""
        return os.path.join(self.path, check_name(name, 'share name'))

    def snapshot_path(self, name):
        """Directory of the snapshot called ``name`` (checked, not resolved)."""
        return os.path.join(self.snapshots_dir,
                            check_name(name, 'snapshot name'))

    def staging_path(self, name):
        return os.path.join(self.staging_dir, check_name(name))

    def contains(self, path):
        """True when ``path`` resolves to somewhere strictly inside the pool."""
        return is_inside(self.path, path)

    def confine(self, path, what, error=None, internal=False):
        """Return the resolved ``path`` if it stays strictly inside the pool, else raise.

        ``error`` builds the exception from a reason string (default
        PathRefused). The pool's own ``.localfs`` directory counts as
        outside unless ``internal`` is True (snapshots live there).
        """
        real = _real(path)
        reason = None
        if not self.contains(real):
            reason = ('%s %s resolves to %s, outside pool %s (%s)'
                      % (what, path, real, self.name, self.path))
        elif not internal and (real == self.internal_dir
                               or is_inside(self.internal_dir, real)):
            reason = ("%s %s is inside the driver's private directory %s"
                      % (what, path, self.internal_dir))
        if reason:
            raise (error or _refused)(reason)
        return real

    def is_internal(self, path):
        """True when ``path`` resolves to ``<pool>/.localfs`` or below it."""
        real = _real(path)
        return real == self.internal_dir or is_inside(self.internal_dir, real)


SERVER_DIR_PREFIX = 'server-'


class ServerPool(Pool):
    """A share server's namespace inside a pool: laid out as a pool, named as its pool, confining paths to itself."""

    def __init__(self, pool, server_id):
        check_name(server_id, 'share server id')
        super().__init__(os.path.join(pool.path,
                                      SERVER_DIR_PREFIX + server_id))
        self.name = pool.name
        self.base = pool
        self.server_id = server_id

    def __repr__(self):
        return '<ServerPool %s of server %s at %s>' % (
            self.name, self.server_id, self.path)


def _refused(reason):
    return PathRefused(msg='refusing to touch it: %s' % reason)


def build_pools(paths):
    """Return [Pool] for the configured paths; raise on duplicate names or nesting."""
    pools = [Pool(p.strip()) for p in paths or [] if p and p.strip()]
    if not pools:
        raise exception.BadConfigurationException(
            reason='localfs_pools lists no directory')
    names = {}
    for pool in pools:
        if pool.name in names:
            raise exception.BadConfigurationException(
                reason='localfs_pools: %s and %s have the same base name %r '
                       '(pool names must be unique)'
                       % (names[pool.name].configured_path,
                          pool.configured_path, pool.name))
        names[pool.name] = pool
    for a in pools:
        for b in pools:
            if a is not b and (a.path == b.path or is_inside(a.path, b.path)):
                raise exception.BadConfigurationException(
                    reason='localfs_pools: %s is inside %s; pools must not '
                           'contain each other' % (b.path, a.path))
    return pools


def parse_export_path(location):
    """Split an export location into ``('path', '/abs/dir')`` or ``('cifs', name)``.

    Accepts ``ip:/path``, ``[v6]:/path``, ``/path``, ``\\\\ip\\name`` and
    ``//ip/name``. Anything else raises ValueError.
    """
    text = (location or '').strip()
    for sep in ('\\', '/'):
        prefix = sep * 2
        if text.startswith(prefix):
            rest = text[2:]
            host, _, name = rest.partition(sep)
            if host and name and sep not in name:
                return 'cifs', name
            if sep == '\\':
                raise ValueError('%r is not a \\\\host\\name location'
                                 % location)
    if text.startswith('/'):
        return 'path', text
    if text.startswith('['):
        host, sep, path = text.partition(']:')
    else:
        host, sep, path = text.partition(':')
    if sep and host and path.startswith('/'):
        return 'path', path
    raise ValueError('%r is neither host:/path, /path nor \\\\host\\name'
                     % location)
