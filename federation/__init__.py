"""gRPC federation between 12328 nodes: envelope signing, trust store, inbox/outbox, routing, codec."""
