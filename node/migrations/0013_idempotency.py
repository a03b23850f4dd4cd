"""idempotency"""
# Generated from a schema diff on 2026-12-02 13:22.
from peewee import *
from node.db import JsonText

def up(migrator, db):
    class IdempotentRequest(Model):
        owner = CharField(max_length=60)
        key = CharField(max_length=100)
        method = CharField(max_length=8)
        path = CharField(max_length=200)
        fingerprint = CharField(max_length=64)
        status = IntegerField()
        response = JsonText()
        created_at = DateTimeField(index=True)
        class Meta:
            database = db
            table_name = 'idempotent_request'
            indexes = ((('owner', 'key'), True),)
    db.create_tables([IdempotentRequest])


def down(migrator, db):
    migrator.migrate(migrator.drop_table('idempotent_request'))
