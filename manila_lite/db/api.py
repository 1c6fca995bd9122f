"""The database facade: the only DB module imported outside manila_lite.db, one function per operation.

Functions carry upstream manila's names and take the request context
first. Each runs in its own transaction (joining the caller's when the
same context already has one open in this thread). Returned model
objects are detached from their session but fully usable: everything
the docstring mentions is loaded eagerly, and they support dict-style
access (``obj['x']``, ``obj.get('x')``). Soft-deleted rows are hidden
unless ``context.read_deleted`` says otherwise, where upstream honours it.
"""

from manila_lite import context as _ml_context
from manila_lite.db.sqlalchemy import access as _access
from manila_lite.db.sqlalchemy import backups as _backups
from manila_lite.db.sqlalchemy import engine as _engine
from manila_lite.db.sqlalchemy import export_locations as _el
from manila_lite.db.sqlalchemy import groups as _groups
from manila_lite.db.sqlalchemy import health as _health
from manila_lite.db.sqlalchemy import instances as _instances
from manila_lite.db.sqlalchemy import messages as _messages
from manila_lite.db.sqlalchemy import networks as _networks
from manila_lite.db.sqlalchemy import private_data as _private
from manila_lite.db.sqlalchemy import quotas as _quotas
from manila_lite.db.sqlalchemy import replicas as _replicas
from manila_lite.db.sqlalchemy import retry as _retry
from manila_lite.db.sqlalchemy import services as _services
from manila_lite.db.sqlalchemy import share_servers as _servers
from manila_lite.db.sqlalchemy import share_types as _types
from manila_lite.db.sqlalchemy import shares as _shares
from manila_lite.db.sqlalchemy import snapshots as _snapshots
from manila_lite.db.sqlalchemy import transfers as _transfers


# -- engine ----------------------------------------------------------------

def get_engine():
    """The SQLAlchemy Engine built from ``CONF.database`` (created on first use)."""
    return _engine.get_engine()


def dispose_engine():
    """Close the engine's connections; the next call rebuilds it from CONF.

    Tests point the facade at another database by overriding
    ``CONF.database.connection`` and calling this.
    """
    _engine.dispose_engine()


def check_database(url=None, schema=True):
    """Open one connection (no retries) and, with ``schema``, look for the tables; return the table names.

    Raises ConfigError (bad URL, login refused, no such database),
    DatabaseUnavailable (server unreachable) or DatabaseSchemaMissing, each
    with a one-line message.
    """
    return _health.check(url, required_tables=(
        _health.REQUIRED_TABLES if schema else ()))


def describe_database_error(exc):
    """The one-line ConfigError or DatabaseUnavailable ``exc`` (from the DB driver) means, or None."""
    return _health.describe(exc, connecting=False)


def stop_retrying():
    """The process is stopping: an operation that loses its connection now fails instead of being retried."""
    _retry.stop_retrying()


def resume_retrying():
    """Retry lost connections again (undoes stop_retrying)."""
    _retry.resume_retrying()


# -- services and availability zones -----------------------------------------

def service_get(context, service_id):
    """The services row ``service_id`` (AZ loaded); raises ServiceNotFound."""
    return _services.service_get(context, service_id)


def service_get_by_args(context, host, binary):
    """The live row for (host, binary); raises ServiceNotFound(service_id=host)."""
    return _services.service_get_by_args(context, host, binary)


def service_get_all(context, topic=None, disabled=None):
    """Live services, optionally of one topic / disabled flag.

    ``service['availability_zone']`` is the zone row (``['name']``).
    """
    return _services.service_get_all(context, topic=topic, disabled=disabled)


def service_create(context, values):
    """Insert a services row; an ``availability_zone`` name becomes its id.

    With ``CONF.enable_new_services`` False the row is created disabled.
    """
    return _services.service_create(context, values)


def service_update(context, service_id, values):
    """Update a services row (AZ name translated) and return it."""
    return _services.service_update(context, service_id, values)


def service_report_heartbeat(context, service_id, availability_zone=None):
    """One UPDATE: report_count + 1, updated_at now (and the AZ), and upstream's state.

    The state is judged from the row before the beat, as upstream's
    heartbeat does: 'up' when the previous beat is within
    ``service_down_time``, otherwise 'down' (a 'stopped' row stays
    'stopped' until the next beat).

    Raises ServiceNotFound when the live row is gone so the caller can
    register again.
    """
    _services.service_report_heartbeat(context, service_id,
                                       availability_zone=availability_zone)


def service_soft_delete_stopped(context, topic, host_prefix=None):
    """Soft-delete enabled services of ``topic`` that are stopped and down.

    "Down" means no heartbeat for ``CONF.service_down_time``; with
    ``host_prefix`` only hosts starting with it. Returns the row count.
    """
    return _services.service_soft_delete_stopped(context, topic,
                                                 host_prefix=host_prefix)


def availability_zone_get_or_create(context, name):
    """The live availability_zones row called ``name``, created on first use."""
    return _services.availability_zone_get_or_create(context, name)


# -- shares ------------------------------------------------------------------

def share_create(context, share_values, create_share_instance=True):
    """Insert a share (+ metadata) and, by default, its first instance.

    Instance keys (status, host, scheduled_at, launched_at, terminated_at,
    share_server_id, share_network_id, availability_zone(_id),
    replica_state, share_type_id, access_rules_status, mount_point_name,
    encryption_key_ref, qos_type_id, cast_rules_to_readonly) go to the new
    instance; ids default to uuid4. Returns the share with its instances.
    """
    return _shares.share_create(context, share_values,
                                create_share_instance=create_share_instance)


def share_get(context, share_id):
    """The share with instances and metadata loaded; raises ShareNotFound."""
    return _shares.share_get(context, share_id)


def share_get_all(context, filters=None):
    """Live shares; filters on share columns (lists mean IN) and ``host``."""
    return _shares.share_get_all(context, filters=filters)


def share_update(context, share_id, values):
    """Update a share, sending instance keys to ``share.instance``.

    Upstream's split: only truthy values of instance keys move to the
    instance, falsy ones are dropped. Returns the refreshed share.
    """
    return _shares.share_update(context, share_id, values)


def shares_task_state_conditional_update(context, share_ids, expected,
                                         task_state):
    """``UPDATE shares SET task_state ... WHERE id IN ids AND task_state IN expected``; returns the ids that moved.

    manila_lite's own: the conditional writer of the share task state
    machine (share/states.py SHARE_TASK), one statement for many shares.
    """
    return _shares.shares_task_state_conditional_update(
        context, share_ids, expected, task_state)


def share_get_all_expired(context):
    """Shares in the recycle bin (``is_soft_deleted``) whose ``scheduled_to_be_deleted_at`` has passed.

    Their live instances and metadata are loaded, in a constant number
    of statements.
    """
    return _shares.share_get_all_expired(context)


def share_deletion_blockers(context, share_ids):
    """``{share_id: [reasons]}``: what keeps each share from deletion, as upstream's API checks it.

    Reasons: ``snapshots``, ``backups``, ``share group snapshot members``
    (live snapshot instances on its instances) and ``resource locks`` (on
    the ``delete`` action). One SELECT; manila_lite's own batch read.
    """
    return _shares.share_deletion_blockers(context, share_ids)


def share_metadata_delete(context, share_id, key):
    """Soft-delete one metadata key of a share (absent keys are fine); raises ShareNotFound."""
    _shares.share_metadata_delete(context, share_id, key)


def share_metadata_get(context, share_id):
    """The share's live metadata as a dict; raises ShareNotFound."""
    return _shares.share_metadata_get(context, share_id)


def share_metadata_update(context, share_id, metadata, delete=False):
    """Upsert metadata keys; with ``delete`` soft-delete the keys not given."""
    return _shares.share_metadata_update(context, share_id, metadata,
                                         delete=delete)


# -- share instances ---------------------------------------------------------

def share_instance_create(context, share_id, values):
    """Insert an instance of a live share (upstream's name); returns it loaded with share data.

    Values as share_instance_update takes them (AZ name or id, share_type
    or share_type_id); the id defaults to a uuid4. Raises ShareNotFound.
    """
    return _shares.share_instance_create(context, share_id, values)


def share_instance_get(context, share_instance_id, with_share_data=False,
                       check_access_rules=False):
    """One instance; raises ShareInstanceNotFound.

    Loaded: ``share`` (with its instances and metadata),
    ``export_locations`` (ordered, with ``el_metadata``), ``share_type``
    (with ``extra_specs``), ``share_server`` (details, subnets,
    allocations), ``share_instance_metadata``; ``availability_zone`` is
    the zone name. ``with_share_data`` copies the share's user_id,
    project_id, size, display_name, display_description, snapshot_id,
    share_proto, is_public, share_group_id, replication_type,
    source_share_group_snapshot_member_id and mount_snapshot_support onto
    the instance. ``check_access_rules`` (manila_lite's own) also sets
    ``has_access_rules`` on it, as share_instance_has_access_rules would
    answer, from the same SELECT.
    """
    instance = _instances.share_instance_get(
        context, share_instance_id, with_share_data=with_share_data,
        check_access_rules=check_access_rules)
    _ml_context.tag_share_of(context, instance)   # log lines name the share
    return instance


def share_instance_get_all_by_host(context, host, with_share_data=False,
                                   status=None, access_rules_status=None):
    """Instances on ``host`` ('H@B' also matches 'H@B#pool'); status and access_rules_status str or list.

    Loads like share_instance_get with a constant number of statements.
    """
    return _instances.share_instance_get_all_by_host(
        context, host, with_share_data=with_share_data, status=status,
        access_rules_status=access_rules_status)


def share_instance_get_all(context, filters=None, with_share_data=False):
    """Live instances of shares outside the recycle bin.

    Filters: instance_ids, host, share_id (one id or a list),
    share_server_id, share_network_id, share_type_id, replica_state,
    status (str or list), encryption_key_ref, export_location_id,
    export_location_path, metadata (dict), is_soft_deleted.
    """
    return _instances.share_instance_get_all(
        context, filters=filters, with_share_data=with_share_data)


def share_instance_get_all_by_share_server(context, share_server_id,
                                           with_share_data=False):
    """Live instances on a share server (one read)."""
    return _instances.share_instance_get_all(
        context, filters={'share_server_id': share_server_id},
        with_share_data=with_share_data)


def share_instance_get_all_by_share_group_id(context, share_group_id):
    """Live instances, with share data, of the shares in a share group (one read)."""
    return _instances.share_instance_get_all_by_share_group_id(
        context, share_group_id)


def share_instance_update(context, share_instance_id, values,
                          with_share_data=False):
    """Update an instance (AZ name translated) and return it reloaded."""
    return _instances.share_instance_update(
        context, share_instance_id, values, with_share_data=with_share_data)


def share_instance_status_update(context, share_instance_ids, values,
                                 expected_statuses=None):
    """One bulk UPDATE of live instances; returns the row count.

    With ``expected_statuses`` only rows whose status is one of them change.
    """
    return _instances.share_instance_status_update(
        context, share_instance_ids, values,
        expected_statuses=expected_statuses)


def share_instances_conditional_update(context, share_instance_ids,
                                       expected_statuses, values):
    """The bulk form of share_instance_conditional_update: returns the ids of the rows that moved."""
    return _instances.share_instances_conditional_update(
        context, share_instance_ids, expected_statuses, values)


def share_instance_conditional_update(context, share_instance_id,
                                      expected_statuses, values,
                                      export_locations=None):
    """``UPDATE ... WHERE id AND live AND status IN expected``; True if it changed a row.

    The primitive behind the share state machine; updated_at is set too.
    ``export_locations`` (not None): export_locations_update of those in
    the same transaction, whether or not the row moved.
    """
    if export_locations is not None:
        return _el.conditional_update_with_locations(
            context, share_instance_id, expected_statuses, values,
            export_locations)
    return _instances.share_instance_conditional_update(
        context, share_instance_id, expected_statuses, values)


def share_instance_delete(context, share_instance_id,
                          need_to_update_usages=False):
    """Soft-delete an instance with its exports, access mappings and metadata.

    In the same transaction, when no live instance remains, the share's
    access rules (+ metadata), share metadata and the share row are
    soft-deleted too. Returns ``{'share_deleted': bool, 'share': share}``
    with the share as loaded before the deletion (its columns only: no
    relationship is loaded). ``need_to_update_usages`` (as upstream): also
    give back the quota (shares/gigabytes; share_replicas/
    replica_gigabytes for a replica, plus shares/gigabytes when it was the
    share's last instance; size from the locked share row) in the same
    transaction: deletion and release commit together or not at all.
    """
    return _instances.share_instance_delete(
        context, share_instance_id,
        need_to_update_usages=need_to_update_usages)


def update_share_instance_quota_usages(context, share_instance_id):
    """Give back the quota of an instance whose deletion is deferred (at most once per instance).

    As upstream: shares/gigabytes (and share_replicas/replica_gigabytes
    for a replica), sized by the share row. Running it again for the same
    instance changes nothing (returns []); raises ShareInstanceNotFound
    for an instance already deleted.
    """
    return _instances.update_share_instance_quota_usages(
        context, share_instance_id)


# -- share replicas (share instances with a replica_state) -------------------

def share_replica_get(context, replica_id, with_share_data=False):
    """One live replica, loaded as share_instance_get loads; raises ShareReplicaNotFound."""
    return _replicas.share_replica_get(context, replica_id,
                                       with_share_data=with_share_data)


def share_replicas_get_all(context, with_share_data=False, host=None,
                           share_ids=None, exclude_active=False):
    """Live replicas (optionally on ``host``, of ``share_ids``, not active) in one batch read."""
    return _replicas.share_replicas_get_all(
        context, with_share_data=with_share_data, host=host,
        share_ids=share_ids, exclude_active=exclude_active)


def share_replicas_get_all_by_share(context, share_id, with_share_data=False):
    """The live replicas of one share, oldest first."""
    return _replicas.share_replicas_get_all(
        context, with_share_data=with_share_data, share_ids=[share_id])


def share_replica_update(context, share_replica_id, values,
                         with_share_data=False):
    """Update a replica (a share instance) and return it reloaded."""
    return _instances.share_instance_update(
        context, share_replica_id, values, with_share_data=with_share_data)


def share_replica_delete(context, share_replica_id,
                         need_to_update_usages=True):
    """Soft-delete a replica as share_instance_delete does, giving back its quota by default (as upstream)."""
    return _instances.share_instance_delete(
        context, share_replica_id,
        need_to_update_usages=need_to_update_usages)


def share_replica_state_update(context, replica_ids, replica_state,
                               expected_statuses, values=None):
    """Set replica_state of the live non-active replicas among ``replica_ids`` whose status is expected; one UPDATE, returns the row count."""
    return _replicas.share_replica_state_update(
        context, replica_ids, replica_state, expected_statuses,
        values=values)


def share_replicas_apply_promotion(context, changes):
    """Write a promotion's outcome, ``[(replica id, values, export locations or None)]``, in one transaction."""
    return _replicas.share_replicas_apply_promotion(context, changes)


def replica_snapshot_instances_get(context, filters):
    """Live snapshot instances with their snapshot, ``share`` not loaded; a flat statement count.

    Filters: snapshot_ids, share_instance_ids, statuses.
    """
    return _replicas.replica_snapshot_instances_get(context, filters)


def share_snapshot_instances_status_update(context, snapshot_instance_ids,
                                           expected_statuses, values):
    """One UPDATE of the live snapshot instances among the ids whose status is expected; returns the row count."""
    return _replicas.share_snapshot_instances_status_update(
        context, snapshot_instance_ids, expected_statuses, values)


def share_instance_access_copy(context, share_id, instance_id):
    """Map the share's live access rules to the instance (queued_to_apply) as upstream; returns the rules."""
    return _replicas.share_instance_access_copy(context, share_id,
                                                instance_id)


# -- export locations --------------------------------------------------------

def export_locations_update(context, share_instance_id, export_locations,
                            delete=True):
    """Make the instance's export locations match a driver's answer.

    ``export_locations``: a path, a list of paths, or a list of dicts
    (``path``, optional ``is_admin_only`` and ``metadata``). Rows of
    unchanged paths keep their uuid (and is_admin_only) and get their
    metadata upserted; missing paths are soft-deleted (with metadata) when
    ``delete``; new paths get new rows. ``updated_at`` is staggered by one
    microsecond per position so reading by updated_at keeps the driver's
    order. Metadata values are stored as strings, booleans as
    'True'/'False' on every database (upstream stores '1'/'0' on MySQL and
    'true'/'false' on PostgreSQL; all parse with bool_from_string).
    Returns the instance's paths in order.
    """
    return _el.export_locations_update(context, share_instance_id,
                                       export_locations, delete=delete)


def export_location_get_all_by_share_instance_id(context, share_instance_id,
                                                 include_admin_only=True):
    """The instance's live export location rows in order (with el_metadata)."""
    return _el.export_location_get_all_by_share_instance_id(
        context, share_instance_id, include_admin_only=include_admin_only)


def export_location_get_all(context, share_id):
    """Paths of the share's main instance (admin-only ones for admins)."""
    return _el.export_location_get_all(context, share_id)


def export_location_get_by_uuid(context, export_location_uuid):
    """One live export location by its public uuid; raises ExportLocationNotFound."""
    return _el.export_location_get_by_uuid(context, export_location_uuid)


# -- access rules ------------------------------------------------------------

def share_access_create(context, values):
    """A share_access_map rule plus one mapping per live instance.

    Mappings start 'queued_to_apply' (or ``values['state']``);
    ``values['metadata']`` becomes rule metadata. Returns the rule.
    """
    return _access.share_access_create(context, values)


def share_access_get(context, access_id):
    """A live rule with its live mappings and metadata; raises AccessRuleNotFound."""
    return _access.share_access_get(context, access_id)


def share_instance_access_get_all(context, share_instance_id, filters=None):
    """Live mappings of an instance carrying their rule's fields.

    Each item: ``id`` (mapping id), ``access_id``, ``state``, and the
    rule's share_id, access_type, access_to, access_key, access_level.
    Filters: id, access_id, state (values may be lists).
    """
    return _access.share_instance_access_get_all(context, share_instance_id,
                                                 filters=filters)


def share_instances_access_get_all(context, share_instance_ids):
    """``{instance id: [live mappings with their rule's fields]}`` of many instances (one read)."""
    return _access.share_instances_access_get_all(context,
                                                  share_instance_ids)


def share_instance_has_access_rules(context, share_instance_id):
    """Whether the instance has a live access mapping (one cheap SELECT EXISTS).

    manila_lite's own: the delete flow skips the access sync when False.
    """
    return _instances.share_instance_has_access_rules(context,
                                                      share_instance_id)


def share_instance_access_get(context, access_id, share_instance_id):
    """The live mapping of a rule on an instance, with the rule's fields."""
    return _access.share_instance_access_get(context, access_id,
                                             share_instance_id)


def share_instance_access_update(context, access_id, share_instance_id,
                                 updates):
    """Rule fields (access_type/to/key/level) to the rule, the rest to the mapping."""
    return _access.share_instance_access_update(
        context, access_id, share_instance_id, updates)


def share_instance_access_states_update(context, share_instance_id,
                                        from_states, new_state):
    """One UPDATE moving an instance's live mappings from ``from_states``; returns count."""
    return _access.share_instance_access_states_update(
        context, share_instance_id, from_states, new_state)


def share_access_get_all_for_share(context, share_id, filters=None):
    """Live rules (share_access_map rows) of a share, with mappings and metadata.

    Each rule's ``state`` is aggregated over its mappings. Filters: id,
    access_type, access_to, access_level.
    """
    return _access.share_access_get_all_for_share(context, share_id,
                                                  filters=filters)


def share_access_get_all_for_shares(context, share_ids):
    """``{share id: [live rules with their mappings]}`` of many shares in one batch read."""
    return _access.share_access_get_all_for_shares(context, share_ids)


def share_instance_access_delete(context, mapping_id):
    """Soft-delete a mapping (state 'deleted'); the rule too when none is left.

    Removing the rule also removes its metadata and resource locks.
    """
    _access.share_instance_access_delete(context, mapping_id)


def share_instance_access_conditional_update(context, share_instance_ids,
                                             expected_states, values,
                                             access_ids=None):
    """One UPDATE of live mappings whose ``state`` is in ``expected_states``.

    ``share_instance_ids``: one id or a list; ``access_ids`` narrows to
    some rules. ``values`` are mapping columns (``state``). Returns the
    row count. The writer behind the access-rule state table.
    """
    return _access.share_instance_access_conditional_update(
        context, share_instance_ids, expected_states, values,
        access_ids=access_ids)


def share_instance_access_rules_status_update(context, share_instance_ids,
                                              expected_statuses, new_status):
    """One UPDATE: ``access_rules_status`` → ``new_status`` where it is one of ``expected_statuses``.

    ``share_instance_ids``: one id or a list (live instances only).
    Returns the row count.
    """
    return _access.share_instance_access_rules_status_update(
        context, share_instance_ids, expected_statuses, new_status)


# -- snapshot access rules ---------------------------------------------------

def share_snapshot_access_create(context, values):
    """A share_snapshot_access_map rule plus one 'queued_to_apply' mapping per live snapshot instance.

    ``values``: share_snapshot_id, access_type, access_to (id optional).
    Returns the rule with ``instance_mappings`` loaded.
    """
    return _access.share_snapshot_access_create(context, values)


def share_snapshot_access_get_all_for_snapshot_instance(
        context, snapshot_instance_id, filters=None):
    """Live mappings of a snapshot instance carrying their rule's fields.

    Each item: ``id`` (mapping id), ``access_id``, ``state``,
    ``share_snapshot_instance_id`` and the rule's share_snapshot_id,
    access_type, access_to. Filters: id, access_id, state (lists allowed).
    """
    return _access.share_snapshot_access_get_all_for_snapshot_instance(
        context, snapshot_instance_id, filters=filters)


def share_snapshot_access_get_all_for_snapshot_instances(
        context, snapshot_instance_ids, states=None):
    """Like the single-instance read for many snapshot instances, in one query."""
    return _access.share_snapshot_access_get_all_for_snapshot_instances(
        context, snapshot_instance_ids, states=states)


def share_snapshot_instance_access_update(context, access_id, instance_id,
                                          updates):
    """access_type/access_to to the snapshot rule, the rest to the mapping; returns the mapping."""
    return _access.share_snapshot_instance_access_update(
        context, access_id, instance_id, updates)


def share_snapshot_instance_access_conditional_update(
        context, snapshot_instance_ids, expected_states, values,
        access_ids=None):
    """One UPDATE of live snapshot mappings in ``expected_states``; returns the count."""
    return _access.share_snapshot_instance_access_conditional_update(
        context, snapshot_instance_ids, expected_states, values,
        access_ids=access_ids)


def share_snapshot_instance_access_delete(context, access_id,
                                          snapshot_instance_id):
    """Soft-delete a snapshot mapping (state 'deleted'); the rule too when none is left.

    Raises AccessRuleNotFound when the live mapping does not exist.
    """
    _access.share_snapshot_instance_access_delete(context, access_id,
                                                  snapshot_instance_id)


# -- messages ----------------------------------------------------------------

def message_create(context, values):
    """Insert a user message (id uuid4, created_at now).

    Values: project_id, request_id, resource_type, resource_id, action_id,
    detail_id, message_level, expires_at.
    """
    return _messages.message_create(context, values)


def message_get_all(context, filters=None):
    """Live messages newest first; exact filters on the message columns."""
    return _messages.message_get_all(context, filters=filters)


def message_destroy_expired(context):
    """Delete messages past ``expires_at``; returns the count."""
    return _messages.message_destroy_expired(context)


# -- quotas ------------------------------------------------------------------

def quota_reserve(context, deltas, project_id, user_id, share_type_id=None,
                  expire=None):
    """Reservation uuids for ``deltas`` ({resource: delta}); no limit checks.

    Reserves on the (project, user) usage rows and, with a share type, on
    the (project, share type) rows, creating missing rows; positive deltas
    raise ``reserved``. ``expire``: datetime or seconds (default
    ``CONF.quota.reservation_expire``).
    """
    return _quotas.quota_reserve(context, deltas, project_id, user_id,
                                 share_type_id=share_type_id, expire=expire)


def reservation_commit(context, reservations, project_id=None, user_id=None,
                       share_type_id=None):
    """Apply reservations to ``in_use`` (and release ``reserved``); never below 0."""
    _quotas.reservation_commit(context, reservations, project_id=project_id,
                               user_id=user_id, share_type_id=share_type_id)


def reservation_rollback(context, reservations, project_id=None, user_id=None,
                         share_type_id=None):
    """Drop reservations, giving back what they added to ``reserved``."""
    _quotas.reservation_rollback(context, reservations, project_id=project_id,
                                 user_id=user_id, share_type_id=share_type_id)


def quota_release(context, deltas, project_id, user_id, share_type_id=None):
    """Reserve the negated magnitudes of ``deltas`` and commit, in one transaction.

    What the share service does when a share goes away, e.g.
    ``{'shares': 1, 'gigabytes': 10}`` (signs are ignored).
    """
    return _quotas.quota_release(context, deltas, project_id, user_id,
                                 share_type_id=share_type_id)


def quota_usage_get_all_by_project(context, project_id):
    """``{'project_id': p, resource: {'in_use', 'reserved'}}`` over user rows."""
    return _quotas.quota_usage_get_all_by_project(context, project_id)


def quota_usage_get_all_by_project_and_user(context, project_id, user_id):
    """Usage of one user's rows (share_type_id NULL)."""
    return _quotas.quota_usage_get_all_by_project_and_user(
        context, project_id, user_id)


def quota_usage_get_all_by_project_and_share_type(context, project_id,
                                                  share_type_id):
    """Usage of one share type's rows (user_id NULL)."""
    return _quotas.quota_usage_get_all_by_project_and_share_type(
        context, project_id, share_type_id)


# -- driver private data and backend info ------------------------------------
# An entity id, key or value that does not fit its column raises
# InvalidDriverPrivateData before any SQL.

def driver_private_data_get(context, entity_id, key=None, default=None):
    """A value (or ``default``); a dict when ``key`` is None or a list."""
    return _private.driver_private_data_get(context, entity_id, key=key,
                                            default=default)


def driver_private_data_update(context, entity_id, details,
                               delete_existing=False):
    """Upsert ``details`` (values stored as str); ``delete_existing`` drops others."""
    return _private.driver_private_data_update(
        context, entity_id, details, delete_existing=delete_existing)


def driver_private_data_delete(context, entity_id, key=None):
    """Soft-delete one key, a list of keys, or (None) all keys of an entity."""
    _private.driver_private_data_delete(context, entity_id, key=key)


def backend_info_get(context, host):
    """The live backend_info row of ``host`` (``info_hash``) or None."""
    return _private.backend_info_get(context, host)


def backend_info_update(context, host, value=None, delete_existing=False):
    """Store ``value`` as the host's info hash, or soft-delete it."""
    return _private.backend_info_update(context, host, value=value,
                                        delete_existing=delete_existing)


# -- share types -------------------------------------------------------------

def share_type_create(context, values, projects=None):
    """Insert a share type; ``values['extra_specs']`` is a dict. Returns its dict."""
    return _types.share_type_create(context, values, projects=projects)


def share_type_get(context, id):
    """Upstream's share type dict (``extra_specs`` a dict); raises ShareTypeNotFound."""
    return _types.share_type_get(context, id)


def share_type_get_by_name(context, name):
    """The live share type called ``name`` as a dict; raises ShareTypeNotFound."""
    return _types.share_type_get_by_name(context, name)


def share_type_get_all(context):
    """``{name: share type dict}`` of live share types."""
    return _types.share_type_get_all(context)


# -- snapshots ---------------------------------------------------------------

def share_snapshot_get(context, snapshot_id):
    """A snapshot with share, instances and metadata; raises ShareSnapshotNotFound."""
    return _snapshots.share_snapshot_get(context, snapshot_id)


def share_snapshot_instance_get(context, snapshot_instance_id,
                                with_share_data=False):
    """A snapshot instance; with share data ``['share']`` is its share instance.

    Raises ShareSnapshotInstanceNotFound.
    """
    return _snapshots.share_snapshot_instance_get(
        context, snapshot_instance_id, with_share_data=with_share_data)


def share_snapshot_instance_create(context, snapshot_id, values):
    """Insert an instance of snapshot ``snapshot_id`` (``share_instance_id``, ``status``, ``progress``, ...); returns it."""
    return _snapshots.share_snapshot_instance_create(context, snapshot_id,
                                                     values)


def share_snapshot_instance_get_all_with_filters(context, filters,
                                                 with_share_data=False):
    """Live snapshot instances matching ``filters``.

    Filters: instance_ids, snapshot_ids, share_instance_ids, statuses,
    share_group_snapshot_id, host, group_members (False: only the ones
    outside any share group snapshot).
    """
    return _snapshots.share_snapshot_instance_get_all_with_filters(
        context, filters, with_share_data=with_share_data)


def share_snapshot_update(context, snapshot_id, values):
    """Update a snapshot; status, progress and provider_location go to its instance.

    Returns the reloaded snapshot.
    """
    return _snapshots.share_snapshot_update(context, snapshot_id, values)


def share_snapshot_instance_update(context, snapshot_instance_id, values):
    """Update a snapshot instance (key ``size`` is its size column); returns it."""
    return _snapshots.share_snapshot_instance_update(
        context, snapshot_instance_id, values)


def share_snapshot_create(context, create_values,
                          create_snapshot_instance=True):
    """Insert a snapshot (``metadata`` dict included) as upstream's API does.

    ``status``, ``progress`` and ``provider_location`` go to a new instance
    on the share's current instance (unless ``create_snapshot_instance`` is
    False); the other keys to ``share_snapshots``. Returns the snapshot.
    """
    return _snapshots.share_snapshot_create(
        context, create_values,
        create_snapshot_instance=create_snapshot_instance)


def share_snapshot_instance_conditional_update(context, snapshot_instance_id,
                                               expected_statuses, values):
    """``UPDATE ... WHERE id AND live AND status IN expected``; True if it changed a row.

    The primitive behind the snapshot state machine; ``size`` is the size
    column, updated_at is set too.
    """
    return _snapshots.share_snapshot_instance_conditional_update(
        context, snapshot_instance_id, expected_statuses, values)


def share_snapshot_instance_delete(context, snapshot_instance_id):
    """Soft-delete a snapshot instance (status 'deleted') with its exports and access mappings.

    Snapshot access rules left without a mapping go too; when no live
    instance of the snapshot remains, the snapshot and its metadata are
    soft-deleted in the same transaction. Returns ``{'snapshot_deleted': bool}``.
    """
    return _snapshots.share_snapshot_instance_delete(context,
                                                     snapshot_instance_id)


def share_snapshot_instance_export_location_create(context, values):
    """Insert one row of share_snapshot_instance_export_locations.

    Values: ``share_snapshot_instance_id``, ``path``, ``is_admin_only``.
    """
    return _snapshots.share_snapshot_instance_export_location_create(
        context, values)


def share_snapshot_instance_export_locations_update(
        context, snapshot_instance_id, export_locations):
    """Replace a snapshot instance's export locations (dicts with ``path``, ``is_admin_only``)."""
    return _snapshots.share_snapshot_instance_export_locations_update(
        context, snapshot_instance_id, export_locations)


def share_snapshot_metadata_update(context, share_snapshot_id, metadata,
                                   delete=False):
    """Upsert snapshot metadata (values as strings); ``delete`` drops keys not given.

    Raises ShareSnapshotNotFound.
    """
    return _snapshots.share_snapshot_metadata_update(
        context, share_snapshot_id, metadata, delete=delete)


# -- share servers -----------------------------------------------------------

def share_server_get(context, server_id):
    """A share server with details, subnets, allocations and instances.

    Raises ShareServerNotFound.
    """
    return _servers.share_server_get(context, server_id)


def share_server_get_all_by_host(context, host, filters=None):
    """Live servers on exactly ``host`` ('H@B'), optionally filtered."""
    return _servers.share_server_get_all_by_host(context, host,
                                                 filters=filters)


def share_server_update(context, server_id, values):
    """Update a share server; returns it reloaded. Raises ShareServerNotFound."""
    return _servers.share_server_update(context, server_id, values)


def share_server_create(context, values):
    """Insert a share server; ``share_network_subnets`` (rows or ids) become its subnet mappings. Returns it loaded."""
    return _servers.share_server_create(context, values)


def share_servers_conditional_update(context, server_ids, expected_statuses,
                                     values, unused=False, column='status'):
    """One UPDATE of the live servers among ``server_ids`` whose ``column`` (status or task_state) is expected; returns the ids that moved.

    ``unused`` also requires no live share instance or group on the server.
    """
    return _servers.share_servers_conditional_update(
        context, server_ids, expected_statuses, values, unused=unused,
        column=column)


def share_servers_get_by_ids(context, server_ids):
    """Live share servers among ``server_ids``, on any host (one read)."""
    return _servers.share_servers_get_by_ids(context, server_ids)


def share_server_get_all_by_host_and_share_subnet_valid(context, host,
                                                        share_subnet_id):
    """``creating``/``active`` servers of ``host`` on the subnet (a list, maybe empty: upstream raises)."""
    return _servers.share_server_get_all_by_host_and_share_subnet_valid(
        context, host, share_subnet_id)


def share_server_get_all_by_host_and_share_network(context, host,
                                                   share_network_id):
    """Live servers of ``host`` (any host: None) mapped to any live subnet of the share network (one read, any status).

    What upstream's ``share_server_get_all_by_host`` with a
    ``share_network_id`` filter answers, through the subnet mappings.
    """
    return _servers.share_server_get_all_by_host_and_share_network(
        context, host, share_network_id)


def share_server_get_all_by_host_and_or_share_subnet(context, host=None,
                                                     share_subnet_id=None):
    """Live servers of ``host`` (any host: None) mapped to the subnet (one read, any status)."""
    return _servers.share_server_get_all_by_host_and_or_share_subnet(
        context, host=host, share_subnet_id=share_subnet_id)


def share_server_get_all_unused_deletable(context, host, updated_before):
    """Upstream's free-server query: auto-deletable, no instance or group, not updated since ``updated_before``."""
    return _servers.share_server_get_all_unused_deletable(
        context, host, updated_before)


def share_server_usage(context, server_ids):
    """``{server id: (share instance count, GB of shares and snapshots)}`` for the server limits."""
    return _servers.share_server_usage(context, server_ids)


def share_server_backend_details_set(context, share_server_id, details):
    """Upsert a share server's backend details (values stored as strings)."""
    return _servers.share_server_backend_details_set(
        context, share_server_id, details)


def share_servers_delete(context, server_ids):
    """Soft-delete share servers, their backend details and subnet mappings; returns the count."""
    return _servers.share_servers_delete(context, server_ids)


def share_server_delete(context, server_id):
    """Soft-delete one share server as upstream's share_server_delete."""
    return _servers.share_servers_delete(context, [server_id])


# -- share networks and network allocations -----------------------------------

def share_network_get(context, share_network_id):
    """A share network with its security services and subnets; raises ShareNetworkNotFound."""
    return _networks.share_network_get(context, share_network_id)


def share_network_subnets_get_all_by_availability_zone_id(
        context, share_network_id, availability_zone_id,
        fallback_to_default=True):
    """The network's subnets of a zone (falling back to its default subnets)."""
    return _networks.share_network_subnets_get_all_by_availability_zone_id(
        context, share_network_id, availability_zone_id,
        fallback_to_default=fallback_to_default)


def share_network_subnet_get(context, share_network_subnet_id):
    """One subnet; raises ShareNetworkSubnetNotFound."""
    return _networks.share_network_subnet_get(context,
                                              share_network_subnet_id)


def share_network_subnet_get_all_by_share_server_id(context, share_server_id):
    """The subnets a share server is mapped to."""
    return _networks.share_network_subnet_get_all_by_share_server_id(
        context, share_server_id)


def share_network_subnet_update(context, share_network_subnet_id, values):
    """Update a subnet and return it reloaded."""
    return _networks.share_network_subnet_update(
        context, share_network_subnet_id, values)


def share_networks_conditional_update(context, network_ids,
                                      expected_statuses, values):
    """One UPDATE of the live networks among ``network_ids`` whose status is expected; returns the ids that moved."""
    return _networks.share_networks_conditional_update(
        context, network_ids, expected_statuses, values)


def security_service_get(context, security_service_id):
    """One security service; raises SecurityServiceNotFound."""
    return _networks.security_service_get(context, security_service_id)


def async_operation_data_get(context, entity_id, key):
    """The value stored under ``key`` for ``entity_id`` (async_operation_data), or None."""
    return _networks.async_operation_data_get(context, entity_id, key)


def async_operation_data_update(context, entity_id, details):
    """Upsert ``{key: value}`` async_operation_data rows of ``entity_id``."""
    return _networks.async_operation_data_update(context, entity_id, details)


def network_allocations_create(context, rows):
    """Insert network allocation rows in one transaction; returns them."""
    return _networks.network_allocations_create(context, rows)


def network_allocation_create(context, values):
    """Insert one network allocation; returns it."""
    return _networks.network_allocations_create(context, [values])[0]


def network_allocations_get_for_share_server(context, share_server_id,
                                             label=None, subnet_id=None):
    """Live allocations of a server (label 'admin', or 'user' and unlabelled; optionally one subnet)."""
    return _networks.network_allocations_get_for_share_server(
        context, share_server_id, label=label, subnet_id=subnet_id)


def network_allocations_get_for_share_servers(context, share_server_ids):
    """Live allocations of many servers (every label) in one SELECT."""
    return _networks.network_allocations_get_for_share_servers(
        context, share_server_ids)


def network_allocation_ips_in_use(context, ip_addresses=None):
    """IP addresses of live allocations (optionally among ``ip_addresses``), one SELECT."""
    return _networks.network_allocation_ips_in_use(context, ip_addresses)


def network_allocation_get(context, allocation_id, read_deleted=None):
    """One allocation (``read_deleted`` 'no', 'yes' or 'only'); raises NotFound."""
    return _networks.network_allocation_get(context, allocation_id,
                                            read_deleted=read_deleted)


def network_allocation_update(context, allocation_id, values,
                              read_deleted=None):
    """Update one allocation (a soft-deleted one too with ``read_deleted``); returns it reloaded."""
    return _networks.network_allocation_update(
        context, allocation_id, values, read_deleted=read_deleted)


def network_allocation_delete(context, allocation_id):
    """Soft-delete one allocation."""
    return _networks.network_allocations_delete(context, [allocation_id])


def network_allocations_delete(context, allocation_ids):
    """Soft-delete live allocations by id in one UPDATE; returns the count."""
    return _networks.network_allocations_delete(context, allocation_ids)


def network_allocations_delete_for_servers(context, server_ids, label=None):
    """Soft-delete the live allocations of servers in one UPDATE; returns the count."""
    return _networks.network_allocations_delete_for_servers(
        context, server_ids, label=label)


# -- transfers ----------------------------------------------------------------

def transfer_get_all_expired(context):
    """Live transfers whose ``expires_at`` has passed (one SELECT)."""
    return _transfers.transfer_get_all_expired(context)


def transfer_soft_delete_all(context, transfer_ids):
    """Soft-delete the live transfers among ``transfer_ids`` in one UPDATE; returns the count.

    Unlike upstream's transfer_destroy it leaves the shares alone: their
    status goes through the share state table.
    """
    return _transfers.transfer_soft_delete_all(context, transfer_ids)


# -- share groups and backups ------------------------------------------------

def share_group_update(context, share_group_id, values):
    """Update a share group (AZ name translated); returns it."""
    return _groups.share_group_update(context, share_group_id, values)


def share_group_snapshot_update(context, share_group_snapshot_id, values):
    """Update a share group snapshot; returns it."""
    return _groups.share_group_snapshot_update(
        context, share_group_snapshot_id, values)


def share_group_get(context, share_group_id):
    """A live share group with its share type mappings and zone; raises ShareGroupNotFound."""
    return _groups.share_group_get(context, share_group_id)


def share_group_get_all(context, filters=None):
    """Live share groups (one read); filters: host (pools too), status, id."""
    return _groups.share_group_get_all(context, filters=filters)


def share_group_conditional_update(context, share_group_id,
                                   expected_statuses, values):
    """``UPDATE ... WHERE id AND live AND status IN expected``; True if a row changed."""
    return _groups.share_group_conditional_update(
        context, share_group_id, expected_statuses, values)


def share_group_destroy(context, share_group_id):
    """Soft-delete a share group and its share type mappings (one transaction)."""
    _groups.share_group_destroy(context, share_group_id)


def share_group_snapshot_get(context, share_group_snapshot_id):
    """A live share group snapshot with its group; raises ShareGroupSnapshotNotFound."""
    return _groups.share_group_snapshot_get(context, share_group_snapshot_id)


def share_group_snapshot_get_all(context, filters=None):
    """Live share group snapshots (one read); filters: host (of the group), status, share_group_id."""
    return _groups.share_group_snapshot_get_all(context, filters=filters)


def share_group_snapshot_members_get_all(context, share_group_snapshot_id):
    """The members (snapshot instances, ``share`` = their share instance with share data) of a group snapshot."""
    return _snapshots.share_snapshot_instance_get_all_with_filters(
        context, {'share_group_snapshot_id': share_group_snapshot_id},
        with_share_data=True)


def share_group_snapshot_member_update(context, member_id, values):
    """Update one group snapshot member (a snapshot instance row)."""
    return _snapshots.share_snapshot_instance_update(context, member_id,
                                                     values)


def share_group_snapshot_conditional_update(context, share_group_snapshot_id,
                                            expected_statuses, values):
    """``UPDATE ... WHERE id AND live AND status IN expected``; True if a row changed."""
    return _groups.share_group_snapshot_conditional_update(
        context, share_group_snapshot_id, expected_statuses, values)


def share_group_snapshot_destroy(context, share_group_snapshot_id):
    """Soft-delete a share group snapshot and all its members (one transaction)."""
    _groups.share_group_snapshot_destroy(context, share_group_snapshot_id)


def share_backup_update(context, backup_id, values):
    """Update a share backup (AZ name translated); returns it."""
    return _groups.share_backup_update(context, backup_id, values)


def share_backup_create(context, share_id, values):
    """Insert a share backup row for ``share_id`` (id defaults to uuid4); returns it.

    What upstream's API writes before casting create_backup: user_id,
    project_id, status 'creating', progress/restore_progress '0', size,
    display_name/description, availability_zone (a name), backup_type,
    host ('H@B') and topic.
    """
    return _backups.share_backup_create(context, share_id, values)


def share_backup_get(context, backup_id):
    """A live share backup (AZ loaded); raises ShareBackupNotFound."""
    return _backups.share_backup_get(context, backup_id)


def share_backups_get_all(context, filters=None):
    """Live backups, newest first, in one SELECT.

    Exact filters (a list means IN): id, share_id, host, topic, status,
    project_id, display_name, display_description.
    """
    return _backups.share_backups_get_all(context, filters=filters)


def share_backup_conditional_update(context, backup_id, expected_statuses,
                                    values):
    """``UPDATE ... WHERE id AND live AND status IN expected``; True if it changed a row.

    The primitive behind the backup state machine; updated_at is set too.
    """
    return _backups.share_backup_conditional_update(
        context, backup_id, expected_statuses, values)


def share_backup_delete(context, backup_id):
    """Soft-delete a backup (status 'deleted'); raises ShareBackupNotFound."""
    _backups.share_backup_delete(context, backup_id)


# Every operation above is one transaction; it runs again when the database
# connection was lost ([database] db_max_retries and friends).
_retry.wrap_module_functions(globals(), skip=('get_engine', 'dispose_engine'))
