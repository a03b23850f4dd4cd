"""Citizen notifications (告知市民): an outbox written in the business transaction and sent by the
worker over SMS (SMPP 3.4, smpplib) or WeChat (template messages, wechatpy); inbound SMS and
WeChat text become intake records, and "1/2/3" replies become ratings."""
