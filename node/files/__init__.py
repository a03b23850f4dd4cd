"""Attachments (附件): files kept on disk under the node's data directory, content-addressed by
SHA-256, checked by their magic bytes (PDF, Word .docx, JPEG/PNG/GIF/WebP images) and size, served
only as downloads, and readable only by whom the owner (an article, an order, a reply, a callback …)
allows: each owner kind registers its permission hooks with `node.files.service.register_owner`."""
