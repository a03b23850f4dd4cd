"""federation_hardening"""
# Generated from a schema diff on 2026-12-02 07:45.
from peewee import *

def up(migrator, db):
    class DirectoryVersion(Model):
        serial = BigIntegerField(unique=True)
        issued_at_ms = BigIntegerField()
        valid_until_ms = BigIntegerField()
        nodes = IntegerField(default=0)
        keys = IntegerField(default=0)
        recorded_at = DateTimeField()
        class Meta:
            database = db
            table_name = 'directory_version'
    db.create_tables([DirectoryVersion])

    class MetricCounter(Model):
        name = CharField(max_length=64)
        labels = CharField(max_length=200, default='')
        value = FloatField(default=0)
        class Meta:
            database = db
            table_name = 'metric_counter'
            indexes = ((('name', 'labels'), True),)
    db.create_tables([MetricCounter])

    class TransferRoute(Model):
        transfer_id = CharField(unique=True, max_length=64)
        number = CharField(index=True, max_length=21, default='')
        from_node = CharField(max_length=6)
        to_node = CharField(max_length=6)
        kind = CharField(max_length=10, default='transfer')
        refused = BooleanField(default=False)
        created_at = DateTimeField()
        class Meta:
            database = db
            table_name = 'transfer_route'
    db.create_tables([TransferRoute])

    migrator.migrate(migrator.add_column('outbox_message', 'protected', BooleanField(default=False)))


def down(migrator, db):
    migrator.migrate(migrator.drop_column('outbox_message', 'protected'))
    migrator.migrate(migrator.drop_table('transfer_route'))
    migrator.migrate(migrator.drop_table('metric_counter'))
    migrator.migrate(migrator.drop_table('directory_version'))
