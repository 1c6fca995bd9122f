"""Quota reservations and usage on both usage rows (per user and per share type)."""

import datetime
import threading

from manila_lite import context as ml_context
from manila_lite.db import api as db
from tests.unit.db import helpers


def _usage_rows():
    rows = helpers.raw_rows(
        'SELECT project_id, user_id, share_type_id, resource, in_use, '
        'reserved FROM quota_usages WHERE deleted = 0')
    return {(r['user_id'], r['share_type_id'], r['resource']):
            (r['in_use'], r['reserved']) for r in rows}


def test_reserve_creates_both_usage_rows(ctxt):
    uuids = db.quota_reserve(ctxt, {'shares': 1, 'gigabytes': 10}, 'p1',
                             'u1', share_type_id='st1')
    assert len(uuids) == 4 and len(set(uuids)) == 4
    assert _usage_rows() == {
        ('u1', None, 'shares'): (0, 1), ('u1', None, 'gigabytes'): (0, 10),
        (None, 'st1', 'shares'): (0, 1), (None, 'st1', 'gigabytes'): (0, 10)}
    res = helpers.raw_rows('SELECT user_id, share_type_id, delta, expire '
                           'FROM reservations WHERE deleted = 0')
    assert sorted((r['user_id'] or '', r['share_type_id'] or '', r['delta'])
                  for r in res) == [('', 'st1', 1), ('', 'st1', 10),
                                    ('u1', '', 1), ('u1', '', 10)]
    tomorrow = datetime.datetime.utcnow() + datetime.timedelta(hours=23)
    assert all(str(r['expire']) > str(tomorrow) for r in res)


def test_commit_moves_reserved_to_in_use(ctxt):
    uuids = db.quota_reserve(ctxt, {'shares': 1, 'gigabytes': 10}, 'p1',
                             'u1', share_type_id='st1')
    db.reservation_commit(ctxt, uuids, project_id='p1', user_id='u1',
                          share_type_id='st1')
    assert _usage_rows() == {
        ('u1', None, 'shares'): (1, 0), ('u1', None, 'gigabytes'): (10, 0),
        (None, 'st1', 'shares'): (1, 0), (None, 'st1', 'gigabytes'): (10, 0)}
    assert helpers.raw_rows('SELECT id FROM reservations '
                            'WHERE deleted = 0') == []
    # Committing again changes nothing: the reservations are gone.
    db.reservation_commit(ctxt, uuids)
    assert _usage_rows()[('u1', None, 'shares')] == (1, 0)


def test_rollback_only_releases_reserved(ctxt):
    uuids = db.quota_reserve(ctxt, {'shares': 2}, 'p1', 'u1')
    db.reservation_rollback(ctxt, uuids, project_id='p1', user_id='u1')
    assert _usage_rows() == {('u1', None, 'shares'): (0, 0)}


def test_release_lowers_in_use_on_both_rows(ctxt):
    db.reservation_commit(ctxt, db.quota_reserve(
        ctxt, {'shares': 2, 'gigabytes': 30}, 'p1', 'u1',
        share_type_id='st1'))
    db.quota_release(ctxt, {'shares': -1, 'gigabytes': -10}, 'p1', 'u1',
                     share_type_id='st1')
    assert _usage_rows() == {
        ('u1', None, 'shares'): (1, 0), ('u1', None, 'gigabytes'): (20, 0),
        (None, 'st1', 'shares'): (1, 0), (None, 'st1', 'gigabytes'): (20, 0)}
    assert db.quota_usage_get_all_by_project(ctxt, 'p1') == {
        'project_id': 'p1', 'shares': {'in_use': 1, 'reserved': 0},
        'gigabytes': {'in_use': 20, 'reserved': 0}}
    assert db.quota_usage_get_all_by_project_and_share_type(
        ctxt, 'p1', 'st1')['gigabytes'] == {'in_use': 20, 'reserved': 0}


def test_release_never_goes_below_zero(ctxt, caplog):
    db.reservation_commit(ctxt, db.quota_reserve(ctxt, {'gigabytes': 5},
                                                 'p1', 'u1'))
    db.quota_release(ctxt, {'gigabytes': 8}, 'p1', 'u1')
    assert _usage_rows() == {('u1', None, 'gigabytes'): (0, 0)}
    assert 'keeping 0' in caplog.text


def test_release_of_unknown_usage_creates_zero_rows(ctxt):
    db.quota_release(ctxt, {'shares': 1}, 'p9', 'u9', share_type_id='st9')
    assert _usage_rows() == {('u9', None, 'shares'): (0, 0),
                             (None, 'st9', 'shares'): (0, 0)}
    assert db.quota_usage_get_all_by_project_and_user(
        ctxt, 'p9', 'u9')['shares'] == {'in_use': 0, 'reserved': 0}


def test_release_writes_spent_reservations_in_few_statements(ctxt, db_url):
    db.reservation_commit(ctxt, db.quota_reserve(
        ctxt, {'shares': 3, 'gigabytes': 30}, 'p1', 'u1',
        share_type_id='st1'))
    before = helpers.raw_rows('SELECT id FROM reservations')
    with helpers.StatementCounter(db.get_engine()) as counter:
        uuids = db.quota_release(ctxt, {'shares': 1, 'gigabytes': 10}, 'p1',
                                 'u1', share_type_id='st1')
    work = [s for s in counter.statements if not s.startswith('BEGIN')]
    # lock (one per usage set) + insert + lower in_use; elsewhere than on
    # PostgreSQL (ids from the sequence with the lock) one UPDATE marks the
    # rows spent.
    assert len(work) == (4 if db_url.startswith('postgresql') else 5), work
    assert len(uuids) == 4
    rows = helpers.raw_rows(
        'SELECT uuid, usage_id, user_id, share_type_id, resource, delta, '
        'deleted, id, deleted_at FROM reservations WHERE id NOT IN (%s)'
        % ','.join(str(r['id']) for r in before))
    assert sorted(r['uuid'] for r in rows) == sorted(uuids)
    assert all(r['deleted'] == r['id'] and r['deleted_at'] for r in rows)
    assert sorted((r['user_id'] or '', r['share_type_id'] or '',
                   r['resource'], r['delta']) for r in rows) == [
        ('', 'st1', 'gigabytes', -10), ('', 'st1', 'shares', -1),
        ('u1', '', 'gigabytes', -10), ('u1', '', 'shares', -1)]
    assert _usage_rows() == {
        ('u1', None, 'shares'): (2, 0), ('u1', None, 'gigabytes'): (20, 0),
        (None, 'st1', 'shares'): (2, 0), (None, 'st1', 'gigabytes'): (20, 0)}


def test_concurrent_releases_neither_deadlock_nor_lose_updates(ctxt):
    db.reservation_commit(ctxt, db.quota_reserve(
        ctxt, {'shares': 40, 'gigabytes': 400}, 'p1', 'u1',
        share_type_id='st1'))
    errors = []

    def release():
        context = ml_context.get_admin_context()
        try:
            for _ in range(5):
                db.quota_release(context, {'shares': 1, 'gigabytes': 10},
                                 'p1', 'u1', share_type_id='st1')
                # An API-side reservation on the same rows at the same time.
                db.reservation_rollback(context, db.quota_reserve(
                    context, {'shares': 1}, 'p1', 'u1', share_type_id='st1'))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=release) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert _usage_rows() == {
        ('u1', None, 'shares'): (10, 0), ('u1', None, 'gigabytes'): (100, 0),
        (None, 'st1', 'shares'): (10, 0),
        (None, 'st1', 'gigabytes'): (100, 0)}


def _duplicate(user_id, share_type_id, resource, in_use, reserved=0):
    """A second usage row for the same owner and resource (upstream's API inserts one when a project's first requests race)."""
    helpers.raw_execute(
        'INSERT INTO quota_usages (project_id, user_id, share_type_id, '
        'resource, in_use, reserved, deleted, created_at) VALUES '
        "('p1', :u, :t, :r, :i, :v, 0, '2024-01-01 00:00:00')",
        u=user_id, t=share_type_id, r=resource, i=in_use, v=reserved)


def _sums():
    sums = {}
    for r in helpers.raw_rows('SELECT user_id, share_type_id, resource, '
                              'in_use, reserved FROM quota_usages '
                              'WHERE deleted = 0'):
        key = (r['user_id'], r['share_type_id'], r['resource'])
        in_use, reserved = sums.get(key, (0, 0))
        sums[key] = (in_use + r['in_use'], reserved + r['reserved'])
    return sums


def test_release_over_duplicate_usage_rows_lowers_their_total(ctxt, caplog):
    """The release starts with the row upstream reads, then takes the rest from its duplicates: the total never drifts, no row goes below 0."""
    db.reservation_commit(ctxt, db.quota_reserve(
        ctxt, {'shares': 3, 'gigabytes': 30}, 'p1', 'u1',
        share_type_id='st1'))
    # Duplicates inserted after the first rows: the ones upstream now reads.
    for owner in (('u1', None), (None, 'st1')):
        _duplicate(*owner, 'shares', 1)
        _duplicate(*owner, 'gigabytes', 5)
    assert db.quota_usage_get_all_by_project_and_user(
        ctxt, 'p1', 'u1')['shares'] == {'in_use': 4, 'reserved': 0}
    for _ in range(4):
        # What upstream's own query (no ORDER BY) reads last, per group.
        read = {}
        for r in helpers.raw_rows('SELECT id, user_id, share_type_id, '
                                  "resource FROM quota_usages WHERE "
                                  "project_id = 'p1' AND deleted = 0"):
            read[(r['user_id'], r['share_type_id'], r['resource'])] = r['id']
        uuids = db.quota_release(ctxt, {'shares': 1, 'gigabytes': 8}, 'p1',
                                 'u1', share_type_id='st1')
        spent = helpers.raw_rows(
            'SELECT usage_id, uuid FROM reservations WHERE delta < 0')
        assert {r['usage_id'] for r in spent if r['uuid'] in uuids} == \
            set(read.values())
    assert _sums() == {
        ('u1', None, 'shares'): (0, 0), ('u1', None, 'gigabytes'): (3, 0),
        (None, 'st1', 'shares'): (0, 0), (None, 'st1', 'gigabytes'): (3, 0)}
    assert min(r['in_use'] for r in helpers.raw_rows(
        'SELECT in_use FROM quota_usages')) == 0
    assert 'keeping 0' not in caplog.text


def test_reserve_and_commit_use_the_row_upstream_reads(ctxt):
    db.reservation_commit(ctxt, db.quota_reserve(ctxt, {'shares': 2}, 'p1',
                                                 'u1'))
    _duplicate('u1', None, 'shares', 0)
    db.reservation_commit(ctxt, db.quota_reserve(ctxt, {'shares': 1}, 'p1',
                                                 'u1'))
    rows = helpers.raw_rows('SELECT in_use, reserved FROM quota_usages '
                            'ORDER BY id')
    assert [(r['in_use'], r['reserved']) for r in rows] == [(2, 0), (1, 0)]


def test_usage_rows_are_locked_as_upstream_locks_them(ctxt):
    """As upstream's reservation_commit: the share type's set, then the user's, each by upstream's own WHERE without a sort."""
    db.reservation_commit(ctxt, db.quota_reserve(
        ctxt, {'shares': 3, 'gigabytes': 30}, 'p1', 'u1',
        share_type_id='st1'))
    with helpers.StatementCounter(db.get_engine()) as counter:
        db.quota_release(ctxt, {'shares': 1, 'gigabytes': 10}, 'p1', 'u1',
                         share_type_id='st1')
        db.quota_reserve(ctxt, {'shares': 1}, 'p1', 'u1',
                         share_type_id='st1')
    locking = [s for s in counter.statements if s.startswith('SELECT') and
               'FROM quota_usages' in s]
    assert len(locking) == 4, counter.statements
    for statement in locking:
        assert 'ORDER BY' not in statement
    for by_type, by_user in (locking[0:2], locking[2:4]):
        assert 'share_type_id =' in by_type and 'user_id =' not in by_type
        assert 'user_id =' in by_user and 'share_type_id IS NULL' in by_user
