"""stats_topics_forms"""
# Generated from a schema diff on 2026-12-02 16:36.
from peewee import *
from node.db import JsonText

def up(migrator, db):
    class User(Model):
        class Meta:
            database = db
            table_name = 'user'

    class NodeForm(Model):
        node = CharField(max_length=6)
        period = CharField(max_length=7)
        revision = BigIntegerField()
        generated_at_ms = BigIntegerField(default=0)
        received_at = DateTimeField()
        form = JsonText()
        class Meta:
            database = db
            table_name = 'node_form'
            indexes = ((('node', 'period'), True), (('period',), False))
    db.create_tables([NodeForm])

    class Topic(Model):
        name = CharField(unique=True, max_length=60)
        keywords = JsonText()
        mode = CharField(max_length=3, default='all')
        exclude = JsonText(null=True)
        filters = JsonText(null=True)
        note = CharField(max_length=200, default='')
        owner = ForeignKeyField(User, null=True, on_delete='SET NULL', backref='+')
        active = BooleanField(default=True)
        created_at = DateTimeField()
        updated_at = DateTimeField()
        updated_by = ForeignKeyField(User, null=True, on_delete='SET NULL', backref='+')
        class Meta:
            database = db
            table_name = 'topic'
    db.create_tables([Topic])


def down(migrator, db):
    migrator.migrate(migrator.drop_table('topic'))
    migrator.migrate(migrator.drop_table('node_form'))
