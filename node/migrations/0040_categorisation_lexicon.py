"""categorisation_lexicon"""
# Generated from a schema diff on 2026-12-02 07:43.
from peewee import *
from node.db import JsonText

def up(migrator, db):
    class User(Model):
        class Meta:
            database = db
            table_name = 'user'

    class LexiconChange(Model):
        at = DateTimeField()
        by = ForeignKeyField(User, null=True, on_delete='SET NULL')
        action = CharField(max_length=10)
        entry_id = IntegerField(null=True)
        before = JsonText(null=True)
        after = JsonText(null=True)
        class Meta:
            database = db
            table_name = 'lexicon_change'
    db.create_tables([LexiconChange])

    class LexiconEntry(Model):
        term = CharField(max_length=40)
        target = CharField(max_length=4)
        weight = FloatField()
        enabled = BooleanField(default=True)
        builtin = BooleanField(default=False)
        note = CharField(max_length=200, default='')
        updated_by = ForeignKeyField(User, null=True, on_delete='SET NULL')
        updated_at = DateTimeField()
        class Meta:
            database = db
            table_name = 'lexicon_entry'
            indexes = ((('term', 'target'), True),)
    db.create_tables([LexiconEntry])


def down(migrator, db):
    migrator.migrate(migrator.drop_table('lexicon_entry'))
    migrator.migrate(migrator.drop_table('lexicon_change'))
