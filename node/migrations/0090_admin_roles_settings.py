"""admin_roles_settings"""
# Generated from a schema diff on 2026-12-02 07:50.
from peewee import *
from node.db import JsonText

def up(migrator, db):
    class User(Model):
        class Meta:
            database = db
            table_name = 'user'

    class ConfigVersion(Model):
        name = CharField(primary_key=True, max_length=20)
        version = IntegerField(default=0)
        changed_at = DateTimeField()
        class Meta:
            database = db
            table_name = 'config_version'
    db.create_tables([ConfigVersion])

    class PasswordReset(Model):
        user = ForeignKeyField(User, on_delete='CASCADE')
        code_hash = CharField(unique=True, max_length=64)
        created_at = DateTimeField()
        created_by = CharField(max_length=40)
        expires_at = DateTimeField()
        used_at = DateTimeField(null=True)
        class Meta:
            database = db
            table_name = 'password_reset'
    db.create_tables([PasswordReset])

    class Role(Model):
        code = CharField(primary_key=True, max_length=30)
        name = CharField(unique=True, max_length=20)
        permissions = JsonText(default=list)
        scope = CharField(max_length=10, default='node')
        description = CharField(max_length=200, default='')
        created_at = DateTimeField()
        updated_at = DateTimeField()
        class Meta:
            database = db
            table_name = 'role'
    db.create_tables([Role])

    class RuntimeSetting(Model):
        key = CharField(primary_key=True, max_length=40)
        value = JsonText()
        updated_at = DateTimeField()
        updated_by = CharField(max_length=40, default='')
        class Meta:
            database = db
            table_name = 'runtime_setting'
    db.create_tables([RuntimeSetting])

    migrator.migrate(migrator.add_column('domain', 'active', BooleanField(default=True)))
    migrator.migrate(migrator.add_column('domain', 'local', BooleanField(default=False)))
    migrator.migrate(migrator.add_column('reason_code', 'active', BooleanField(default=True)))
    migrator.migrate(migrator.add_column('reason_code', 'local', BooleanField(default=False)))
    migrator.migrate(migrator.add_column('sub_business', 'active', BooleanField(default=True)))
    migrator.migrate(migrator.add_column('sub_business', 'local', BooleanField(default=False)))


def down(migrator, db):
    migrator.migrate(migrator.drop_column('sub_business', 'local'))
    migrator.migrate(migrator.drop_column('sub_business', 'active'))
    migrator.migrate(migrator.drop_column('reason_code', 'local'))
    migrator.migrate(migrator.drop_column('reason_code', 'active'))
    migrator.migrate(migrator.drop_column('domain', 'local'))
    migrator.migrate(migrator.drop_column('domain', 'active'))
    migrator.migrate(migrator.drop_table('runtime_setting'))
    migrator.migrate(migrator.drop_table('role'))
    migrator.migrate(migrator.drop_table('password_reset'))
    migrator.migrate(migrator.drop_table('config_version'))
