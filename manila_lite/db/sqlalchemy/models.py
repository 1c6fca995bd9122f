"""ORM models of every table; share-side ones here, networks/servers/groups/quotas/misc in models_infra."""

from oslo_config import cfg
import sqlalchemy as sa

from manila_lite.common import constants
from manila_lite.db.sqlalchemy.model_base import Base
from manila_lite.db.sqlalchemy.model_base import IntegerSoftDelete
from manila_lite.db.sqlalchemy.model_base import StringSoftDelete
from manila_lite.db.sqlalchemy.models_infra import *  # noqa: F401,F403
from manila_lite.db.sqlalchemy.models_infra import AvailabilityZone
from manila_lite.db.sqlalchemy.models_infra import relation
from manila_lite.db.sqlalchemy.models_infra import ShareNetwork
from manila_lite.db.sqlalchemy.models_infra import ShareServer

CONF = cfg.CONF

Column = sa.Column
String = sa.String
Integer = sa.Integer
Boolean = sa.Boolean
DateTime = sa.DateTime
ForeignKey = sa.ForeignKey


class Service(Base, IntegerSoftDelete):
    __tablename__ = 'services'
    id = Column(Integer, primary_key=True)
    host = Column(String(255))
    binary = Column(String(255))
    topic = Column(String(255))
    state = Column(String(36))
    report_count = Column(Integer, nullable=False, default=0)
    disabled = Column(Boolean, default=False)
    disabled_reason = Column(String(255))
    availability_zone_id = Column(
        String(36), ForeignKey('availability_zones.id',
                               name='service_az_id_fk'))
    ensuring = Column(Boolean, nullable=False, default=False,
                      server_default=sa.false())

    availability_zone = relation(AvailabilityZone, lambda: sa.and_(
        Service.availability_zone_id == AvailabilityZone.id,
        AvailabilityZone.deleted == 'False'))


def _status_order(statuses):
    """Sort key: upstream's priority for choosing a share's main instance."""
    order = (constants.STATUS_REVERTING, constants.STATUS_REPLICATION_CHANGE,
             constants.STATUS_MIGRATING, constants.STATUS_SERVER_MIGRATING,
             constants.STATUS_AVAILABLE, constants.STATUS_ERROR)
    others = tuple(s for s in statuses if s not in order
                   and s not in constants.TRANSITIONAL_STATUSES)
    order = order + others + constants.TRANSITIONAL_STATUSES
    return lambda inst: (order.index(inst['status'])
                         if inst['status'] in order else len(order))


class Share(Base, StringSoftDelete):
    __tablename__ = 'shares'
    _extra_keys = ['name', 'export_location', 'export_locations', 'status',
                   'host', 'share_server_id', 'share_network_id',
                   'availability_zone', 'access_rules_status',
                   'share_type_id']
    id = Column(String(36), primary_key=True)
    user_id = Column(String(255))
    project_id = Column(String(255))
    size = Column(Integer)
    display_name = Column(String(255))
    display_description = Column(String(255))
    snapshot_id = Column(String(36))
    source_backup_id = Column(String(36))
    share_proto = Column(String(255))
    is_public = Column(Boolean, default=False)
    snapshot_support = Column(Boolean, default=True)
    create_share_from_snapshot_support = Column(Boolean, default=True)
    revert_to_snapshot_support = Column(Boolean, default=False)
    mount_snapshot_support = Column(Boolean, default=False)
    snapshot_inherit_share_access_support = Column(
        Boolean, nullable=False, default=False, server_default=sa.false())
    replication_type = Column(String(255))
    share_group_id = Column(String(36), ForeignKey(
        'share_groups.id', name='fk_shares_share_group_id'))
    source_share_group_snapshot_member_id = Column(String(36))
    task_state = Column(String(255))
    is_soft_deleted = Column(Boolean, nullable=False, default=False,
                             server_default=sa.false())
    scheduled_to_be_deleted_at = Column(DateTime)

    instances = relation('ShareInstance', lambda: sa.and_(
        Share.id == ShareInstance.share_id,
        ShareInstance.deleted == 'False'),
        order_by=lambda: (ShareInstance.created_at, ShareInstance.id))
    share_metadata = relation('ShareMetadata', lambda: sa.and_(
        Share.id == ShareMetadata.share_id, ShareMetadata.deleted == 0))

    @property
    def name(self):
        return CONF.share_name_template % self.id

    @property
    def instance(self):
        """The instance most readers mean by "the share" (upstream's rule)."""
        if not self.instances:
            return None
        key = _status_order([i['status'] for i in self.instances])
        ordered = sorted(self.instances, key=key)
        if ordered[0]['status'] != constants.STATUS_REPLICATION_CHANGE:
            active = [i for i in ordered if i['replica_state'] ==
                      constants.REPLICA_STATE_ACTIVE]
            ordered = active or ordered
        return ordered[0]

    def _from_instance(self, attr):
        instance = self.instance
        return getattr(instance, attr, None) if instance is not None else None

    status = property(lambda self: self._from_instance('status'))
    host = property(lambda self: self._from_instance('host'))
    progress = property(lambda self: self._from_instance('progress'))
    share_server_id = property(
        lambda self: self._from_instance('share_server_id'))
    share_network_id = property(
        lambda self: self._from_instance('share_network_id'))
    availability_zone = property(
        lambda self: self._from_instance('availability_zone'))
    share_type_id = property(lambda self: self._from_instance('share_type_id'))
    share_type = property(lambda self: self._from_instance('share_type'))
    encryption_key_ref = property(
        lambda self: self._from_instance('encryption_key_ref'))
    export_location = property(
        lambda self: self._from_instance('export_location'))

    @property
    def export_locations(self):
        """Paths of the available (active replica if any) instances."""
        chosen = [i for i in self.instances if i['replica_state'] ==
                  constants.REPLICA_STATE_ACTIVE] or self.instances
        return [el['path'] for i in chosen
                if i['status'] == constants.STATUS_AVAILABLE
                for el in i.export_locations]

    @property
    def is_busy(self):
        return self.task_state in constants.BUSY_TASK_STATES

    @property
    def has_replicas(self):
        replicas = [i for i in self.instances if i['replica_state']]
        return len(self.instances) > 1 and len(replicas) > 1

    @property
    def access_rules_status(self):
        priorities = {constants.STATUS_ACTIVE: 0,
                      constants.SHARE_INSTANCE_RULES_SYNCING: 1,
                      constants.SHARE_INSTANCE_RULES_ERROR: 2}
        result = constants.STATUS_ACTIVE
        for inst in self.instances:
            if inst['status'] != constants.STATUS_AVAILABLE:
                continue
            if (priorities.get(inst['access_rules_status'], 0) >
                    priorities[result]):
                result = inst['access_rules_status']
        return result


class ShareInstance(Base, StringSoftDelete):
    __tablename__ = 'share_instances'
    __table_args__ = (sa.Index('share_instances_share_id_idx', 'share_id'),)
    _extra_keys = ['name', 'export_location', 'availability_zone',
                   'replica_state']
    SHARE_DATA_KEYS = ('user_id', 'project_id', 'size', 'display_name',
                       'display_description', 'snapshot_id', 'share_proto',
                       'is_public', 'share_group_id', 'replication_type',
                       'source_share_group_snapshot_member_id',
                       'mount_snapshot_support')
    id = Column(String(36), primary_key=True)
    share_id = Column(String(36), ForeignKey('shares.id', name='si_share_fk'))
    host = Column(String(255))
    status = Column(String(255))
    progress = Column(String(32))
    scheduled_at = Column(DateTime)
    launched_at = Column(DateTime)
    terminated_at = Column(DateTime)
    share_network_id = Column(String(36), ForeignKey(
        'share_networks.id', name='si_share_network_fk'))
    share_server_id = Column(String(36), ForeignKey(
        'share_servers.id', name='si_share_server_fk'))
    availability_zone_id = Column(String(36), ForeignKey(
        'availability_zones.id', name='si_az_id_fk'))
    access_rules_status = Column(String(255), default=constants.STATUS_ACTIVE)
    replica_state = Column(String(255))
    share_type_id = Column(String(36), ForeignKey(
        'share_types.id', name='si_st_id_fk'))
    cast_rules_to_readonly = Column(Boolean, nullable=False, default=False)
    mount_point_name = Column(String(255))
    encryption_key_ref = Column(String(36))
    qos_type_id = Column(String(36), ForeignKey('qos_types.id',
                                                name='qt_id_fk'))

    share = relation(Share, lambda: ShareInstance.share_id == Share.id)
    export_locations = relation('ShareInstanceExportLocations', lambda: sa.and_(
        ShareInstance.id == ShareInstanceExportLocations.share_instance_id,
        ShareInstanceExportLocations.deleted == 0),
        order_by=lambda: (ShareInstanceExportLocations.updated_at,
                          ShareInstanceExportLocations.id))
    _availability_zone = relation(AvailabilityZone, lambda: sa.and_(
        ShareInstance.availability_zone_id == AvailabilityZone.id,
        AvailabilityZone.deleted == 'False'))
    share_type = relation('ShareTypes', lambda: sa.and_(
        ShareInstance.share_type_id == ShareTypes.id,
        ShareTypes.deleted == 'False'))
    share_instance_metadata = relation('ShareInstanceMetadata', lambda: sa.and_(
        ShareInstance.id == ShareInstanceMetadata.share_instance_id,
        ShareInstanceMetadata.deleted == 'False'))
    share_server = relation('ShareServer', lambda: (
        ShareInstance.share_server_id == ShareServer.id))
    share_network = relation('ShareNetwork', lambda: (
        ShareInstance.share_network_id == ShareNetwork.id))
    snapshot_instances = relation('ShareSnapshotInstance', lambda: sa.and_(
        ShareInstance.id == ShareSnapshotInstance.share_instance_id,
        ShareSnapshotInstance.deleted == 'False'))

    @property
    def name(self):
        return CONF.share_name_template % self.id

    @property
    def export_location(self):
        if self.export_locations:
            return self.export_locations[0]['path']

    @property
    def availability_zone(self):
        if self._availability_zone:
            return self._availability_zone['name']

    def set_share_data(self, share):
        """Copy the parent share's columns onto this object (not persisted)."""
        for key in self.SHARE_DATA_KEYS:
            setattr(self, key, share[key])


class ShareInstanceExportLocations(Base, IntegerSoftDelete):
    __tablename__ = 'share_instance_export_locations'
    _extra_keys = ['el_metadata']
    id = Column(Integer, primary_key=True)
    uuid = Column(String(36), nullable=False, unique=True)
    share_instance_id = Column(String(36), ForeignKey(
        'share_instances.id', name='sel_instance_id_fk'))
    path = Column(String(2000))
    is_admin_only = Column(Boolean, default=False)

    _el_metadata_bare = relation(
        'ShareInstanceExportLocationsMetadata', lambda: sa.and_(
            ShareInstanceExportLocations.id ==
            ShareInstanceExportLocationsMetadata.export_location_id,
            ShareInstanceExportLocationsMetadata.deleted == 0))
    share_instance = relation(ShareInstance, lambda: (
        ShareInstanceExportLocations.share_instance_id == ShareInstance.id))

    @property
    def el_metadata(self):
        return {m['key']: m['value'] for m in self._el_metadata_bare}


class ShareInstanceExportLocationsMetadata(Base, IntegerSoftDelete):
    __tablename__ = 'share_instance_export_locations_metadata'
    __table_args__ = (sa.UniqueConstraint('export_location_id', 'key',
                                          'deleted', name='elm_el_id_uc'),)
    id = Column(Integer, primary_key=True)
    export_location_id = Column(Integer, ForeignKey(
        'share_instance_export_locations.id', name='elm_id_fk'),
        nullable=False)
    key = Column(String(255), nullable=False)
    value = Column(String(1023), nullable=False)


class ShareMetadata(Base, IntegerSoftDelete):
    __tablename__ = 'share_metadata'
    id = Column(Integer, primary_key=True)
    share_id = Column(String(36), ForeignKey('shares.id'), nullable=False)
    key = Column(String(255), nullable=False)
    value = Column(String(1023), nullable=False)


class ShareInstanceMetadata(Base, StringSoftDelete):
    __tablename__ = 'share_instance_metadata'
    id = Column(Integer, primary_key=True)
    share_instance_id = Column(String(36), ForeignKey('share_instances.id'),
                               nullable=False)
    key = Column(String(255), nullable=False)
    value = Column(String(1023), nullable=False)


class ShareTypes(Base, StringSoftDelete):
    __tablename__ = 'share_types'
    __table_args__ = (sa.UniqueConstraint('name', 'deleted',
                                          name='st_name_uc'),)
    id = Column(String(36), primary_key=True)
    name = Column(String(255))
    description = Column(String(255))
    is_public = Column(Boolean, default=True)

    extra_specs = relation('ShareTypeExtraSpecs', lambda: sa.and_(
        ShareTypes.id == ShareTypeExtraSpecs.share_type_id,
        ShareTypeExtraSpecs.deleted == 0))
    projects = relation('ShareTypeProjects', lambda: sa.and_(
        ShareTypes.id == ShareTypeProjects.share_type_id,
        ShareTypeProjects.deleted == 0))

    @property
    def specs(self):
        """Extra specs as a dict (``extra_specs`` is the list of rows)."""
        return {s['key']: s['value'] for s in self.extra_specs}


class ShareTypeExtraSpecs(Base, IntegerSoftDelete):
    __tablename__ = 'share_type_extra_specs'
    id = Column(Integer, primary_key=True)
    share_type_id = Column(String(36), ForeignKey(
        'share_types.id', name='st_id_fk'), nullable=False)
    key = Column('spec_key', String(255))
    value = Column('spec_value', String(255))


class ShareTypeProjects(Base, IntegerSoftDelete):
    __tablename__ = 'share_type_projects'
    __table_args__ = (sa.UniqueConstraint(
        'share_type_id', 'project_id', 'deleted', name='stp_project_id_uc'),)
    id = Column(Integer, primary_key=True)
    share_type_id = Column(String(36), ForeignKey('share_types.id',
                                                  name='stp_id_fk'))
    project_id = Column(String(255))


def _aggregated_access_state(mappings):
    """Worst state among live instance mappings (upstream's order)."""
    order = (constants.ACCESS_STATE_ERROR, constants.ACCESS_STATE_DENYING,
             constants.ACCESS_STATE_QUEUED_TO_DENY,
             constants.ACCESS_STATE_QUEUED_TO_UPDATE,
             constants.ACCESS_STATE_QUEUED_TO_APPLY,
             constants.ACCESS_STATE_UPDATING, constants.ACCESS_STATE_APPLYING,
             constants.ACCESS_STATE_ACTIVE)
    states = [m['state'] for m in mappings]
    for state in order:
        if state in states:
            return state
    return states[0] if states else None


class ShareAccessMapping(Base, StringSoftDelete):
    __tablename__ = 'share_access_map'
    id = Column(String(36), primary_key=True)
    share_id = Column(String(36), ForeignKey('shares.id'), nullable=False)
    access_type = Column(String(255))
    access_to = Column(String(255))
    access_key = Column(String(255))
    access_level = Column(String(2), default=constants.ACCESS_LEVEL_RW)

    instance_mappings = relation('ShareInstanceAccessMapping', lambda: sa.and_(
        ShareAccessMapping.id == ShareInstanceAccessMapping.access_id,
        ShareInstanceAccessMapping.deleted == 'False'))
    share_access_rules_metadata = relation(
        'ShareAccessRulesMetadata', lambda: sa.and_(
            ShareAccessMapping.id == ShareAccessRulesMetadata.access_id,
            ShareAccessRulesMetadata.deleted == 'False'))

    @property
    def state(self):
        return _aggregated_access_state(self.instance_mappings)


class ShareAccessRulesMetadata(Base, StringSoftDelete):
    __tablename__ = 'share_access_rules_metadata'
    id = Column(Integer, primary_key=True)
    access_id = Column(String(36), ForeignKey('share_access_map.id'),
                       nullable=False)
    key = Column(String(255), nullable=False)
    value = Column(String(1023), nullable=False)


class ShareInstanceAccessMapping(Base, StringSoftDelete):
    __tablename__ = 'share_instance_access_map'
    status_field = 'state'
    ACCESS_DATA_KEYS = ('share_id', 'access_type', 'access_key', 'access_to',
                        'access_level')
    id = Column(String(36), primary_key=True)
    share_instance_id = Column(String(36), ForeignKey(
        'share_instances.id', name='siam_instance_fk'))
    access_id = Column(String(36), ForeignKey('share_access_map.id',
                                              name='siam_access_fk'))
    state = Column(String(255), default=constants.ACCESS_STATE_QUEUED_TO_APPLY)

    access = relation(ShareAccessMapping, lambda: (
        ShareInstanceAccessMapping.access_id == ShareAccessMapping.id))

    def set_share_access_data(self, rule):
        """Copy the rule's fields onto this mapping (not persisted)."""
        for key in self.ACCESS_DATA_KEYS:
            setattr(self, key, rule[key])


class ShareSnapshot(Base, StringSoftDelete):
    __tablename__ = 'share_snapshots'
    _extra_keys = ['name', 'share_name', 'status', 'progress',
                   'provider_location', 'aggregate_status']
    id = Column(String(36), primary_key=True)
    user_id = Column(String(255))
    project_id = Column(String(255))
    share_id = Column(String(36), ForeignKey('shares.id'), nullable=False)
    size = Column(Integer)
    display_name = Column(String(255))
    display_description = Column(String(255))
    share_size = Column(Integer)
    share_proto = Column(String(255))

    share = relation(Share, lambda: sa.and_(
        ShareSnapshot.share_id == Share.id, Share.deleted == 'False'))
    instances = relation('ShareSnapshotInstance', lambda: sa.and_(
        ShareSnapshot.id == ShareSnapshotInstance.snapshot_id,
        ShareSnapshotInstance.deleted == 'False'),
        foreign_keys=lambda: [ShareSnapshotInstance.snapshot_id],
        order_by=lambda: (ShareSnapshotInstance.created_at,
                          ShareSnapshotInstance.id))
    share_snapshot_metadata = relation('ShareSnapshotMetadata', lambda: sa.and_(
        ShareSnapshot.id == ShareSnapshotMetadata.share_snapshot_id,
        ShareSnapshotMetadata.deleted == 'False'))

    @property
    def name(self):
        return CONF.share_snapshot_name_template % self.id

    @property
    def share_name(self):
        return CONF.share_name_template % self.share_id

    @property
    def instance(self):
        """Instance on the active replica, else on a migrating one, else first."""
        def on(states, field, inst):
            si = inst.share_instance
            return si is not None and si[field] in states
        insts = list(self.instances)
        chosen = ([i for i in insts if on(
            (constants.REPLICA_STATE_ACTIVE,), 'replica_state', i)] or
            [i for i in insts if on(
                (constants.STATUS_MIGRATING,
                 constants.STATUS_SERVER_MIGRATING), 'status', i)] or insts)
        return chosen[0] if chosen else None

    def _from_instance(self, attr):
        instance = self.instance
        return getattr(instance, attr, None) if instance is not None else None

    status = property(lambda self: self._from_instance('status'))
    progress = property(lambda self: self._from_instance('progress'))
    provider_location = property(
        lambda self: self._from_instance('provider_location'))

    @property
    def aggregate_status(self):
        """Worst status across instances on active or in-sync replicas."""
        qualified = [i for i in self.instances if i.share_instance is not None
                     and i.share_instance['replica_state'] in (
                         constants.REPLICA_STATE_ACTIVE,
                         constants.REPLICA_STATE_IN_SYNC)]
        if not qualified:
            return self.status
        order = (constants.STATUS_DELETING, constants.STATUS_CREATING,
                 constants.STATUS_ERROR, constants.STATUS_MIGRATING,
                 constants.STATUS_SERVER_MIGRATING, constants.STATUS_AVAILABLE)
        return sorted(qualified, key=lambda i: order.index(i['status'])
                      if i['status'] in order else len(order))[0]['status']

    @property
    def export_locations(self):
        chosen = [i for i in self.instances if i.share_instance is not None
                  and i.share_instance['replica_state'] ==
                  constants.REPLICA_STATE_ACTIVE] or self.instances
        return [el for i in chosen
                if i['status'] == constants.STATUS_AVAILABLE
                for el in i.export_locations]


class ShareSnapshotMetadata(Base, StringSoftDelete):
    __tablename__ = 'share_snapshot_metadata'
    id = Column(Integer, primary_key=True)
    share_snapshot_id = Column(String(36), ForeignKey('share_snapshots.id'),
                               nullable=False)
    key = Column(String(255), nullable=False)
    value = Column(String(1023), nullable=False)


class ShareSnapshotInstance(Base, StringSoftDelete):
    __tablename__ = 'share_snapshot_instances'
    _extra_keys = ['name', 'share_id', 'share_name']
    id = Column(String(36), primary_key=True)
    snapshot_id = Column(String(36))
    share_instance_id = Column(String(36), ForeignKey(
        'share_instances.id', name='ssi_share_instance_fk'))
    status = Column(String(255))
    progress = Column(String(255))
    provider_location = Column(String(255))
    share_proto = Column(String(255))
    # The column is ``size``; the attribute name leaves room for the
    # ``size`` property that falls back to the snapshot's size.
    instance_size = Column('size', Integer)
    share_group_snapshot_id = Column(String(36))
    user_id = Column(String(255))
    project_id = Column(String(255))

    snapshot = relation(ShareSnapshot, lambda: (
        ShareSnapshotInstance.snapshot_id == ShareSnapshot.id),
        foreign_keys=lambda: [ShareSnapshotInstance.snapshot_id])
    share_instance = relation(ShareInstance, lambda: (
        ShareSnapshotInstance.share_instance_id == ShareInstance.id))
    export_locations = relation(
        'ShareSnapshotInstanceExportLocation', lambda: sa.and_(
            ShareSnapshotInstance.id ==
            ShareSnapshotInstanceExportLocation.share_snapshot_instance_id,
            ShareSnapshotInstanceExportLocation.deleted == 'False'))

    @property
    def name(self):
        return CONF.share_snapshot_name_template % self.id

    @property
    def share_name(self):
        return CONF.share_name_template % self.share_instance_id

    @property
    def share_id(self):
        """The share *instance* id: what drivers expect under this key."""
        return self.share_instance_id

    @property
    def size(self):
        if self.instance_size is None and self.snapshot is not None:
            return self.snapshot.size
        return self.instance_size


class ShareSnapshotInstanceExportLocation(Base, StringSoftDelete):
    __tablename__ = 'share_snapshot_instance_export_locations'
    id = Column(String(36), primary_key=True)
    share_snapshot_instance_id = Column(String(36), ForeignKey(
        'share_snapshot_instances.id', name='ssiel_snapshot_instance_fk'))
    path = Column(String(2000))
    is_admin_only = Column(Boolean, nullable=False, default=False)


class ShareSnapshotAccessMapping(Base, StringSoftDelete):
    __tablename__ = 'share_snapshot_access_map'
    id = Column(String(36), primary_key=True)
    share_snapshot_id = Column(String(36), ForeignKey(
        'share_snapshots.id', name='ssam_snapshot_fk'))
    access_type = Column(String(255))
    access_to = Column(String(255))

    instance_mappings = relation(
        'ShareSnapshotInstanceAccessMapping', lambda: sa.and_(
            ShareSnapshotAccessMapping.id ==
            ShareSnapshotInstanceAccessMapping.access_id,
            ShareSnapshotInstanceAccessMapping.deleted == 'False'))

    @property
    def state(self):
        return _aggregated_access_state(self.instance_mappings)


class ShareSnapshotInstanceAccessMapping(Base, StringSoftDelete):
    __tablename__ = 'share_snapshot_instance_access_map'
    status_field = 'state'
    id = Column(String(36), primary_key=True)
    share_snapshot_instance_id = Column(String(36), ForeignKey(
        'share_snapshot_instances.id', name='ssiam_snapshot_instance_fk'))
    access_id = Column(String(36), ForeignKey(
        'share_snapshot_access_map.id', name='ssam_access_fk'))
    state = Column(String(255), default=constants.ACCESS_STATE_QUEUED_TO_APPLY)


class Message(Base, StringSoftDelete):
    __tablename__ = 'messages'
    id = Column(String(36), primary_key=True)
    project_id = Column(String(255), nullable=False)
    request_id = Column(String(255))
    resource_type = Column(String(255))
    resource_id = Column(String(36))
    action_id = Column(String(10), nullable=False)
    detail_id = Column(String(10))
    message_level = Column(String(255), nullable=False)
    expires_at = Column(DateTime)
