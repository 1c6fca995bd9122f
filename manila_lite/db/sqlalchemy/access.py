"""Queries on access rules (share_access_map) and their per-instance mappings and metadata."""

import sqlalchemy as sa
from sqlalchemy import orm

from manila_lite.db.sqlalchemy import engine
from manila_lite.db.sqlalchemy import model_base
from manila_lite.db.sqlalchemy import models
from manila_lite.db.sqlalchemy import utils
from manila_lite import exception

Rule = models.ShareAccessMapping
Mapping = models.ShareInstanceAccessMapping
RuleMeta = models.ShareAccessRulesMetadata

RULE_FIELDS = ('access_type', 'access_to', 'access_key', 'access_level')
_LOCKED_BY_ACCESS = 'Locked by access lock: %(lock_id)s'


def _rule_options():
    return [orm.selectinload(Rule.instance_mappings),
            orm.selectinload(Rule.share_access_rules_metadata)]


def _rule_get(session, access_id):
    stmt = (sa.select(Rule).where(Rule.id == access_id, model_base.live(Rule))
            .options(*_rule_options()))
    rule = session.scalars(stmt).first()
    if rule is None:
        raise exception.AccessRuleNotFound(access_id=access_id)
    return rule


def share_access_get(context, access_id):
    with engine.reader(context) as session:
        return _rule_get(session, access_id)


def share_access_create(context, values):
    """A rule plus one 'queued_to_apply' mapping per live instance of its share."""
    values = utils.ensure_id(dict(values))
    metadata = values.pop('metadata', None) or {}
    state = values.pop('state', None)
    with engine.writer(context) as session:
        rule = Rule()
        utils.apply_values(rule, values)
        session.add(rule)
        for key, value in metadata.items():
            value = utils.metadata_value(key, value)
            if value is not None:
                session.add(RuleMeta(access_id=rule.id, key=key, value=value))
        si = models.ShareInstance
        instance_ids = session.scalars(sa.select(si.id).where(
            si.share_id == values['share_id'], model_base.live(si)))
        for instance_id in instance_ids:
            mapping = utils.ensure_id(
                {'share_instance_id': instance_id, 'access_id': rule.id})
            if state:
                mapping['state'] = state
            session.add(Mapping(**mapping))
        session.flush()
        return _rule_get(session, rule.id)


def _mapping_query(access_id=None, instance_id=None):
    stmt = sa.select(Mapping).where(model_base.live(Mapping)).options(
        orm.selectinload(Mapping.access).options(
            orm.selectinload(Rule.share_access_rules_metadata)))
    if access_id is not None:
        stmt = stmt.where(Mapping.access_id == access_id)
    if instance_id is not None:
        stmt = stmt.where(Mapping.share_instance_id == instance_id)
    return stmt


def _with_rule_data(mappings):
    for mapping in mappings:
        if mapping.access is not None:
            mapping.set_share_access_data(mapping.access)
    return mappings


def share_instance_access_get_all(context, share_instance_id, filters=None):
    """Live mappings of the instance, each carrying its rule's fields."""
    filters = dict(filters or {})
    stmt = utils.exact_filter(_mapping_query(instance_id=share_instance_id),
                              Mapping, filters, ('id', 'access_id', 'state'))
    stmt = stmt.order_by(Mapping.created_at, Mapping.id)
    with engine.reader(context) as session:
        return _with_rule_data(list(session.scalars(stmt)))


def share_instance_access_get(context, access_id, share_instance_id):
    with engine.reader(context) as session:
        mapping = session.scalars(
            _mapping_query(access_id, share_instance_id)).first()
    if mapping is None:
        raise exception.AccessRuleNotFound(access_id=access_id)
    return _with_rule_data([mapping])[0]


def share_instance_access_update(context, access_id, share_instance_id,
                                 updates):
    """Rule fields go to the rule, the rest (``state``) to the mapping."""
    rule_values, mapping_values = utils.split_values(updates, RULE_FIELDS)
    now = model_base.utcnow()
    with engine.writer(context) as session:
        mapping = session.scalars(
            _mapping_query(access_id, share_instance_id)).first()
        if mapping is None:
            raise exception.AccessRuleNotFound(access_id=access_id)
        rule = _rule_get(session, access_id)
        utils.apply_values(rule, dict(rule_values, updated_at=now))
        utils.apply_values(mapping, dict(mapping_values, updated_at=now))
        session.flush()
        return _with_rule_data([mapping])[0]


def _release_access_locks(session, access_id):
    lock = models.ResourceLock
    locks = list(session.scalars(sa.select(lock).where(
        lock.resource_id == access_id, model_base.live(lock))))
    for access_lock in locks:
        if access_lock.resource_action == 'delete':
            reason = _LOCKED_BY_ACCESS % {'lock_id': access_lock.id}
            utils.soft_delete_where(session, lock, lock.lock_reason == reason)
        access_lock.soft_delete(session)


def share_instance_access_delete(context, mapping_id):
    """Soft-delete a mapping ('deleted'); the rule too once no mapping is left."""
    with engine.writer(context) as session:
        mapping = session.scalars(
            sa.select(Mapping).where(Mapping.id == mapping_id)).first()
        if mapping is None:
            raise exception.AccessRuleNotFound(access_id=mapping_id)
        if mapping.deleted == model_base.STRING_LIVE:
            mapping.soft_delete(session, update_status=True)
        access_id = mapping.access_id
        others = session.scalar(
            sa.select(sa.func.count()).select_from(Mapping)
            .where(Mapping.access_id == access_id, model_base.live(Mapping)))
        if others == 0:
            _release_access_locks(session, access_id)
            utils.soft_delete_where(session, RuleMeta,
                                    RuleMeta.access_id == access_id)
            utils.soft_delete_where(session, Rule, Rule.id == access_id)


def share_instance_access_states_update(context, share_instance_id,
                                        from_states, new_state):
    """One UPDATE moving the instance's live mappings in ``from_states`` to ``new_state``."""
    with engine.writer(context) as session:
        stmt = (sa.update(Mapping)
                .where(Mapping.share_instance_id == share_instance_id,
                       model_base.live(Mapping),
                       Mapping.state.in_(utils.as_list(from_states)))
                .values(state=new_state, updated_at=model_base.utcnow())
                .execution_options(synchronize_session=False))
        return session.execute(stmt).rowcount
