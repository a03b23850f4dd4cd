"""followup"""
# Generated from a schema diff on 2026-12-02 13:01.
from peewee import *
from node.db import JsonText

def up(migrator, db):
    class Unit(Model):
        class Meta:
            database = db
            table_name = 'unit'

    class User(Model):
        class Meta:
            database = db
            table_name = 'user'

    class WorkOrder(Model):
        class Meta:
            database = db
            table_name = 'work_order'

    class CallbackPlan(Model):
        name = CharField(max_length=60)
        business_type = CharField(max_length=2, default='')
        domain = CharField(max_length=2, default='')
        unit = ForeignKeyField(Unit, null=True, on_delete='CASCADE')
        share_percent = FloatField()
        seed = CharField(max_length=40, default='12328')
        max_attempts = IntegerField(default=3)
        retry_minutes = IntegerField(default=120)
        questions = CharField(max_length=60, default='result,service,solved,note')
        active = BooleanField(default=True)
        created_at = DateTimeField()
        updated_at = DateTimeField()
        class Meta:
            database = db
            table_name = 'callback_plan'
    db.create_tables([CallbackPlan])

    class Dissatisfaction(Model):
        order = ForeignKeyField(WorkOrder, on_delete='CASCADE')
        round = IntegerField(default=0)
        source = CharField(max_length=10)
        dimensions = CharField(max_length=20)
        unit = ForeignKeyField(Unit, null=True, on_delete='SET NULL')
        opened_at = DateTimeField(index=True)
        state = CharField(index=True, max_length=10, default='open')
        decided_by = ForeignKeyField(User, null=True, on_delete='SET NULL')
        decided_at = DateTimeField(null=True)
        decision_note = TextField(default='')
        reopened_to = ForeignKeyField(Unit, null=True, on_delete='SET NULL')
        data = JsonText(null=True)
        class Meta:
            database = db
            table_name = 'dissatisfaction'
            indexes = ((('order', 'round', 'source'), True),)
    db.create_tables([Dissatisfaction])

    class Rating(Model):
        order = ForeignKeyField(WorkOrder, on_delete='CASCADE')
        round = IntegerField(default=0)
        source = CharField(max_length=10)
        dimension = CharField(max_length=8)
        value = CharField(max_length=1)
        at = DateTimeField(index=True)
        by = ForeignKeyField(User, null=True, on_delete='SET NULL')
        comment = TextField(default='')
        class Meta:
            database = db
            table_name = 'rating'
            indexes = ((('order', 'round', 'source', 'dimension'), True), (('source', 'at'), False))
    db.create_tables([Rating])

    class VisitTask(Model):
        order = ForeignKeyField(WorkOrder, on_delete='CASCADE')
        round = IntegerField(default=0)
        plan = ForeignKeyField(CallbackPlan, null=True, on_delete='SET NULL')
        plan_name = CharField(max_length=60, default='')
        share_percent = FloatField()
        draw = FloatField()
        sampled = BooleanField(index=True)
        state = CharField(index=True, max_length=12, default='pending')
        questions = CharField(max_length=60, default='result,service,solved,note')
        max_attempts = IntegerField(default=3)
        retry_minutes = IntegerField(default=120)
        attempts = IntegerField(default=0)
        next_try_at = DateTimeField(null=True)
        created_at = DateTimeField(index=True)
        due_at = DateTimeField(index=True, null=True)
        warned = CharField(max_length=40, default='')
        finished_at = DateTimeField(null=True)
        solved = BooleanField(null=True)
        note = TextField(default='')
        class Meta:
            database = db
            table_name = 'visit_task'
            indexes = ((('order', 'round'), True), (('state', 'due_at'), False))
    db.create_tables([VisitTask])

    class VisitAttempt(Model):
        task = ForeignKeyField(VisitTask, on_delete='CASCADE')
        at = DateTimeField()
        by = ForeignKeyField(User, null=True, on_delete='SET NULL')
        by_name = CharField(max_length=40, default='')
        method = CharField(max_length=10, default='phone')
        reached = BooleanField()
        note = TextField(default='')
        call_id = CharField(index=True, max_length=100, default='')
        class Meta:
            database = db
            table_name = 'visit_attempt'
    db.create_tables([VisitAttempt])


def down(migrator, db):
    migrator.migrate(migrator.drop_table('visit_attempt'))
    migrator.migrate(migrator.drop_table('visit_task'))
    migrator.migrate(migrator.drop_table('rating'))
    migrator.migrate(migrator.drop_table('dissatisfaction'))
    migrator.migrate(migrator.drop_table('callback_plan'))
