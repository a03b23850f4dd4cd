"""outbox"""
# Generated from a schema diff on 2026-12-02 13:30.
from peewee import *

def up(migrator, db):
    class WorkOrder(Model):
        class Meta:
            database = db
            table_name = 'work_order'

    class CitizenMessage(Model):
        key = CharField(unique=True, max_length=60)
        order = ForeignKeyField(WorkOrder, null=True, on_delete='CASCADE')
        event = CharField(max_length=16)
        channel = CharField(max_length=8)
        to_cipher = TextField()
        to_digest = CharField(index=True, max_length=32, default='')
        to_masked = CharField(max_length=40, default='')
        body = TextField()
        state = CharField(index=True, max_length=8, default='pending')
        attempts = IntegerField(default=0)
        next_try_at = DateTimeField(index=True)
        claimed_at = DateTimeField(null=True)
        sent_at = DateTimeField(null=True)
        provider_ref = CharField(max_length=80, default='')
        error = CharField(max_length=200, default='')
        created_at = DateTimeField(index=True)
        class Meta:
            database = db
            table_name = 'citizen_message'
    db.create_tables([CitizenMessage])

    class InboundMessage(Model):
        channel = CharField(max_length=8)
        from_digest = CharField(index=True, max_length=32)
        from_masked = CharField(max_length=40, default='')
        text = TextField()
        received_at = DateTimeField(index=True)
        outcome = CharField(max_length=12)
        order_number = CharField(max_length=21, default='')
        contact_id = IntegerField(null=True)
        provider_ref = CharField(index=True, max_length=80, default='')
        class Meta:
            database = db
            table_name = 'inbound_message'
    db.create_tables([InboundMessage])


def down(migrator, db):
    migrator.migrate(migrator.drop_table('inbound_message'))
    migrator.migrate(migrator.drop_table('citizen_message'))
