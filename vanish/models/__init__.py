"""Neural and weight-free models: RAFT, flow completion, ProPainter generator, propagation."""
