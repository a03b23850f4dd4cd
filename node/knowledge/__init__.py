"""The knowledge base (知识库): articles with versions, review before publishing, search with
synonyms, suggestions on the agent workstation, bulletins from upper nodes as read-only articles,
attachments (node.files), import and export. See docs/KNOWLEDGE.md."""
