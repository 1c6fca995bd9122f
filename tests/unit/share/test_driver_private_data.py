"""Tests of DriverPrivateData: UUID validation, in-memory storage semantics and delegation to the db facade."""

import sys
import threading
import types

from oslo_utils import uuidutils
import pytest

from manila_lite import exception
from manila_lite.share import drivers_private_data as pd


@pytest.fixture
def private():
    return pd.DriverPrivateData(storage=pd.MemoryStorageDriver())


def test_get_update_delete_round_trip(private):
    uid = uuidutils.generate_uuid()
    assert private.get(uid) == {}
    assert private.get(uid, key='a', default='d') == 'd'
    details = {'a': 1, 'b': 'two'}
    assert private.update(uid, details) == details
    assert private.get(uid) == {'a': '1', 'b': 'two'}
    assert private.get(uid, key='a') == '1'
    assert private.get(uid, key=['a', 'zz']) == {'a': '1'}
    private.update(uid, {'c': 3})
    assert private.get(uid) == {'a': '1', 'b': 'two', 'c': '3'}
    private.update(uid, {'c': 4}, delete_existing=True)
    assert private.get(uid) == {'c': '4'}
    private.update(uid, {'d': 5})
    private.delete(uid, key='c')
    assert private.get(uid) == {'d': '5'}
    private.delete(uid, key=['d'])
    assert private.get(uid) == {}
    private.update(uid, {'e': 6})
    private.delete(uid)
    assert private.get(uid) == {}
    private.delete(uid)  # deleting nothing is fine


def test_entities_are_separate(private):
    one, two = uuidutils.generate_uuid(), uuidutils.generate_uuid()
    private.update(one, {'k': 'v1'})
    private.update(two, {'k': 'v2'})
    assert private.get(one, key='k') == 'v1'
    assert private.get(two, key='k') == 'v2'


@pytest.mark.parametrize('entity_id', ['not-a-uuid', '', None, 42,
                                       '10.0.0.1:/not a uuid'])
def test_entity_id_must_be_uuid_like(private, entity_id):
    for call in (lambda: private.get(entity_id),
                 lambda: private.update(entity_id, {}),
                 lambda: private.delete(entity_id)):
        # a ValueError as upstream raises, and a clear manila error
        with pytest.raises(exception.InvalidDriverPrivateData) as excinfo:
            call()
        assert isinstance(excinfo.value, ValueError)
        assert 'entity id %r is not a UUID' % (entity_id,) in str(
            excinfo.value)


def test_details_must_be_a_dict(private):
    with pytest.raises(ValueError, match='must be a dict'):
        private.update(uuidutils.generate_uuid(), ['a'])


@pytest.mark.parametrize('key', ['', 7, ['a', None], ('a', '')])
def test_keys_must_be_non_empty_strings(private, key):
    uid = uuidutils.generate_uuid()
    private.update(uid, {'a': 1})
    for call in (lambda: private.get(uid, key=key),
                 lambda: private.delete(uid, key=key)):
        with pytest.raises(exception.InvalidDriverPrivateData,
                           match='is not a non-empty string'):
            call()
    if not isinstance(key, (list, tuple)):
        with pytest.raises(exception.InvalidDriverPrivateData):
            private.update(uid, {key: 'v'})
    assert private.get(uid) == {'a': '1'}


def test_memory_storage_is_thread_safe(private):
    uid = uuidutils.generate_uuid()

    def writer(n):
        for i in range(200):
            private.update(uid, {'k%d_%d' % (n, i): i})

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(private.get(uid)) == 800


def test_sql_storage_delegates_to_db_facade(monkeypatch):
    calls = []
    fake = types.SimpleNamespace(
        driver_private_data_get=lambda *a, **k: calls.append(
            ('get', a, k)) or 'value',
        driver_private_data_update=lambda *a, **k: calls.append(
            ('update', a, k)) or a[2],
        driver_private_data_delete=lambda *a, **k: calls.append(
            ('delete', a, k)),
    )
    import manila_lite.db
    monkeypatch.setattr(manila_lite.db, 'api', fake, raising=False)
    monkeypatch.setitem(sys.modules, 'manila_lite.db.api', fake)
    ctx = object()
    private = pd.DriverPrivateData(context=ctx, backend_host='h@b',
                                   config_group='b')
    uid = uuidutils.generate_uuid()
    assert private.get(uid, key='k', default='d') == 'value'
    assert private.update(uid, {'k': 'v'}, delete_existing=True) == \
        {'k': 'v'}
    private.delete(uid, key='k')
    assert calls == [
        ('get', (ctx, uid), {'key': 'k', 'default': 'd'}),
        ('update', (ctx, uid, {'k': 'v'}), {'delete_existing': True}),
        ('delete', (ctx, uid), {'key': 'k'}),
    ]


def test_sql_storage_uses_admin_context_by_default(monkeypatch):
    seen = []
    fake = types.SimpleNamespace(
        driver_private_data_get=lambda ctx, *a, **k: seen.append(ctx))
    import manila_lite.db
    monkeypatch.setattr(manila_lite.db, 'api', fake, raising=False)
    monkeypatch.setitem(sys.modules, 'manila_lite.db.api', fake)
    private = pd.DriverPrivateData(backend_host='h@b')
    private.get(uuidutils.generate_uuid())
    assert seen[0].is_admin is True
