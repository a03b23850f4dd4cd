"""files"""

from peewee import *


def up(migrator, db):
    class User(Model):
        class Meta:
            database = db
            table_name = "user"

    class StoredFile(Model):
        sha256 = CharField(index=True, max_length=64)
        size = IntegerField()
        mime = CharField(max_length=100)
        kind = CharField(max_length=10)
        filename = CharField(max_length=200)
        owner_kind = CharField(max_length=20)
        owner_id = CharField(max_length=64)
        uploaded_by = ForeignKeyField(User, null=True, on_delete="SET NULL", backref="+")
        uploaded_at = DateTimeField()
        deleted_at = DateTimeField(null=True)

        class Meta:
            database = db
            table_name = "stored_file"
            indexes = ((("owner_kind", "owner_id"), False),)

    db.create_tables([StoredFile])


def down(migrator, db):
    migrator.migrate(migrator.drop_table("stored_file"))
