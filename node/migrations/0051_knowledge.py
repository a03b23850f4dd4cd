"""knowledge"""
# Generated from a schema diff on 2026-12-02 13:01.
from peewee import *
from node.db import JsonText

def up(migrator, db):
    class User(Model):
        class Meta:
            database = db
            table_name = 'user'

    class Article(Model):
        state = CharField(index=True, max_length=12)
        source = CharField(max_length=10, default='local')
        source_ref = CharField(index=True, max_length=60, default='')
        read_only = BooleanField(default=False)
        live_version = IntegerField(null=True)
        work_version = IntegerField(null=True)
        work_state = CharField(max_length=10, default='')
        created_by = ForeignKeyField(User, null=True, on_delete='SET NULL')
        created_at = DateTimeField()
        updated_at = DateTimeField(index=True)
        title = CharField(max_length=200, default='')
        answer = TextField(default='')
        domain = CharField(max_length=2, default='')
        sub_business = CharField(max_length=4, default='')
        topic = CharField(max_length=40, default='')
        region_scope = CharField(max_length=6, default='')
        effective_date = DateField(null=True)
        expiry_date = DateField(index=True, null=True)
        keywords = CharField(max_length=400, default='')
        search_text = TextField(default='')
        use_count = IntegerField(default=0)
        helpful = IntegerField(default=0)
        not_helpful = IntegerField(default=0)
        expiry_warned = DateField(null=True)
        class Meta:
            database = db
            table_name = 'knowledge_article'
    db.create_tables([Article])

    class ArticleFeedback(Model):
        article = ForeignKeyField(Article, on_delete='CASCADE')
        user = ForeignKeyField(User, null=True, on_delete='SET NULL')
        kind = CharField(max_length=12)
        at = DateTimeField(index=True)
        class Meta:
            database = db
            table_name = 'knowledge_feedback'
    db.create_tables([ArticleFeedback])

    class ArticleVersion(Model):
        article = ForeignKeyField(Article, on_delete='CASCADE')
        number = IntegerField()
        title = CharField(max_length=200)
        body_html = TextField()
        body_text = TextField()
        domain = CharField(max_length=2, default='')
        sub_business = CharField(max_length=4, default='')
        topic = CharField(max_length=40, default='')
        region_scope = CharField(max_length=6, default='')
        effective_date = DateField(null=True)
        expiry_date = DateField(null=True)
        keywords = CharField(max_length=400, default='')
        suggested = JsonText(null=True)
        near_duplicates = JsonText(null=True)
        note = CharField(max_length=200, default='')
        status = CharField(max_length=12)
        author = ForeignKeyField(User, null=True, on_delete='SET NULL')
        created_at = DateTimeField()
        reviewed_by = ForeignKeyField(User, null=True, on_delete='SET NULL')
        reviewed_at = DateTimeField(null=True)
        review_comment = TextField(default='')
        class Meta:
            database = db
            table_name = 'knowledge_version'
            indexes = ((('article', 'number'), True),)
    db.create_tables([ArticleVersion])

    class Synonym(Model):
        words = CharField(max_length=400)
        updated_by = ForeignKeyField(User, null=True, on_delete='SET NULL')
        updated_at = DateTimeField()
        class Meta:
            database = db
            table_name = 'knowledge_synonym'
    db.create_tables([Synonym])

    from node.text.search import SearchBackend

    SearchBackend("knowledge_article").ensure()


def down(migrator, db):
    from node.text.search import SearchBackend

    SearchBackend("knowledge_article").drop()
    migrator.migrate(migrator.drop_table('knowledge_synonym'))
    migrator.migrate(migrator.drop_table('knowledge_version'))
    migrator.migrate(migrator.drop_table('knowledge_feedback'))
    migrator.migrate(migrator.drop_table('knowledge_article'))
