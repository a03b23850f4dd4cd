"""Generated protobuf and gRPC code for federation.v1 (scripts/gen_proto.sh writes it; never edit)."""
