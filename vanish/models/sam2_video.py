"""SAM 2.1 video predictor (Meta's `sam2` package): box prompts propagated through a clip.

The network is built from the packaged architecture YAML (`sam2/configs/sam2.1/*.yaml`, the ones
the published checkpoints were trained with), read with OmegaConf and instantiated with
`hydra.utils.instantiate`, without Hydra's global config search path (no `compose`), so building
twice or beside other Hydra users cannot clash. A mapping instead of a published name overrides
the Hiera trunk and image size of the tiny preset (tests, dry runs). Weights are loaded from a
pinned file with `torch.load(weights_only=True)` (`vanish.weights.load_state_dict`); the published
files nest the state dict under "model".

Frames are given as a list of paths and read lazily (the predictor keeps only the latest frame's
features), so a long clip does not sit in memory as 1024² float tensors.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np
import torch

from vanish.weights import WeightsError, load_state_dict, spec_for, spec_label

PRESETS = {
    "hiera_l": "sam2.1_hiera_l.yaml",
    "hiera_b+": "sam2.1_hiera_b+.yaml",
    "hiera_s": "sam2.1_hiera_s.yaml",
    "hiera_t": "sam2.1_hiera_t.yaml",
}
CUSTOM_KEYS = {
    "embed_dim",
    "num_heads",
    "stages",
    "global_att_blocks",
    "window_spec",
    "image_size",
    "memory_layers",
}
# The settings `sam2.build_sam.build_sam2_video_predictor` adds for inference, less the hole
# filling (its connected-components kernel is the optional CUDA extension; the mask stage
# dilates anyway), plus: a box added on an already tracked frame becomes a conditioning frame,
# so that re-propagation keeps the correction instead of overwriting it.
INFERENCE = {
    "_target_": "sam2.sam2_video_predictor.SAM2VideoPredictor",
    "sam_mask_decoder_extra_args": {
        "dynamic_multimask_via_stability": True,
        "dynamic_multimask_stability_delta": 0.05,
        "dynamic_multimask_stability_thresh": 0.98,
    },
    "binarize_mask_from_pts_for_mem_enc": True,
    "fill_hole_area": 0,
    "add_all_frames_to_correct_as_cond": True,
}
MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)


def _packaged_config(filename: str):
    """The `model:` section of a YAML shipped in the sam2 package."""
    from importlib.resources import files

    from omegaconf import OmegaConf

    path = files("sam2") / "configs" / "sam2.1" / filename
    return OmegaConf.load(str(path)).model


def _custom_overrides(model: Mapping[str, object]) -> dict:
    """Overrides of the Hiera-T config: a small trunk, image size and memory-attention depth."""
    unknown = set(model) - CUSTOM_KEYS
    missing = {"embed_dim", "num_heads", "stages", "global_att_blocks"} - set(model)
    if unknown or missing:
        raise ValueError(
            f"prompt.sam2.model mapping: unknown keys {sorted(unknown)}, missing {sorted(missing)}"
        )
    embed, stages = int(model["embed_dim"]), [int(s) for s in model["stages"]]
    trunk = {
        "embed_dim": embed,
        "num_heads": int(model["num_heads"]),
        "stages": stages,
        "global_att_blocks": [int(b) for b in model["global_att_blocks"]],
    }
    if "window_spec" in model:
        trunk["window_spec"] = [int(w) for w in model["window_spec"]]
    size = int(model.get("image_size", 1024))
    grid = [size // 16, size // 16]
    layer = {"self_attention": {"feat_sizes": grid}, "cross_attention": {"feat_sizes": grid}}
    return {
        "image_size": size,
        "image_encoder": {
            "trunk": trunk,
            "neck": {"backbone_channel_list": [embed * 8, embed * 4, embed * 2, embed]},
        },
        "memory_attention": {"layer": layer, "num_layers": int(model.get("memory_layers", 4))},
    }


def model_config(model: str | Mapping[str, object] = "hiera_l"):
    """The OmegaConf `model:` section of a preset name or a custom trunk, ready to instantiate."""
    from omegaconf import OmegaConf

    if isinstance(model, str):
        if model not in PRESETS:
            raise ValueError(f"prompt.sam2.model must be one of {sorted(PRESETS)} or a mapping")
        cfg = _packaged_config(PRESETS[model])
    else:
        cfg = OmegaConf.merge(_packaged_config(PRESETS["hiera_t"]), _custom_overrides(model))
    cfg = OmegaConf.merge(cfg, INFERENCE)
    OmegaConf.resolve(cfg)
    return cfg


def build_sam2(model: str | Mapping[str, object] = "hiera_l") -> torch.nn.Module:
    """The SAM 2.1 video predictor with random weights (its architecture only)."""
    from hydra.utils import instantiate

    return instantiate(model_config(model), _recursive_=True).eval()


class LazyFrames:
    """The predictor's `images`: frame k read from disk, resized and normalised when asked for."""

    def __init__(self, paths: Sequence[Path], read: Callable[[Path], np.ndarray], size: int):
        self.paths, self.read, self.size = list(paths), read, size
        self.mean = torch.tensor(MEAN).view(3, 1, 1)
        self.std = torch.tensor(STD).view(3, 1, 1)

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> torch.Tensor:
        return self.prepare(self.read(self.paths[index]))

    def prepare(self, frame: np.ndarray) -> torch.Tensor:
        """As `sam2.utils.misc.load_video_frames`: a square PIL resize, /255, normalised."""
        from PIL import Image

        resized = np.asarray(Image.fromarray(frame).resize((self.size, self.size)), np.float32)
        tensor = torch.from_numpy(resized / 255.0).permute(2, 0, 1)
        return (tensor - self.mean) / self.std


class Sam2Video:
    """SAM 2 loaded once; `session` opens a clip, `add_box` prompts, `propagate` tracks."""

    def __init__(
        self,
        weights_path: str | Path,
        weights_sha256: str | None,
        device: torch.device,
        model: str | Mapping[str, object] = "hiera_l",
    ) -> None:
        weights = spec_for("sam2", weights_path, weights_sha256)
        state = load_state_dict(weights)
        self.predictor = build_sam2(model)
        try:
            self.predictor.load_state_dict(state)
        except RuntimeError as error:
            raise WeightsError(
                f"{spec_label(weights)} ({weights.path}) do not fit the SAM 2 model "
                f"{model!r}: {error}"
            ) from error
        self.predictor.to(device).eval()
        self.device = device

    @torch.inference_mode()
    def session(
        self, paths: Sequence[Path], read: Callable[[Path], np.ndarray], size: tuple[int, int]
    ) -> dict:
        """An inference state over the frames at `paths` (`size`: their (height, width))."""
        predictor = self.predictor
        state = {
            "images": LazyFrames(paths, read, predictor.image_size),
            "num_frames": len(paths),
            "offload_video_to_cpu": True,
            "offload_state_to_cpu": self.device.type != "cpu",
            "video_height": int(size[0]),
            "video_width": int(size[1]),
            "device": self.device,
            "storage_device": torch.device("cpu"),
            "point_inputs_per_obj": {},
            "mask_inputs_per_obj": {},
            "cached_features": {},
            "constants": {},
            "obj_id_to_idx": OrderedDict(),
            "obj_idx_to_id": OrderedDict(),
            "obj_ids": [],
            "output_dict_per_obj": {},
            "temp_output_dict_per_obj": {},
            "frames_tracked_per_obj": {},
        }
        return state

    @torch.inference_mode()
    def add_box(self, state: dict, frame: int, obj: int, box: np.ndarray) -> None:
        """Prompt object `obj` with an xyxy pixel box on `frame`."""
        self.predictor.add_new_points_or_box(
            state, frame_idx=int(frame), obj_id=int(obj), box=np.asarray(box, np.float32)
        )

    @torch.inference_mode()
    def propagate(
        self, state: dict, start: int, reverse: bool
    ) -> Iterator[tuple[int, list[int], np.ndarray]]:
        """(frame, object ids, bool masks `(n, H, W)`) from `start` on, forward or backward."""
        for frame, ids, logits in self.predictor.propagate_in_video(
            state, start_frame_idx=int(start), reverse=reverse
        ):
            yield int(frame), [int(i) for i in ids], (logits[:, 0] > 0).cpu().numpy()
