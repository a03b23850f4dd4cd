"""urge_order_unit"""
# Generated from a schema diff on 2026-12-02 17:05.
from peewee import *

def up(migrator, db):
    migrator.migrate(migrator.add_index('urge', ('order_id', 'unit_id', 'at')))


def down(migrator, db):
    migrator.migrate(migrator.drop_index('urge', 'urge_order_id_unit_id_at'))
