"""wechat_binding"""
# Generated from a schema diff on 2026-12-02 16:36.
from peewee import *

def up(migrator, db):
    class WorkOrder(Model):
        class Meta:
            database = db
            table_name = 'work_order'

    class WechatBinding(Model):
        openid = CharField(index=True, max_length=64)
        order = ForeignKeyField(WorkOrder, null=True, on_delete='CASCADE')
        contact_id = IntegerField(index=True, null=True)
        created_at = DateTimeField()
        class Meta:
            database = db
            table_name = 'wechat_binding'
    db.create_tables([WechatBinding])


def down(migrator, db):
    migrator.migrate(migrator.drop_table('wechat_binding'))
