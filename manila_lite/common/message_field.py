"""User message codes (action and detail ids) and resource types, as upstream records them."""


class Resource:
    SHARE = 'SHARE'
    SHARE_GROUP = 'SHARE_GROUP'
    SHARE_REPLICA = 'SHARE_REPLICA'
    SHARE_SNAPSHOT = 'SHARE_SNAPSHOT'
    SECURITY_SERVICE = 'SECURITY_SERVICE'
    SHARE_NETWORK_SUBNET = 'SHARE_NETWORK_SUBNET'


class Action:
    ALLOCATE_HOST = ('001', 'allocate host')
    CREATE = ('002', 'create')
    DELETE_ACCESS_RULES = ('003', 'delete access rules')
    PROMOTE = ('004', 'promote')
    UPDATE = ('005', 'update')
    REVERT_TO_SNAPSHOT = ('006', 'revert to snapshot')
    DELETE = ('007', 'delete')
    EXTEND = ('008', 'extend')
    SHRINK = ('009', 'shrink')
    UPDATE_ACCESS_RULES = ('010', 'update access rules')
    ADD_UPDATE_SECURITY_SERVICE = ('011', 'add or update security service')
    TRANSFER_ACCEPT = ('026', 'transfer accept')
    UPDATE_METADATA = ('027', 'update_metadata')
    RESTORE_BACKUP = ('028', 'restore share backup')


class Detail:
    UNKNOWN_ERROR = ('001', 'An unknown error occurred.')
    NO_VALID_HOST = ('002', 'No storage could be allocated for this share '
                            'request.')
    UNEXPECTED_NETWORK = ('003', 'Driver does not expect share-network to be '
                                 'provided with current configuration.')
    NO_SHARE_SERVER = ('004', 'Could not find an existing share server or '
                              'allocate one on the share network provided.')
    NO_ACTIVE_AVAILABLE_REPLICA = ('005', 'An active replica in available '
                                          'state was not found.')
    NO_ACTIVE_REPLICA = ('006', 'Share has no replica with "replica_state" '
                                'set to "active".')
    DRIVER_FAILED_EXTEND = ('015', 'Share Driver failed to extend share.')
    DRIVER_FAILED_CREATING_FROM_SNAP = ('017', 'Share Driver has failed to '
                                               'create the share from '
                                               'snapshot.')
    DRIVER_REFUSED_SHRINK = ('018', 'Share Driver refused to shrink the '
                                    'share.')
    DRIVER_FAILED_SHRINK = ('019', 'Share Driver does not support shrinking '
                                   'shares.')
    FORBIDDEN_CLIENT_ACCESS = ('020', 'Failed to grant access to client.')
    UNSUPPORTED_CLIENT_ACCESS = ('021', 'Unsupported access level or access '
                                        'type.')
    UNSUPPORTED_ADD_UDPATE_SECURITY_SERVICE = ('022', 'Unsupported security '
                                                      'service update.')
    SECURITY_SERVICE_FAILED_AUTH = ('023', 'Share Driver failed to create '
                                           'share due to a security service '
                                           'authentication issue.')
    MISSING_SECURITY_SERVICE = ('025', 'Share Driver failed to create share '
                                       'because a security service has not '
                                       'been added to the share network.')
    DRIVER_FAILED_TRANSFER_ACCEPT = ('026', 'Share transfer cannot be '
                                            'accepted without clearing '
                                            'access rules.')
    SHARE_NETWORK_PORT_QUOTA_LIMIT_EXCEEDED = ('027', 'Failed to create a '
                                                      'new network port on '
                                                      'the share network '
                                                      'subnet.')
    SHARE_BACKEND_NOT_READY_YET = ('028', 'No storage could be allocated for '
                                          'this share request. Share back '
                                          'end services are not ready yet.')
    UPDATE_METADATA_SUCCESS = ('029', 'Metadata passed to share driver '
                                      'successfully performed required '
                                      'operation.')
    UPDATE_METADATA_FAILURE = ('030', 'Metadata passed to share driver '
                                      'failed to perform required '
                                      'operation.')
    UPDATE_METADATA_NOT_DELETED = ('031', 'Metadata delete operation '
                                          'includes driver updatable metadata '
                                          'and it is not passed to share '
                                          'driver to perform required '
                                          'operation.')
    TARGETED_RESTORE_UNSUPPORTED = ('032', 'Desired restore target share is '
                                           'not supported by the backup '
                                           'driver.')
    NEUTRON_SUBNET_FULL = ('033', 'Share Driver failed to create share '
                                  'because the neutron subnet is full.')
    UNSUPPORTED_REPLICA_CREATE_CONFIG = ('034', 'Share replica creation is '
                                                'not supported with the '
                                                'given configuration.')
    DRIVER_FAILED_REVERT_TO_SNAPSHOT = ('035', 'Share Driver failed to '
                                               'revert share to snapshot.')
    # manila_lite addition, recorded when a manager method is not yet built.
    NOT_SUPPORTED_YET = ('001', 'An unknown error occurred.')
