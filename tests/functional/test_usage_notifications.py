"""Usage notifications through the real RabbitMQ, as a notification consumer sees them.

With ``[oslo_messaging_notifications] driver = messagingv2``: create,
delete, deferred delete, extend and shrink.
"""

import pytest

from tests.functional import share_rows as rows

pytestmark = pytest.mark.functional

# The payload of upstream's notify_about_share_usage.
USAGE_KEYS = {'share_id', 'user_id', 'project_id', 'snapshot_id',
              'share_group_id', 'size', 'name', 'description', 'proto',
              'is_public', 'availability_zone', 'host', 'status',
              'share_type_id', 'share_type'}


def _notes(recorder, share_id, count):
    """The first ``count`` notifications about ``share_id``, waited for."""
    return recorder.wait(lambda n: n['payload']['share_id'] == share_id,
                         count=count)[:count]


def _check(notes, daemon, events, **payload):
    assert [n['event_type'] for n in notes] == events
    for note in notes:
        assert note['publisher_id'] == 'share.%s' % daemon.service_hosts[0]
        assert set(note['payload']) >= USAGE_KEYS, note
        assert note['payload']['host'] == daemon.pool_host()
        assert note['payload']['project_id'] == 'p1'
        assert note['payload']['share_type'] == 'default'
        for key, value in payload.items():
            assert note['payload'][key] == value, (key, note)


def _wait_gone(daemon, share_id):
    daemon.wait_for(lambda: rows.instance(daemon, share_id) is None,
                    message='share %s never deleted' % share_id)


def test_usage_notifications(fresh_db, pg_facade, daemon_factory, share_rpc,
                             notifications):
    topic, recorder = notifications
    daemon = daemon_factory(fresh_db, options={
        'DEFAULT': {'periodic_deferred_delete_interval': 1},
        'oslo_messaging_notifications': {'driver': 'messagingv2',
                                         'topics': topic}})
    ctx = rows.user_ctx()

    # create, extend, shrink, delete of one share
    share = rows.available_share(pg_facade, daemon, share_rpc, size=2)
    res = pg_facade.quota_reserve(rows.admin_ctx(), {'gigabytes': 1}, 'p1',
                                  'u1', share_type_id=share['share_type_id'])
    rows.set_status(pg_facade, share['id'], 'extending')
    share_rpc.extend_share(ctx, share, 3, res)
    rows.wait_status(daemon, share['id'], 'available')
    rows.set_status(pg_facade, share['id'], 'shrinking')
    share_rpc.shrink_share(ctx, share, 1)
    rows.wait_status(daemon, share['id'], 'available')
    rows.set_status(pg_facade, share['id'], 'deleting')
    share_rpc.delete_share_instance(ctx, share['instance'])
    notes = _notes(recorder, share['id'], 8)
    _check(notes, daemon, [
        'share.create.start', 'share.create.end', 'share.extend.start',
        'share.extend.end', 'share.shrink.start', 'share.shrink.end',
        'share.delete.start', 'share.delete.end'], share_id=share['id'])
    # The sizes the flows saw: 2 until the extend ended, then 3, then 1.
    assert [n['payload']['size'] for n in notes] == [2, 2, 2, 3, 3, 1, 1, 1]
    _wait_gone(daemon, share['id'])

    # A deferred deletion the driver carries out at once ...
    deferred = rows.available_share(pg_facade, daemon, share_rpc)
    rows.set_status(pg_facade, deferred['id'], 'deferred_deleting')
    share_rpc.delete_share_instance(ctx, deferred['instance'],
                                    deferred_delete=True)
    _check(_notes(recorder, deferred['id'], 4), daemon, [
        'share.create.start', 'share.create.end', 'share.delete.start',
        'share.delete.end'])
    _wait_gone(daemon, deferred['id'])

    # ... and one finished by the periodic deferred deletion: delete.end only.
    retried = rows.share(pg_facade, daemon, 'error_deferred_deleting',
                         charge=False)
    notes = _notes(recorder, retried['id'], 1)
    _check(notes, daemon, ['share.delete.end'],
           status='error_deferred_deleting')
    _wait_gone(daemon, retried['id'])
    assert len(recorder.matching(
        lambda n: n['payload']['share_id'] == retried['id'])) == 1
