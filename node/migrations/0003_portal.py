"""portal"""
# Generated from a schema diff on 2026-11-28 01:37.
from peewee import *

def up(migrator, db):
    class PortalHit(Model):
        kind = CharField(max_length=10)
        address = CharField(max_length=64)
        at = DateTimeField()
        class Meta:
            database = db
            table_name = 'portal_hit'
            indexes = ((('kind', 'address', 'at'), False),)
    db.create_tables([PortalHit])


def down(migrator, db):
    migrator.migrate(migrator.drop_table('portal_hit'))
