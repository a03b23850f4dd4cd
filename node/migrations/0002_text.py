"""text"""
# Generated from a schema diff on 2026-11-28 01:32.
from peewee import *
from node.db import JsonText

def up(migrator, db):
    class User(Model):
        class Meta:
            database = db
            table_name = 'user'

    class CategoryChoice(Model):
        order_number = CharField(index=True, max_length=40)
        kind = CharField(max_length=20)
        suggested = CharField(max_length=20, default='')
        confidence = FloatField(null=True)
        chosen = CharField(max_length=20)
        model_version = IntegerField(null=True)
        decided_by = ForeignKeyField(User, null=True, on_delete='SET NULL')
        decided_at = DateTimeField(index=True)
        class Meta:
            database = db
            table_name = 'category_choice'
            indexes = ((('order_number', 'kind'), True),)
    db.create_tables([CategoryChoice])

    class DuplicateDecision(Model):
        order_number = CharField(index=True, max_length=40)
        candidate_number = CharField(max_length=40)
        is_duplicate = BooleanField()
        score = FloatField(null=True)
        text_similarity = FloatField(null=True)
        rank = IntegerField(null=True)
        reasons = JsonText(null=True)
        decided_by = ForeignKeyField(User, null=True, on_delete='SET NULL')
        decided_at = DateTimeField(index=True)
        class Meta:
            database = db
            table_name = 'duplicate_decision'
            indexes = ((('order_number', 'candidate_number'), True),)
    db.create_tables([DuplicateDecision])


    class TextModel(Model):
        kind = CharField(max_length=20)
        version = IntegerField()
        created_at = DateTimeField()
        algorithm = CharField(max_length=60)
        source = CharField(max_length=200, default='')
        samples = IntegerField(default=0)
        metrics = JsonText(null=True)
        labels = JsonText(null=True)
        blob = BlobField()
        active = BooleanField(default=False)
        class Meta:
            database = db
            table_name = 'text_model'
            indexes = ((('kind', 'version'), True),)
    db.create_tables([TextModel])


def down(migrator, db):
    migrator.migrate(migrator.drop_table('text_model'))
    migrator.migrate(migrator.drop_table('duplicate_decision'))
    migrator.migrate(migrator.drop_table('category_choice'))
