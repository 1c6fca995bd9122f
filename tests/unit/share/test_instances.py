"""Create/delete flows of share/instances.py: what the hot paths skip, and the SQL they cost."""

import pytest

from manila_lite.common import constants as c
from manila_lite import exception
from tests.unit.db import helpers as db_helpers
from tests.unit.share import helpers


class _Calls:
    """Counts the calls of one driver method, then runs it."""

    def __init__(self, driver, name):
        self.count = 0
        self.original = getattr(driver, name)
        setattr(driver, name, self)

    def __call__(self, *args, **kwargs):
        self.count += 1
        return self.original(*args, **kwargs)


def _created(mgr, db, admin_ctx):
    share, inst = helpers.make_share(db, admin_ctx)
    mgr.create_share_instance(helpers.user_ctx(), share_instance_id=inst['id'])
    db.share_instance_update(admin_ctx, inst['id'], {'status': 'deleting'})
    return share, inst


def test_delete_without_rules_skips_the_access_sync(manager_factory, db,
                                                    admin_ctx):
    mgr = manager_factory()
    share, inst = _created(mgr, db, admin_ctx)
    db.share_instance_update(admin_ctx, inst['id'],
                             {'access_rules_status': c.STATUS_ERROR})
    update_access = _Calls(mgr.driver, 'update_access')
    mgr.delete_share_instance(helpers.user_ctx(), share_instance_id=inst['id'])
    # As upstream: nothing to deny, so no driver call and no status write.
    assert update_access.count == 0
    with pytest.raises(exception.ShareInstanceNotFound):
        db.share_instance_get(admin_ctx, inst['id'])
    gone = db.share_instance_get(admin_ctx.elevated(read_deleted='yes'),
                                 inst['id'])
    assert gone['access_rules_status'] == c.STATUS_ERROR


def test_delete_with_a_rule_still_denies_it(manager_factory, db, admin_ctx):
    mgr = manager_factory()
    share, inst = _created(mgr, db, admin_ctx)
    db.share_access_create(admin_ctx, {'share_id': share['id'],
                                       'access_type': 'ip',
                                       'access_to': '10.0.0.1',
                                       'access_level': 'rw'})
    update_access = _Calls(mgr.driver, 'update_access')
    mgr.delete_share_instance(helpers.user_ctx(), share_instance_id=inst['id'])
    assert update_access.count == 1
    with pytest.raises(exception.ShareInstanceNotFound):
        db.share_instance_get(admin_ctx, inst['id'])


def test_create_and_delete_statement_budget(manager_factory, db, admin_ctx):
    """The hot paths stay within a fixed number of SQL statements."""
    mgr = manager_factory()
    for _ in range(2):  # the second share finds the zone id cached
        share, inst = helpers.make_share(db, admin_ctx)
        db.reservation_commit(admin_ctx, db.quota_reserve(  # as the API
            admin_ctx, {'shares': 1, 'gigabytes': 1}, 'p1', 'u1',
            share_type_id=inst['share_type_id']))
        with db_helpers.StatementCounter(db.get_engine()) as counter:
            mgr.create_share_instance(helpers.user_ctx(),
                                      share_instance_id=inst['id'])
    create = [s for s in counter.statements if not s.startswith('BEGIN')]
    create_transactions = len(counter.statements) - len(create)
    assert db.share_instance_get(admin_ctx, inst['id'])['status'] == \
        c.STATUS_AVAILABLE
    db.share_instance_update(admin_ctx, inst['id'], {'status': 'deleting'})
    with db_helpers.StatementCounter(db.get_engine()) as counter:
        mgr.delete_share_instance(helpers.user_ctx(), share_instance_id=inst['id'])
    delete = [s for s in counter.statements if not s.startswith('BEGIN')]
    delete_transactions = len(counter.statements) - len(delete)
    with pytest.raises(exception.ShareInstanceNotFound):
        db.share_instance_get(admin_ctx, inst['id'])
    # read 3; private data 1; status + export locations 4 (the status
    # UPDATE locks the row for them) in one transaction
    assert len(create) <= 8, create
    assert create_transactions <= 3, counter.statements
    # read 3 (the access check in the first); private data 1; instance +
    # share delete 6 (no rule, no metadata) and quota 5 (4 on PostgreSQL:
    # one locking SELECT per usage set, in upstream's order) in one
    # transaction
    assert len(delete) <= 15, delete
    assert delete_transactions <= 3, counter.statements
    usage = db.quota_usage_get_all_by_project_and_user(admin_ctx, 'p1', 'u1')
    assert usage['shares']['in_use'] == 1


@pytest.mark.parametrize('deferred', [False, True])
def test_deleting_a_replicated_share_gives_back_all_its_quota(
        manager_factory, db, admin_ctx, deferred):
    """Issue 10 item 2: shares/gigabytes go back with the replica quota."""
    mgr = manager_factory()
    share, inst = helpers.make_share(db, admin_ctx, size=3,
                                     replication_type='readable')
    charged = {'shares': 1, 'gigabytes': 3, 'share_replicas': 1,
               'replica_gigabytes': 3}
    db.reservation_commit(admin_ctx, db.quota_reserve(  # as the API
        admin_ctx, charged, 'p1', 'u1', share_type_id=inst['share_type_id']))
    mgr.create_share_instance(helpers.user_ctx(), share_instance_id=inst['id'])
    created = db.share_instance_get(admin_ctx, inst['id'])
    assert created['replica_state'] == c.REPLICA_STATE_ACTIVE
    status = 'deferred_deleting' if deferred else 'deleting'
    db.share_instance_update(admin_ctx, inst['id'], {'status': status})
    mgr.delete_share_instance(helpers.user_ctx(), share_instance_id=inst['id'],
                              deferred_delete=deferred)
    with pytest.raises(exception.ShareInstanceNotFound):
        db.share_instance_get(admin_ctx, inst['id'])
    by_user = db.quota_usage_get_all_by_project_and_user(admin_ctx, 'p1',
                                                         'u1')
    by_type = db.quota_usage_get_all_by_project_and_share_type(
        admin_ctx, 'p1', inst['share_type_id'])
    for usages in (by_user, by_type):
        assert {res: usages[res]['in_use'] for res in charged} == dict.fromkeys(
            charged, 0)
