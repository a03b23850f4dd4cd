"""Tables of the knowledge base. `Article` carries the live (published) version's fields, copied
for search and filters; every change is a new `ArticleVersion`; `Synonym` groups expand searches;
`ArticleFeedback` records agents' use and 有用/无用 votes."""

from __future__ import annotations

import peewee as pw

from node.auth.models import User
from node.db import BaseModel, JsonText

STATES: dict[str, str] = {
    "draft": "草稿",
    "submitted": "待审核",
    "published": "已发布",
    "withdrawn": "已撤回",
    "expired": "已过期",
}
# The working version of an article (the first draft, or a revision of a published one).
WORK_STATES: dict[str, str] = {"": "", "draft": "编辑中", "submitted": "待审核", "returned": "已退回"}
VERSION_STATES: dict[str, str] = {
    "draft": "草稿",
    "submitted": "待审核",
    "returned": "已退回",
    "published": "已发布",
    "superseded": "已被替代",
}
SOURCES: dict[str, str] = {"local": "本地编写", "bulletin": "上级通报", "policy": "政策文件"}
FEEDBACK_KINDS: dict[str, str] = {"use": "引用答复", "helpful": "有用", "not_helpful": "无用"}


class Article(BaseModel):
    """知识文章. The searchable columns hold the live version; empty search_text = not searchable."""

    state = pw.CharField(max_length=12, index=True)
    source = pw.CharField(max_length=10, default="local")
    source_ref = pw.CharField(max_length=60, default="", index=True)
    read_only = pw.BooleanField(default=False)
    live_version = pw.IntegerField(null=True)
    work_version = pw.IntegerField(null=True)
    work_state = pw.CharField(max_length=10, default="")
    created_by = pw.ForeignKeyField(User, null=True, on_delete="SET NULL", backref="+")
    created_at = pw.DateTimeField()
    updated_at = pw.DateTimeField(index=True)
    title = pw.CharField(max_length=200, default="")
    answer = pw.TextField(default="")
    domain = pw.CharField(max_length=2, default="")
    sub_business = pw.CharField(max_length=4, default="")
    topic = pw.CharField(max_length=40, default="")
    region_scope = pw.CharField(max_length=6, default="")
    effective_date = pw.DateField(null=True)
    expiry_date = pw.DateField(null=True, index=True)
    keywords = pw.CharField(max_length=400, default="")
    search_text = pw.TextField(default="")
    use_count = pw.IntegerField(default=0)
    helpful = pw.IntegerField(default=0)
    not_helpful = pw.IntegerField(default=0)
    expiry_warned = pw.DateField(null=True)

    class Meta:
        table_name = "knowledge_article"


class ArticleVersion(BaseModel):
    """One version of an article: what the editor saved, and how review ended for it."""

    article = pw.ForeignKeyField(Article, on_delete="CASCADE", backref="versions")
    number = pw.IntegerField()
    title = pw.CharField(max_length=200)
    body_html = pw.TextField()
    body_text = pw.TextField()
    domain = pw.CharField(max_length=2, default="")
    sub_business = pw.CharField(max_length=4, default="")
    topic = pw.CharField(max_length=40, default="")
    region_scope = pw.CharField(max_length=6, default="")
    effective_date = pw.DateField(null=True)
    expiry_date = pw.DateField(null=True)
    keywords = pw.CharField(max_length=400, default="")
    suggested = JsonText(null=True)  # the category suggested on save, with its confidence
    near_duplicates = JsonText(null=True)  # [{id, title, score}] flagged on save
    note = pw.CharField(max_length=200, default="")
    status = pw.CharField(max_length=12)
    author = pw.ForeignKeyField(User, null=True, on_delete="SET NULL", backref="+")
    created_at = pw.DateTimeField()
    reviewed_by = pw.ForeignKeyField(User, null=True, on_delete="SET NULL", backref="+")
    reviewed_at = pw.DateTimeField(null=True)
    review_comment = pw.TextField(default="")

    class Meta:
        table_name = "knowledge_version"
        indexes = ((("article", "number"), True),)


class Synonym(BaseModel):
    """同义词组: words that mean the same in a search (e.g. 网约车, 网络预约出租汽车)."""

    words = pw.CharField(max_length=400)
    updated_by = pw.ForeignKeyField(User, null=True, on_delete="SET NULL", backref="+")
    updated_at = pw.DateTimeField()

    class Meta:
        table_name = "knowledge_synonym"


class ArticleFeedback(BaseModel):
    article = pw.ForeignKeyField(Article, on_delete="CASCADE", backref="feedback")
    user = pw.ForeignKeyField(User, null=True, on_delete="SET NULL", backref="+")
    kind = pw.CharField(max_length=12)
    at = pw.DateTimeField(index=True)

    class Meta:
        table_name = "knowledge_feedback"


MODELS = [Article, ArticleVersion, Synonym, ArticleFeedback]
