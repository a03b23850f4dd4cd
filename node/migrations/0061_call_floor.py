"""call_floor"""
# Generated from a schema diff on 2026-12-02 07:44.
from peewee import *

def up(migrator, db):
    class Agent(Model):
        class Meta:
            database = db
            table_name = 'agent'

    class Call(Model):
        class Meta:
            database = db
            table_name = 'call'

    class User(Model):
        class Meta:
            database = db
            table_name = 'user'

    class CallLeg(Model):
        call = ForeignKeyField(Call, on_delete='CASCADE')
        seq = IntegerField()
        day = DateField(index=True)
        direction = CharField(max_length=8, default='inbound')
        origin = CharField(index=True, max_length=10, default='ivr')
        queue = CharField(index=True, max_length=2, default='')
        agent = ForeignKeyField(Agent, null=True, on_delete='SET NULL')
        user = ForeignKeyField(User, null=True, on_delete='SET NULL')
        entered_at = DateTimeField(index=True)
        answered_at = DateTimeField(null=True)
        ended_at = DateTimeField(null=True)
        wait_s = FloatField(null=True)
        talk_s = FloatField(null=True)
        wrapup_s = FloatField(null=True)
        offers = IntegerField(default=0)
        outcome = CharField(index=True, max_length=12, default='waiting')
        transferred_to = CharField(max_length=40, default='')
        class Meta:
            database = db
            table_name = 'call_leg'
            indexes = ((('call', 'seq'), True), (('day', 'queue'), False), (('day', 'user'), False))
    db.create_tables([CallLeg])

    migrator.migrate(migrator.add_column('agent', 'sip_registered', BooleanField(null=True)))
    migrator.migrate(migrator.add_column('agent', 'registration_checked_at', DateTimeField(null=True)))
    migrator.migrate(migrator.add_column('agent_state_log', 'by', CharField(max_length=40, default='系统')))


def down(migrator, db):
    migrator.migrate(migrator.drop_column('agent_state_log', 'by'))
    migrator.migrate(migrator.drop_column('agent', 'registration_checked_at'))
    migrator.migrate(migrator.drop_column('agent', 'sip_registered'))
    migrator.migrate(migrator.drop_table('call_leg'))
