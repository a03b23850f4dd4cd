"""push"""
# Generated from a schema diff on 2026-12-02 07:41.
from peewee import *
from node.db import JsonText

def up(migrator, db):
    class PushEvent(Model):
        topic = CharField(index=True, max_length=60)
        kind = CharField(max_length=30)
        data = JsonText(null=True)
        at = DateTimeField(index=True)
        class Meta:
            database = db
            table_name = 'push_event'
    db.create_tables([PushEvent])


def down(migrator, db):
    migrator.migrate(migrator.drop_table('push_event'))
