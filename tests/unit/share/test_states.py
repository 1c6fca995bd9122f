"""Walks the share-instance transition table against a real database with conditional updates."""

import pytest

from manila_lite.common import constants as c
from manila_lite.share import states
from tests.unit.share import helpers

ALL_STATUSES = {v for k, v in vars(c).items()
                if k.startswith('STATUS_') and isinstance(v, str)}


def test_table_uses_only_upstream_statuses():
    for t in states.SHARE_INSTANCE.transitions:
        assert set(t.sources) <= ALL_STATUSES, t
        assert t.target in ALL_STATUSES, t


@pytest.mark.parametrize('event', states.SHARE_INSTANCE.events())
def test_each_transition_moves_from_sources_only(db, admin_ctx, event):
    transition = states.SHARE_INSTANCE[event]
    for status in sorted(ALL_STATUSES - {c.STATUS_DELETED}):
        _share, inst = helpers.make_share(db, admin_ctx, status=status)
        moved = states.advance(admin_ctx, states.SHARE_INSTANCE, inst['id'],
                               event)
        now = db.share_instance_get(admin_ctx, inst['id'])['status']
        if status in transition.sources:
            assert moved and now == transition.target, (event, status)
        else:
            assert not moved and now == status, (event, status)


def test_sources_argument_narrows(db, admin_ctx):
    _share, inst = helpers.make_share(db, admin_ctx, status='available')
    assert not states.advance(admin_ctx, states.SHARE_INSTANCE, inst['id'],
                              'ensure_started', sources=['ensuring'])
    assert states.advance(admin_ctx, states.SHARE_INSTANCE, inst['id'],
                          'ensure_started', sources=['available'])
