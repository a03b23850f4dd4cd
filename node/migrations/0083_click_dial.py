"""click_dial: 回访外呼 — the callback task a call was placed for, and each attempt's outcome."""
from peewee import *

def up(migrator, db):
    migrator.migrate(migrator.add_column('call', 'visit_task', IntegerField(null=True, index=True)))
    migrator.migrate(migrator.add_column('visit_attempt', 'outcome', CharField(max_length=12, default='')))


def down(migrator, db):
    migrator.migrate(migrator.drop_column('visit_attempt', 'outcome'))
    migrator.migrate(migrator.drop_column('call', 'visit_task'))
