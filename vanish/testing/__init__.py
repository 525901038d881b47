"""Test and benchmark fixtures: never imported by the runtime package, the scripts or the workflow.

- `tiny`: tiny random-weight prompt models (YOLO, open_clip, SAM, Grounding DINO), saved like the
  published files, with the `prompt:` config section that loads them;
- `manifest`: the published checkpoints' `name shape dtype` manifests and the deterministic
  golden weight rule;
- `rule_checkpoints`: checkpoint files of RAFT, the flow completion network and the ProPainter
  generator filled by that rule, in the published layouts.

The manifests are read from the repository's `tests/data/reference/` (`REFERENCE`), so
`rule_checkpoints` works from a source checkout (the editable install of `make install`), not
from an installed wheel. tests/test_layout.py checks that nothing outside this package imports it.
"""
