"""analytics_import"""
# Generated from a schema diff on 2026-12-02 13:15.
from peewee import *
from node.db import JsonText

def up(migrator, db):
    class WorkOrder(Model):
        class Meta:
            database = db
            table_name = 'work_order'

    class ImportBatch(Model):
        file_name = CharField(max_length=200)
        file_sha256 = CharField(index=True, max_length=64)
        mapping_name = CharField(max_length=60)
        started_at = DateTimeField()
        finished_at = DateTimeField(null=True)
        rows_total = IntegerField(default=0)
        rows_imported = IntegerField(default=0)
        rows_skipped = IntegerField(default=0)
        rows_rejected = IntegerField(default=0)
        by = CharField(max_length=40, default='命令行')
        rejected = JsonText(null=True)
        class Meta:
            database = db
            table_name = 'import_batch'
    db.create_tables([ImportBatch])

    class ImportedOrder(Model):
        order = ForeignKeyField(WorkOrder, unique=True, on_delete='CASCADE')
        batch = ForeignKeyField(ImportBatch, on_delete='CASCADE')
        source_key = CharField(unique=True, max_length=80)
        class Meta:
            database = db
            table_name = 'imported_order'
    db.create_tables([ImportedOrder])


def down(migrator, db):
    migrator.migrate(migrator.drop_table('imported_order'))
    migrator.migrate(migrator.drop_table('import_batch'))
