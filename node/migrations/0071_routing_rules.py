"""routing_rules: 分派规则 (#17 item 8)."""

from peewee import *


def up(migrator, db):
    class User(Model):
        class Meta:
            database = db
            table_name = 'user'

    class Unit(Model):
        class Meta:
            database = db
            table_name = 'unit'

    class RoutingRule(Model):
        name = CharField(max_length=60)
        domain = CharField(max_length=2, default='')
        sub_business = CharField(max_length=4, default='')
        region_code = CharField(max_length=6, default='')
        respondent = CharField(max_length=100, default='')
        lead_unit = ForeignKeyField(Unit, on_delete='CASCADE')
        assist_units = CharField(max_length=200, default='')
        auto_dispatch = BooleanField(default=False)
        priority = IntegerField(default=100)
        enabled = BooleanField(default=True)
        note = CharField(max_length=200, default='')
        updated_at = DateTimeField()
        updated_by = ForeignKeyField(User, null=True, on_delete='SET NULL')

        class Meta:
            database = db
            table_name = 'routing_rule'

    db.create_tables([RoutingRule])


def down(migrator, db):
    migrator.migrate(migrator.drop_table('routing_rule'))
