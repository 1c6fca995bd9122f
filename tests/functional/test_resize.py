"""Extend and shrink through the real daemon, RabbitMQ and PostgreSQL: sizes, statuses, quota, messages."""

import pytest

from tests.functional import share_rows as rows

pytestmark = pytest.mark.functional


def _resize(pg, daemon, share_rpc, share, status, cast):
    rows.set_status(pg, share['id'], status)
    cast()
    daemon.wait_for(lambda: rows.instance(daemon, share['id'])['status']
                    != status, timeout=30,
                    message='share %s left %s' % (share['id'], status))
    return rows.instance(daemon, share['id'])['status']


def test_extend_shrink_and_refused_shrink(fresh_db, pg_facade,
                                          daemon_factory, share_rpc):
    # shares use 1.5 GB on this dummy backend: shrinking below is refused
    daemon = daemon_factory(fresh_db, options={
        'alpha': {'dummy_driver_share_used_size': 1.5}})
    share = rows.share(pg_facade, daemon, 'available', size=1)
    type_id = share['instance']['share_type_id']
    ctx = rows.user_ctx()

    res = pg_facade.quota_reserve(rows.admin_ctx(), {'gigabytes': 2}, 'p1',
                                  'u1', share_type_id=type_id)
    status = _resize(pg_facade, daemon, share_rpc, share, 'extending',
                     lambda: share_rpc.extend_share(ctx, share, 3, res))
    assert status == 'available'
    assert rows.share_row(daemon, share['id'])['size'] == 3
    assert rows.usage(pg_facade, 'gigabytes') == (3, 0)
    assert rows.usage(pg_facade, 'gigabytes', type_id) == (3, 0)

    status = _resize(pg_facade, daemon, share_rpc, share, 'shrinking',
                     lambda: share_rpc.shrink_share(ctx, share, 2))
    assert status == 'available'
    assert rows.share_row(daemon, share['id'])['size'] == 2
    assert rows.usage(pg_facade, 'gigabytes') == (2, 0)
    assert rows.usage(pg_facade, 'gigabytes', type_id) == (2, 0)
    assert rows.messages(daemon, share['id']) == []

    status = _resize(pg_facade, daemon, share_rpc, share, 'shrinking',
                     lambda: share_rpc.shrink_share(ctx, share, 1))
    assert status == 'available'
    assert rows.share_row(daemon, share['id'])['size'] == 2
    assert rows.usage(pg_facade, 'gigabytes') == (2, 0)
    assert rows.messages(daemon, share['id']) == [
        ('009', '018', 'SHARE', 'p1')]
    assert 'shrink_share failed' in daemon.log_text()


def test_resize_driver_failures(fresh_db, pg_facade,
                                daemon_factory, share_rpc):
    daemon = daemon_factory(fresh_db, options={
        'alpha': {'dummy_driver_fail_methods': 'extend_share,shrink_share'}})
    share = rows.share(pg_facade, daemon, 'available', size=2)
    type_id = share['instance']['share_type_id']
    ctx = rows.user_ctx()

    res = pg_facade.quota_reserve(rows.admin_ctx(), {'gigabytes': 1}, 'p1',
                                  'u1', share_type_id=type_id)
    status = _resize(pg_facade, daemon, share_rpc, share, 'extending',
                     lambda: share_rpc.extend_share(ctx, share, 3, res))
    assert status == 'extending_error'
    assert rows.share_row(daemon, share['id'])['size'] == 2
    assert rows.usage(pg_facade, 'gigabytes') == (2, 0)
    assert rows.usage(pg_facade, 'gigabytes', type_id) == (2, 0)
    assert rows.messages(daemon, share['id']) == [
        ('008', '015', 'SHARE', 'p1')]

    status = _resize(pg_facade, daemon, share_rpc, share, 'shrinking',
                     lambda: share_rpc.shrink_share(ctx, share, 1))
    assert status == 'shrinking_error'
    assert rows.share_row(daemon, share['id'])['size'] == 2
    assert rows.usage(pg_facade, 'gigabytes') == (2, 0)
    assert len(rows.messages(daemon, share['id'])) == 1
    log = daemon.log_text()
    assert 'extend_share failed' in log and 'ShareExtendingError' in log
    assert 'ShareShrinkingError' in log
