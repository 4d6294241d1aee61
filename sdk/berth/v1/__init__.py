"""Generated from protos/berth/v1 by scripts/gen-protos. Do not edit."""
