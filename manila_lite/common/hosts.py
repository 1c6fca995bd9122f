"""Parsing of manila host strings of the form ``host@backend#pool``."""

DEFAULT_POOL_NAME = '_pool0'

_LEVELS = ('host', 'backend', 'backend_name', 'pool')


def extract_host(host, level='backend', use_default_pool_name=False):
    """Return one part of a ``host@backend#pool`` string.

    ``level`` selects the part: ``'backend'`` (the default) drops the pool and
    gives ``host@backend`` (the RPC server name of a backend); ``'host'``
    gives the node name only; ``'backend_name'`` gives the part between ``@``
    and ``#``; ``'pool'`` gives the pool, or None when there is none (or
    DEFAULT_POOL_NAME when ``use_default_pool_name`` is set).
    """
    if level not in _LEVELS:
        raise ValueError('level must be one of %s, not %r'
                         % (', '.join(_LEVELS), level))
    if host is None:
        raise ValueError('a host string is required, got None')
    without_pool, _sep, pool = host.partition('#')
    if level == 'backend':
        return without_pool
    if level == 'host':
        return without_pool.partition('@')[0]
    if level == 'backend_name':
        node, sep, backend = without_pool.partition('@')
        if not sep:
            raise ValueError('host %r names no backend' % host)
        return backend
    if pool:
        return pool
    return DEFAULT_POOL_NAME if use_default_pool_name else None


def append_pool(host, pool):
    """Return ``host#pool``, or ``host`` unchanged when either part is empty."""
    if not host or not pool:
        return host
    return '%s#%s' % (host, pool)
