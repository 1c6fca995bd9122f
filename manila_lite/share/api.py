"""The part of upstream's share API the admin CLI needs: write share rows as manila-api does, then cast."""

from oslo_log import log as logging
from oslo_utils import strutils
from oslo_utils import timeutils

from manila_lite.common import constants
from manila_lite.common import hosts
from manila_lite.db import api as db_api
from manila_lite import exception
from manila_lite import rpc
from manila_lite.share import quota
from manila_lite.share import rpcapi as share_rpcapi
from manila_lite.share import states

LOG = logging.getLogger(__name__)

DEFAULT_SHARE_TYPE_NAME = 'default'
DHSS_SPEC = 'driver_handles_share_servers'
SHARE_PROTOCOLS = ('NFS', 'CIFS', 'GLUSTERFS', 'HDFS', 'CEPHFS', 'MAPRFS')

# Share capability flags copied from the share type's extra specs, with the
# value upstream infers when a type does not set them.
_INFERRED_SPECS = (
    ('snapshot_support', False),
    ('create_share_from_snapshot_support', False),
    ('revert_to_snapshot_support', False),
    ('mount_snapshot_support', False),
    ('snapshot_inherit_share_access_support', False),
)
_DELETABLE_STATUSES = (constants.STATUS_AVAILABLE, constants.STATUS_ERROR,
                       constants.STATUS_INACTIVE)
# What upstream's reset_status admin action accepts for a share.
RESETTABLE_STATUSES = (
    constants.STATUS_AVAILABLE, constants.STATUS_ERROR,
    constants.STATUS_CREATING, constants.STATUS_DELETING,
    constants.STATUS_ERROR_DELETING, constants.STATUS_MIGRATING,
    constants.STATUS_MIGRATING_TO, constants.STATUS_SERVER_MIGRATING)


def _field(row, name, default=None):
    """Read ``name`` from a DB row that may be a model or a dict."""
    try:
        return row[name]
    except (KeyError, TypeError, AttributeError):
        return getattr(row, name, default)


def _extra_specs(share_type):
    specs = _field(share_type, 'extra_specs') or {}
    if isinstance(specs, dict):
        return dict(specs)
    return {_field(s, 'key'): _field(s, 'value') for s in specs}


def _parse_bool_spec(key, value):
    """Parse a boolean extra spec (``True``, ``false``, ``<is> True``...)."""
    if isinstance(value, bool):
        return value
    text = str(value).strip()
    if text.lower().startswith('<is>'):
        text = text[4:].strip()
    try:
        return strutils.bool_from_string(text, strict=True)
    except ValueError:
        raise exception.InvalidInput(
            reason='extra spec %s must be a boolean, got %r' % (key, value))


def share_attributes_from_type(share_type):
    """Return the share columns upstream copies from a share type."""
    specs = _extra_specs(share_type)
    values = {key: _parse_bool_spec(key, specs.get(key, default))
              for key, default in _INFERRED_SPECS}
    values['replication_type'] = specs.get('replication_type')
    return values


def _share_type_dict(share_type):
    return {
        'id': _field(share_type, 'id'),
        'name': _field(share_type, 'name'),
        'is_public': _field(share_type, 'is_public'),
        'description': _field(share_type, 'description'),
        'extra_specs': _extra_specs(share_type),
    }


def instances_of(share):
    """Return the live instances of a share (its current one at least)."""
    instances = _field(share, 'instances')
    if instances:
        return list(instances)
    instance = _field(share, 'instance')
    return [instance] if instance is not None else []


class API:
    """Creates and deletes shares the way manila-api does, for the admin CLI."""

    def __init__(self, share_rpc=None, send_retries=None):
        self.share_rpcapi = share_rpc or share_rpcapi.ShareAPI(
            retry=send_retries)

    def ensure_share_type(self, context, name=None):
        """Return the share type ``name``; create the default one if missing."""
        name = name or DEFAULT_SHARE_TYPE_NAME
        try:
            return db_api.share_type_get_by_name(context, name)
        except exception.ShareTypeNotFound:
            if name != DEFAULT_SHARE_TYPE_NAME:
                raise
        LOG.info('Creating share type %(name)s (%(spec)s=False).',
                 {'name': name, 'spec': DHSS_SPEC})
        return db_api.share_type_create(context, {
            'name': name,
            'is_public': True,
            'extra_specs': {DHSS_SPEC: 'False'},
        })

    def create(self, context, size, share_proto, host, name=None,
               description=None, share_type_name=None, metadata=None):
        """Create a share on ``host`` (``host@backend#pool``) and cast its creation."""
        size = self._validate_create(context, size, share_proto, host)
        share_type = self.ensure_share_type(context, share_type_name)
        share_type_id = _field(share_type, 'id')
        attributes = share_attributes_from_type(share_type)
        reservations = quota.reserve(
            context, quota.share_deltas(size, attributes['replication_type']),
            context.project_id, context.user_id, share_type_id=share_type_id)
        values = {
            'size': size,
            'user_id': context.user_id,
            'project_id': context.project_id,
            'snapshot_id': None,
            'display_name': name,
            'display_description': description,
            'share_proto': share_proto,
            'is_public': False,
            'share_group_id': None,
            # instance columns (share_create puts them on the instance)
            'status': constants.STATUS_CREATING,
            'host': host,
            'scheduled_at': timeutils.utcnow().replace(microsecond=0),
            'share_type_id': share_type_id,
            'share_network_id': None,
            'cast_rules_to_readonly': False,
        }
        values.update(attributes)
        if metadata:
            values['metadata'] = dict(metadata)
        try:
            share = db_api.share_create(context, values,
                                        create_share_instance=True)
        except Exception:
            LOG.error('Could not create the share rows; quota reservations '
                      '%s stay uncommitted until they expire.', reservations)
            raise
        quota.commit(context, reservations, project_id=context.project_id,
                     user_id=context.user_id, share_type_id=share_type_id)
        instance = _field(share, 'instance')
        request_spec = self._request_spec(share, instance, share_type,
                                          metadata)
        self._send(context, instance, 'create_failed',
                   lambda: self.share_rpcapi.create_share_instance(
                       context, instance, host, request_spec=request_spec,
                       filter_properties={'scheduler_hints': None},
                       snapshot_id=_field(share, 'snapshot_id')))
        return db_api.share_get(context, _field(share, 'id'))

    @staticmethod
    def _send(context, instance, failed_event, cast):
        """Run ``cast``; if the broker cannot take it, apply ``failed_event`` to the instance and raise BrokerUnavailable.

        The request never reached a share service, so nothing would end
        the transitional status written before it: the instance moves to
        the event's error status (conditionally, as every status change).
        """
        try:
            cast()
        except rpc.SEND_FAILURES as exc:
            instance_id = _field(instance, 'id')
            states.advance(context, states.SHARE_INSTANCE, instance_id,
                           failed_event)
            raise exception.BrokerUnavailable(
                reason='%s; share %s is now %s' % (
                    ' '.join(str(exc).split()), _field(instance, 'share_id'),
                    states.SHARE_INSTANCE[failed_event].target)) from None

    @staticmethod
    def _validate_create(context, size, share_proto, host):
        if isinstance(size, bool) or not strutils.is_int_like(size) \
                or int(size) <= 0:
            raise exception.InvalidInput(
                reason="share size %r must be an integer greater than 0"
                       % (size,))
        if not share_proto or share_proto.upper() not in SHARE_PROTOCOLS:
            raise exception.InvalidInput(
                reason='share protocol %r is not one of %s'
                       % (share_proto, ', '.join(SHARE_PROTOCOLS)))
        backend = hosts.extract_host(host or '', level='backend')
        if '@' not in backend or not backend.partition('@')[2]:
            raise exception.InvalidHost(
                reason='%r is not of the form host@backend[#pool]' % (host,))
        if not context.project_id:
            raise exception.InvalidInput(
                reason='a project id is needed to charge quota to')
        return int(size)

    @staticmethod
    def _request_spec(share, instance, share_type, metadata):
        """Build the request_spec upstream sends along (the manager ignores it)."""
        share_properties = {
            key: _field(share, key) for key in (
                'id', 'size', 'user_id', 'project_id', 'snapshot_support',
                'create_share_from_snapshot_support',
                'revert_to_snapshot_support', 'mount_snapshot_support',
                'share_proto', 'is_public', 'share_group_id',
                'source_share_group_snapshot_member_id', 'snapshot_id',
                'replication_type')}
        share_properties['metadata'] = dict(metadata or {})
        share_properties['share_server_id'] = _field(instance,
                                                     'share_server_id')
        share_properties['share_type_id'] = _field(instance, 'share_type_id')
        instance_properties = {
            key: _field(instance, key) for key in (
                'id', 'availability_zone_id', 'share_network_id',
                'share_server_id', 'share_id', 'host', 'status',
                'replica_state', 'share_type_id', 'encryption_key_ref',
                'qos_type_id')}
        return {
            'share_properties': share_properties,
            'share_instance_properties': instance_properties,
            'share_proto': _field(share, 'share_proto'),
            'share_id': _field(share, 'id'),
            'snapshot_id': _field(share, 'snapshot_id'),
            'snapshot_host': None,
            'share_type': _share_type_dict(share_type),
            'share_group': None,
            'availability_zone_id': None,
            'availability_zones': None,
            'az_request_multiple_subnet_support_map': None,
        }

    def delete(self, context, share_id, force=False):
        """Mark every instance of the share ``deleting`` and cast its deletion."""
        share = db_api.share_get(context, share_id)
        instances = instances_of(share)
        for instance in instances:
            status = _field(instance, 'status')
            if not force and status not in _DELETABLE_STATUSES:
                raise exception.InvalidShare(
                    reason='share instance %s is %s; it must be one of %s '
                           '(or use force)' % (_field(instance, 'id'), status,
                                               ', '.join(_DELETABLE_STATUSES)))
            if not force and not _field(instance, 'host'):
                raise exception.InvalidShare(
                    reason='share instance %s has no host to delete it on '
                           '(use force)' % _field(instance, 'id'))
        task_state = _field(share, 'task_state')
        if task_state in constants.BUSY_TASK_STATES:
            raise exception.InvalidShare(
                reason='share %s is busy (%s)' % (share_id, task_state))
        for instance in instances:
            self._delete_instance(context, instance, force)
        return share

    def _delete_instance(self, context, instance, force):
        if force and not self._has_share_service(context, instance):
            # Sent to a host without a share service (a typo, a backend
            # long gone): nothing was ever created, nothing will answer.
            LOG.warning('Share instance %(id)s: host %(host)s has no share '
                        'service; its rows are removed without a driver '
                        'call.', {'id': _field(instance, 'id'),
                                  'host': _field(instance, 'host')})
            db_api.share_instance_delete(context, _field(instance, 'id'),
                                         need_to_update_usages=True)
            return
        if _field(instance, 'status') not in (
                constants.STATUS_DEFERRED_DELETING,
                constants.STATUS_ERROR_DEFERRED_DELETING):
            updated = db_api.share_instance_update(
                context, _field(instance, 'id'),
                {'status': constants.STATUS_DELETING,
                 'terminated_at': timeutils.utcnow().replace(microsecond=0)})
            if updated is not None and _field(updated, 'host'):
                instance = updated
        self._send(context, instance, 'delete_failed',
                   lambda: self.share_rpcapi.delete_share_instance(
                       context, instance, force=force,
                       deferred_delete=False))

    @staticmethod
    def _has_share_service(context, instance):
        """Whether a share service ever registered for the instance's backend (up or not)."""
        host = _field(instance, 'host')
        if not host:
            return False
        try:
            db_api.service_get_by_args(
                context, hosts.extract_host(host, level='backend'),
                constants.SERVICE_BINARY)
        except exception.ServiceNotFound:
            return False
        return True

    def reset_status(self, context, share_id, status):
        """Set the status of the share's instances, as upstream's reset_status admin action (no RPC)."""
        if status not in RESETTABLE_STATUSES:
            raise exception.InvalidInput(
                reason='invalid status %r; valid: %s'
                       % (status, ', '.join(RESETTABLE_STATUSES)))
        share = db_api.share_get(context, share_id)
        for instance in instances_of(share):
            db_api.share_instance_update(context, _field(instance, 'id'),
                                         {'status': status})
        return db_api.share_get(context, share_id)

    def get(self, context, share_id):
        """Return the share (raises ShareNotFound)."""
        return db_api.share_get(context, share_id)

    def get_all(self, context, filters=None):
        """Return all live shares visible to ``context``."""
        return db_api.share_get_all(context, filters=filters)

    def export_locations(self, context, share):
        """Return the export locations of the share's current instance."""
        instance = _field(share, 'instance')
        if instance is None:
            return []
        return db_api.export_location_get_all_by_share_instance_id(
            context, _field(instance, 'id'))

    def messages(self, context, share_id):
        """Return the user messages recorded for a share."""
        return db_api.message_get_all(
            context, filters={'resource_id': share_id})
