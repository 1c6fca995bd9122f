"""Our alembic history builds exactly the models' schema, and refuses databases it does not own."""

import os

from alembic import autogenerate
from alembic import migration as alembic_migration
import pytest
import sqlalchemy as sa

from manila_lite.db import api as db
from manila_lite.db import migration
from manila_lite.db.sqlalchemy import models
from manila_lite import exception
from tests.unit.db import helpers

# Where upstream's DDL differs between backends, we follow the MySQL DDL
# (schema.md appendix); upstream's PostgreSQL schema has NOT NULL here.
PG_ONLY_NOT_NULL = {
    ('security_services', 'project_id'),
    ('share_group_share_type_mappings', 'share_group_id'),
    ('share_group_snapshots', 'share_group_id'),
    ('share_networks', 'project_id'),
}


def _diff(url):
    eng = sa.create_engine(url)
    try:
        with eng.connect() as conn:
            ctx = alembic_migration.MigrationContext.configure(
                conn, opts={'compare_type': True,
                            'compare_server_default': True})
            diff = autogenerate.compare_metadata(ctx, models.Base.metadata)
            if eng.dialect.name == 'mysql':
                diff = [d for d in diff if not _mysql_boolean_default(d)]
            return diff
    finally:
        eng.dispose()


def _mysql_boolean_default(diff):
    """MySQL reflects a Boolean's server default false/true as '0'/'1' on a TINYINT: no drift."""
    if not isinstance(diff, list) or len(diff) != 1:
        return False
    change = diff[0]
    return (change[0] == 'modify_default' and
            'TINYINT' in str(change[4].get('existing_type')))


def test_models_match_migrations(synced_db):
    # Runs on SQLite, and on PostgreSQL when MANILA_LITE_TEST_PG_URL is set.
    assert _diff(synced_db) == []


def test_compare_detects_a_drift(synced_db):
    # The comparison itself must be able to see a difference.
    helpers.raw_execute('ALTER TABLE shares ADD COLUMN extra_col INTEGER')
    diff = _diff(synced_db)
    assert [d[0] for d in diff] == ['remove_column']


def test_every_appendix_table_is_modelled():
    expected = {
        'services', 'availability_zones', 'shares', 'share_instances',
        'share_instance_export_locations',
        'share_instance_export_locations_metadata', 'share_metadata',
        'share_instance_metadata', 'share_snapshots',
        'share_snapshot_instances',
        'share_snapshot_instance_export_locations', 'share_snapshot_metadata',
        'share_access_map', 'share_instance_access_map',
        'share_access_rules_metadata', 'share_snapshot_access_map',
        'share_snapshot_instance_access_map', 'share_types',
        'share_type_extra_specs', 'share_type_projects', 'share_networks',
        'share_network_subnets', 'share_network_subnet_metadata',
        'share_servers', 'share_server_backend_details',
        'share_server_share_network_subnet_mappings', 'network_allocations',
        'security_services', 'share_network_security_service_association',
        'share_groups', 'share_group_snapshots',
        'share_group_share_type_mappings', 'share_group_types',
        'share_group_type_specs', 'share_group_type_projects',
        'share_group_type_share_type_mappings', 'messages',
        'drivers_private_data', 'backend_info', 'async_operation_data',
        'quota_usages', 'reservations', 'quotas', 'quota_classes',
        'project_user_quotas', 'project_share_type_quotas', 'share_backups',
        'transfers', 'encryption_refs', 'resource_locks', 'qos_types',
        'qos_type_specs'}
    assert set(models.Base.metadata.tables) == expected


def test_appendix_columns(synced_db):
    """Spot checks of types and nullability against upstream's DDL."""
    insp = sa.inspect(db.get_engine())
    cols = {c['name']: c for c in insp.get_columns('share_instances')}
    assert cols['cast_rules_to_readonly']['nullable'] is False
    assert cols['access_rules_status']['type'].length == 255
    assert cols['progress']['type'].length == 32
    el = {c['name']: c for c in
          insp.get_columns('share_instance_export_locations')}
    assert isinstance(el['id']['type'], sa.Integer)
    assert el['path']['type'].length == 2000
    assert el['share_instance_id']['nullable'] is True
    specs = {c['name'] for c in insp.get_columns('share_type_extra_specs')}
    assert {'spec_key', 'spec_value'} <= specs
    svc = {c['name']: c for c in insp.get_columns('services')}
    assert svc['report_count']['nullable'] is False
    assert isinstance(svc['deleted']['type'], sa.Integer)
    access = {c['name']: c for c in insp.get_columns('share_access_map')}
    assert access['access_level']['type'].length == 2
    assert {u['name'] for u in insp.get_unique_constraints(
        'availability_zones')} == {'az_name_uc'}


def test_db_version_and_resync(synced_db):
    assert migration.db_version() == 'manila_lite_0001'
    assert migration.schema_owner() == 'manila_lite'
    migration.db_sync()  # already at head: a no-op
    assert helpers.raw_rows('SELECT version_num FROM alembic_version') == [
        {'version_num': 'manila_lite_0001'}]


def test_empty_database_has_no_version(db_url):
    assert migration.db_version() is None
    assert migration.schema_owner() is None


def test_foreign_revision_is_refused_untouched(db_url):
    helpers.raw_execute('CREATE TABLE alembic_version '
                        '(version_num VARCHAR(32) NOT NULL PRIMARY KEY)')
    helpers.raw_execute("INSERT INTO alembic_version VALUES ('afc3b5e1f406')")
    with pytest.raises(exception.DBSchemaNotOwned) as info:
        migration.db_sync()
    assert info.value.kwargs['revision'] == 'afc3b5e1f406'
    assert info.value.kwargs['owner'] == 'upstream manila'
    assert 'afc3b5e1f406' in str(info.value)
    assert sa.inspect(db.get_engine()).get_table_names() == [
        'alembic_version']
    assert migration.db_version() == 'afc3b5e1f406'
    assert migration.schema_owner() == 'upstream manila'


def test_tables_without_alembic_version_are_refused(db_url):
    helpers.raw_execute('CREATE TABLE shares (id VARCHAR(36))')
    with pytest.raises(exception.DBSchemaNotOwned):
        migration.db_sync()
    assert sa.inspect(db.get_engine()).get_table_names() == ['shares']


@pytest.mark.skipif(not os.environ.get('MANILA_LITE_TEST_UPSTREAM_DB_URL'),
                    reason='MANILA_LITE_TEST_UPSTREAM_DB_URL is not set')
def test_models_match_upstream_schema():
    """Against a database built by upstream's own ``manila-manage db sync``."""
    diff = _diff(os.environ['MANILA_LITE_TEST_UPSTREAM_DB_URL'])
    flat = [d for group in diff
            for d in (group if isinstance(group, list) else [group])]
    unexpected = [d for d in flat if not (
        d[0] == 'modify_nullable' and (d[2], d[3]) in PG_ONLY_NOT_NULL)]
    assert unexpected == []
