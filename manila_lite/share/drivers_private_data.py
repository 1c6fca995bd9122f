"""Key/value storage a driver keeps per share, snapshot or server (table drivers_private_data), with upstream's API.

A driver receives one ``DriverPrivateData`` object as the ``private_storage``
constructor keyword. It stores small string values under the UUID of a
manila entity (share instance, snapshot instance, share server, replica...)::

    self.private_storage.update(share['id'], {'backend_path': '/vol/a'})
    self.private_storage.get(share['id'], key='backend_path')   # '/vol/a'
    self.private_storage.get(share['id'])                      # {...}
    self.private_storage.delete(share['id'])

Values are stored as strings (``str(value)``), exactly as upstream's SQL
storage does. ``entity_id`` must look like a UUID and keys must be
non-empty strings; anything else raises ``InvalidDriverPrivateData`` (a
``ValueError``, as upstream raises) naming the bad id or key before
storage is touched. The data survives restarts and is shared with
upstream manila-share processes using the same database.
"""

import abc
import copy
import reprlib
import threading

from oslo_utils import uuidutils

from manila_lite import exception

_SHORT = reprlib.Repr()
_SHORT.maxstring = 80


class StorageDriver(metaclass=abc.ABCMeta):
    """Where DriverPrivateData keeps its rows; see DriverPrivateData for semantics."""

    def __init__(self, context, backend_host):
        self.context = context
        self.backend_host = backend_host

    @abc.abstractmethod
    def get(self, entity_id, key, default):
        """Return one value, a dict for a list of keys, or all keys for None."""

    @abc.abstractmethod
    def update(self, entity_id, details, delete_existing):
        """Upsert ``details``; drop the other keys when ``delete_existing``."""

    @abc.abstractmethod
    def delete(self, entity_id, key):
        """Delete one key, a list of keys, or every key when ``key`` is None."""


class SqlStorageDriver(StorageDriver):
    """Rows of the drivers_private_data table through the db facade."""

    def _context(self):
        if self.context is None:
            from manila_lite import context as ml_context
            self.context = ml_context.get_admin_context()
        return self.context

    def get(self, entity_id, key, default):
        from manila_lite.db import api as db_api
        return db_api.driver_private_data_get(
            self._context(), entity_id, key=key, default=default)

    def update(self, entity_id, details, delete_existing):
        from manila_lite.db import api as db_api
        return db_api.driver_private_data_update(
            self._context(), entity_id, details,
            delete_existing=delete_existing)

    def delete(self, entity_id, key):
        from manila_lite.db import api as db_api
        return db_api.driver_private_data_delete(
            self._context(), entity_id, key=key)


class MemoryStorageDriver(StorageDriver):
    """Thread-safe in-process storage with the SQL semantics, for tests and demos."""

    def __init__(self, context=None, backend_host=None):
        super().__init__(context, backend_host)
        self._lock = threading.Lock()
        self._data = {}

    def get(self, entity_id, key, default):
        with self._lock:
            values = dict(self._data.get(entity_id, {}))
        if key is None:
            return values
        if isinstance(key, list):
            return {k: v for k, v in values.items() if k in key}
        return values.get(key, default)

    def update(self, entity_id, details, delete_existing):
        new = {k: str(v) for k, v in copy.deepcopy(details).items()}
        with self._lock:
            current = {} if delete_existing else self._data.get(entity_id, {})
            merged = dict(current)
            merged.update(new)
            self._data[entity_id] = merged
        return details

    def delete(self, entity_id, key):
        with self._lock:
            values = self._data.get(entity_id)
            if values is None:
                return
            if key is None:
                del self._data[entity_id]
                return
            for k in (key if isinstance(key, list) else [key]):
                values.pop(k, None)


class DriverPrivateData(object):
    """The ``private_storage`` object handed to drivers."""

    def __init__(self, context=None, backend_host=None, config_group=None,
                 storage=None):
        """Use ``storage`` if given, else the SQL table for ``backend_host``.

        :param context: request context for DB access (admin context when
            None).
        :param backend_host: ``host@backend`` of the owning service.
        :param config_group: backend section; kept for upstream
            compatibility (upstream reads ``drivers_private_storage_class``
            from it, manila_lite always uses the table).
        :param storage: a StorageDriver instance replacing the table, e.g.
            ``MemoryStorageDriver()`` in tests.
        """
        self.config_group = config_group
        if storage is None:
            storage = SqlStorageDriver(context, backend_host)
        self._storage = storage

    def get(self, entity_id, key=None, default=None):
        """Return the value of ``key``, a dict for a list of keys or all pairs.

        ``default`` is returned when a single ``key`` is missing; a list of
        keys or ``key=None`` yields a (possibly empty) dict.
        """
        self._validate_entity_id(entity_id)
        _check_keys(key)
        return self._storage.get(entity_id, key, default)

    def update(self, entity_id, details, delete_existing=False):
        """Insert or overwrite the pairs of ``details`` (values become strings).

        With ``delete_existing=True`` every pair not in ``details`` is
        removed first.
        """
        self._validate_entity_id(entity_id)
        if not isinstance(details, dict):
            raise exception.InvalidDriverPrivateData(
                reason='details for %s must be a dict, got %s'
                       % (entity_id, _SHORT.repr(details)))
        _check_keys(list(details))
        return self._storage.update(entity_id, details, delete_existing)

    def delete(self, entity_id, key=None):
        """Delete ``key`` (a string or list of strings) or every pair."""
        self._validate_entity_id(entity_id)
        _check_keys(key)
        return self._storage.delete(entity_id, key)

    @staticmethod
    def _validate_entity_id(entity_id):
        if not (isinstance(entity_id, str) and
                uuidutils.is_uuid_like(entity_id)):
            raise exception.InvalidDriverPrivateData(
                reason='entity id %s is not a UUID (private data is kept '
                       'under the id of a share instance, snapshot '
                       'instance, share server or access rule)'
                       % _SHORT.repr(entity_id))


def _check_keys(key):
    """Raise InvalidDriverPrivateData unless ``key`` is None, a key or a list of keys."""
    if key is None:
        return
    for one in (key if isinstance(key, (list, tuple, set)) else [key]):
        if not isinstance(one, str) or not one:
            raise exception.InvalidDriverPrivateData(
                reason='key %s is not a non-empty string' % _SHORT.repr(one))
