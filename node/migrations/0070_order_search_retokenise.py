"""Re-segment every order's `search_text` with jieba (orders made by the CLI, demo data, import or
federation before this stored raw text, which the full-text index could not match word by word),
then rebuild the SQLite FTS5 index. Nothing to do by hand afterwards."""


def up(migrator, db):
    from node.text.search import SearchBackend
    from node.text.segment import search_tokens

    rows = db.execute_sql(
        "SELECT id, title, content, respondent_name, respondent_plate, address FROM work_order"
    ).fetchall()
    param = db.param
    for row_id, *parts in rows:
        text = search_tokens(" ".join(p for p in parts if p))
        db.execute_sql(f"UPDATE work_order SET search_text = {param} WHERE id = {param}", (text, row_id))
    SearchBackend("work_order").rebuild()


def down(migrator, db):
    pass
