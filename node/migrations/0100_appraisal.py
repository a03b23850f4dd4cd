"""appraisal"""
# Generated from a schema diff on 2026-12-02 13:28.
from peewee import *
from node.db import JsonText

def up(migrator, db):
    class Call(Model):
        class Meta:
            database = db
            table_name = 'call'

    class Unit(Model):
        class Meta:
            database = db
            table_name = 'unit'

    class User(Model):
        class Meta:
            database = db
            table_name = 'user'

    class Scheme(Model):
        population = CharField(index=True, max_length=8)
        name = CharField(max_length=60)
        period_kind = CharField(max_length=8, default='month')
        version = IntegerField()
        effective_from = DateField()
        items = JsonText()
        bonus_cap = FloatField(default=10.0)
        penalty_cap = FloatField(default=20.0)
        note = CharField(max_length=200, default='')
        created_by = ForeignKeyField(User, null=True, on_delete='SET NULL')
        created_at = DateTimeField()
        class Meta:
            database = db
            table_name = 'scheme'
            indexes = ((('population', 'version'), True),)
    db.create_tables([Scheme])

    class Run(Model):
        population = CharField(max_length=8)
        period = CharField(max_length=8)
        scheme = ForeignKeyField(Scheme, on_delete='RESTRICT')
        status = CharField(max_length=10, default='draft')
        created_at = DateTimeField()
        created_by = CharField(max_length=40, default='系统')
        published_at = DateTimeField(null=True)
        published_by = ForeignKeyField(User, null=True, on_delete='SET NULL')
        seconds = FloatField(default=0)
        skipped = IntegerField(default=0)
        class Meta:
            database = db
            table_name = 'run'
            indexes = ((('population', 'period'), True),)
    db.create_tables([Run])

    class Result(Model):
        run = ForeignKeyField(Run, on_delete='CASCADE')
        subject_id = CharField(max_length=20)
        subject_name = CharField(max_length=100)
        unit = ForeignKeyField(Unit, null=True, on_delete='SET NULL')
        items = JsonText()
        base = FloatField()
        adjustment = FloatField(default=0)
        total = FloatField(index=True)
        rank = IntegerField(default=0)
        class Meta:
            database = db
            table_name = 'result'
            indexes = ((('run', 'subject_id'), True),)
    db.create_tables([Result])

    class Adjustment(Model):
        result = ForeignKeyField(Result, on_delete='CASCADE')
        points = FloatField()
        reason = CharField(max_length=200)
        by = ForeignKeyField(User, null=True, on_delete='SET NULL')
        by_name = CharField(max_length=40)
        at = DateTimeField()
        class Meta:
            database = db
            table_name = 'adjustment'
    db.create_tables([Adjustment])

    class Scoresheet(Model):
        version = IntegerField(unique=True)
        criteria = JsonText()
        created_by = ForeignKeyField(User, null=True, on_delete='SET NULL')
        created_at = DateTimeField()
        class Meta:
            database = db
            table_name = 'scoresheet'
    db.create_tables([Scoresheet])

    class Inspection(Model):
        call = ForeignKeyField(Call, on_delete='CASCADE')
        agent_user = ForeignKeyField(User, on_delete='CASCADE')
        period = CharField(index=True, max_length=8)
        reason = CharField(max_length=12)
        order_number = CharField(max_length=21, default='')
        status = CharField(index=True, max_length=10, default='pending')
        scoresheet = ForeignKeyField(Scoresheet, null=True, on_delete='RESTRICT')
        scores = JsonText(null=True)
        total = FloatField(null=True)
        comment = TextField(default='')
        marks = JsonText(null=True)
        inspector = ForeignKeyField(User, null=True, on_delete='SET NULL')
        scored_at = DateTimeField(null=True)
        appeal_text = TextField(default='')
        appeal_status = CharField(max_length=10, default='')
        appeal_at = DateTimeField(null=True)
        appeal_decision = TextField(default='')
        appeal_decided_by = ForeignKeyField(User, null=True, on_delete='SET NULL')
        appeal_decided_at = DateTimeField(null=True)
        sampled_at = DateTimeField()
        class Meta:
            database = db
            table_name = 'inspection'
            indexes = ((('call', 'period'), True), (('agent_user', 'period'), False))
    db.create_tables([Inspection])

    class Objection(Model):
        result = ForeignKeyField(Result, on_delete='CASCADE')
        item_key = CharField(max_length=40, default='')
        text = TextField()
        filed_by = ForeignKeyField(User, null=True, on_delete='SET NULL')
        filed_at = DateTimeField()
        status = CharField(index=True, max_length=10, default='pending')
        decision = TextField(default='')
        points = FloatField(default=0)
        decided_by = ForeignKeyField(User, null=True, on_delete='SET NULL')
        decided_at = DateTimeField(null=True)
        class Meta:
            database = db
            table_name = 'objection'
    db.create_tables([Objection])


def down(migrator, db):
    migrator.migrate(migrator.drop_table('objection'))
    migrator.migrate(migrator.drop_table('inspection'))
    migrator.migrate(migrator.drop_table('scoresheet'))
    migrator.migrate(migrator.drop_table('adjustment'))
    migrator.migrate(migrator.drop_table('result'))
    migrator.migrate(migrator.drop_table('run'))
    migrator.migrate(migrator.drop_table('scheme'))
