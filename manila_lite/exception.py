"""Exception tree with upstream manila's class names and message keyword arguments."""

import re


class ManilaException(Exception):
    """Base of every manila_lite error.

    Subclasses set ``message`` as a %-template; keyword arguments given to
    the constructor fill it. ``detail_data`` carries structured data a
    driver wants the manager to see (for example export locations that were
    created before a failure).
    """

    message = 'An unknown exception occurred.'
    code = 500

    def __init__(self, message=None, detail_data=None, **kwargs):
        self.kwargs = dict(kwargs)
        self.kwargs.setdefault('code', self.code)
        self.detail_data = detail_data if detail_data is not None else {}
        for key, value in list(self.kwargs.items()):
            if isinstance(value, Exception):
                self.kwargs[key] = str(value)
        if isinstance(message, Exception):
            message = str(message)
        if not message:
            try:
                message = self.message % self.kwargs
            except (KeyError, TypeError, ValueError):
                message = self.message
        if re.match(r'.*[^.]\.\.$', message):
            message = message[:-1]
        self.msg = message
        super().__init__(message)


class Error(Exception):
    pass


class NotSupportedYet(ManilaException):
    message = ('%(method)s is not supported by this service yet '
               '(manila_lite).')
    code = 501


class BadConfigurationException(ManilaException):
    message = 'Bad configuration: %(reason)s.'


class ConfigError(BadConfigurationException):
    """Invalid configuration detected at start-up; names section and option."""

    message = 'Invalid configuration: [%(section)s] %(option)s: %(reason)s'


class DatabaseUnavailable(ManilaException):
    """The database server could not be reached (it may come back)."""

    message = 'Database unreachable: %(reason)s'


class DatabaseSchemaMissing(ManilaException):
    """The configured database has no manila schema (yet)."""

    message = ('Database schema missing: %(reason)s; create it with '
               '"manila-lite-manage db sync" (or upstream\'s "manila-manage '
               'db sync" for a database shared with manila-api)')


class BrokerUnavailable(ManilaException):
    """A request could not be handed to the message broker."""

    message = 'Message broker unreachable: %(reason)s'


class NotAuthorized(ManilaException):
    message = 'Not authorized.'
    code = 403


class AdminRequired(NotAuthorized):
    message = 'User does not have admin privileges.'


class Invalid(ManilaException):
    message = 'Unacceptable parameters.'
    code = 400


class InvalidRequest(Invalid):
    message = 'The request is invalid.'


class InvalidResults(Invalid):
    message = 'The results are invalid.'


class InvalidInput(Invalid):
    message = 'Invalid input received: %(reason)s.'


class InvalidParameterValue(Invalid):
    message = '%(err)s'


class InvalidDriverPrivateData(InvalidInput, ValueError):
    """Driver private data addressed by a malformed entity id, key or value.

    Also a ValueError: upstream's private storage raises that for a bad
    entity id, and drivers written for it may catch it.
    """
    message = 'Invalid driver private data: %(reason)s.'


class InvalidUUID(Invalid):
    message = '%(uuid)s is not a valid uuid.'


class InvalidDriverMode(Invalid):
    message = 'Invalid driver mode: %(driver_mode)s.'


class InvalidHost(Invalid):
    message = 'Invalid host: %(reason)s'


class InvalidShare(Invalid):
    message = 'Invalid share: %(reason)s.'


class InvalidShareInstance(Invalid):
    message = 'Invalid share instance: %(reason)s.'


class InvalidShareSnapshot(Invalid):
    message = 'Invalid share snapshot: %(reason)s.'


class InvalidShareSnapshotInstance(Invalid):
    message = 'Invalid share snapshot instance: %(reason)s.'


class InvalidShareAccess(Invalid):
    message = 'Invalid access rule: %(reason)s'


class InvalidShareAccessLevel(Invalid):
    message = 'Invalid or unsupported share access level: %(level)s.'


class InvalidShareAccessType(Invalid):
    message = 'Invalid or unsupported share access type: %(type)s.'


class InvalidShareServer(Invalid):
    message = 'Invalid share server: %(reason)s'


class InvalidReservationExpiration(Invalid):
    message = 'Invalid reservation expiration %(expire)s.'


class InvalidQuotaValue(Invalid):
    message = 'Change would make usage less than 0 for the following resources: %(unders)s.'


class Conflict(ManilaException):
    message = '%(err)s'
    code = 409


class NotFound(ManilaException):
    message = 'Resource could not be found.'
    code = 404


class ServiceNotFound(NotFound):
    message = 'Service %(service_id)s could not be found.'


class ServiceIsDown(Invalid):
    message = 'Service %(service)s is down.'


class HostNotFound(NotFound):
    message = 'Host %(host)s could not be found.'


class ShareNotFound(NotFound):
    message = 'Share %(share_id)s could not be found.'


class ShareInstanceNotFound(NotFound):
    message = 'Share instance %(share_instance_id)s could not be found.'


class ShareSnapshotNotFound(NotFound):
    message = 'Snapshot %(snapshot_id)s could not be found.'


class ShareSnapshotInstanceNotFound(NotFound):
    message = 'Snapshot instance %(instance_id)s could not be found.'


class ShareServerNotFound(NotFound):
    message = 'Share server %(share_server_id)s could not be found.'


class ShareServerNotFoundByFilters(ShareServerNotFound):
    message = ('Share server could not be found by filters: '
               '%(filters_description)s.')


class ShareNetworkNotFound(NotFound):
    message = 'Share network %(share_network_id)s could not be found.'


class ShareNetworkSubnetNotFound(NotFound):
    message = ('Share network subnet %(share_network_subnet_id)s could not '
               'be found.')


class SecurityServiceNotFound(NotFound):
    message = 'Security service %(security_service_id)s could not be found.'


class AllocationsNotFoundForShareServer(NotFound):
    message = ('No allocations found for the share server '
               '%(share_server_id)s on the subnet.')


class ShareGroupNotFound(NotFound):
    message = 'Share group %(share_group_id)s could not be found.'


class ShareGroupSnapshotNotFound(NotFound):
    message = 'Share group snapshot %(share_group_snapshot_id)s could not be found.'


class ShareReplicaNotFound(NotFound):
    message = 'Share replica %(replica_id)s could not be found.'


class ShareTypeNotFound(NotFound):
    message = 'Share type %(share_type_id)s could not be found.'


class ShareBackupNotFound(NotFound):
    message = 'Backup %(backup_id)s could not be found.'


class AccessRuleNotFound(NotFound):
    message = 'Access rule %(access_id)s could not be found.'


class ExportLocationNotFound(NotFound):
    message = 'Export location %(uuid)s could not be found.'


class AvailabilityZoneNotFound(NotFound):
    message = 'Availability zone %(id)s could not be found.'


class MessageNotFound(NotFound):
    message = 'Message %(message_id)s could not be found.'


class QuotaNotFound(NotFound):
    message = 'Quota could not be found.'


class QuotaUsageNotFound(QuotaNotFound):
    message = 'Quota usage for project %(project_id)s could not be found.'


class ReservationNotFound(QuotaNotFound):
    message = 'Quota reservation %(uuid)s could not be found.'


class ConfigNotFound(NotFound):
    message = 'Could not find config at %(path)s.'


class DriverNotInitialized(ManilaException):
    message = 'Share driver "%(driver)s" not initialized.'


class ShareMigrationFailed(ManilaException):
    message = 'Share migration failed: %(reason)s'


class ShareBackendException(ManilaException):
    message = 'Share backend error: %(msg)s.'


class ShareDriverException(ManilaException):
    message = 'Share driver error: %(reason)s.'


class ManilaDriverException(ShareDriverException):
    message = 'Share driver error: %(reason)s.'


class StorageResourceException(ManilaException):
    message = 'Storage resource exception.'


class StorageResourceNotFound(StorageResourceException):
    message = 'Storage resource %(name)s not found.'
    code = 404


class ShareResourceNotFound(StorageResourceNotFound):
    message = 'Share id %(share_id)s could not be found in storage backend.'


class SnapshotResourceNotFound(StorageResourceNotFound):
    message = 'Snapshot %(name)s not found.'


class ShareShrinkingPossibleDataLoss(ManilaException):
    message = ('Share %(share_id)s could not be shrunk due to possible data '
               'loss.')


class ShareExtendingError(ManilaException):
    message = ('Share %(share_id)s could not be extended due to error in the '
               'driver: %(reason)s')


class ShareShrinkingError(ManilaException):
    message = ('Share %(share_id)s could not be shrunk due to error in the '
               'driver: %(reason)s')


class BackupException(ManilaException):
    message = 'Unable to perform a backup action: %(reason)s.'


class ShareSizeExceedsAvailableQuota(ManilaException):
    message = 'Requested share size exceeds the available quota.'


class ShareAccessExists(ManilaException):
    message = 'Share access %(access_type)s:%(access)s exists.'


class ShareSnapshotAccessExists(InvalidInput):
    message = 'Share snapshot access %(access_type)s:%(access)s exists.'


class ShareUmountException(ManilaException):
    message = 'Failed to unmount share: %(reason)s'


class ShareMountException(ManilaException):
    message = 'Failed to mount share: %(reason)s'


class ShareCopyDataException(ManilaException):
    message = 'Failed to copy data: %(reason)s'


class ShareMigrationError(ManilaException):
    message = 'Error in share migration: %(reason)s'


class ShareServerMigrationError(ManilaException):
    message = 'Error in share server migration: %(reason)s'


class ShareServerMigrationFailed(ManilaException):
    message = 'Share server migration failed: %(reason)s'


class ShareServerInUse(InvalidShareServer):
    message = 'Share server %(share_server_id)s is in use.'


class ShareServerNotCreated(ManilaException):
    message = 'Share server %(share_server_id)s failed on creation.'


class ManageInvalidShare(InvalidShare):
    message = 'Manage existing share failed due to invalid share: %(reason)s'


class UnmanageInvalidShare(InvalidShare):
    message = 'Unmanage existing share failed due to invalid share: %(reason)s'


class ManageInvalidShareSnapshot(InvalidShareSnapshot):
    message = ('Manage existing share snapshot failed due to invalid share '
               'snapshot: %(reason)s.')


class ManageShareServerError(ManilaException):
    message = 'Manage existing share server failed due to: %(reason)s'


class DriverCannotTransferShareWithRules(ManilaException):
    message = 'Driver cannot transfer share with rules.'


class ReplicationException(ManilaException):
    message = 'Unable to perform a replication action: %(reason)s.'


class NetworkException(ManilaException):
    message = 'Exception due to network failure.'


class NetworkBadConfigurationException(NetworkException):
    message = 'Bad network configuration: %(reason)s.'


class NetworkBindException(ManilaException):
    message = 'Exception due to failed port status in binding.'


class PortLimitExceeded(ManilaException):
    message = 'Maximum number of ports exceeded.'
    code = 413


class IpAddressGenerationFailureClient(ManilaException):
    message = 'No free IP addresses available in neutron subnet.'


class NoValidHost(ManilaException):
    message = 'No valid host was found. %(reason)s'


class OverQuota(ManilaException):
    message = 'Quota exceeded for resources: %(overs)s.'


class ProcessExecutionError(ManilaException):
    message = 'Command failed: %(cmd)s, exit code %(exit_code)s: %(stderr)s'


class DBSchemaNotOwned(ManilaException):
    message = ('This database is managed by %(owner)s (alembic revision '
               '%(revision)s); manila_lite will not migrate a schema it does '
               'not own.')


class InvalidShareGroup(Invalid):
    message = 'Invalid share group: %(reason)s'


class ShareGroupSnapshotNotSupported(ManilaException):
    message = 'Share group %(share_group)s does not support snapshots.'


class UnmanageInvalidShareSnapshot(InvalidShareSnapshot):
    message = ('Unmanage existing share snapshot failed due to invalid share '
               'snapshot: %(reason)s.')


class ManageExistingShareTypeMismatch(ManilaException):
    message = ('Manage existing share failed due to share type mismatch: '
               '%(reason)s')
