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

# A target that is the status the driver reported (one of the kind's
# statuses, given to advance() as ``reported``).
REPORTED = 'status reported by the driver'
# Sources of a transition allowed from whatever status the row has; the
# only kind of transition a table without a conditional writer may hold.
ANY = None

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

# Replicas the periodic replica update asks the driver about (upstream skips
# transitional statuses and error_deleting), and the replicas a failed
# promotion marks ``error`` (upstream: all of them; deletions keep theirs).
REPLICA_POLLABLE = (c.STATUS_AVAILABLE, c.STATUS_ERROR)
REPLICA_PROMOTE_TOUCHES = (c.STATUS_AVAILABLE, c.STATUS_ERROR,
                           c.STATUS_REPLICATION_CHANGE, c.STATUS_CREATING)
# replica_state values a driver may report from update_replica_state.
REPLICA_REPORTABLE = (c.REPLICA_STATE_IN_SYNC, c.REPLICA_STATE_OUT_OF_SYNC,
                      c.STATUS_ERROR)

# Statuses upstream's share API deletes a share from; the recycle-bin task
# also retries an error_deleting one (upstream resets it to error first).
API_DELETABLE = (c.STATUS_AVAILABLE, c.STATUS_ERROR, c.STATUS_INACTIVE)
EXPIRED_DELETABLE = API_DELETABLE + (c.STATUS_ERROR_DELETING,)


ANY_SNAPSHOT_STATUS = (
    c.STATUS_CREATING, c.STATUS_AVAILABLE, c.STATUS_ERROR, c.STATUS_DELETING,
    c.STATUS_ERROR_DELETING, c.STATUS_DEFERRED_DELETING,
    c.STATUS_ERROR_DEFERRED_DELETING, c.STATUS_MANAGING,
    c.STATUS_MANAGE_ERROR, c.STATUS_UNMANAGING, c.STATUS_UNMANAGE_ERROR,
    c.STATUS_RESTORING, c.STATUS_MIGRATING, c.STATUS_MIGRATING_TO,
    c.STATUS_SERVER_MIGRATING,
)


class StateTable:
    """Transitions of one resource kind, looked up by event."""

    def __init__(self, kind, transitions, statuses=None, conditional=True):
        self.kind = kind
        self.statuses = statuses
        self.conditional = conditional
        self.transitions = [Transition(*t) for t in transitions]
        if not conditional and any(t.sources is not ANY
                                   for t in self.transitions):
            raise ValueError('%s table is written without a condition: '
                             'its transitions must start from ANY' % kind)
        self._by_event = {t.event: t for t in self.transitions}
        if len(self._by_event) != len(self.transitions):
            raise ValueError('duplicate event in %s table' % kind)

    def __getitem__(self, event):
        return self._by_event[event]

    def events(self):
        return list(self._by_event)

    def allows(self, source, target):
        return any((t.sources is ANY or source in t.sources) and
                   t.target == target for t in self.transitions)


# Share instances (share_instances.status), states.md section 4.
SHARE_INSTANCE = StateTable('share_instance', [
    # event                      from                                 to
    # the share server's security service replacement or network
    # allocation update failed (RPC 1.22, 1.23)
    ('server_update_failed',    (c.STATUS_AVAILABLE,),               c.STATUS_ERROR),
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
    # resize (states.md 4.6, 4.7); a refused shrink leaves the share usable.
    ('extend_succeeded',        (c.STATUS_EXTENDING,),               c.STATUS_AVAILABLE),
    ('extend_failed',           (c.STATUS_EXTENDING,),               c.STATUS_EXTENDING_ERROR),
    ('shrink_succeeded',        (c.STATUS_SHRINKING,),               c.STATUS_AVAILABLE),
    ('shrink_refused',          (c.STATUS_SHRINKING,),               c.STATUS_AVAILABLE),
    ('shrink_failed',           (c.STATUS_SHRINKING,),               c.STATUS_SHRINKING_ERROR),
    # manage / unmanage (states.md 4.3, 4.5)
    ('manage_succeeded',        (c.STATUS_MANAGING,),                c.STATUS_AVAILABLE),
    ('manage_failed',           (c.STATUS_MANAGING,),                c.STATUS_MANAGE_ERROR),
    ('unmanage_failed',         (c.STATUS_UNMANAGING,
                                 c.STATUS_MANAGE_ERROR_UNMANAGING),  c.STATUS_UNMANAGE_ERROR),
    # the share side of backups (states.md 5 and 6)
    ('backup_create_succeeded', (c.STATUS_BACKUP_CREATING,),         c.STATUS_AVAILABLE),
    ('backup_create_failed',    (c.STATUS_BACKUP_CREATING,),         c.STATUS_AVAILABLE),
    ('backup_restore_succeeded', (c.STATUS_BACKUP_RESTORING,),       c.STATUS_AVAILABLE),
    ('backup_restore_failed',   (c.STATUS_BACKUP_RESTORING,),        c.STATUS_BACKUP_RESTORING_ERROR),
    # start-up ensure: the driver's own verdict on an instance
    ('ensure_reported',         (c.STATUS_AVAILABLE,
                                 c.STATUS_ENSURING),                 REPORTED),
    # Periodic clean-ups doing what upstream's share API does for them:
    # an expired share in the recycle bin is deleted (an error_deleting one
    # again), an expired transfer gives its share back.
    ('expired_delete_requested', EXPIRED_DELETABLE,                 c.STATUS_DELETING),
    ('expired_deferred_delete_requested', EXPIRED_DELETABLE,        c.STATUS_DEFERRED_DELETING),
    ('transfer_expired',        (c.STATUS_AWAITING_TRANSFER,),       c.STATUS_AVAILABLE),
    # A cast for an operation this service cannot perform yet.
    ('unsupported_failed',      ANY_INSTANCE_STATUS,                 c.STATUS_ERROR),
    ('unsupported_delete_failed', ANY_INSTANCE_STATUS,               c.STATUS_ERROR_DELETING),
    # Share from snapshot finished by periodic_share_status_update.
    ('create_progressed',       (c.STATUS_CREATING_FROM_SNAPSHOT,),  c.STATUS_CREATING_FROM_SNAPSHOT),
    ('create_finished_async',   (c.STATUS_CREATING_FROM_SNAPSHOT,),  c.STATUS_AVAILABLE),
    ('async_failed',            (c.STATUS_CREATING_FROM_SNAPSHOT,
                                 c.STATUS_REVERTING_TO_SNAPSHOT),    c.STATUS_ERROR),
    # Revert to snapshot (states.md 4.8); async ones end in the periodic task.
    ('revert_succeeded',        (c.STATUS_REVERTING,),               c.STATUS_AVAILABLE),
    ('revert_started_async',    (c.STATUS_REVERTING,),               c.STATUS_REVERTING_TO_SNAPSHOT),
    ('revert_progressed',       (c.STATUS_REVERTING_TO_SNAPSHOT,),   c.STATUS_REVERTING_TO_SNAPSHOT),
    ('revert_finished_async',   (c.STATUS_REVERTING_TO_SNAPSHOT,),   c.STATUS_AVAILABLE),
    ('revert_failed',           (c.STATUS_REVERTING,
                                 c.STATUS_REVERTING_TO_SNAPSHOT),    c.STATUS_REVERTING_ERROR),
    # Members of a share group being created (states.md 4.19).
    ('group_create_succeeded',  (c.STATUS_CREATING,
                                 c.STATUS_CREATING_FROM_SNAPSHOT),   c.STATUS_AVAILABLE),
    # Share replicas (share instances with a replica_state), share/replication/.
    ('replica_create_succeeded', (c.STATUS_CREATING,),               c.STATUS_AVAILABLE),
    ('replica_create_failed',   (c.STATUS_CREATING,),                c.STATUS_ERROR),
    ('replica_access_delete_failed', (c.STATUS_DELETING,
                                      c.STATUS_ERROR_DELETING),      c.STATUS_ERROR),
    ('promote_without_active',  (c.STATUS_REPLICATION_CHANGE,),      c.STATUS_AVAILABLE),
    ('promote_failed',          REPLICA_PROMOTE_TOUCHES,             c.STATUS_ERROR),
    ('replica_update_failed',   REPLICA_POLLABLE,                    c.STATUS_ERROR),
    # A promotion whose handler died: the roles in the DB stay consistent
    # (written in one transaction), the replica is usable again.
    ('promote_stranded',        (c.STATUS_REPLICATION_CHANGE,),      c.STATUS_AVAILABLE),
    # Share migration (states.md 4.17): the API made the source migrating,
    # the share service the destination migrating_to (share/migration.py).
    ('migration_given_back',    (c.STATUS_MIGRATING,),               c.STATUS_AVAILABLE),
    ('migration_completed',     (c.STATUS_MIGRATING_TO,),            c.STATUS_AVAILABLE),
    ('migration_source_retired', (c.STATUS_MIGRATING,),              c.STATUS_INACTIVE),
    ('migration_complete_failed', (c.STATUS_MIGRATING,
                                   c.STATUS_MIGRATING_TO),           c.STATUS_ERROR),
    # Host-assisted migration (share/migration_host.py): the destination
    # its own host created becomes migrating_to; instances it drops (a
    # destination not used, the retired source) are deleted by their host.
    ('migration_destination_ready', (c.STATUS_AVAILABLE,),          c.STATUS_MIGRATING_TO),
    ('migration_instance_dropped', (c.STATUS_CREATING, c.STATUS_AVAILABLE,
                                    c.STATUS_MIGRATING_TO, c.STATUS_INACTIVE,
                                    c.STATUS_ERROR),                 c.STATUS_DELETING),
    # Share server migration (share/server_migration.py): the API made the
    # server's instances server_migrating; they move with it or stay.
    ('server_migration_given_back', (c.STATUS_SERVER_MIGRATING,),    c.STATUS_AVAILABLE),
    ('server_migration_completed', (c.STATUS_SERVER_MIGRATING,),     c.STATUS_AVAILABLE),
    ('server_migration_failed', (c.STATUS_SERVER_MIGRATING,),        c.STATUS_ERROR),
], statuses=ANY_INSTANCE_STATUS)

# Statuses of a replicated snapshot's instances the driver reports on.
_REPLICA_SNAPSHOT_POLLED = (c.STATUS_CREATING, c.STATUS_DELETING,
                            c.STATUS_AVAILABLE, c.STATUS_ERROR,
                            c.STATUS_ERROR_DELETING)
# status a driver reported for a replicated snapshot instance -> event
REPLICA_SNAPSHOT_REPORTS = {c.STATUS_AVAILABLE: 'replica_snapshot_available',
                            c.STATUS_ERROR: 'replica_snapshot_failed',
                            c.STATUS_CREATING: 'replica_snapshot_progressed',
                            c.STATUS_DELETING: 'replica_snapshot_deleting'}

# Snapshot instances (share_snapshot_instances.status), states.md 4.8-4.11.
SNAPSHOT_INSTANCE = StateTable('share_snapshot_instance', [
    # event                      from                                 to
    # the share server's network allocation update failed (RPC 1.23)
    ('server_update_failed',    (c.STATUS_AVAILABLE,),               c.STATUS_ERROR),
    ('create_succeeded',        (c.STATUS_CREATING,),                c.STATUS_AVAILABLE),
    ('create_failed',           (c.STATUS_CREATING,),                c.STATUS_ERROR),
    ('delete_failed',           (c.STATUS_DELETING,
                                 c.STATUS_ERROR_DELETING),           c.STATUS_ERROR_DELETING),
    ('deferred_delete_failed',  (c.STATUS_DEFERRED_DELETING,
                                 c.STATUS_ERROR_DEFERRED_DELETING),  c.STATUS_ERROR_DEFERRED_DELETING),
    ('manage_succeeded',        (c.STATUS_MANAGING,),                c.STATUS_AVAILABLE),
    ('manage_failed',           (c.STATUS_MANAGING,),                c.STATUS_MANAGE_ERROR),
    ('unmanage_failed',         (c.STATUS_UNMANAGING,),              c.STATUS_UNMANAGE_ERROR),
    # The share was reverted to it (or the revert failed): usable again.
    ('restore_finished',        (c.STATUS_RESTORING,),               c.STATUS_AVAILABLE),
    # Replicated snapshots: the driver's verdict on each replica's
    # instance; a promotion fails the ones it cannot finish.
    ('replica_snapshot_available', _REPLICA_SNAPSHOT_POLLED,      c.STATUS_AVAILABLE),
    ('replica_snapshot_failed', _REPLICA_SNAPSHOT_POLLED,            c.STATUS_ERROR),
    ('replica_snapshot_progressed', (c.STATUS_CREATING,),            c.STATUS_CREATING),
    ('replica_snapshot_deleting', (c.STATUS_DELETING,),              c.STATUS_DELETING),
    ('promote_interrupted',     (c.STATUS_CREATING, c.STATUS_DELETING), c.STATUS_ERROR),
    ('replicated_delete_failed', (c.STATUS_DELETING,
                                  c.STATUS_ERROR_DELETING, c.STATUS_AVAILABLE,
                                  c.STATUS_ERROR),                   c.STATUS_ERROR_DELETING),
    # Driver-assisted migration with snapshots: the source's go along
    # (migrating), the destination's are made migrating_to; on completion
    # the destination's become usable, on a failed completion both error,
    # on a failure or cancel before it the source's are usable again.
    ('migration_snapshot_moving', (c.STATUS_AVAILABLE,),             c.STATUS_MIGRATING),
    ('migration_snapshot_given_back', (c.STATUS_MIGRATING,),         c.STATUS_AVAILABLE),
    ('migration_snapshot_completed', (c.STATUS_MIGRATING_TO,),       c.STATUS_AVAILABLE),
    ('migration_snapshot_failed', (c.STATUS_MIGRATING,
                                   c.STATUS_MIGRATING_TO),           c.STATUS_ERROR),
    # A cast for an operation this service cannot perform yet.
    ('unsupported_failed',      ANY,                                 c.STATUS_ERROR),
    ('unsupported_delete_failed', ANY,                               c.STATUS_ERROR_DELETING),
    # Share server migration: the snapshots move with their shares.
    ('server_migration_given_back', (c.STATUS_SERVER_MIGRATING,),    c.STATUS_AVAILABLE),
    ('server_migration_completed', (c.STATUS_SERVER_MIGRATING,),     c.STATUS_AVAILABLE),
    ('server_migration_failed', (c.STATUS_SERVER_MIGRATING,),        c.STATUS_ERROR),
], statuses=ANY_SNAPSHOT_STATUS)

# Statuses from which the share service starts each operation (the API set them).
CREATE_SOURCES = (c.STATUS_CREATING,)
DELETE_SOURCES = (c.STATUS_DELETING, c.STATUS_ERROR_DELETING,
                  c.STATUS_DEFERRED_DELETING,
                  c.STATUS_ERROR_DEFERRED_DELETING)
ENSURE_SOURCES = (c.STATUS_AVAILABLE, c.STATUS_ENSURING)

# Share backups (share_backups.status), states.md sections 5 and 6.
SHARE_BACKUP = StateTable('share_backup', [
    # event                      from                                 to
    ('create_succeeded',        (c.STATUS_CREATING,),                c.STATUS_AVAILABLE),
    ('create_failed',           (c.STATUS_CREATING,),                c.STATUS_ERROR),
    ('delete_failed',           (c.STATUS_DELETING,),                c.STATUS_ERROR_DELETING),
    ('restore_succeeded',       (c.STATUS_RESTORING,),               c.STATUS_AVAILABLE),
    ('restore_failed',          (c.STATUS_RESTORING,),               c.STATUS_ERROR),
    # upstream's restore poll gives the backup back on a driver error
    ('restore_poll_failed',     (c.STATUS_RESTORING,),               c.STATUS_AVAILABLE),
])

# Share servers (share_servers.status), states.md section 7; written with
# conditional updates.
ANY_SERVER_STATUS = (
    c.STATUS_CREATING, c.STATUS_ACTIVE, c.STATUS_ERROR, c.STATUS_DELETING,
    c.STATUS_INACTIVE, c.STATUS_MANAGING, c.STATUS_MANAGE_ERROR,
    c.STATUS_UNMANAGING, c.STATUS_UNMANAGE_ERROR, c.STATUS_SERVER_UPDATING,
    c.STATUS_SERVER_NETWORK_CHANGE, c.STATUS_SERVER_MIGRATING,
    c.STATUS_SERVER_MIGRATING_TO,
)
# Statuses a server is deleted from (upstream's API and free-server clean-up).
SERVER_DELETABLE = (c.STATUS_ACTIVE, c.STATUS_ERROR, c.STATUS_INACTIVE,
                    c.STATUS_CREATING, c.STATUS_DELETING)
SHARE_SERVER = StateTable('share_server', [
    # event                      from                                 to
    ('create_succeeded',        (c.STATUS_CREATING,),                c.STATUS_ACTIVE),
    ('create_failed',           (c.STATUS_CREATING,),                c.STATUS_ERROR),
    ('delete_started',          SERVER_DELETABLE,                    c.STATUS_DELETING),
    ('delete_failed',           (c.STATUS_DELETING,),                c.STATUS_ERROR),
    # manage / unmanage of an existing backend server (share/server_manage.py);
    # a successful unmanage soft-deletes the row.
    ('manage_succeeded',        (c.STATUS_MANAGING,),                c.STATUS_ACTIVE),
    ('manage_failed',           (c.STATUS_MANAGING,),                c.STATUS_MANAGE_ERROR),
    ('unmanage_failed',         (c.STATUS_UNMANAGING,),              c.STATUS_UNMANAGE_ERROR),
    # security service / network allocation updates (RPC 1.22, 1.23): the
    # API moves the servers to network_change before it casts.
    ('network_change_succeeded', (c.STATUS_SERVER_NETWORK_CHANGE,
                                  c.STATUS_ACTIVE),                  c.STATUS_ACTIVE),
    ('network_change_failed',   (c.STATUS_SERVER_NETWORK_CHANGE,
                                 c.STATUS_ACTIVE),                   c.STATUS_ERROR),
    # Share server migration (share/server_migration.py), run by the
    # destination host: the API made the source server_migrating.
    ('migration_destination_ready', (c.STATUS_CREATING,
                                     c.STATUS_ACTIVE),               c.STATUS_SERVER_MIGRATING_TO),
    ('migration_given_back',    (c.STATUS_SERVER_MIGRATING,),        c.STATUS_ACTIVE),
    ('migration_destination_failed', (c.STATUS_CREATING, c.STATUS_ACTIVE,
                                      c.STATUS_ERROR,
                                      c.STATUS_SERVER_MIGRATING_TO), c.STATUS_ERROR),
    ('migration_destination_cancelled', (c.STATUS_SERVER_MIGRATING_TO,), c.STATUS_INACTIVE),
    ('migration_completed',     (c.STATUS_SERVER_MIGRATING_TO,),     c.STATUS_ACTIVE),
    ('migration_source_retired', (c.STATUS_SERVER_MIGRATING,),       c.STATUS_INACTIVE),
    ('migration_complete_failed', (c.STATUS_SERVER_MIGRATING,
                                   c.STATUS_SERVER_MIGRATING_TO),    c.STATUS_ERROR),
], statuses=ANY_SERVER_STATUS)

# Share networks (share_networks.status): back to active once none of its
# servers is in network_change any more (upstream's manager writes only that).
SHARE_NETWORK = StateTable('share_network', [
    ('network_change_finished', (c.STATUS_NETWORK_CHANGE,),          c.STATUS_NETWORK_ACTIVE),
], statuses=(c.STATUS_NETWORK_ACTIVE, c.STATUS_NETWORK_ERROR,
             c.STATUS_NETWORK_CHANGE))

# shares.task_state of a driver-assisted share migration (states.md 4.17),
# written by the source host's service with conditional updates.
ANY_TASK_STATE = (
    c.TASK_STATE_MIGRATION_STARTING, c.TASK_STATE_MIGRATION_IN_PROGRESS,
    c.TASK_STATE_MIGRATION_COMPLETING, c.TASK_STATE_MIGRATION_SUCCESS,
    c.TASK_STATE_MIGRATION_ERROR, c.TASK_STATE_MIGRATION_CANCELLED,
    c.TASK_STATE_MIGRATION_CANCEL_IN_PROGRESS,
    c.TASK_STATE_MIGRATION_DRIVER_STARTING,
    c.TASK_STATE_MIGRATION_DRIVER_IN_PROGRESS,
    c.TASK_STATE_MIGRATION_DRIVER_PHASE1_DONE,
    c.TASK_STATE_DATA_COPYING_STARTING, c.TASK_STATE_DATA_COPYING_IN_PROGRESS,
    c.TASK_STATE_DATA_COPYING_COMPLETING, c.TASK_STATE_DATA_COPYING_COMPLETED,
    c.TASK_STATE_DATA_COPYING_CANCELLED, c.TASK_STATE_DATA_COPYING_ERROR,
)
# share_servers.task_state of a share server migration, written by the
# destination host's service with conditional updates on task_state
# (server status changes that carry a task_state go through SHARE_SERVER
# with ``values``).
SERVER_MIGRATION_STARTING = (c.TASK_STATE_MIGRATION_STARTING,
                             c.TASK_STATE_MIGRATION_IN_PROGRESS,
                             c.TASK_STATE_MIGRATION_DRIVER_STARTING)
# What share_server_migration_cancel accepts (upstream's list).
SERVER_MIGRATION_CANCELLABLE = (c.TASK_STATE_MIGRATION_DRIVER_IN_PROGRESS,
                                c.TASK_STATE_MIGRATION_DRIVER_PHASE1_DONE)
SHARE_SERVER_TASK = StateTable('share_server_task', [
    # event                      from                                 to
    ('migration_accepted',      (c.TASK_STATE_MIGRATION_STARTING,),  c.TASK_STATE_MIGRATION_IN_PROGRESS),
    ('driver_start_begun',      (c.TASK_STATE_MIGRATION_IN_PROGRESS,), c.TASK_STATE_MIGRATION_DRIVER_STARTING),
    ('driver_started',          (c.TASK_STATE_MIGRATION_DRIVER_STARTING,), c.TASK_STATE_MIGRATION_DRIVER_IN_PROGRESS),
    ('phase1_done',             (c.TASK_STATE_MIGRATION_DRIVER_IN_PROGRESS,), c.TASK_STATE_MIGRATION_DRIVER_PHASE1_DONE),
    ('complete_begun',          (c.TASK_STATE_MIGRATION_DRIVER_PHASE1_DONE,), c.TASK_STATE_MIGRATION_COMPLETING),
    ('cancel_begun',            SERVER_MIGRATION_CANCELLABLE,        c.TASK_STATE_MIGRATION_CANCEL_IN_PROGRESS),
], statuses=ANY_TASK_STATE)
# A start whose handler may still be (or have been) running.
MIGRATION_STARTING = (c.TASK_STATE_MIGRATION_STARTING,
                      c.TASK_STATE_MIGRATION_IN_PROGRESS,
                      c.TASK_STATE_MIGRATION_DRIVER_STARTING)
# What migration_cancel accepts (the driver-assisted part of upstream's list).
MIGRATION_CANCELLABLE = (c.TASK_STATE_MIGRATION_DRIVER_IN_PROGRESS,
                         c.TASK_STATE_MIGRATION_DRIVER_PHASE1_DONE)
SHARE_TASK = StateTable('share_task', [
    # event                      from                                 to
    ('migration_accepted',      (c.TASK_STATE_MIGRATION_STARTING,),  c.TASK_STATE_MIGRATION_IN_PROGRESS),
    ('driver_start_begun',      (c.TASK_STATE_MIGRATION_IN_PROGRESS,), c.TASK_STATE_MIGRATION_DRIVER_STARTING),
    ('driver_started',          (c.TASK_STATE_MIGRATION_DRIVER_STARTING,), c.TASK_STATE_MIGRATION_DRIVER_IN_PROGRESS),
    ('start_failed',            MIGRATION_STARTING,                  c.TASK_STATE_MIGRATION_ERROR),
    ('phase1_done',             (c.TASK_STATE_MIGRATION_DRIVER_IN_PROGRESS,), c.TASK_STATE_MIGRATION_DRIVER_PHASE1_DONE),
    ('continue_failed',         (c.TASK_STATE_MIGRATION_DRIVER_IN_PROGRESS,), c.TASK_STATE_MIGRATION_ERROR),
    ('complete_begun',          (c.TASK_STATE_MIGRATION_DRIVER_PHASE1_DONE,), c.TASK_STATE_MIGRATION_COMPLETING),
    ('complete_succeeded',      (c.TASK_STATE_MIGRATION_COMPLETING,), c.TASK_STATE_MIGRATION_SUCCESS),
    ('complete_failed',         (c.TASK_STATE_MIGRATION_COMPLETING,), c.TASK_STATE_MIGRATION_ERROR),
    ('cancelled',               MIGRATION_CANCELLABLE,               c.TASK_STATE_MIGRATION_CANCELLED),
    # host-assisted (share/migration_host.py): the data service writes the
    # data_copying_* states between data_copy_requested and the end.
    ('host_assisted_begun',     (c.TASK_STATE_MIGRATION_IN_PROGRESS,
                                 c.TASK_STATE_MIGRATION_DRIVER_STARTING), c.TASK_STATE_MIGRATION_IN_PROGRESS),
    ('data_copy_requested',     (c.TASK_STATE_MIGRATION_IN_PROGRESS,), c.TASK_STATE_DATA_COPYING_STARTING),
    ('host_complete_begun',     (c.TASK_STATE_DATA_COPYING_COMPLETED,), c.TASK_STATE_MIGRATION_COMPLETING),
    ('copy_failed',             (c.TASK_STATE_DATA_COPYING_ERROR,),  c.TASK_STATE_MIGRATION_ERROR),
    ('copy_cancelled',          (c.TASK_STATE_DATA_COPYING_CANCELLED,
                                 c.TASK_STATE_DATA_COPYING_COMPLETED), c.TASK_STATE_MIGRATION_CANCELLED),
    # start-up: a start or completion whose handler died (reconcile.py)
    ('migration_stranded',      MIGRATION_STARTING + (
                                 c.TASK_STATE_MIGRATION_COMPLETING,), c.TASK_STATE_MIGRATION_ERROR),
], statuses=ANY_TASK_STATE)
# Share groups and group snapshots (share_groups.status,
# share_group_snapshots.status), states.md 4.19.
GROUP_STATUSES = (c.STATUS_CREATING, c.STATUS_AVAILABLE, c.STATUS_ERROR,
                  c.STATUS_DELETING)
SHARE_GROUP = StateTable('share_group', [
    # event                      from                                 to
    ('create_succeeded',        (c.STATUS_CREATING,),                c.STATUS_AVAILABLE),
    ('create_failed',           (c.STATUS_CREATING,),                c.STATUS_ERROR),
    ('delete_failed',           (c.STATUS_DELETING,),                c.STATUS_ERROR),
], statuses=GROUP_STATUSES)
SHARE_GROUP_SNAPSHOT = StateTable('share_group_snapshot', [
    ('create_succeeded',        (c.STATUS_CREATING,),                c.STATUS_AVAILABLE),
    ('create_failed',           (c.STATUS_CREATING,),                c.STATUS_ERROR),
    ('delete_failed',           (c.STATUS_DELETING,),                c.STATUS_ERROR),
], statuses=GROUP_STATUSES)

TABLES = {table.kind: table for table in (
    SHARE_INSTANCE, SNAPSHOT_INSTANCE, SHARE_BACKUP, SHARE_SERVER,
    SHARE_SERVER_TASK, SHARE_TASK, SHARE_GROUP, SHARE_GROUP_SNAPSHOT,
    SHARE_NETWORK)}

_WRITERS = {
    'share_instance': lambda: db_api.share_instance_conditional_update,
    'share_snapshot_instance':
        lambda: db_api.share_snapshot_instance_conditional_update,
    'share_backup': lambda: db_api.share_backup_conditional_update,
    'share_group': lambda: db_api.share_group_conditional_update,
    'share_group_snapshot':
        lambda: db_api.share_group_snapshot_conditional_update,
    'share_server': lambda: _server_writer,
    'share_network': lambda: _network_writer,
}


def _network_writer(context, network_id, allowed, updates):
    return bool(db_api.share_networks_conditional_update(
        context, [network_id], allowed, updates))


def _server_writer(context, server_id, allowed, updates, unused=False):
    return bool(db_api.share_servers_conditional_update(
        context, [server_id], allowed, updates, unused=unused))


def _server_task_writer(context, server_id, allowed, updates):
    values = dict(updates)
    values['task_state'] = values.pop('status')
    return bool(db_api.share_servers_conditional_update(
        context, [server_id], allowed, values, column='task_state'))


def _server_task_ids_writer(context, server_ids, allowed, updates):
    values = dict(updates)
    values['task_state'] = values.pop('status')
    return db_api.share_servers_conditional_update(
        context, server_ids, allowed, values, column='task_state')


def _task_writer(context, share_id, allowed, updates):
    values = dict(updates)
    task_state = values.pop('status')
    if values:
        raise ValueError('share task transitions write task_state only')
    return bool(db_api.shares_task_state_conditional_update(
        context, [share_id], allowed, task_state))


_WRITERS.update({
    'share_server_task': lambda: _server_task_writer,
    'share_task': lambda: _task_writer,
})


def _target(table, transition, reported):
    if transition.target is not REPORTED:
        return transition.target
    if reported not in (table.statuses or ()):
        raise ValueError('%r is not a %s status' % (reported, table.kind))
    return reported


def _sources(table, transition):
    if transition.sources is ANY:
        return table.statuses if table.conditional else ANY
    return tuple(transition.sources)


def advance(context, table, resource_id, event, values=None, sources=None,
            reported=None, **write_options):
    """Apply ``event`` to one row; return True (the writer's answer) if the row was in a source status and moved.

    ``values`` are written in the same UPDATE (export paths excluded: those
    have their own table). ``sources`` narrows the table's sources further.
    ``reported`` is the target of a REPORTED transition (ValueError if it
    is no status of the kind). ``write_options`` go to the table's writer
    (share instances: ``export_locations`` written in the same
    transaction).
    """
    transition = table[event]
    allowed = _sources(table, transition)
    if sources is not None and allowed is not ANY:
        allowed = tuple(s for s in allowed if s in sources)
    updates = dict(values or {})
    updates['status'] = _target(table, transition, reported)
    writer = _WRITERS[table.kind]()
    moved = writer(context, resource_id, allowed, updates, **write_options)
    if not moved:
        LOG.warning('%(kind)s %(id)s was not in %(allowed)s; %(event)s '
                    'left it unchanged.',
                    {'kind': table.kind, 'id': resource_id,
                     'allowed': list(allowed or ()), 'event': event})
    return moved


def advance_many(context, table, resource_ids, event, sources=None,
                 values=None, return_ids=False, **write_options):
    """Apply ``event`` to many rows in one UPDATE; rows not in a source status are left alone. Returns how many moved.

    ``sources`` narrows the table's sources further; ``values`` are
    written in the same UPDATE. With ``return_ids`` the answer is the
    list of the ids that moved (a flow acting on exactly those rows).
    ``write_options`` go to the table's writer (share servers: ``unused``).
    """
    transition = table[event]
    if not resource_ids:
        return [] if return_ids else 0
    allowed = _sources(table, transition)
    if sources is not None:
        allowed = tuple(s for s in allowed if s in sources)
    updates = dict(values or {}, status=transition.target)
    count_writer, ids_writer = _BULK_WRITERS[table.kind]()
    if return_ids:
        return ids_writer(context, list(resource_ids), list(allowed),
                          updates, **write_options)
    return count_writer(context, list(resource_ids), updates,
                        expected_statuses=list(allowed), **write_options)


# kind -> (bulk writer answering a row count, one answering the moved ids)
_BULK_WRITERS = {
    'share_instance': lambda: (db_api.share_instance_status_update,
                               db_api.share_instances_conditional_update),
    'share_server': lambda: (_server_count_writer,
                             db_api.share_servers_conditional_update),
    'share_snapshot_instance': lambda: (_snapshot_bulk_count, None),
    'share_task': lambda: (_task_count_writer,
                           _task_ids_writer),
    'share_server_task': lambda: (
        lambda ctx, ids, updates, expected_statuses: len(
            _server_task_ids_writer(ctx, ids, expected_statuses, updates)),
        _server_task_ids_writer),
}


def _task_ids_writer(context, share_ids, expected, updates):
    return db_api.shares_task_state_conditional_update(
        context, share_ids, expected, updates['status'])


def _task_count_writer(context, share_ids, updates, expected_statuses):
    return len(_task_ids_writer(context, share_ids, expected_statuses,
                                updates))


def _server_count_writer(context, server_ids, updates, expected_statuses,
                         unused=False):
    return len(db_api.share_servers_conditional_update(
        context, server_ids, expected_statuses, updates, unused=unused))


def _snapshot_bulk_count(context, ids, updates, expected_statuses):
    return db_api.share_snapshot_instances_status_update(
        context, ids, expected_statuses, updates)


# -- Access rules: mappings and access_rules_status move in bulk -------------
#
# The access tables are written per share (or snapshot) instance, many rows
# at a time, with ``advance_all``: its target is an instance id, a list of
# them, or ``(instance ids, access ids)`` to narrow to some rules. A denied
# mapping leaves the table by soft deletion (state 'deleted').
_LIVE_ACCESS_STATES = (
    c.ACCESS_STATE_QUEUED_TO_APPLY, c.ACCESS_STATE_QUEUED_TO_DENY,
    c.ACCESS_STATE_QUEUED_TO_UPDATE, c.ACCESS_STATE_APPLYING,
    c.ACCESS_STATE_DENYING, c.ACCESS_STATE_UPDATING, c.ACCESS_STATE_ACTIVE,
    c.ACCESS_STATE_ERROR)
_IN_FLIGHT = (c.ACCESS_STATE_APPLYING, c.ACCESS_STATE_DENYING,
              c.ACCESS_STATE_UPDATING)

# share_instance_access_map.state, states.md 1.3 and 4.4.
ACCESS_RULE = StateTable('share_instance_access', [
    # event                      from                                 to
    ('apply_started',           (c.ACCESS_STATE_QUEUED_TO_APPLY,),   c.ACCESS_STATE_APPLYING),
    ('deny_started',            (c.ACCESS_STATE_QUEUED_TO_DENY,),    c.ACCESS_STATE_DENYING),
    ('update_started',          (c.ACCESS_STATE_QUEUED_TO_UPDATE,),  c.ACCESS_STATE_UPDATING),
    ('rule_rejected',           (c.ACCESS_STATE_APPLYING,
                                 c.ACCESS_STATE_UPDATING),           c.ACCESS_STATE_ERROR),
    ('driver_reported_active',  _IN_FLIGHT + (c.ACCESS_STATE_ACTIVE,), c.ACCESS_STATE_ACTIVE),
    ('driver_reported_error',   _IN_FLIGHT + (c.ACCESS_STATE_ACTIVE,), c.ACCESS_STATE_ERROR),
    ('sync_succeeded',          (c.ACCESS_STATE_APPLYING,
                                 c.ACCESS_STATE_UPDATING),           c.ACCESS_STATE_ACTIVE),
    ('sync_failed',             _IN_FLIGHT,                          c.ACCESS_STATE_ERROR),
    ('deny_all_requested',      _LIVE_ACCESS_STATES,                 c.ACCESS_STATE_QUEUED_TO_DENY),
    # start-up: work a crash interrupted is queued again (states.md 2, step 5)
    ('apply_requeued',          (c.ACCESS_STATE_APPLYING,),          c.ACCESS_STATE_QUEUED_TO_APPLY),
    ('deny_requeued',           (c.ACCESS_STATE_DENYING,),           c.ACCESS_STATE_QUEUED_TO_DENY),
    ('reapply_requested',       (c.ACCESS_STATE_ACTIVE,),            c.ACCESS_STATE_QUEUED_TO_APPLY),
    # a new replica: the driver applied the copied rules with create_replica
    ('replica_rules_applied',   (c.ACCESS_STATE_QUEUED_TO_APPLY,),   c.ACCESS_STATE_ACTIVE),
])

_RULES_STATUSES = (c.STATUS_ACTIVE, c.SHARE_INSTANCE_RULES_SYNCING,
                   c.SHARE_INSTANCE_RULES_ERROR)

# share_instances.access_rules_status, states.md 1.2 and 4.4.
ACCESS_RULES_STATUS = StateTable('share_instance_access_rules_status', [
    ('sync_started',            (c.STATUS_ACTIVE,),                  c.SHARE_INSTANCE_RULES_SYNCING),
    ('sync_failed',             (c.STATUS_ACTIVE,
                                 c.SHARE_INSTANCE_RULES_SYNCING),    c.SHARE_INSTANCE_RULES_ERROR),
    ('sync_finished',           (c.SHARE_INSTANCE_RULES_SYNCING,
                                 c.SHARE_INSTANCE_RULES_ERROR),      c.STATUS_ACTIVE),
    ('sync_finished_with_errors', (c.SHARE_INSTANCE_RULES_SYNCING,), c.SHARE_INSTANCE_RULES_ERROR),
    ('reapply_requested',       (c.SHARE_INSTANCE_RULES_ERROR,
                                 c.STATUS_ACTIVE),                   c.SHARE_INSTANCE_RULES_SYNCING),
    # what create_replica / promote_replica reported for a replica
    ('replica_rules_applied',   _RULES_STATUSES,                     c.STATUS_ACTIVE),
    ('replica_rules_failed',    _RULES_STATUSES,                     c.SHARE_INSTANCE_RULES_ERROR),
    # a security service replacement failed on the instance's share server
    ('server_update_failed',    _RULES_STATUSES,                     c.SHARE_INSTANCE_RULES_ERROR),
])

# share_snapshot_instance_access_map.state, states.md 4.12.
SNAPSHOT_ACCESS_RULE = StateTable('share_snapshot_instance_access', [
    ('apply_started',           (c.ACCESS_STATE_QUEUED_TO_APPLY,),   c.ACCESS_STATE_APPLYING),
    ('deny_started',            (c.ACCESS_STATE_QUEUED_TO_DENY,),    c.ACCESS_STATE_DENYING),
    ('deny_all_requested',      _LIVE_ACCESS_STATES,                 c.ACCESS_STATE_DENYING),
    ('sync_succeeded',          (c.ACCESS_STATE_APPLYING,),          c.ACCESS_STATE_ACTIVE),
    ('sync_failed',             (c.ACCESS_STATE_APPLYING,
                                 c.ACCESS_STATE_DENYING),            c.ACCESS_STATE_ERROR),
])

TABLES[ACCESS_RULE.kind] = ACCESS_RULE
TABLES[ACCESS_RULES_STATUS.kind] = ACCESS_RULES_STATUS
TABLES[SNAPSHOT_ACCESS_RULE.kind] = SNAPSHOT_ACCESS_RULE


def _mapping_writer(facade_name):
    """A writer for mapping tables, whose status column is ``state``."""
    def write(context, target, allowed, updates):
        parent_ids, access_ids = (target if isinstance(target, tuple)
                                  else (target, None))
        values = dict(updates)
        values['state'] = values.pop('status')
        return getattr(db_api, facade_name)(context, parent_ids, allowed,
                                            values, access_ids=access_ids)
    return write


def _rules_status_writer(context, target, allowed, updates):
    return db_api.share_instance_access_rules_status_update(
        context, target, allowed, updates['status'])


_WRITERS[ACCESS_RULE.kind] = lambda: _mapping_writer(
    'share_instance_access_conditional_update')
_WRITERS[ACCESS_RULES_STATUS.kind] = lambda: _rules_status_writer
_WRITERS[SNAPSHOT_ACCESS_RULE.kind] = lambda: _mapping_writer(
    'share_snapshot_instance_access_conditional_update')


def advance_all(context, table, target, event):
    """Apply ``event`` to every row of ``target`` in a source state; return how many moved.

    For tables whose rows move in bulk (access mappings, access_rules_status):
    no row in a source state is normal there, so nothing is logged.
    """
    transition = table[event]
    writer = _WRITERS[table.kind]()
    return writer(context, target, tuple(transition.sources),
                  {'status': transition.target})


def set_replica_states(context, replica_ids, replica_state, values=None):
    """Write a driver-reported ``replica_state`` to many non-active replicas in one UPDATE; returns how many moved.

    Only replicas still in a pollable status (REPLICA_POLLABLE) move: a
    promotion or deletion that started meanwhile wins.
    """
    if replica_state not in REPLICA_REPORTABLE:
        raise ValueError('%r is not a reportable replica_state'
                         % (replica_state,))
    return db_api.share_replica_state_update(
        context, replica_ids, replica_state, REPLICA_POLLABLE,
        values=values)
