"""notices"""

# Staff inbox (node/notices): one row per recipient with its read receipt.
from peewee import *


def up(migrator, db):
    class User(Model):
        class Meta:
            database = db
            table_name = "user"

    class Notice(Model):
        user = ForeignKeyField(User, on_delete="CASCADE")
        kind = CharField(max_length=20)
        title = CharField(max_length=120)
        body = TextField(default="")
        link = CharField(max_length=300, default="")
        ref = CharField(index=True, max_length=60, default="")
        sender = CharField(max_length=40, default="系统")
        created_at = DateTimeField(index=True)
        read_at = DateTimeField(null=True)

        class Meta:
            database = db
            table_name = "notice"
            indexes = ((("user", "read_at"), False),)

    db.create_tables([Notice])


def down(migrator, db):
    migrator.migrate(migrator.drop_table("notice"))
