"""Validation of the export locations a driver returns, before anything is stored."""

from manila_lite import exception

_MAX_PATH = 2000


def _invalid(reason):
    return exception.InvalidShareInstance(
        reason='driver returned invalid export locations: %s' % reason)


def normalize(locations):
    """Return a list of ``{'path', 'is_admin_only', 'metadata'}`` dicts, or raise InvalidShareInstance.

    Accepted, as upstream accepts: None (nothing), one path string, a list
    of path strings, or a list of dicts with ``path`` and optional
    ``is_admin_only`` and ``metadata``.
    """
    if locations is None:
        return []
    if isinstance(locations, str):
        locations = [locations]
    if not isinstance(locations, (list, tuple)):
        raise _invalid('expected a list, got %s' % type(locations).__name__)
    result = []
    for item in locations:
        if isinstance(item, str):
            item = {'path': item}
        if not isinstance(item, dict):
            raise _invalid('item %r is neither a path nor a dict' % (item,))
        path = item.get('path')
        if not isinstance(path, str) or not path or len(path) > _MAX_PATH:
            raise _invalid('path %r is not a non-empty string' % (path,))
        metadata = item.get('metadata') or {}
        if not isinstance(metadata, dict):
            raise _invalid('metadata of %s is not a dict' % path)
        result.append({'path': path,
                       'is_admin_only': bool(item.get('is_admin_only', False)),
                       'metadata': metadata})
    return result
