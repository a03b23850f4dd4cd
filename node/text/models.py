"""Tables of the text module: trained models (versioned, old versions kept), the categorisation
lexicon and its change log, reviewers' duplicate decisions and agents' category choices, so
precision can be measured on the node's own history."""

from __future__ import annotations

import peewee as pw

from node.auth.models import User
from node.db import BaseModel, JsonText

# What a stored model predicts: business type, the category leaf (a sub-business, or the domain
# where it has none: the domain follows from it), or anything else trained from a CSV.
MODEL_KINDS = ("business_type", "sub_business", "generic")


class TextModel(BaseModel):
    """A trained classifier (分类模型). `kind` says what it predicts; one `active` row per kind."""

    kind = pw.CharField(max_length=20)
    version = pw.IntegerField()
    created_at = pw.DateTimeField()
    algorithm = pw.CharField(max_length=60)
    source = pw.CharField(max_length=200, default="")  # e.g. "archived orders" or a CSV name
    samples = pw.IntegerField(default=0)
    metrics = JsonText(null=True)
    labels = JsonText(null=True)
    blob = pw.BlobField()
    active = pw.BooleanField(default=False)

    class Meta:
        indexes = ((("kind", "version"), True),)


class DuplicateDecision(BaseModel):
    """审核判重结论: whether `candidate_number` is a duplicate of `order_number`."""

    order_number = pw.CharField(max_length=40, index=True)
    candidate_number = pw.CharField(max_length=40)
    is_duplicate = pw.BooleanField()
    score = pw.FloatField(null=True)
    text_similarity = pw.FloatField(null=True)
    rank = pw.IntegerField(null=True)
    reasons = JsonText(null=True)
    decided_by = pw.ForeignKeyField(User, null=True, on_delete="SET NULL", backref="+")
    decided_at = pw.DateTimeField(index=True)

    class Meta:
        indexes = ((("order_number", "candidate_number"), True),)


class CategoryChoice(BaseModel):
    """The suggested category and the agent's final choice (自动归类建议与最终选择)."""

    order_number = pw.CharField(max_length=40, index=True)
    kind = pw.CharField(max_length=20)
    suggested = pw.CharField(max_length=20, default="")
    confidence = pw.FloatField(null=True)
    chosen = pw.CharField(max_length=20)
    model_version = pw.IntegerField(null=True)  # None: keyword rules
    decided_by = pw.ForeignKeyField(User, null=True, on_delete="SET NULL", backref="+")
    decided_at = pw.DateTimeField(index=True)

    class Meta:
        indexes = ((("order_number", "kind"), True),)


class LexiconEntry(BaseModel):
    """归类词表: a term (or a recogniser token such as 〈公交线路〉) pointing to a business type, domain
    or sub-business with a weight. `builtin` rows come with the release and are refreshed by
    `hotline migrate` until a person edits them; a removed built-in row stays, disabled, so the
    next release does not bring it back."""

    term = pw.CharField(max_length=40)
    target = pw.CharField(max_length=4)
    weight = pw.FloatField()
    enabled = pw.BooleanField(default=True)
    builtin = pw.BooleanField(default=False)
    note = pw.CharField(max_length=200, default="")
    updated_by = pw.ForeignKeyField(User, null=True, on_delete="SET NULL", backref="+")
    updated_at = pw.DateTimeField()

    class Meta:
        indexes = ((("term", "target"), True),)


class LexiconChange(BaseModel):
    """词表修改记录. Its highest id is the lexicon version: every worker compares it with the
    version it compiled, so an edit takes effect on the next suggestion without a restart."""

    at = pw.DateTimeField()
    by = pw.ForeignKeyField(User, null=True, on_delete="SET NULL", backref="+")
    action = pw.CharField(max_length=10)  # add / edit / delete / seed
    entry_id = pw.IntegerField(null=True)
    before = JsonText(null=True)
    after = JsonText(null=True)


MODELS = [TextModel, DuplicateDecision, CategoryChoice, LexiconEntry, LexiconChange]
