"""analytics_facts"""
# Generated from a schema diff on 2026-12-02 13:38.
from peewee import *

def up(migrator, db):
    class DailyFact(Model):
        day = DateField()
        measure = CharField(max_length=40)
        business_type = CharField(max_length=2, default='')
        domain = CharField(max_length=2, default='')
        channel = CharField(max_length=2, default='')
        value = FloatField()
        class Meta:
            database = db
            table_name = 'daily_fact'
            indexes = ((('day', 'measure'), False),)
    db.create_tables([DailyFact])

    class FactDay(Model):
        day = DateField(primary_key=True)
        refreshed_at = DateTimeField()
        class Meta:
            database = db
            table_name = 'fact_day'
    db.create_tables([FactDay])


def down(migrator, db):
    migrator.migrate(migrator.drop_table('fact_day'))
    migrator.migrate(migrator.drop_table('daily_fact'))
