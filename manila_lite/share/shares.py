"""Share-level operations of the later RPC surface: transfer accept, metadata to the driver, connection info."""

from oslo_log import log as logging

from manila_lite.common import message_field as mf
from manila_lite.db import api as db_api
from manila_lite import exception
from manila_lite.share import access
from manila_lite.share import guard
from manila_lite.share import rows

LOG = logging.getLogger(__name__)


# -- RPC flows --------------------------------------------------------------

def connection_get_info(mgr, context, share_instance_id):
    """1.12 call: the driver's mount/unmount/access-mapping dict for the data service."""
    inst = rows.instance(context, share_instance_id)
    try:
        info = mgr.driver.connection_get_info(context, inst,
                                              rows.server(inst))
    except Exception as exc:
        raise guard.driver_error('connection_get_info', exc)
    if not isinstance(info, dict):
        raise exception.ShareBackendException(
            msg='driver connection_get_info returned %s, not a dict'
                % type(info).__name__)
    return info


def transfer_accept(mgr, context, share_id, new_user, new_project,
                    clear_rules=False):
    """1.25 call: tell the driver every instance changes owner (rules denied first if asked).

    The API moves the rows; a driver that cannot transfer a share with
    rules gets a user message for the new project (026/026).
    """
    share = db_api.share_get(context, share_id)
    rules = db_api.share_access_get_all_for_share(context, share_id)
    for instance in share['instances']:
        inst = rows.instance(context, instance['id'])
        server = rows.server(inst)
        if clear_rules and rules:
            try:
                access.deny_all_rules(mgr, context, inst)
            except Exception as exc:
                raise guard.driver_error('update_access', exc)
            rules = []
        try:
            mgr.driver.transfer_accept(context, inst, new_user, new_project,
                                       access_rules=rules,
                                       share_server=server)
        except exception.DriverCannotTransferShareWithRules as exc:
            mgr.message_api.create(
                context, mf.Action.TRANSFER_ACCEPT, new_project,
                resource_type=mf.Resource.SHARE, resource_id=share_id,
                detail=mf.Detail.DRIVER_FAILED_TRANSFER_ACCEPT)
            raise guard.driver_error('transfer_accept', exc)
        except Exception as exc:
            raise guard.driver_error('transfer_accept', exc)
    LOG.info('Share %(share)s transferred from project %(old)s to '
             '%(new)s on the backend.',
             {'share': share_id, 'old': share['project_id'],
              'new': new_project})


def update_share_from_metadata(mgr, context, share_id, metadata):
    """1.28 cast: pass the metadata to the driver as received; 027/029 or 027/030.

    As upstream, the API chose the keys (``driver_updatable_metadata``).
    """
    share, inst = rows.share_and_instance(context, share_id)
    try:
        mgr.driver.update_share_from_metadata(
            context, inst, metadata, rows.server(inst))
    except Exception as exc:
        LOG.error('Driver update_share_from_metadata failed for share '
                  '%(share)s: %(cls)s: %(exc)s',
                  {'share': share_id, 'cls': type(exc).__name__,
                   'exc': exc})
        detail = mf.Detail.UPDATE_METADATA_FAILURE
    else:
        detail = mf.Detail.UPDATE_METADATA_SUCCESS
    mgr.message_api.create(
        context, mf.Action.UPDATE_METADATA, share['project_id'],
        resource_type=mf.Resource.SHARE, resource_id=share_id,
        detail=detail)
