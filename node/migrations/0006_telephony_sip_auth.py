"""telephony_sip_auth"""
# Generated from a schema diff on 2026-11-28 01:57.
from peewee import *

def up(migrator, db):
    migrator.migrate(migrator.add_column('agent', 'sip_ha1', CharField(max_length=32, default='')))


def down(migrator, db):
    migrator.migrate(migrator.drop_column('agent', 'sip_ha1'))
