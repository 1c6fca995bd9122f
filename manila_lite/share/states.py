"""Allowed status transitions of each resource kind, and the one helper that writes them.

Each table reads top to bottom: an event, the statuses it may start from,
and the status it ends in. ``advance`` writes a transition with a conditional
UPDATE (``... WHERE status IN (sources)``), so two workers can never both
move the same row, and a row that moved on in the meantime is left alone.
Resource modules never write ``{'status': ...}`` by hand.
"""

import collections

from oslo_log import log as logging

from manila_lite.common import constants as c
from manila_lite.db import api as db_api

LOG = logging.getLogger(__name__)

Transition = collections.namedtuple('Transition', 'event sources target')

ANY_INSTANCE_STATUS = (
    c.STATUS_CREATING, c.STATUS_CREATING_FROM_SNAPSHOT, c.STATUS_AVAILABLE,
    c.STATUS_ERROR, c.STATUS_ENSURING, c.STATUS_DELETING,
    c.STATUS_ERROR_DELETING, c.STATUS_DEFERRED_DELETING,
    c.STATUS_ERROR_DEFERRED_DELETING, c.STATUS_MANAGING,
    c.STATUS_MANAGE_ERROR, c.STATUS_UNMANAGING, c.STATUS_UNMANAGE_ERROR,
    c.STATUS_EXTENDING, c.STATUS_EXTENDING_ERROR, c.STATUS_SHRINKING,
    c.STATUS_SHRINKING_ERROR, c.STATUS_REVERTING, c.STATUS_REVERTING_ERROR,
    c.STATUS_REVERTING_TO_SNAPSHOT, c.STATUS_MIGRATING,
    c.STATUS_MIGRATING_TO, c.STATUS_REPLICATION_CHANGE,
    c.STATUS_SERVER_MIGRATING, c.STATUS_SERVER_MIGRATING_TO,
    c.STATUS_BACKUP_CREATING, c.STATUS_BACKUP_RESTORING,
    c.STATUS_BACKUP_RESTORING_ERROR, c.STATUS_AWAITING_TRANSFER,
    c.STATUS_INACTIVE,
)


class StateTable:
    """Transitions of one resource kind, looked up by event."""

    def __init__(self, kind, transitions):
        self.kind = kind
        self.transitions = [Transition(*t) for t in transitions]
        self._by_event = {t.event: t for t in self.transitions}
        if len(self._by_event) != len(self.transitions):
            raise ValueError('duplicate event in %s table' % kind)

    def __getitem__(self, event):
        return self._by_event[event]

    def events(self):
        return list(self._by_event)

    def allows(self, source, target):
        return any(source in t.sources and t.target == target
                   for t in self.transitions)


# Share instances (share_instances.status), states.md section 4.
SHARE_INSTANCE = StateTable('share_instance', [
    # event                      from                                 to
    ('create_succeeded',        (c.STATUS_CREATING,),                c.STATUS_AVAILABLE),
    ('create_started_async',    (c.STATUS_CREATING,),                c.STATUS_CREATING_FROM_SNAPSHOT),
    ('create_failed',           (c.STATUS_CREATING,
                                 c.STATUS_CREATING_FROM_SNAPSHOT),   c.STATUS_ERROR),
    ('ensure_started',          (c.STATUS_AVAILABLE,
                                 c.STATUS_ENSURING),                 c.STATUS_ENSURING),
    ('ensure_finished',         (c.STATUS_ENSURING,
                                 c.STATUS_AVAILABLE),                c.STATUS_AVAILABLE),
    ('delete_failed',           (c.STATUS_DELETING,
                                 c.STATUS_ERROR_DELETING),           c.STATUS_ERROR_DELETING),
    ('deferred_delete_failed',  (c.STATUS_DEFERRED_DELETING,
                                 c.STATUS_ERROR_DEFERRED_DELETING),  c.STATUS_ERROR_DEFERRED_DELETING),
    # A cast for an operation this service cannot perform yet.
    ('unsupported_failed',      ANY_INSTANCE_STATUS,                 c.STATUS_ERROR),
])

# Statuses from which the share service starts each operation (the API set them).
CREATE_SOURCES = (c.STATUS_CREATING,)
DELETE_SOURCES = (c.STATUS_DELETING, c.STATUS_ERROR_DELETING,
                  c.STATUS_DEFERRED_DELETING,
                  c.STATUS_ERROR_DEFERRED_DELETING)
ENSURE_SOURCES = (c.STATUS_AVAILABLE, c.STATUS_ENSURING)

TABLES = {SHARE_INSTANCE.kind: SHARE_INSTANCE}

_WRITERS = {
    'share_instance': lambda: db_api.share_instance_conditional_update,
}


def advance(context, table, resource_id, event, values=None, sources=None):
    """Apply ``event`` to one row; return True if the row was in a source status and moved.

    ``values`` are written in the same UPDATE (export paths excluded: those
    have their own table). ``sources`` narrows the table's sources further.
    """
    transition = table[event]
    allowed = tuple(transition.sources)
    if sources is not None:
        allowed = tuple(s for s in allowed if s in sources)
    updates = dict(values or {})
    updates['status'] = transition.target
    writer = _WRITERS[table.kind]()
    moved = writer(context, resource_id, allowed, updates)
    if not moved:
        LOG.warning('%(kind)s %(id)s was not in %(allowed)s; %(event)s '
                    'left it unchanged.',
                    {'kind': table.kind, 'id': resource_id,
                     'allowed': list(allowed), 'event': event})
    return moved
