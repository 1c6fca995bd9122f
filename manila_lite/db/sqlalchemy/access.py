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


def share_instances_access_get_all(context, share_instance_ids):
    """``{instance id: [live mappings with rule data]}`` of many instances (one read)."""
    result = {instance_id: [] for instance_id in share_instance_ids}
    if not result:
        return result
    stmt = (_mapping_query()
            .where(Mapping.share_instance_id.in_(list(result)))
            .order_by(Mapping.created_at, Mapping.id))
    with engine.reader(context) as session:
        for mapping in _with_rule_data(list(session.scalars(stmt))):
            result[mapping.share_instance_id].append(mapping)
    return result


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


def share_instance_access_conditional_update(context, share_instance_ids,
                                             expected_states, values,
                                             access_ids=None):
    """One UPDATE of the live mappings of the instances (optionally of some rules) in ``expected_states``."""
    stmt = (sa.update(Mapping)
            .where(Mapping.share_instance_id.in_(
                utils.as_list(share_instance_ids)),
        model_base.live(Mapping),
        Mapping.state.in_(utils.as_list(expected_states))))
    if access_ids is not None:
        stmt = stmt.where(Mapping.access_id.in_(utils.as_list(access_ids)))
    stmt = (stmt.values(**dict(values, updated_at=model_base.utcnow()))
            .execution_options(synchronize_session=False))
    with engine.writer(context) as session:
        return session.execute(stmt).rowcount


def share_instance_access_rules_status_update(context, share_instance_ids,
                                              expected_statuses, new_status):
    """One UPDATE of ``access_rules_status`` on live instances currently in ``expected_statuses``."""
    si = models.ShareInstance
    stmt = (sa.update(si)
            .where(si.id.in_(utils.as_list(share_instance_ids)),
                   model_base.live(si),
                   si.access_rules_status.in_(
                       utils.as_list(expected_statuses)))
            .values(access_rules_status=new_status,
                    updated_at=model_base.utcnow())
            .execution_options(synchronize_session=False))
    with engine.writer(context) as session:
        return session.execute(stmt).rowcount


# -- snapshot access rules ----------------------------------------------------

SnapRule = models.ShareSnapshotAccessMapping
SnapMapping = models.ShareSnapshotInstanceAccessMapping
SNAPSHOT_RULE_FIELDS = ('access_type', 'access_to')


def share_snapshot_access_create(context, values):
    """A snapshot rule plus one 'queued_to_apply' mapping per live instance of its snapshot."""
    values = utils.ensure_id(dict(values))
    with engine.writer(context) as session:
        rule = SnapRule()
        utils.apply_values(rule, values)
        session.add(rule)
        snap_inst = models.ShareSnapshotInstance
        instance_ids = session.scalars(sa.select(snap_inst.id).where(
            snap_inst.snapshot_id == values['share_snapshot_id'],
            model_base.live(snap_inst)))
        for instance_id in instance_ids:
            session.add(SnapMapping(**utils.ensure_id(
                {'share_snapshot_instance_id': instance_id,
                 'access_id': rule.id})))
        session.flush()
        return session.scalars(
            sa.select(SnapRule).where(SnapRule.id == rule.id)
            .options(orm.selectinload(SnapRule.instance_mappings))).one()


def _snapshot_mappings(session, conditions):
    """Live snapshot mappings matching ``conditions``, each carrying its rule's fields."""
    stmt = (sa.select(SnapMapping, SnapRule)
            .join(SnapRule, SnapMapping.access_id == SnapRule.id)
            .where(model_base.live(SnapMapping), *conditions)
            .order_by(SnapMapping.created_at, SnapMapping.id))
    result = []
    for mapping, rule in session.execute(stmt).all():
        mapping.share_snapshot_id = rule.share_snapshot_id
        for key in SNAPSHOT_RULE_FIELDS:
            setattr(mapping, key, rule[key])
        result.append(mapping)
    return result


def share_snapshot_access_get_all_for_snapshot_instance(
        context, snapshot_instance_id, filters=None):
    """Live mappings of one snapshot instance with rule data; filters id, access_id, state."""
    filters = dict(filters or {})
    conditions = [SnapMapping.share_snapshot_instance_id ==
                  snapshot_instance_id]
    for key in ('id', 'access_id', 'state'):
        if key in filters:
            conditions.append(getattr(SnapMapping, key).in_(
                utils.as_list(filters[key])))
    with engine.reader(context) as session:
        return _snapshot_mappings(session, conditions)


def share_snapshot_access_get_all_for_snapshot_instances(
        context, snapshot_instance_ids, states=None):
    """Live mappings of many snapshot instances (optionally in ``states``), in one query."""
    ids = utils.as_list(snapshot_instance_ids) or []
    if not ids:
        return []
    conditions = [SnapMapping.share_snapshot_instance_id.in_(ids)]
    if states is not None:
        conditions.append(SnapMapping.state.in_(utils.as_list(states)))
    with engine.reader(context) as session:
        return _snapshot_mappings(session, conditions)


def share_snapshot_instance_access_update(context, access_id, instance_id,
                                          updates):
    """access_type/access_to go to the snapshot rule, the rest (``state``) to the mapping."""
    rule_values, mapping_values = utils.split_values(updates,
                                                     SNAPSHOT_RULE_FIELDS)
    now = model_base.utcnow()
    with engine.writer(context) as session:
        rule = session.scalars(sa.select(SnapRule).where(
            SnapRule.id == access_id, model_base.live(SnapRule))).first()
        mapping = session.scalars(sa.select(SnapMapping).where(
            SnapMapping.access_id == access_id,
            SnapMapping.share_snapshot_instance_id == instance_id,
            model_base.live(SnapMapping))).first()
        if rule is None or mapping is None:
            raise exception.AccessRuleNotFound(access_id=access_id)
        utils.apply_values(rule, dict(rule_values, updated_at=now))
        utils.apply_values(mapping, dict(mapping_values, updated_at=now))
        session.flush()
        return mapping


def share_snapshot_instance_access_conditional_update(
        context, snapshot_instance_ids, expected_states, values,
        access_ids=None):
    """One UPDATE of live snapshot mappings in ``expected_states``; returns the count."""
    stmt = (sa.update(SnapMapping)
            .where(SnapMapping.share_snapshot_instance_id.in_(
                utils.as_list(snapshot_instance_ids)),
        model_base.live(SnapMapping),
        SnapMapping.state.in_(utils.as_list(expected_states))))
    if access_ids is not None:
        stmt = stmt.where(SnapMapping.access_id.in_(
            utils.as_list(access_ids)))
    stmt = (stmt.values(**dict(values, updated_at=model_base.utcnow()))
            .execution_options(synchronize_session=False))
    with engine.writer(context) as session:
        return session.execute(stmt).rowcount


def share_snapshot_instance_access_delete(context, access_id,
                                          snapshot_instance_id):
    """Soft-delete the mapping ('deleted'); the snapshot rule too once no mapping is left."""
    with engine.writer(context) as session:
        mapping = session.scalars(sa.select(SnapMapping).where(
            SnapMapping.access_id == access_id,
            SnapMapping.share_snapshot_instance_id == snapshot_instance_id,
            model_base.live(SnapMapping))).first()
        if mapping is None:
            raise exception.AccessRuleNotFound(access_id=access_id)
        mapping.soft_delete(session, update_status=True)
        others = session.scalar(
            sa.select(sa.func.count()).select_from(SnapMapping)
            .where(SnapMapping.access_id == access_id,
                   model_base.live(SnapMapping)))
        if others == 0:
            utils.soft_delete_where(session, SnapRule,
                                    SnapRule.id == access_id)


def share_access_get_all_for_shares(context, share_ids):
    """``{share id: [live rules]}`` of many shares, a constant number of statements."""
    stmt = (sa.select(Rule).where(Rule.share_id.in_(list(share_ids)),
                                  model_base.live(Rule))
            .options(orm.subqueryload(Rule.instance_mappings))
            .order_by(Rule.created_at, Rule.id))
    result = {share_id: [] for share_id in share_ids}
    with engine.reader(context) as session:
        for rule in session.scalars(stmt):
            result[rule.share_id].append(rule)
    return result


def share_access_get_all_for_share(context, share_id, filters=None):
    """Live rules of a share (share_access_map rows with mappings and metadata)."""
    filters = dict(filters or {})
    stmt = (sa.select(Rule).where(Rule.share_id == share_id,
                                  model_base.live(Rule))
            .options(*_rule_options()))
    stmt = utils.exact_filter(stmt, Rule, filters,
                              ('id', 'access_type', 'access_to',
                               'access_level'))
    stmt = stmt.order_by(Rule.created_at, Rule.id)
    with engine.reader(context) as session:
        return list(session.scalars(stmt))
