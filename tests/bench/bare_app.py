"""The baseline: a bare Flask JSON endpoint served with the node's gunicorn settings."""

from flask import Flask, jsonify, request

app = Flask(__name__)


@app.post("/bare")
def bare():  # type: ignore[no-untyped-def]
    data = request.get_json()
    return jsonify({"ok": True, "echo": len(data or {})}), 201
