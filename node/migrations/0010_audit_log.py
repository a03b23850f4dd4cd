"""audit_log"""
# Generated from a schema diff on 2026-12-02 07:37.
from peewee import *
from node.db import JsonText

def up(migrator, db):
    class AuditEntry(Model):
        seq = BigIntegerField(unique=True)
        at = DateTimeField(index=True)
        event = CharField(index=True, max_length=40)
        actor_id = IntegerField(index=True, null=True)
        actor_name = CharField(max_length=60)
        address = CharField(max_length=64, default='')
        target = CharField(index=True, max_length=120, default='')
        details = JsonText(default=dict)
        prev_hash = CharField(max_length=64)
        hash = CharField(max_length=64)
        class Meta:
            database = db
            table_name = 'audit_entry'
    db.create_tables([AuditEntry])


def down(migrator, db):
    migrator.migrate(migrator.drop_table('audit_entry'))
