"""order_redundant_indexes: drop the single-column indexes on work_order.state and
work_order.business_type (#17 item 13). Each is the leading column of a composite index
((state, due_at), (state, accepted_at), (business_type, accepted_at)) that serves the same
look-ups; every order insert and state change maintained them for nothing."""

from peewee import *


def up(migrator, db):
    migrator.migrate(
        migrator.drop_index('work_order', 'workorder_state'),
        migrator.drop_index('work_order', 'workorder_business_type'),
    )


def down(migrator, db):
    migrator.migrate(
        migrator.add_index('work_order', ('state',), False),
        migrator.add_index('work_order', ('business_type',), False),
    )
