"""drivers_private_data and backend_info key/value stores."""

import pytest
import sqlalchemy as sa

from manila_lite.db import api as db
from manila_lite import exception
from tests.unit.db import helpers


def test_update_and_get(ctxt):
    db.driver_private_data_update(ctxt, 'e1', {'a': 1, 'b': 'x', 'c': True})
    assert db.driver_private_data_get(ctxt, 'e1') == {'a': '1', 'b': 'x',
                                                      'c': 'True'}
    assert db.driver_private_data_get(ctxt, 'e1', 'a') == '1'
    assert db.driver_private_data_get(ctxt, 'e1', ['a', 'c']) == {
        'a': '1', 'c': 'True'}
    assert db.driver_private_data_get(ctxt, 'e1', 'zz', default='d') == 'd'
    assert db.driver_private_data_get(ctxt, 'other') == {}


def test_update_overwrites_and_delete_existing(ctxt):
    db.driver_private_data_update(ctxt, 'e1', {'a': '1', 'b': '2'})
    db.driver_private_data_update(ctxt, 'e1', {'b': '3', 'c': '4'},
                                  delete_existing=True)
    assert db.driver_private_data_get(ctxt, 'e1') == {'b': '3', 'c': '4'}
    row = helpers.raw_rows("SELECT deleted, deleted_at FROM "
                           "drivers_private_data d WHERE d.key = 'a'")[0]
    assert row['deleted'] == 1 and row['deleted_at'] is not None


def test_delete_and_revive(ctxt):
    db.driver_private_data_update(ctxt, 'e1', {'a': '1', 'b': '2', 'c': '3'})
    db.driver_private_data_delete(ctxt, 'e1', 'a')
    assert db.driver_private_data_get(ctxt, 'e1') == {'b': '2', 'c': '3'}
    db.driver_private_data_delete(ctxt, 'e1', ['b'])
    assert db.driver_private_data_get(ctxt, 'e1') == {'c': '3'}
    db.driver_private_data_update(ctxt, 'e1', {'a': 'again'})
    assert db.driver_private_data_get(ctxt, 'e1') == {'a': 'again',
                                                      'c': '3'}
    db.driver_private_data_delete(ctxt, 'e1')
    assert db.driver_private_data_get(ctxt, 'e1') == {}


def test_table_without_key_as_upstream_leaves_it_on_postgresql(ctxt):
    """Upstream's migrations leave drivers_private_data with no key on PostgreSQL."""
    helpers.raw_execute('CREATE TABLE dpd_nokey AS '
                        'SELECT * FROM drivers_private_data')
    helpers.raw_execute('DROP TABLE drivers_private_data')
    helpers.raw_execute('ALTER TABLE dpd_nokey RENAME TO drivers_private_data')
    db.driver_private_data_update(ctxt, 'e1', {'a': '1', 'b': '2'})
    db.driver_private_data_update(ctxt, 'e1', {'b': '3', 'c': '4'})
    db.driver_private_data_delete(ctxt, 'e1', 'a')
    db.driver_private_data_update(ctxt, 'e1', {'a': 'again'})
    assert db.driver_private_data_get(ctxt, 'e1') == {
        'a': 'again', 'b': '3', 'c': '4'}
    assert len(helpers.raw_rows('SELECT * FROM drivers_private_data')) == 3


def test_backend_info(ctxt):
    assert db.backend_info_get(ctxt, 'h@b') is None
    db.backend_info_update(ctxt, 'h@b', 'hash1')
    assert db.backend_info_get(ctxt, 'h@b')['info_hash'] == 'hash1'
    db.backend_info_update(ctxt, 'h@b', 'hash2')
    assert db.backend_info_get(ctxt, 'h@b')['info_hash'] == 'hash2'
    db.backend_info_update(ctxt, 'h@b', delete_existing=True)
    assert db.backend_info_get(ctxt, 'h@b') is None
    row = helpers.raw_rows('SELECT deleted FROM backend_info')[0]
    assert row['deleted'] == 1
    db.backend_info_update(ctxt, 'h@b', 'hash3')
    assert db.backend_info_get(ctxt, 'h@b')['info_hash'] == 'hash3'


def test_update_is_one_upsert_and_skips_equal_values(ctxt):
    db.driver_private_data_update(ctxt, 'e1', {'a': '1', 'b': '2'})
    before = {r['key']: r['updated_at'] for r in helpers.raw_rows(
        'SELECT d.key, d.updated_at FROM drivers_private_data d')}
    with helpers.StatementCounter(db.get_engine()) as counter:
        db.driver_private_data_update(ctxt, 'e1', {'a': '1', 'b': '3'})
    writes = [s for s in counter.statements
              if s.split()[0] in ('INSERT', 'UPDATE')]
    assert len(writes) == 1 and writes[0].startswith('INSERT')
    after = {r['key']: r['updated_at'] for r in helpers.raw_rows(
        'SELECT d.key, d.updated_at FROM drivers_private_data d')}
    assert after['a'] == before['a']
    assert db.driver_private_data_get(ctxt, 'e1') == {'a': '1', 'b': '3'}


def test_delete_existing_keeps_only_the_new_keys(ctxt):
    db.driver_private_data_update(ctxt, 'e1', {'a': '1', 'b': '2'})
    db.driver_private_data_delete(ctxt, 'e1', 'b')
    db.driver_private_data_update(ctxt, 'e1', {'b': 'again'},
                                  delete_existing=True)
    assert db.driver_private_data_get(ctxt, 'e1') == {'b': 'again'}
    db.driver_private_data_update(ctxt, 'e1', {}, delete_existing=True)
    assert db.driver_private_data_get(ctxt, 'e1') == {}


def test_several_keys_are_one_statement_on_the_wire(ctxt):
    """One multi-row VALUES, not an executemany (sent key by key)."""
    calls = []

    def record(conn, cursor, statement, parameters, context, executemany):
        rows = statement.count('), (') + 1
        if executemany and conn.dialect.name == 'mysql':
            # PyMySQL's executemany sends an INSERT as one multi-row VALUES.
            rows = len(parameters)
        calls.append((statement.split()[0], rows))
    eng = db.get_engine()
    sa.event.listen(eng, 'before_cursor_execute', record)
    try:
        db.driver_private_data_update(ctxt, 'e1', {'a': '1', 'b': '2',
                                                   'c': '3'})
    finally:
        sa.event.remove(eng, 'before_cursor_execute', record)
    assert [c for c in calls if c[0] == 'INSERT'] == [('INSERT', 3)]
    assert db.driver_private_data_get(ctxt, 'e1') == {'a': '1', 'b': '2',
                                                      'c': '3'}


_UUID = '0b1d1e5e-6a4f-4c59-9a39-cc1b5a8e8d7e'


@pytest.mark.parametrize('entity_id, details, message', [
    ('urn:uuid:' + _UUID, {'a': '1'}, 'entity id'),
    ('', {'a': '1'}, 'entity id'),
    (None, {'a': '1'}, 'entity id'),
    (_UUID, {'k' * 256: '1'}, 'key'),
    (_UUID, {'': '1'}, 'key'),
    (_UUID, {'a': 'v' * 1024}, 'value'),
])
def test_rows_that_do_not_fit_are_refused_before_sql(ctxt, entity_id,
                                                     details, message):
    with pytest.raises(exception.InvalidDriverPrivateData,
                       match='^Invalid driver private data: %s ' % message):
        db.driver_private_data_update(ctxt, entity_id, details)
    assert helpers.raw_rows('SELECT * FROM drivers_private_data') == []


def test_reads_and_deletes_check_ids_and_keys(ctxt):
    db.driver_private_data_update(ctxt, _UUID, {'a': '1', 'b': '2'})
    for call in (lambda: db.driver_private_data_get(ctxt, 'x' * 37),
                 lambda: db.driver_private_data_get(ctxt, _UUID, ['a', 5]),
                 lambda: db.driver_private_data_delete(ctxt, _UUID, ''),
                 lambda: db.driver_private_data_delete(ctxt, 42)):
        with pytest.raises(exception.InvalidDriverPrivateData):
            call()
    assert db.driver_private_data_get(ctxt, _UUID) == {'a': '1', 'b': '2'}
    # a value of up to the column's 1,023 characters, empty included, is fine
    db.driver_private_data_update(ctxt, _UUID, {'a': '', 'b': 'v' * 1023})
    assert db.driver_private_data_get(ctxt, _UUID, 'b') == 'v' * 1023
