"""sessions"""
# Generated from a schema diff on 2026-12-02 07:40.
from peewee import *

def up(migrator, db):
    class User(Model):
        class Meta:
            database = db
            table_name = 'user'

    class UserSession(Model):
        key_hash = CharField(unique=True, max_length=64)
        user = ForeignKeyField(User, on_delete='CASCADE')
        created_at = DateTimeField()
        last_seen_at = DateTimeField()
        expires_at = DateTimeField()
        ended_at = DateTimeField(index=True, null=True)
        end_reason = CharField(max_length=20, default='')
        address = CharField(max_length=64, default='')
        user_agent = CharField(max_length=200, default='')
        class Meta:
            database = db
            table_name = 'user_session'
    db.create_tables([UserSession])

    migrator.migrate(migrator.add_column('login_attempt', 'client', CharField(index=True, max_length=80, default='')))
    migrator.migrate(migrator.add_column('login_attempt', 'trusted', BooleanField(default=False)))


def down(migrator, db):
    migrator.migrate(migrator.drop_index('login_attempt', 'login_attempt_client'))
    migrator.migrate(migrator.drop_column('login_attempt', 'trusted'))
    migrator.migrate(migrator.drop_column('login_attempt', 'client'))
    migrator.migrate(migrator.drop_table('user_session'))
