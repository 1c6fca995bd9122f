"""Quota bookkeeping of the share flows: reserve, commit, rollback and release, with upstream's owners and deltas.

The share service never checks limits (the API did when it reserved);
it turns reservations into usage (commit), drops them (rollback) and
gives back what a resource held (release). Reservations belong to the
share's owner (upstream charges the creator); the deletion of a share
instance gives its quota back inside the deletion's transaction (the DB
layer applies upstream's rule there), and everything else goes through
this module. A failure after the driver did its work is logged for an
administrator, never raised: the operation itself succeeded.
"""

from oslo_log import log as logging

from manila_lite.db import api as db_api

LOG = logging.getLogger(__name__)


def owner(share, inst=None):
    """``{'project_id', 'user_id', 'share_type_id'}`` a share's quota is charged to."""
    source = inst if inst is not None else share
    return {'project_id': share['project_id'], 'user_id': share['user_id'],
            'share_type_id': source.get('share_type_id')}


def share_deltas(size, replicated):
    """What one share holds: shares and gigabytes, plus one replica's quota if replicated."""
    deltas = {'shares': 1, 'gigabytes': size}
    if replicated:
        deltas.update({'share_replicas': 1, 'replica_gigabytes': size})
    return deltas


def snapshot_deltas(size):
    """What one snapshot holds."""
    return {'snapshots': 1, 'snapshot_gigabytes': size}


def reserve(context, deltas, project_id, user_id, share_type_id=None):
    """Reservation uuids for ``deltas`` (no limit check); raises on a database error."""
    return db_api.quota_reserve(context, deltas, project_id, user_id,
                                share_type_id=share_type_id)


def commit(context, reservations, what=None, project_id=None, user_id=None,
           share_type_id=None):
    """Turn reservations into usage (see :func:`finish` for ``what``)."""
    finish(context, reservations, True, what, project_id=project_id,
           user_id=user_id, share_type_id=share_type_id)


def rollback(context, reservations, what=None, project_id=None,
             user_id=None, share_type_id=None):
    """Drop reservations (see :func:`finish` for ``what``)."""
    finish(context, reservations, False, what, project_id=project_id,
           user_id=user_id, share_type_id=share_type_id)


def finish(context, reservations, commit, what=None, project_id=None,
           user_id=None, share_type_id=None):
    """Commit (``commit`` True) or roll back ``reservations``; nothing to do without any.

    Without ``what`` a failure is raised; with it (what the reservations
    were for) it is logged for an administrator.
    """
    if not reservations:
        return
    end = db_api.reservation_commit if commit else db_api.reservation_rollback
    try:
        end(context, reservations, project_id=project_id, user_id=user_id,
            share_type_id=share_type_id)
    except Exception:
        if what is None:
            raise
        LOG.exception('Could not %(verb)s the quota reservations of '
                      '%(what)s.', {'verb': 'commit' if commit
                                    else 'roll back', 'what': what})


def charge(context, deltas, project_id, user_id, share_type_id=None,
           what=None):
    """Reserve and commit ``deltas`` at once (over quota allowed, as upstream's share service).

    Without ``what`` a failure is raised (the caller's operation fails
    with it); with it, it is logged for an administrator.
    """
    try:
        reservations = reserve(context, deltas, project_id, user_id,
                               share_type_id)
        db_api.reservation_commit(context, reservations,
                                  project_id=project_id, user_id=user_id,
                                  share_type_id=share_type_id)
    except Exception:
        if what is None:
            raise
        LOG.exception('Could not update the quota usages of %s; an '
                      'administrator must correct them.', what)


def release(context, deltas, project_id, user_id, share_type_id=None,
            what='a deleted resource'):
    """Give back ``deltas`` (signs ignored) in one transaction; a failure is logged."""
    try:
        db_api.quota_release(context, deltas, project_id, user_id,
                             share_type_id=share_type_id)
    except Exception:
        LOG.exception('Could not give back the quota of %s; an '
                      'administrator must correct it.', what)


def release_deferred(context, inst):
    """Give back everything the instance's share holds when its deletion is deferred (upstream's rule).

    At most once per instance (the DB layer recognises a release already
    committed), so a failure is raised, not logged away: the instance
    stays ``deferred_deleting`` and the reconciliation runs the deletion,
    release included, again.
    """
    db_api.update_share_instance_quota_usages(context, inst['id'])
    LOG.info('Share instance %s had its deletion deferred; its quota '
             'was given back and the driver proceeds with the deletion.',
             inst['id'])
