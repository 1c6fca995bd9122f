"""ORM models of the supporting tables: AZs, networks, servers, groups, quotas, backups and misc."""

from oslo_config import cfg
import sqlalchemy as sa
from sqlalchemy import orm

from manila_lite.db.sqlalchemy.model_base import Base
from manila_lite.db.sqlalchemy.model_base import IntegerSoftDelete
from manila_lite.db.sqlalchemy.model_base import StringSoftDelete
from manila_lite.db.sqlalchemy.model_base import Timestamp
from manila_lite.db.sqlalchemy.model_base import utcnow

CONF = cfg.CONF

Column = sa.Column
String = sa.String
Integer = sa.Integer
Boolean = sa.Boolean
DateTime = sa.DateTime
ForeignKey = sa.ForeignKey

__all__ = [
    'AvailabilityZone', 'SecurityService', 'ShareNetwork',
    'ShareNetworkSubnet', 'ShareNetworkSubnetMetadata',
    'ShareNetworkSecurityServiceAssociation', 'ShareServer',
    'ShareServerBackendDetails', 'ShareServerShareNetworkSubnetMapping',
    'NetworkAllocation', 'EncryptionRef', 'ShareGroupTypes',
    'ShareGroupTypeProjects', 'ShareGroupTypeSpecs',
    'ShareGroupTypeShareTypeMapping', 'ShareGroup', 'ShareGroupSnapshot',
    'ShareGroupShareTypeMapping', 'Quota', 'ProjectUserQuota',
    'ProjectShareTypeQuota', 'QuotaClass', 'QuotaUsage', 'Reservation',
    'DriverPrivateData', 'BackendInfo', 'AsynchronousOperationData',
    'ShareBackup', 'Transfer', 'ResourceLock', 'QosTypes', 'QosTypeSpecs',
]


def relation(target, join, **kw):
    """A read-only relationship; ``join`` builds the ON clause (callable or string)."""
    kw.setdefault('viewonly', True)
    kw.setdefault('lazy', 'select')
    return orm.relationship(target, primaryjoin=join, **kw)


class AvailabilityZone(Base, StringSoftDelete):
    __tablename__ = 'availability_zones'
    __table_args__ = (sa.UniqueConstraint('name', 'deleted',
                                          name='az_name_uc'),)
    id = Column(String(36), primary_key=True)
    name = Column(String(255))


class _AZMixin:
    """``availability_zone`` as the zone name, read from ``_availability_zone``."""

    @property
    def availability_zone(self):
        if self._availability_zone:
            return self._availability_zone['name']


def _az_rel(owner):
    return relation(AvailabilityZone, lambda: sa.and_(
        owner().availability_zone_id == AvailabilityZone.id,
        AvailabilityZone.deleted == 'False'))


class SecurityService(Base, StringSoftDelete):
    __tablename__ = 'security_services'
    id = Column(String(36), primary_key=True)
    project_id = Column(String(255))
    type = Column(String(32), nullable=False)
    dns_ip = Column(String(64))
    server = Column(String(255))
    domain = Column(String(255))
    user = Column(String(255))
    password = Column(String(255))
    name = Column(String(255))
    description = Column(String(255))
    ou = Column(String(255))
    default_ad_site = Column(String(255))


class ShareNetworkSecurityServiceAssociation(Base, IntegerSoftDelete):
    __tablename__ = 'share_network_security_service_association'
    id = Column(Integer, primary_key=True)
    share_network_id = Column(String(36), ForeignKey('share_networks.id'),
                              nullable=False)
    security_service_id = Column(
        String(36), ForeignKey('security_services.id'), nullable=False)


class ShareNetwork(Base, StringSoftDelete):
    __tablename__ = 'share_networks'
    id = Column(String(36), primary_key=True)
    project_id = Column(String(255))
    user_id = Column(String(255))
    name = Column(String(255))
    description = Column(String(255))
    status = Column(String(36), nullable=False, default='active',
                    server_default='active')

    share_network_subnets = relation('ShareNetworkSubnet', lambda: sa.and_(
        ShareNetwork.id == ShareNetworkSubnet.share_network_id,
        ShareNetworkSubnet.deleted == 'False'))
    security_services = orm.relationship(
        SecurityService, viewonly=True,
        secondary=ShareNetworkSecurityServiceAssociation.__table__,
        primaryjoin=lambda: sa.and_(
            ShareNetwork.id ==
            ShareNetworkSecurityServiceAssociation.share_network_id,
            ShareNetworkSecurityServiceAssociation.deleted == 0),
        secondaryjoin=lambda: sa.and_(
            SecurityService.id ==
            ShareNetworkSecurityServiceAssociation.security_service_id,
            SecurityService.deleted == 'False'))


class ShareServerShareNetworkSubnetMapping(Base, IntegerSoftDelete):
    __tablename__ = 'share_server_share_network_subnet_mappings'
    id = Column(Integer, primary_key=True)
    share_server_id = Column(String(36), ForeignKey(
        'share_servers.id', name='fk_ss_sns_m_share_server_id_share_servers'),
        nullable=False)
    share_network_subnet_id = Column(String(36), ForeignKey(
        'share_network_subnets.id',
        name='fk_ss_sns_m_share_network_subnet_id_share_network_subnets'),
        nullable=False)


_SubnetMap = ShareServerShareNetworkSubnetMapping


class ShareNetworkSubnet(Base, StringSoftDelete, _AZMixin):
    __tablename__ = 'share_network_subnets'
    _extra_keys = ['availability_zone', 'subnet_metadata']
    id = Column(String(36), primary_key=True)
    neutron_net_id = Column(String(36))
    neutron_subnet_id = Column(String(36))
    network_type = Column(String(32))
    cidr = Column(String(64))
    segmentation_id = Column(Integer)
    gateway = Column(String(64))
    mtu = Column(Integer)
    share_network_id = Column(String(36), ForeignKey(
        'share_networks.id',
        name='fk_share_network_subnets_share_network_id_share_networks'))
    ip_version = Column(Integer)
    availability_zone_id = Column(String(36), ForeignKey(
        'availability_zones.id',
        name='fk_share_network_subnets_availaility_zone_id_'
             'availability_zones'))

    share_network = relation(ShareNetwork, lambda: (
        ShareNetworkSubnet.share_network_id == ShareNetwork.id))
    _availability_zone = _az_rel(lambda: ShareNetworkSubnet)
    share_network_subnet_metadata = relation(
        'ShareNetworkSubnetMetadata', lambda: sa.and_(
            ShareNetworkSubnet.id ==
            ShareNetworkSubnetMetadata.share_network_subnet_id,
            ShareNetworkSubnetMetadata.deleted == 'False'))
    share_servers = orm.relationship(
        'ShareServer', viewonly=True, secondary=_SubnetMap.__table__,
        primaryjoin=lambda: sa.and_(
            ShareNetworkSubnet.id == _SubnetMap.share_network_subnet_id,
            _SubnetMap.deleted == 0),
        secondaryjoin=lambda: sa.and_(
            ShareServer.id == _SubnetMap.share_server_id,
            ShareServer.deleted == 'False'))

    @property
    def is_default(self):
        return self.availability_zone_id is None

    @property
    def subnet_metadata(self):
        return {m['key']: m['value']
                for m in self.share_network_subnet_metadata}

    @property
    def share_network_name(self):
        return self.share_network['name']

    @property
    def project_id(self):
        return self.share_network['project_id']


class ShareNetworkSubnetMetadata(Base, StringSoftDelete):
    __tablename__ = 'share_network_subnet_metadata'
    id = Column(Integer, primary_key=True)
    share_network_subnet_id = Column(
        String(36), ForeignKey('share_network_subnets.id'), nullable=False)
    key = Column(String(255), nullable=False)
    value = Column(String(1023), nullable=False)


class ShareServer(Base, StringSoftDelete):
    __tablename__ = 'share_servers'
    _extra_keys = ['backend_details', 'share_network_subnet_ids']
    id = Column(String(36), primary_key=True)
    host = Column(String(255))
    status = Column(String(32), default='inactive')
    is_auto_deletable = Column(Boolean, default=True)
    identifier = Column(String(255))
    task_state = Column(String(255))
    source_share_server_id = Column(String(36), ForeignKey(
        'share_servers.id', name='fk_share_servers_source_share_server_id'))
    security_service_update_support = Column(
        Boolean, nullable=False, default=False, server_default=sa.false())
    network_allocation_update_support = Column(
        Boolean, nullable=False, default=False, server_default=sa.false())
    share_replicas_migration_support = Column(
        Boolean, nullable=False, default=False, server_default=sa.false())
    encryption_key_ref = Column(String(36))
    application_credential_id = Column(String(36))

    _backend_details = relation('ShareServerBackendDetails', lambda: sa.and_(
        ShareServer.id == ShareServerBackendDetails.share_server_id,
        ShareServerBackendDetails.deleted == 'False'))
    _share_network_subnet_ids = relation(_SubnetMap, lambda: sa.and_(
        ShareServer.id == _SubnetMap.share_server_id,
        _SubnetMap.deleted == 0))
    share_network_subnets = orm.relationship(
        ShareNetworkSubnet, viewonly=True, secondary=_SubnetMap.__table__,
        primaryjoin=lambda: sa.and_(
            ShareServer.id == _SubnetMap.share_server_id,
            _SubnetMap.deleted == 0),
        secondaryjoin=lambda: sa.and_(
            ShareNetworkSubnet.id == _SubnetMap.share_network_subnet_id,
            ShareNetworkSubnet.deleted == 'False'))
    network_allocations = relation('NetworkAllocation', lambda: sa.and_(
        ShareServer.id == NetworkAllocation.share_server_id,
        NetworkAllocation.deleted == 'False'))
    share_instances = relation(
        'ShareInstance',
        "and_(ShareServer.id == ShareInstance.share_server_id, "
        "ShareInstance.deleted == 'False')")
    share_groups = relation('ShareGroup', lambda: sa.and_(
        ShareServer.id == ShareGroup.share_server_id,
        ShareGroup.deleted == 'False'))

    @property
    def backend_details(self):
        return {d['key']: d['value'] for d in self._backend_details}

    @property
    def share_network_subnet_ids(self):
        return [m['share_network_subnet_id']
                for m in self._share_network_subnet_ids]

    @property
    def share_network(self):
        subnets = self.share_network_subnets
        return subnets[0]['share_network'] if subnets else None

    @property
    def share_network_id(self):
        subnets = self.share_network_subnets
        return subnets[0]['share_network_id'] if subnets else None

    @property
    def project_id(self):
        network = self.share_network
        return network['project_id'] if network else ''

    @property
    def share_network_name(self):
        network = self.share_network
        return (network['name'] or network['id']) if network else ''


class ShareServerBackendDetails(Base, StringSoftDelete):
    __tablename__ = 'share_server_backend_details'
    id = Column(Integer, primary_key=True)
    share_server_id = Column(String(36), ForeignKey('share_servers.id'),
                             nullable=False)
    key = Column(String(255), nullable=False)
    value = Column(String(1023), nullable=False)


class NetworkAllocation(Base, StringSoftDelete):
    __tablename__ = 'network_allocations'
    id = Column(String(36), primary_key=True)
    label = Column(String(255), server_default='user')
    ip_address = Column(String(64))
    ip_version = Column(Integer)
    cidr = Column(String(64))
    gateway = Column(String(64))
    mtu = Column(Integer)
    network_type = Column(String(32))
    segmentation_id = Column(Integer)
    mac_address = Column(String(32))
    share_server_id = Column(String(36), ForeignKey('share_servers.id'),
                             nullable=False)
    share_network_subnet_id = Column(String(36), ForeignKey(
        'share_network_subnets.id',
        name='fk_network_allocation_subnet_id_share_network_subnets'))


class EncryptionRef(Base, StringSoftDelete):
    __tablename__ = 'encryption_refs'
    id = Column(String(36), primary_key=True)
    share_server_id = Column(String(36), ForeignKey('share_servers.id'),
                             unique=True)
    share_instance_id = Column(String(36), ForeignKey('share_instances.id'),
                               unique=True)
    encryption_key_ref = Column(String(36))
    project_id = Column(String(255), nullable=False)


class ShareGroupTypes(Base, StringSoftDelete):
    __tablename__ = 'share_group_types'
    __table_args__ = (sa.UniqueConstraint(
        'name', 'deleted', name='uniq_share_group_type_name'),)
    id = Column(String(36), primary_key=True)
    name = Column(String(255))
    is_public = Column(Boolean, default=True)

    group_specs = relation('ShareGroupTypeSpecs', lambda: sa.and_(
        ShareGroupTypes.id == ShareGroupTypeSpecs.share_group_type_id,
        ShareGroupTypeSpecs.deleted == 0))
    share_types = relation('ShareGroupTypeShareTypeMapping', lambda: sa.and_(
        ShareGroupTypes.id ==
        ShareGroupTypeShareTypeMapping.share_group_type_id,
        ShareGroupTypeShareTypeMapping.deleted == 'False'))
    projects = relation('ShareGroupTypeProjects', lambda: sa.and_(
        ShareGroupTypes.id == ShareGroupTypeProjects.share_group_type_id,
        ShareGroupTypeProjects.deleted == 0))


class ShareGroupTypeProjects(Base, IntegerSoftDelete):
    __tablename__ = 'share_group_type_projects'
    __table_args__ = (sa.UniqueConstraint(
        'share_group_type_id', 'project_id', 'deleted',
        name='sgtp_project_id_uc'),)
    id = Column(Integer, primary_key=True)
    share_group_type_id = Column(String(36), ForeignKey(
        'share_group_types.id', name='sgtp_id_fk'))
    project_id = Column(String(255))


class ShareGroupTypeSpecs(Base, IntegerSoftDelete):
    __tablename__ = 'share_group_type_specs'
    id = Column(Integer, primary_key=True)
    share_group_type_id = Column(String(36), ForeignKey(
        'share_group_types.id', name='sgtp_id_extra_specs_fk'))
    key = Column('spec_key', String(255))
    value = Column('spec_value', String(255))


class ShareGroupTypeShareTypeMapping(Base, StringSoftDelete):
    __tablename__ = 'share_group_type_share_type_mappings'
    id = Column(String(36), primary_key=True)
    share_group_type_id = Column(String(36), ForeignKey(
        'share_group_types.id', name='sgtp_id_sgt_id_uc'), nullable=False)
    share_type_id = Column(String(36), ForeignKey(
        'share_types.id', name='sgtp_id_st_id_uc'), nullable=False)


class ShareGroup(Base, StringSoftDelete, _AZMixin):
    __tablename__ = 'share_groups'
    _extra_keys = ['availability_zone']
    id = Column(String(36), primary_key=True)
    user_id = Column(String(255), nullable=False)
    project_id = Column(String(255), nullable=False)
    host = Column(String(255))
    name = Column(String(255))
    description = Column(String(255))
    status = Column(String(255))
    source_share_group_snapshot_id = Column(String(36))
    share_network_id = Column(String(36), ForeignKey(
        'share_networks.id', name='fk_share_group_share_network_id'))
    share_server_id = Column(String(36), ForeignKey(
        'share_servers.id', name='fk_share_group_share_server_id'))
    share_group_type_id = Column(String(36), ForeignKey(
        'share_group_types.id', name='sgt_id_sg_id_uc'))
    consistent_snapshot_support = Column(sa.Enum(
        'pool', 'host', name='consistent_snapshot_support'))
    availability_zone_id = Column(String(36))

    _availability_zone = relation(AvailabilityZone, lambda: sa.and_(
        ShareGroup.availability_zone_id == AvailabilityZone.id,
        AvailabilityZone.deleted == 'False'),
        foreign_keys=lambda: [ShareGroup.availability_zone_id])
    share_types = relation('ShareGroupShareTypeMapping', lambda: sa.and_(
        ShareGroup.id == ShareGroupShareTypeMapping.share_group_id,
        ShareGroupShareTypeMapping.deleted == 'False'))
    share_group_type = relation(ShareGroupTypes, lambda: (
        ShareGroup.share_group_type_id == ShareGroupTypes.id))


class ShareGroupSnapshot(Base, StringSoftDelete):
    __tablename__ = 'share_group_snapshots'
    id = Column(String(36), primary_key=True)
    share_group_id = Column(String(36), ForeignKey(
        'share_groups.id', name='fk_share_group_snapshots_share_group_id'))
    user_id = Column(String(255), nullable=False)
    project_id = Column(String(255), nullable=False)
    name = Column(String(255))
    description = Column(String(255))
    status = Column(String(255))

    share_group = relation(ShareGroup, lambda: (
        ShareGroupSnapshot.share_group_id == ShareGroup.id))
    share_group_snapshot_members = relation(
        'ShareSnapshotInstance',
        "and_(ShareGroupSnapshot.id == "
        "foreign(ShareSnapshotInstance.share_group_snapshot_id), "
        "ShareSnapshotInstance.deleted == 'False')")


class ShareGroupShareTypeMapping(Base, StringSoftDelete):
    __tablename__ = 'share_group_share_type_mappings'
    id = Column(String(36), primary_key=True)
    share_group_id = Column(String(36), ForeignKey(
        'share_groups.id', name='fk_sgstm_share_group_id'))
    share_type_id = Column(String(36), ForeignKey(
        'share_types.id', name='fk_sgstm_share_type_id'), nullable=False)


class Quota(Base, IntegerSoftDelete):
    __tablename__ = 'quotas'
    id = Column(Integer, primary_key=True)
    project_id = Column(String(255))
    resource = Column(String(255), nullable=False)
    hard_limit = Column(Integer)


class ProjectUserQuota(Base, IntegerSoftDelete):
    __tablename__ = 'project_user_quotas'
    id = Column(Integer, primary_key=True)
    user_id = Column(String(255), nullable=False)
    project_id = Column(String(255), nullable=False)
    resource = Column(String(25), nullable=False)
    hard_limit = Column(Integer)


class ProjectShareTypeQuota(Base, IntegerSoftDelete):
    __tablename__ = 'project_share_type_quotas'
    __table_args__ = (sa.UniqueConstraint(
        'share_type_id', 'resource', 'deleted', 'project_id',
        name='uc_quotas_per_share_types'),)
    id = Column(Integer, primary_key=True)
    project_id = Column(String(255))
    share_type_id = Column(String(36), ForeignKey(
        'share_types.id', name='share_type_id_fk'), nullable=False)
    resource = Column(String(255), nullable=False)
    hard_limit = Column(Integer)


class QuotaClass(Base, IntegerSoftDelete):
    __tablename__ = 'quota_classes'
    id = Column(Integer, primary_key=True)
    class_name = Column(String(255), index=True)
    resource = Column(String(255))
    hard_limit = Column(Integer)


class QuotaUsage(Base, IntegerSoftDelete):
    __tablename__ = 'quota_usages'
    id = Column(Integer, primary_key=True)
    project_id = Column(String(255), index=True)
    user_id = Column(String(255))
    share_type_id = Column(String(36))
    resource = Column(String(255))
    in_use = Column(Integer, nullable=False)
    reserved = Column(Integer, nullable=False)
    until_refresh = Column(Integer)

    @property
    def total(self):
        return self.in_use + self.reserved


class Reservation(Base, IntegerSoftDelete):
    __tablename__ = 'reservations'
    __table_args__ = (sa.Index('reservations_deleted_expire_idx',
                               'deleted', 'expire'),)
    id = Column(Integer, primary_key=True)
    uuid = Column(String(36), nullable=False)
    usage_id = Column(Integer, ForeignKey('quota_usages.id'), nullable=False)
    project_id = Column(String(255), index=True)
    user_id = Column(String(255))
    share_type_id = Column(String(36))
    resource = Column(String(255))
    delta = Column(Integer, nullable=False)
    expire = Column(DateTime)


class DriverPrivateData(Base, IntegerSoftDelete):
    __tablename__ = 'drivers_private_data'
    entity_uuid = Column(String(36), primary_key=True)
    key = Column(String(255), primary_key=True)
    value = Column(String(1023), nullable=False)

    def _deleted_marker(self):
        return 1


class BackendInfo(Base, IntegerSoftDelete):
    __tablename__ = 'backend_info'
    host = Column(String(255), primary_key=True)
    info_hash = Column(String(255), nullable=False)

    def _deleted_marker(self):
        return 1


class AsynchronousOperationData(Base, IntegerSoftDelete):
    __tablename__ = 'async_operation_data'
    entity_uuid = Column(String(36), primary_key=True)
    key = Column(String(255), primary_key=True)
    value = Column(String(1023), nullable=False)

    def _deleted_marker(self):
        return 1


class ShareBackup(Base, _AZMixin, StringSoftDelete):
    __tablename__ = 'share_backups'
    # Upstream created this table with second-precision timestamps.
    created_at = Column(DateTime, default=utcnow)
    updated_at = Column(DateTime, onupdate=utcnow)
    deleted_at = Column(DateTime)
    id = Column(String(36), primary_key=True)
    user_id = Column(String(255))
    project_id = Column(String(255))
    share_id = Column(String(36), ForeignKey(
        'shares.id', name='fk_backups_share_id_shares'))
    size = Column(Integer)
    host = Column(String(255))
    topic = Column(String(255))
    display_name = Column(String(255))
    display_description = Column(String(255))
    progress = Column(String(32))
    restore_progress = Column(String(32))
    status = Column(String(255))
    fail_reason = Column(String(255))
    backup_type = Column(String(32))
    availability_zone_id = Column(String(36), ForeignKey(
        'availability_zones.id', name='sb_az_id_fk'))

    _availability_zone = _az_rel(lambda: ShareBackup)

    @property
    def name(self):
        return CONF.share_backup_name_template % self.id


class Transfer(Base, StringSoftDelete):
    __tablename__ = 'transfers'
    id = Column(String(36), primary_key=True)
    resource_type = Column(String(255), nullable=False)
    resource_id = Column(String(36), nullable=False)
    display_name = Column(String(255))
    salt = Column(String(255))
    crypt_hash = Column(String(255))
    expires_at = Column(Timestamp)
    source_project_id = Column(String(255))
    destination_project_id = Column(String(255))
    accepted = Column(Boolean, default=False)


class ResourceLock(Base, StringSoftDelete):
    __tablename__ = 'resource_locks'
    id = Column(String(36), primary_key=True)
    user_id = Column(String(255), nullable=False)
    project_id = Column(String(255), nullable=False)
    lock_context = Column(String(16), nullable=False)
    resource_id = Column(String(36), nullable=False)
    resource_type = Column(String(255), nullable=False, default='share')
    resource_action = Column(String(255), default='delete')
    lock_reason = Column(String(1023))


class QosTypes(Base, StringSoftDelete):
    __tablename__ = 'qos_types'
    __table_args__ = (sa.UniqueConstraint('name', 'deleted',
                                          name='uc_qos_type_name'),)
    id = Column(String(36), primary_key=True)
    name = Column(String(255))
    description = Column(String(255))

    specs = relation('QosTypeSpecs', lambda: sa.and_(
        QosTypes.id == QosTypeSpecs.qos_type_id,
        QosTypeSpecs.deleted == 'False'))


class QosTypeSpecs(Base, StringSoftDelete):
    __tablename__ = 'qos_type_specs'
    id = Column(Integer, primary_key=True)
    qos_type_id = Column(String(36), ForeignKey('qos_types.id',
                                                name='qos_type_specs_ibfk_1'))
    key = Column(String(255))
    value = Column(String(255))
