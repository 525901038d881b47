"""Helpers of the cluster and resume tests (the Slurm harness lives beside them)."""
