"""Initial schema: every table of upstream manila 23.0.1 (alembic head afc3b5e1f406).

Column names, types, lengths and nullability follow upstream's final DDL
(schema.md appendix, MySQL); constraint and index names are upstream's.
The only database-side defaults are the ones upstream's DDL has.

Revision ID: manila_lite_0001
Revises:
"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import mysql

revision = 'manila_lite_0001'
down_revision = None
branch_labels = None
depends_on = None

# created_at/updated_at/deleted_at are datetime(6) on MySQL.
TIMESTAMP = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), 'mysql')


def _soft_delete(deleted_type):
    """The soft-delete column and the three bookkeeping timestamps."""
    return [sa.Column('deleted', deleted_type, nullable=True),
            sa.Column('created_at', TIMESTAMP, nullable=True),
            sa.Column('updated_at', TIMESTAMP, nullable=True),
            sa.Column('deleted_at', TIMESTAMP, nullable=True)]


def upgrade():
    """Create the 52 tables in foreign-key order."""
    _async_operation_data()
    _availability_zones()
    _backend_info()
    _drivers_private_data()
    _messages()
    _project_user_quotas()
    _qos_types()
    _quota_classes()
    _quota_usages()
    _quotas()
    _resource_locks()
    _security_services()
    _share_group_types()
    _share_networks()
    _share_servers()
    _share_types()
    _transfers()
    _project_share_type_quotas()
    _qos_type_specs()
    _reservations()
    _services()
    _share_group_type_projects()
    _share_group_type_share_type_mappings()
    _share_group_type_specs()
    _share_groups()
    _share_network_security_service_association()
    _share_network_subnets()
    _share_server_backend_details()
    _share_type_extra_specs()
    _share_type_projects()
    _network_allocations()
    _share_group_share_type_mappings()
    _share_group_snapshots()
    _share_network_subnet_metadata()
    _share_server_share_network_subnet_mappings()
    _shares()
    _share_access_map()
    _share_backups()
    _share_instances()
    _share_metadata()
    _share_snapshots()
    _encryption_refs()
    _share_access_rules_metadata()
    _share_instance_access_map()
    _share_instance_export_locations()
    _share_instance_metadata()
    _share_snapshot_access_map()
    _share_snapshot_instances()
    _share_snapshot_metadata()
    _share_instance_export_locations_metadata()
    _share_snapshot_instance_access_map()
    _share_snapshot_instance_export_locations()


def _async_operation_data():
    op.create_table(
        'async_operation_data',
        sa.Column('entity_uuid', sa.String(length=36), nullable=False),
        sa.Column('key', sa.String(length=255), nullable=False),
        sa.Column('value', sa.String(length=1023), nullable=False),
        *_soft_delete(sa.Integer()),
        sa.PrimaryKeyConstraint('entity_uuid', 'key')
    )


def _availability_zones():
    op.create_table(
        'availability_zones',
        sa.Column('id', sa.String(length=36), nullable=False),
        sa.Column('name', sa.String(length=255), nullable=True),
        *_soft_delete(sa.String(length=36)),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('name', 'deleted', name='az_name_uc')
    )


def _backend_info():
    op.create_table(
        'backend_info',
        sa.Column('host', sa.String(length=255), nullable=False),
        sa.Column('info_hash', sa.String(length=255), nullable=False),
        *_soft_delete(sa.Integer()),
        sa.PrimaryKeyConstraint('host')
    )


def _drivers_private_data():
    op.create_table(
        'drivers_private_data',
        sa.Column('entity_uuid', sa.String(length=36), nullable=False),
        sa.Column('key', sa.String(length=255), nullable=False),
        sa.Column('value', sa.String(length=1023), nullable=False),
        *_soft_delete(sa.Integer()),
        sa.PrimaryKeyConstraint('entity_uuid', 'key')
    )


def _messages():
    op.create_table(
        'messages',
        sa.Column('id', sa.String(length=36), nullable=False),
        sa.Column('project_id', sa.String(length=255), nullable=False),
        sa.Column('request_id', sa.String(length=255), nullable=True),
        sa.Column('resource_type', sa.String(length=255), nullable=True),
        sa.Column('resource_id', sa.String(length=36), nullable=True),
        sa.Column('action_id', sa.String(length=10), nullable=False),
        sa.Column('detail_id', sa.String(length=10), nullable=True),
        sa.Column('message_level', sa.String(length=255), nullable=False),
        sa.Column('expires_at', sa.DateTime(), nullable=True),
        *_soft_delete(sa.String(length=36)),
        sa.PrimaryKeyConstraint('id')
    )


def _project_user_quotas():
    op.create_table(
        'project_user_quotas',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.String(length=255), nullable=False),
        sa.Column('project_id', sa.String(length=255), nullable=False),
        sa.Column('resource', sa.String(length=25), nullable=False),
        sa.Column('hard_limit', sa.Integer(), nullable=True),
        *_soft_delete(sa.Integer()),
        sa.PrimaryKeyConstraint('id')
    )


def _qos_types():
    op.create_table(
        'qos_types',
        sa.Column('id', sa.String(length=36), nullable=False),
        sa.Column('name', sa.String(length=255), nullable=True),
        sa.Column('description', sa.String(length=255), nullable=True),
        *_soft_delete(sa.String(length=36)),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('name', 'deleted', name='uc_qos_type_name')
    )


def _quota_classes():
    op.create_table(
        'quota_classes',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('class_name', sa.String(length=255), nullable=True),
        sa.Column('resource', sa.String(length=255), nullable=True),
        sa.Column('hard_limit', sa.Integer(), nullable=True),
        *_soft_delete(sa.Integer()),
        sa.PrimaryKeyConstraint('id')
    )
    op.create_index(
        'ix_quota_classes_class_name', 'quota_classes', ['class_name'])


def _quota_usages():
    op.create_table(
        'quota_usages',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('project_id', sa.String(length=255), nullable=True),
        sa.Column('user_id', sa.String(length=255), nullable=True),
        sa.Column('share_type_id', sa.String(length=36), nullable=True),
        sa.Column('resource', sa.String(length=255), nullable=True),
        sa.Column('in_use', sa.Integer(), nullable=False),
        sa.Column('reserved', sa.Integer(), nullable=False),
        sa.Column('until_refresh', sa.Integer(), nullable=True),
        *_soft_delete(sa.Integer()),
        sa.PrimaryKeyConstraint('id')
    )
    op.create_index(
        'ix_quota_usages_project_id', 'quota_usages', ['project_id'])


def _quotas():
    op.create_table(
        'quotas',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('project_id', sa.String(length=255), nullable=True),
        sa.Column('resource', sa.String(length=255), nullable=False),
        sa.Column('hard_limit', sa.Integer(), nullable=True),
        *_soft_delete(sa.Integer()),
        sa.PrimaryKeyConstraint('id')
    )


def _resource_locks():
    op.create_table(
        'resource_locks',
        sa.Column('id', sa.String(length=36), nullable=False),
        sa.Column('user_id', sa.String(length=255), nullable=False),
        sa.Column('project_id', sa.String(length=255), nullable=False),
        sa.Column('lock_context', sa.String(length=16), nullable=False),
        sa.Column('resource_id', sa.String(length=36), nullable=False),
        sa.Column('resource_type', sa.String(length=255), nullable=False),
        sa.Column('resource_action', sa.String(length=255), nullable=True),
        sa.Column('lock_reason', sa.String(length=1023), nullable=True),
        *_soft_delete(sa.String(length=36)),
        sa.PrimaryKeyConstraint('id')
    )


def _security_services():
    op.create_table(
        'security_services',
        sa.Column('id', sa.String(length=36), nullable=False),
        sa.Column('project_id', sa.String(length=255), nullable=True),
        sa.Column('type', sa.String(length=32), nullable=False),
        sa.Column('dns_ip', sa.String(length=64), nullable=True),
        sa.Column('server', sa.String(length=255), nullable=True),
        sa.Column('domain', sa.String(length=255), nullable=True),
        sa.Column('user', sa.String(length=255), nullable=True),
        sa.Column('password', sa.String(length=255), nullable=True),
        sa.Column('name', sa.String(length=255), nullable=True),
        sa.Column('description', sa.String(length=255), nullable=True),
        sa.Column('ou', sa.String(length=255), nullable=True),
        sa.Column('default_ad_site', sa.String(length=255), nullable=True),
        *_soft_delete(sa.String(length=36)),
        sa.PrimaryKeyConstraint('id')
    )


def _share_group_types():
    op.create_table(
        'share_group_types',
        sa.Column('id', sa.String(length=36), nullable=False),
        sa.Column('name', sa.String(length=255), nullable=True),
        sa.Column('is_public', sa.Boolean(), nullable=True),
        *_soft_delete(sa.String(length=36)),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint(
            'name', 'deleted', name='uniq_share_group_type_name')
    )


def _share_networks():
    op.create_table(
        'share_networks',
        sa.Column('id', sa.String(length=36), nullable=False),
        sa.Column('project_id', sa.String(length=255), nullable=True),
        sa.Column('user_id', sa.String(length=255), nullable=True),
        sa.Column('name', sa.String(length=255), nullable=True),
        sa.Column('description', sa.String(length=255), nullable=True),
        sa.Column('status', sa.String(length=36), server_default='active',
                  nullable=False),
        *_soft_delete(sa.String(length=36)),
        sa.PrimaryKeyConstraint('id')
    )


def _share_servers():
    op.create_table(
        'share_servers',
        sa.Column('id', sa.String(length=36), nullable=False),
        sa.Column('host', sa.String(length=255), nullable=True),
        sa.Column('status', sa.String(length=32), nullable=True),
        sa.Column('is_auto_deletable', sa.Boolean(), nullable=True),
        sa.Column('identifier', sa.String(length=255), nullable=True),
        sa.Column('task_state', sa.String(length=255), nullable=True),
        sa.Column(
            'source_share_server_id', sa.String(length=36), nullable=True),
        sa.Column('security_service_update_support', sa.Boolean(),
                  server_default=sa.false(), nullable=False),
        sa.Column('network_allocation_update_support', sa.Boolean(),
                  server_default=sa.false(), nullable=False),
        sa.Column('share_replicas_migration_support', sa.Boolean(),
                  server_default=sa.false(), nullable=False),
        sa.Column('encryption_key_ref', sa.String(length=36), nullable=True),
        sa.Column(
            'application_credential_id', sa.String(length=36), nullable=True),
        *_soft_delete(sa.String(length=36)),
        sa.ForeignKeyConstraint(
            ['source_share_server_id'], ['share_servers.id'],
            name='fk_share_servers_source_share_server_id'),
        sa.PrimaryKeyConstraint('id')
    )


def _share_types():
    op.create_table(
        'share_types',
        sa.Column('id', sa.String(length=36), nullable=False),
        sa.Column('name', sa.String(length=255), nullable=True),
        sa.Column('description', sa.String(length=255), nullable=True),
        sa.Column('is_public', sa.Boolean(), nullable=True),
        *_soft_delete(sa.String(length=36)),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('name', 'deleted', name='st_name_uc')
    )


def _transfers():
    op.create_table(
        'transfers',
        sa.Column('id', sa.String(length=36), nullable=False),
        sa.Column('resource_type', sa.String(length=255), nullable=False),
        sa.Column('resource_id', sa.String(length=36), nullable=False),
        sa.Column('display_name', sa.String(length=255), nullable=True),
        sa.Column('salt', sa.String(length=255), nullable=True),
        sa.Column('crypt_hash', sa.String(length=255), nullable=True),
        sa.Column('expires_at', TIMESTAMP, nullable=True),
        sa.Column('source_project_id', sa.String(length=255), nullable=True),
        sa.Column(
            'destination_project_id', sa.String(length=255), nullable=True),
        sa.Column('accepted', sa.Boolean(), nullable=True),
        *_soft_delete(sa.String(length=36)),
        sa.PrimaryKeyConstraint('id')
    )


def _project_share_type_quotas():
    op.create_table(
        'project_share_type_quotas',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('project_id', sa.String(length=255), nullable=True),
        sa.Column('share_type_id', sa.String(length=36), nullable=False),
        sa.Column('resource', sa.String(length=255), nullable=False),
        sa.Column('hard_limit', sa.Integer(), nullable=True),
        *_soft_delete(sa.Integer()),
        sa.ForeignKeyConstraint(
            ['share_type_id'], ['share_types.id'], name='share_type_id_fk'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint(
            'share_type_id', 'resource', 'deleted', 'project_id',
            name='uc_quotas_per_share_types')
    )


def _qos_type_specs():
    op.create_table(
        'qos_type_specs',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('qos_type_id', sa.String(length=36), nullable=True),
        sa.Column('key', sa.String(length=255), nullable=True),
        sa.Column('value', sa.String(length=255), nullable=True),
        *_soft_delete(sa.String(length=36)),
        sa.ForeignKeyConstraint(
            ['qos_type_id'], ['qos_types.id'], name='qos_type_specs_ibfk_1'),
        sa.PrimaryKeyConstraint('id')
    )


def _reservations():
    op.create_table(
        'reservations',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('uuid', sa.String(length=36), nullable=False),
        sa.Column('usage_id', sa.Integer(), nullable=False),
        sa.Column('project_id', sa.String(length=255), nullable=True),
        sa.Column('user_id', sa.String(length=255), nullable=True),
        sa.Column('share_type_id', sa.String(length=36), nullable=True),
        sa.Column('resource', sa.String(length=255), nullable=True),
        sa.Column('delta', sa.Integer(), nullable=False),
        sa.Column('expire', sa.DateTime(), nullable=True),
        *_soft_delete(sa.Integer()),
        sa.ForeignKeyConstraint(['usage_id'], ['quota_usages.id']),
        sa.PrimaryKeyConstraint('id')
    )
    op.create_index(
        'ix_reservations_project_id', 'reservations', ['project_id'])
    op.create_index('reservations_deleted_expire_idx', 'reservations',
                    ['deleted', 'expire'])


def _services():
    op.create_table(
        'services',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('host', sa.String(length=255), nullable=True),
        sa.Column('binary', sa.String(length=255), nullable=True),
        sa.Column('topic', sa.String(length=255), nullable=True),
        sa.Column('state', sa.String(length=36), nullable=True),
        sa.Column('report_count', sa.Integer(), nullable=False),
        sa.Column('disabled', sa.Boolean(), nullable=True),
        sa.Column('disabled_reason', sa.String(length=255), nullable=True),
        sa.Column('availability_zone_id', sa.String(length=36), nullable=True),
        sa.Column('ensuring', sa.Boolean(), server_default=sa.false(),
                  nullable=False),
        *_soft_delete(sa.Integer()),
        sa.ForeignKeyConstraint(
            ['availability_zone_id'], ['availability_zones.id'],
            name='service_az_id_fk'),
        sa.PrimaryKeyConstraint('id')
    )


def _share_group_type_projects():
    op.create_table(
        'share_group_type_projects',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('share_group_type_id', sa.String(length=36), nullable=True),
        sa.Column('project_id', sa.String(length=255), nullable=True),
        *_soft_delete(sa.Integer()),
        sa.ForeignKeyConstraint(
            ['share_group_type_id'], ['share_group_types.id'],
            name='sgtp_id_fk'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('share_group_type_id', 'project_id', 'deleted',
                            name='sgtp_project_id_uc')
    )


def _share_group_type_share_type_mappings():
    op.create_table(
        'share_group_type_share_type_mappings',
        sa.Column('id', sa.String(length=36), nullable=False),
        sa.Column('share_group_type_id', sa.String(length=36), nullable=False),
        sa.Column('share_type_id', sa.String(length=36), nullable=False),
        *_soft_delete(sa.String(length=36)),
        sa.ForeignKeyConstraint(
            ['share_group_type_id'], ['share_group_types.id'],
            name='sgtp_id_sgt_id_uc'),
        sa.ForeignKeyConstraint(
            ['share_type_id'], ['share_types.id'], name='sgtp_id_st_id_uc'),
        sa.PrimaryKeyConstraint('id')
    )


def _share_group_type_specs():
    op.create_table(
        'share_group_type_specs',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('share_group_type_id', sa.String(length=36), nullable=True),
        sa.Column('spec_key', sa.String(length=255), nullable=True),
        sa.Column('spec_value', sa.String(length=255), nullable=True),
        *_soft_delete(sa.Integer()),
        sa.ForeignKeyConstraint(
            ['share_group_type_id'], ['share_group_types.id'],
            name='sgtp_id_extra_specs_fk'),
        sa.PrimaryKeyConstraint('id')
    )


def _share_groups():
    op.create_table(
        'share_groups',
        sa.Column('id', sa.String(length=36), nullable=False),
        sa.Column('user_id', sa.String(length=255), nullable=False),
        sa.Column('project_id', sa.String(length=255), nullable=False),
        sa.Column('host', sa.String(length=255), nullable=True),
        sa.Column('name', sa.String(length=255), nullable=True),
        sa.Column('description', sa.String(length=255), nullable=True),
        sa.Column('status', sa.String(length=255), nullable=True),
        sa.Column('source_share_group_snapshot_id', sa.String(length=36),
                  nullable=True),
        sa.Column('share_network_id', sa.String(length=36), nullable=True),
        sa.Column('share_server_id', sa.String(length=36), nullable=True),
        sa.Column('share_group_type_id', sa.String(length=36), nullable=True),
        sa.Column('consistent_snapshot_support',
                  sa.Enum('pool', 'host', name='consistent_snapshot_support'),
                  nullable=True),
        sa.Column('availability_zone_id', sa.String(length=36), nullable=True),
        *_soft_delete(sa.String(length=36)),
        sa.ForeignKeyConstraint(
            ['share_group_type_id'], ['share_group_types.id'],
            name='sgt_id_sg_id_uc'),
        sa.ForeignKeyConstraint(
            ['share_network_id'], ['share_networks.id'],
            name='fk_share_group_share_network_id'),
        sa.ForeignKeyConstraint(
            ['share_server_id'], ['share_servers.id'],
            name='fk_share_group_share_server_id'),
        sa.PrimaryKeyConstraint('id')
    )


def _share_network_security_service_association():
    op.create_table(
        'share_network_security_service_association',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('share_network_id', sa.String(length=36), nullable=False),
        sa.Column('security_service_id', sa.String(length=36), nullable=False),
        *_soft_delete(sa.Integer()),
        sa.ForeignKeyConstraint(
            ['security_service_id'], ['security_services.id']),
        sa.ForeignKeyConstraint(['share_network_id'], ['share_networks.id']),
        sa.PrimaryKeyConstraint('id')
    )


def _share_network_subnets():
    op.create_table(
        'share_network_subnets',
        sa.Column('id', sa.String(length=36), nullable=False),
        sa.Column('neutron_net_id', sa.String(length=36), nullable=True),
        sa.Column('neutron_subnet_id', sa.String(length=36), nullable=True),
        sa.Column('network_type', sa.String(length=32), nullable=True),
        sa.Column('cidr', sa.String(length=64), nullable=True),
        sa.Column('segmentation_id', sa.Integer(), nullable=True),
        sa.Column('gateway', sa.String(length=64), nullable=True),
        sa.Column('mtu', sa.Integer(), nullable=True),
        sa.Column('share_network_id', sa.String(length=36), nullable=True),
        sa.Column('ip_version', sa.Integer(), nullable=True),
        sa.Column('availability_zone_id', sa.String(length=36), nullable=True),
        *_soft_delete(sa.String(length=36)),
        sa.ForeignKeyConstraint(
            ['availability_zone_id'], ['availability_zones.id'],
            name=('fk_share_network_subnets_availaility_zone_id_'
                  'availability_zones')),
        sa.ForeignKeyConstraint(
            ['share_network_id'], ['share_networks.id'],
            name='fk_share_network_subnets_share_network_id_share_networks'),
        sa.PrimaryKeyConstraint('id')
    )


def _share_server_backend_details():
    op.create_table(
        'share_server_backend_details',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('share_server_id', sa.String(length=36), nullable=False),
        sa.Column('key', sa.String(length=255), nullable=False),
        sa.Column('value', sa.String(length=1023), nullable=False),
        *_soft_delete(sa.String(length=36)),
        sa.ForeignKeyConstraint(['share_server_id'], ['share_servers.id']),
        sa.PrimaryKeyConstraint('id')
    )


def _share_type_extra_specs():
    op.create_table(
        'share_type_extra_specs',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('share_type_id', sa.String(length=36), nullable=False),
        sa.Column('spec_key', sa.String(length=255), nullable=True),
        sa.Column('spec_value', sa.String(length=255), nullable=True),
        *_soft_delete(sa.Integer()),
        sa.ForeignKeyConstraint(
            ['share_type_id'], ['share_types.id'], name='st_id_fk'),
        sa.PrimaryKeyConstraint('id')
    )


def _share_type_projects():
    op.create_table(
        'share_type_projects',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('share_type_id', sa.String(length=36), nullable=True),
        sa.Column('project_id', sa.String(length=255), nullable=True),
        *_soft_delete(sa.Integer()),
        sa.ForeignKeyConstraint(
            ['share_type_id'], ['share_types.id'], name='stp_id_fk'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint(
            'share_type_id', 'project_id', 'deleted', name='stp_project_id_uc')
    )


def _network_allocations():
    op.create_table(
        'network_allocations',
        sa.Column('id', sa.String(length=36), nullable=False),
        sa.Column('label', sa.String(length=255), server_default='user',
                  nullable=True),
        sa.Column('ip_address', sa.String(length=64), nullable=True),
        sa.Column('ip_version', sa.Integer(), nullable=True),
        sa.Column('cidr', sa.String(length=64), nullable=True),
        sa.Column('gateway', sa.String(length=64), nullable=True),
        sa.Column('mtu', sa.Integer(), nullable=True),
        sa.Column('network_type', sa.String(length=32), nullable=True),
        sa.Column('segmentation_id', sa.Integer(), nullable=True),
        sa.Column('mac_address', sa.String(length=32), nullable=True),
        sa.Column('share_server_id', sa.String(length=36), nullable=False),
        sa.Column(
            'share_network_subnet_id', sa.String(length=36), nullable=True),
        *_soft_delete(sa.String(length=36)),
        sa.ForeignKeyConstraint(
            ['share_network_subnet_id'], ['share_network_subnets.id'],
            name='fk_network_allocation_subnet_id_share_network_subnets'),
        sa.ForeignKeyConstraint(['share_server_id'], ['share_servers.id']),
        sa.PrimaryKeyConstraint('id')
    )


def _share_group_share_type_mappings():
    op.create_table(
        'share_group_share_type_mappings',
        sa.Column('id', sa.String(length=36), nullable=False),
        sa.Column('share_group_id', sa.String(length=36), nullable=True),
        sa.Column('share_type_id', sa.String(length=36), nullable=False),
        *_soft_delete(sa.String(length=36)),
        sa.ForeignKeyConstraint(
            ['share_group_id'], ['share_groups.id'],
            name='fk_sgstm_share_group_id'),
        sa.ForeignKeyConstraint(
            ['share_type_id'], ['share_types.id'],
            name='fk_sgstm_share_type_id'),
        sa.PrimaryKeyConstraint('id')
    )


def _share_group_snapshots():
    op.create_table(
        'share_group_snapshots',
        sa.Column('id', sa.String(length=36), nullable=False),
        sa.Column('share_group_id', sa.String(length=36), nullable=True),
        sa.Column('user_id', sa.String(length=255), nullable=False),
        sa.Column('project_id', sa.String(length=255), nullable=False),
        sa.Column('name', sa.String(length=255), nullable=True),
        sa.Column('description', sa.String(length=255), nullable=True),
        sa.Column('status', sa.String(length=255), nullable=True),
        *_soft_delete(sa.String(length=36)),
        sa.ForeignKeyConstraint(
            ['share_group_id'], ['share_groups.id'],
            name='fk_share_group_snapshots_share_group_id'),
        sa.PrimaryKeyConstraint('id')
    )


def _share_network_subnet_metadata():
    op.create_table(
        'share_network_subnet_metadata',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column(
            'share_network_subnet_id', sa.String(length=36), nullable=False),
        sa.Column('key', sa.String(length=255), nullable=False),
        sa.Column('value', sa.String(length=1023), nullable=False),
        *_soft_delete(sa.String(length=36)),
        sa.ForeignKeyConstraint(
            ['share_network_subnet_id'], ['share_network_subnets.id']),
        sa.PrimaryKeyConstraint('id')
    )


def _share_server_share_network_subnet_mappings():
    op.create_table(
        'share_server_share_network_subnet_mappings',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('share_server_id', sa.String(length=36), nullable=False),
        sa.Column(
            'share_network_subnet_id', sa.String(length=36), nullable=False),
        *_soft_delete(sa.Integer()),
        sa.ForeignKeyConstraint(
            ['share_network_subnet_id'], ['share_network_subnets.id'],
            name='fk_ss_sns_m_share_network_subnet_id_share_network_subnets'),
        sa.ForeignKeyConstraint(
            ['share_server_id'], ['share_servers.id'],
            name='fk_ss_sns_m_share_server_id_share_servers'),
        sa.PrimaryKeyConstraint('id')
    )


def _shares():
    op.create_table(
        'shares',
        sa.Column('id', sa.String(length=36), nullable=False),
        sa.Column('user_id', sa.String(length=255), nullable=True),
        sa.Column('project_id', sa.String(length=255), nullable=True),
        sa.Column('size', sa.Integer(), nullable=True),
        sa.Column('display_name', sa.String(length=255), nullable=True),
        sa.Column('display_description', sa.String(length=255), nullable=True),
        sa.Column('snapshot_id', sa.String(length=36), nullable=True),
        sa.Column('source_backup_id', sa.String(length=36), nullable=True),
        sa.Column('share_proto', sa.String(length=255), nullable=True),
        sa.Column('is_public', sa.Boolean(), nullable=True),
        sa.Column('snapshot_support', sa.Boolean(), nullable=True),
        sa.Column(
            'create_share_from_snapshot_support', sa.Boolean(), nullable=True),
        sa.Column('revert_to_snapshot_support', sa.Boolean(), nullable=True),
        sa.Column('mount_snapshot_support', sa.Boolean(), nullable=True),
        sa.Column('snapshot_inherit_share_access_support', sa.Boolean(),
                  server_default=sa.false(), nullable=False),
        sa.Column('replication_type', sa.String(length=255), nullable=True),
        sa.Column('share_group_id', sa.String(length=36), nullable=True),
        sa.Column(
            'source_share_group_snapshot_member_id', sa.String(length=36),
            nullable=True),
        sa.Column('task_state', sa.String(length=255), nullable=True),
        sa.Column('is_soft_deleted', sa.Boolean(), server_default=sa.false(),
                  nullable=False),
        sa.Column('scheduled_to_be_deleted_at', sa.DateTime(), nullable=True),
        *_soft_delete(sa.String(length=36)),
        sa.ForeignKeyConstraint(
            ['share_group_id'], ['share_groups.id'],
            name='fk_shares_share_group_id'),
        sa.PrimaryKeyConstraint('id')
    )


def _share_access_map():
    op.create_table(
        'share_access_map',
        sa.Column('id', sa.String(length=36), nullable=False),
        sa.Column('share_id', sa.String(length=36), nullable=False),
        sa.Column('access_type', sa.String(length=255), nullable=True),
        sa.Column('access_to', sa.String(length=255), nullable=True),
        sa.Column('access_key', sa.String(length=255), nullable=True),
        sa.Column('access_level', sa.String(length=2), nullable=True),
        *_soft_delete(sa.String(length=36)),
        sa.ForeignKeyConstraint(['share_id'], ['shares.id']),
        sa.PrimaryKeyConstraint('id')
    )


def _share_backups():
    op.create_table(
        'share_backups',
        sa.Column('created_at', sa.DateTime(), nullable=True),
        sa.Column('updated_at', sa.DateTime(), nullable=True),
        sa.Column('deleted_at', sa.DateTime(), nullable=True),
        sa.Column('id', sa.String(length=36), nullable=False),
        sa.Column('user_id', sa.String(length=255), nullable=True),
        sa.Column('project_id', sa.String(length=255), nullable=True),
        sa.Column('share_id', sa.String(length=36), nullable=True),
        sa.Column('size', sa.Integer(), nullable=True),
        sa.Column('host', sa.String(length=255), nullable=True),
        sa.Column('topic', sa.String(length=255), nullable=True),
        sa.Column('display_name', sa.String(length=255), nullable=True),
        sa.Column('display_description', sa.String(length=255), nullable=True),
        sa.Column('progress', sa.String(length=32), nullable=True),
        sa.Column('restore_progress', sa.String(length=32), nullable=True),
        sa.Column('status', sa.String(length=255), nullable=True),
        sa.Column('fail_reason', sa.String(length=255), nullable=True),
        sa.Column('backup_type', sa.String(length=32), nullable=True),
        sa.Column('availability_zone_id', sa.String(length=36), nullable=True),
        sa.Column('deleted', sa.String(length=36), nullable=True),
        sa.ForeignKeyConstraint(
            ['availability_zone_id'], ['availability_zones.id'],
            name='sb_az_id_fk'),
        sa.ForeignKeyConstraint(
            ['share_id'], ['shares.id'], name='fk_backups_share_id_shares'),
        sa.PrimaryKeyConstraint('id')
    )


def _share_instances():
    op.create_table(
        'share_instances',
        sa.Column('id', sa.String(length=36), nullable=False),
        sa.Column('share_id', sa.String(length=36), nullable=True),
        sa.Column('host', sa.String(length=255), nullable=True),
        sa.Column('status', sa.String(length=255), nullable=True),
        sa.Column('progress', sa.String(length=32), nullable=True),
        sa.Column('scheduled_at', sa.DateTime(), nullable=True),
        sa.Column('launched_at', sa.DateTime(), nullable=True),
        sa.Column('terminated_at', sa.DateTime(), nullable=True),
        sa.Column('share_network_id', sa.String(length=36), nullable=True),
        sa.Column('share_server_id', sa.String(length=36), nullable=True),
        sa.Column('availability_zone_id', sa.String(length=36), nullable=True),
        sa.Column('access_rules_status', sa.String(length=255), nullable=True),
        sa.Column('replica_state', sa.String(length=255), nullable=True),
        sa.Column('share_type_id', sa.String(length=36), nullable=True),
        sa.Column('cast_rules_to_readonly', sa.Boolean(), nullable=False),
        sa.Column('mount_point_name', sa.String(length=255), nullable=True),
        sa.Column('encryption_key_ref', sa.String(length=36), nullable=True),
        sa.Column('qos_type_id', sa.String(length=36), nullable=True),
        *_soft_delete(sa.String(length=36)),
        sa.ForeignKeyConstraint(
            ['availability_zone_id'], ['availability_zones.id'],
            name='si_az_id_fk'),
        sa.ForeignKeyConstraint(
            ['qos_type_id'], ['qos_types.id'], name='qt_id_fk'),
        sa.ForeignKeyConstraint(
            ['share_id'], ['shares.id'], name='si_share_fk'),
        sa.ForeignKeyConstraint(
            ['share_network_id'], ['share_networks.id'],
            name='si_share_network_fk'),
        sa.ForeignKeyConstraint(
            ['share_server_id'], ['share_servers.id'],
            name='si_share_server_fk'),
        sa.ForeignKeyConstraint(
            ['share_type_id'], ['share_types.id'], name='si_st_id_fk'),
        sa.PrimaryKeyConstraint('id')
    )
    op.create_index(
        'share_instances_share_id_idx', 'share_instances', ['share_id'])


def _share_metadata():
    op.create_table(
        'share_metadata',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('share_id', sa.String(length=36), nullable=False),
        sa.Column('key', sa.String(length=255), nullable=False),
        sa.Column('value', sa.String(length=1023), nullable=False),
        *_soft_delete(sa.Integer()),
        sa.ForeignKeyConstraint(['share_id'], ['shares.id']),
        sa.PrimaryKeyConstraint('id')
    )


def _share_snapshots():
    op.create_table(
        'share_snapshots',
        sa.Column('id', sa.String(length=36), nullable=False),
        sa.Column('user_id', sa.String(length=255), nullable=True),
        sa.Column('project_id', sa.String(length=255), nullable=True),
        sa.Column('share_id', sa.String(length=36), nullable=False),
        sa.Column('size', sa.Integer(), nullable=True),
        sa.Column('display_name', sa.String(length=255), nullable=True),
        sa.Column('display_description', sa.String(length=255), nullable=True),
        sa.Column('share_size', sa.Integer(), nullable=True),
        sa.Column('share_proto', sa.String(length=255), nullable=True),
        *_soft_delete(sa.String(length=36)),
        sa.ForeignKeyConstraint(['share_id'], ['shares.id']),
        sa.PrimaryKeyConstraint('id')
    )


def _encryption_refs():
    op.create_table(
        'encryption_refs',
        sa.Column('id', sa.String(length=36), nullable=False),
        sa.Column('share_server_id', sa.String(length=36), nullable=True),
        sa.Column('share_instance_id', sa.String(length=36), nullable=True),
        sa.Column('encryption_key_ref', sa.String(length=36), nullable=True),
        sa.Column('project_id', sa.String(length=255), nullable=False),
        *_soft_delete(sa.String(length=36)),
        sa.ForeignKeyConstraint(['share_instance_id'], ['share_instances.id']),
        sa.ForeignKeyConstraint(['share_server_id'], ['share_servers.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('share_instance_id'),
        sa.UniqueConstraint('share_server_id')
    )


def _share_access_rules_metadata():
    op.create_table(
        'share_access_rules_metadata',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('access_id', sa.String(length=36), nullable=False),
        sa.Column('key', sa.String(length=255), nullable=False),
        sa.Column('value', sa.String(length=1023), nullable=False),
        *_soft_delete(sa.String(length=36)),
        sa.ForeignKeyConstraint(['access_id'], ['share_access_map.id']),
        sa.PrimaryKeyConstraint('id')
    )


def _share_instance_access_map():
    op.create_table(
        'share_instance_access_map',
        sa.Column('id', sa.String(length=36), nullable=False),
        sa.Column('share_instance_id', sa.String(length=36), nullable=True),
        sa.Column('access_id', sa.String(length=36), nullable=True),
        sa.Column('state', sa.String(length=255), nullable=True),
        *_soft_delete(sa.String(length=36)),
        sa.ForeignKeyConstraint(
            ['access_id'], ['share_access_map.id'], name='siam_access_fk'),
        sa.ForeignKeyConstraint(
            ['share_instance_id'], ['share_instances.id'],
            name='siam_instance_fk'),
        sa.PrimaryKeyConstraint('id')
    )


def _share_instance_export_locations():
    op.create_table(
        'share_instance_export_locations',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('uuid', sa.String(length=36), nullable=False),
        sa.Column('share_instance_id', sa.String(length=36), nullable=True),
        sa.Column('path', sa.String(length=2000), nullable=True),
        sa.Column('is_admin_only', sa.Boolean(), nullable=True),
        *_soft_delete(sa.Integer()),
        sa.ForeignKeyConstraint(
            ['share_instance_id'], ['share_instances.id'],
            name='sel_instance_id_fk'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('uuid')
    )


def _share_instance_metadata():
    op.create_table(
        'share_instance_metadata',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('share_instance_id', sa.String(length=36), nullable=False),
        sa.Column('key', sa.String(length=255), nullable=False),
        sa.Column('value', sa.String(length=1023), nullable=False),
        *_soft_delete(sa.String(length=36)),
        sa.ForeignKeyConstraint(['share_instance_id'], ['share_instances.id']),
        sa.PrimaryKeyConstraint('id')
    )


def _share_snapshot_access_map():
    op.create_table(
        'share_snapshot_access_map',
        sa.Column('id', sa.String(length=36), nullable=False),
        sa.Column('share_snapshot_id', sa.String(length=36), nullable=True),
        sa.Column('access_type', sa.String(length=255), nullable=True),
        sa.Column('access_to', sa.String(length=255), nullable=True),
        *_soft_delete(sa.String(length=36)),
        sa.ForeignKeyConstraint(
            ['share_snapshot_id'], ['share_snapshots.id'],
            name='ssam_snapshot_fk'),
        sa.PrimaryKeyConstraint('id')
    )


def _share_snapshot_instances():
    op.create_table(
        'share_snapshot_instances',
        sa.Column('id', sa.String(length=36), nullable=False),
        sa.Column('snapshot_id', sa.String(length=36), nullable=True),
        sa.Column('share_instance_id', sa.String(length=36), nullable=True),
        sa.Column('status', sa.String(length=255), nullable=True),
        sa.Column('progress', sa.String(length=255), nullable=True),
        sa.Column('provider_location', sa.String(length=255), nullable=True),
        sa.Column('share_proto', sa.String(length=255), nullable=True),
        sa.Column('size', sa.Integer(), nullable=True),
        sa.Column(
            'share_group_snapshot_id', sa.String(length=36), nullable=True),
        sa.Column('user_id', sa.String(length=255), nullable=True),
        sa.Column('project_id', sa.String(length=255), nullable=True),
        *_soft_delete(sa.String(length=36)),
        sa.ForeignKeyConstraint(
            ['share_instance_id'], ['share_instances.id'],
            name='ssi_share_instance_fk'),
        sa.PrimaryKeyConstraint('id')
    )


def _share_snapshot_metadata():
    op.create_table(
        'share_snapshot_metadata',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('share_snapshot_id', sa.String(length=36), nullable=False),
        sa.Column('key', sa.String(length=255), nullable=False),
        sa.Column('value', sa.String(length=1023), nullable=False),
        *_soft_delete(sa.String(length=36)),
        sa.ForeignKeyConstraint(['share_snapshot_id'], ['share_snapshots.id']),
        sa.PrimaryKeyConstraint('id')
    )


def _share_instance_export_locations_metadata():
    op.create_table(
        'share_instance_export_locations_metadata',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('export_location_id', sa.Integer(), nullable=False),
        sa.Column('key', sa.String(length=255), nullable=False),
        sa.Column('value', sa.String(length=1023), nullable=False),
        *_soft_delete(sa.Integer()),
        sa.ForeignKeyConstraint(
            ['export_location_id'], ['share_instance_export_locations.id'],
            name='elm_id_fk'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint(
            'export_location_id', 'key', 'deleted', name='elm_el_id_uc')
    )


def _share_snapshot_instance_access_map():
    op.create_table(
        'share_snapshot_instance_access_map',
        sa.Column('id', sa.String(length=36), nullable=False),
        sa.Column(
            'share_snapshot_instance_id', sa.String(length=36), nullable=True),
        sa.Column('access_id', sa.String(length=36), nullable=True),
        sa.Column('state', sa.String(length=255), nullable=True),
        *_soft_delete(sa.String(length=36)),
        sa.ForeignKeyConstraint(
            ['access_id'], ['share_snapshot_access_map.id'],
            name='ssam_access_fk'),
        sa.ForeignKeyConstraint(
            ['share_snapshot_instance_id'], ['share_snapshot_instances.id'],
            name='ssiam_snapshot_instance_fk'),
        sa.PrimaryKeyConstraint('id')
    )


def _share_snapshot_instance_export_locations():
    op.create_table(
        'share_snapshot_instance_export_locations',
        sa.Column('id', sa.String(length=36), nullable=False),
        sa.Column(
            'share_snapshot_instance_id', sa.String(length=36), nullable=True),
        sa.Column('path', sa.String(length=2000), nullable=True),
        sa.Column('is_admin_only', sa.Boolean(), nullable=False),
        *_soft_delete(sa.String(length=36)),
        sa.ForeignKeyConstraint(
            ['share_snapshot_instance_id'], ['share_snapshot_instances.id'],
            name='ssiel_snapshot_instance_fk'),
        sa.PrimaryKeyConstraint('id')
    )


def downgrade():
    for table in reversed(_TABLES):
        op.drop_table(table)
    sa.Enum(name='consistent_snapshot_support').drop(op.get_bind(),
                                                     checkfirst=True)


_TABLES = [
    'async_operation_data',
    'availability_zones',
    'backend_info',
    'drivers_private_data',
    'messages',
    'project_user_quotas',
    'qos_types',
    'quota_classes',
    'quota_usages',
    'quotas',
    'resource_locks',
    'security_services',
    'share_group_types',
    'share_networks',
    'share_servers',
    'share_types',
    'transfers',
    'project_share_type_quotas',
    'qos_type_specs',
    'reservations',
    'services',
    'share_group_type_projects',
    'share_group_type_share_type_mappings',
    'share_group_type_specs',
    'share_groups',
    'share_network_security_service_association',
    'share_network_subnets',
    'share_server_backend_details',
    'share_type_extra_specs',
    'share_type_projects',
    'network_allocations',
    'share_group_share_type_mappings',
    'share_group_snapshots',
    'share_network_subnet_metadata',
    'share_server_share_network_subnet_mappings',
    'shares',
    'share_access_map',
    'share_backups',
    'share_instances',
    'share_metadata',
    'share_snapshots',
    'encryption_refs',
    'share_access_rules_metadata',
    'share_instance_access_map',
    'share_instance_export_locations',
    'share_instance_metadata',
    'share_snapshot_access_map',
    'share_snapshot_instances',
    'share_snapshot_metadata',
    'share_instance_export_locations_metadata',
    'share_snapshot_instance_access_map',
    'share_snapshot_instance_export_locations',
]
