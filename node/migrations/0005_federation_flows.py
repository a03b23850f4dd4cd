"""federation_flows"""
# Generated from a schema diff on 2026-11-28 01:43.
from peewee import *

def up(migrator, db):
    class NodeReport(Model):
        node = CharField(max_length=6)
        report_date = DateField()
        revision = BigIntegerField()
        generated_at_ms = BigIntegerField(default=0)
        received_at = DateTimeField()
        class Meta:
            database = db
            table_name = 'node_report'
            indexes = ((('node', 'report_date'), True), (('report_date',), False))
    db.create_tables([NodeReport])

    class RecordQueue(Model):
        order_id = IntegerField(unique=True)
        version = IntegerField()
        changed_at = DateTimeField()
        class Meta:
            database = db
            table_name = 'record_queue'
    db.create_tables([RecordQueue])

    class RemoteOrder(Model):
        reporter = CharField(max_length=6)
        number = CharField(max_length=21)
        origin_node = CharField(max_length=6)
        handling_node = CharField(max_length=6)
        region_code = CharField(index=True, max_length=6)
        business_type = CharField(max_length=2, default='')
        domain = CharField(max_length=2, default='')
        channel = CharField(max_length=2, default='')
        state = CharField(max_length=20)
        category = CharField(max_length=8, default='')
        accepted_at = DateTimeField(index=True)
        closed_at = DateTimeField(null=True)
        revision = BigIntegerField()
        received_at = DateTimeField()
        record = BlobField()
        class Meta:
            database = db
            table_name = 'remote_order'
            indexes = ((('reporter', 'number'), True), (('reporter', 'accepted_at'), False))
    db.create_tables([RemoteOrder])

    class ReportCount(Model):
        report = ForeignKeyField(NodeReport, on_delete='CASCADE')
        node = CharField(max_length=6)
        report_date = DateField()
        metric = CharField(max_length=32)
        business_type = CharField(max_length=2, default='')
        domain = CharField(max_length=2, default='')
        channel = CharField(max_length=2, default='')
        value = BigIntegerField()
        class Meta:
            database = db
            table_name = 'report_count'
            indexes = ((('report_date', 'node'), False),)
    db.create_tables([ReportCount])

    class TransferLink(Model):
        transfer_id = CharField(max_length=64)
        number = CharField(index=True, max_length=21)
        direction = CharField(max_length=3)
        peer = CharField(max_length=6)
        status = CharField(max_length=10, default='sent')
        last_sequence = BigIntegerField(default=0)
        created_at = DateTimeField()
        updated_at = DateTimeField()
        class Meta:
            database = db
            table_name = 'transfer_link'
            indexes = ((('transfer_id', 'direction'), True),)
    db.create_tables([TransferLink])


def down(migrator, db):
    migrator.migrate(migrator.drop_table('transfer_link'))
    migrator.migrate(migrator.drop_table('report_count'))
    migrator.migrate(migrator.drop_table('remote_order'))
    migrator.migrate(migrator.drop_table('record_queue'))
    migrator.migrate(migrator.drop_table('node_report'))
