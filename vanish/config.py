"""The config layer: the JSON schema is the one source of every key's type, default and meaning.

`validate_config` fills every default from `workflow/schemas/config.schema.yaml` and refuses
what the schema does not describe: an unknown key (a typo such as `mask_dilaton`) fails before
any job runs, naming the key, where it is and the closest valid key, instead of being silently
ignored while the run uses a value the user did not ask for. Below this layer nothing reads the
config with `.get(key, default)`: stages get typed options built from the validated config
(`vanish.table`), and stage functions have no default for any of them.

Imported while Snakemake plans the workflow, so it imports neither torch nor any model library.
"""

from __future__ import annotations

import copy
import difflib
import importlib.util
import re
from collections.abc import Iterator, Mapping
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from vanish.errors import OPENCV_CONTRIB_FIX, VanishError

REPO = Path(__file__).resolve().parents[1]
SCHEMA_PATH = REPO / "workflow" / "schemas" / "config.schema.yaml"
# What the workflow needs to run at all; everything else has a default.
REQUIRED_FOR_DEFAULTS = {"samples": "config/samples.tsv", "results": "results"}


class ConfigError(VanishError):
    """The configuration does not match the schema; the message lists every problem."""


@cache
def load_schema() -> dict[str, Any]:
    """The config schema (YAML)."""
    return yaml.safe_load(SCHEMA_PATH.read_text())


def _fill_defaults(validator_class: type) -> type:
    """A validator that writes each property's `default` into the instance as it validates.

    The parent object must exist for its children's defaults to be filled, which is why every
    section in the schema defaults to `{}`.
    """
    validate_properties = validator_class.VALIDATORS["properties"]

    def properties(validator, props, instance, schema):  # type: ignore[no-untyped-def]
        if isinstance(instance, dict):
            for name, subschema in props.items():
                if "default" in subschema and name not in instance:
                    instance[name] = copy.deepcopy(subschema["default"])
        yield from validate_properties(validator, props, instance, schema)

    return jsonschema.validators.extend(validator_class, {"properties": properties})


DefaultFillingValidator = _fill_defaults(jsonschema.Draft202012Validator)


def _place(path: Iterator[object]) -> str:
    keys = ".".join(str(part) for part in path)
    return f"in '{keys}'" if keys else "at the top level"


def _unknown_key_messages(error: jsonschema.ValidationError) -> list[str]:
    """One line per unexpected key of an `additionalProperties: false` error, with the closest
    valid key."""
    allowed = sorted(error.schema.get("properties", {}))
    unexpected = sorted(set(error.instance) - set(allowed))
    lines = []
    for key in unexpected:
        close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
        hint = f"did you mean '{close[0]}'?" if close else f"valid keys: {', '.join(allowed)}"
        lines.append(f"unknown config key '{key}' {_place(error.absolute_path)}; {hint}")
    return lines


def _messages(error: jsonschema.ValidationError) -> list[str]:
    if error.validator == "additionalProperties" and error.schema.get("properties"):
        return _unknown_key_messages(error)
    where = ".".join(str(part) for part in error.absolute_path) or "(top level)"
    return [f"config '{where}': {error.message}"]


# JSON-schema type -> the Python types a YAML value of it loads as
YAML_TYPES: dict[str, tuple[type, ...]] = {
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "null": (type(None),),
    "array": (list,),
}


def _allowed_types(schema: Mapping[str, Any]) -> set[str]:
    kinds = schema.get("type", [])
    kinds = {kinds} if isinstance(kinds, str) else set(kinds)
    for option in schema.get("oneOf", []):
        kinds |= _allowed_types(option)
    return kinds


def _typed(value: str, kinds: set[str]) -> object:
    """`value` read as YAML when that gives one of the schema's types, else unchanged (the
    validation then names the key)."""
    try:
        parsed = yaml.safe_load(value)
    except yaml.YAMLError:
        return value
    wanted = tuple(t for kind in kinds & set(YAML_TYPES) for t in YAML_TYPES[kind])
    if isinstance(parsed, bool) and "boolean" not in kinds:
        return value  # YAML's `yes` is not a number
    return parsed if isinstance(parsed, wanted) else value


def coerce_strings(instance: Any, schema: Mapping[str, Any]) -> Any:
    """Nested command-line overrides keep their types.

    `--config propainter='{raft_iterations: 3}'` reaches the workflow as {'raft_iterations':
    '3'} (Snakemake reads nested values as strings); where the schema wants a number, boolean
    or null and no string, the string is read as YAML.
    """
    if isinstance(instance, dict):
        properties = schema.get("properties", {})
        return {k: coerce_strings(v, properties.get(k, {})) for k, v in instance.items()}
    if isinstance(instance, list) and isinstance(schema.get("items"), dict):
        return [coerce_strings(item, schema["items"]) for item in instance]
    kinds = _allowed_types(schema)
    if isinstance(instance, str) and kinds and "string" not in kinds:
        return _typed(instance, kinds)
    return instance


def validate_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of `config` with every default filled in; raises ConfigError listing each problem.

    Strings given where the schema wants numbers, booleans or null are read as YAML first
    (`coerce_strings`). The check runs twice: once filling defaults, once on the filled result,
    so that a default itself never escapes validation.
    """
    filled = coerce_strings(copy.deepcopy(dict(config)), load_schema())
    validator = DefaultFillingValidator(load_schema())
    errors = sorted(validator.iter_errors(filled), key=lambda e: list(e.absolute_path))
    errors = errors or list(jsonschema.Draft202012Validator(load_schema()).iter_errors(filled))
    if errors:
        lines = [line for error in errors for line in _messages(error)]
        listing = "\n  - ".join(dict.fromkeys(lines))
        raise ConfigError(
            f"invalid configuration:\n  - {listing}\n"
            "Every key is described in config/README.md (workflow/schemas/config.schema.yaml)."
        )
    _check_consistency(filled)
    return filled


# The classical backend's smallest processing side, the schema's minimum of `max_side`: OpenCV's
# DIS flow (5.1) raises or crashes the process (SIGSEGV) on frames under 32 px high for most
# widths (measured over widths 8-8192 for every preset); 32 px works for all of them.
DIS_MIN_SIDE = 32

# RAFT's smallest processing side (vanish/models/raft.py MIN_SIZE; the published RAFT returns
# NaN flows below it). Repeated here because this module must not import torch.
RAFT_MIN_SIDE = 128


def _check_keep(keep: str | list[str]) -> None:
    """Every `keep` entry names an output some stage writes (the stage table knows them)."""
    from vanish.table import KEEP_ALL, output_names

    valid = output_names()
    unknown = [] if keep == KEEP_ALL else [name for name in keep if name not in valid]
    if unknown:
        hints = [difflib.get_close_matches(name, valid, n=1, cutoff=0.6) for name in unknown]
        close = [f"'{h[0]}' for '{name}'" for name, h in zip(unknown, hints, strict=True) if h]
        raise ConfigError(
            f"config 'keep' names {', '.join(map(repr, unknown))}, which no stage writes. "
            f"Valid entries: {', '.join(valid)} (or keep: {KEEP_ALL})."
            + (f" Did you mean {', '.join(close)}?" if close else "")
        )


def _check_consistency(config: Mapping[str, Any]) -> None:
    """Rules between keys that a JSON schema cannot say simply."""
    _check_keep(config["keep"])
    max_side = config["max_side"]
    if config["backend"] == "propainter" and max_side is not None and max_side < RAFT_MIN_SIDE:
        raise ConfigError(
            f"config 'max_side' is {max_side}, below the propainter backend's minimum processing "
            f"side of {RAFT_MIN_SIDE} px (RAFT). Fix: max_side >= {RAFT_MIN_SIDE} or null, or "
            "backend: classical."
        )
    spatial = config["classical"]["spatial_fill"]
    needs_contrib = config["backend"] == "classical" and spatial in ("auto", "fsr", "fsr_mean")
    if needs_contrib and opencv_contrib_installed() is False:
        raise ConfigError(
            f"config 'classical.spatial_fill' is {spatial!r}, which needs OpenCV's contrib module "
            "xphoto, and the OpenCV found here is not the contrib build. "
            f"Fix: {OPENCV_CONTRIB_FIX}."
        )
    from vanish.weights import REGISTRY  # the registry records each SAM file's architecture

    for role in ("sam", "sam2"):
        model, weights = config["prompt"][role]["model"], config["weights"][role]
        entry = REGISTRY.get(weights) if isinstance(weights, str) else None
        arch = entry.metadata.get("arch") if entry else None
        if isinstance(model, str) and arch is not None and arch != model:
            fitting = [
                e.name for e in REGISTRY.values() if e.role == role and e.metadata["arch"] == model
            ]
            raise ConfigError(
                f"config 'prompt.{role}.model' is {model!r} but 'weights.{role}' is "
                f"{weights!r}: the architecture must match the checkpoint. Fix: set "
                f"weights.{role} to {' or '.join(map(repr, fitting))} or prompt.{role}.model to "
                "the checkpoint's architecture."
            )


def opencv_contrib_installed() -> bool | None:
    """Whether the `cv2` on the path is OpenCV's contrib build (False also when there is no cv2;
    None: cannot tell), read from the `version.py` its wheels ship, without importing cv2:
    planning imports no model library."""
    spec = importlib.util.find_spec("cv2")
    if spec is None or not spec.submodule_search_locations:
        return False
    return contrib_flag(Path(next(iter(spec.submodule_search_locations))) / "version.py")


def contrib_flag(version_file: Path) -> bool | None:
    """The `contrib = True|False` line of an OpenCV wheel's cv2/version.py (None: no such line)."""
    if not version_file.is_file():
        return None
    found = re.search(r"^contrib\s*=\s*(True|False)\s*$", version_file.read_text(), re.MULTILINE)
    return None if found is None else found.group(1) == "True"


def default_config() -> dict[str, Any]:
    """Every key at its schema default (tests and benchmarks build their settings from it)."""
    return validate_config(REQUIRED_FOR_DEFAULTS)


def _rows(schema: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, str, str, str]]:
    """(key, type, default, description) of every key, depth first, in schema order."""
    for name, sub in schema.get("properties", {}).items():
        key = f"{prefix}{name}"
        kind = sub.get("type", "/".join(sorted({s.get("type", "?") for s in sub.get("oneOf", [])})))
        kind = "registry name or {path, sha256}" if "$ref" in sub else kind
        kind = "/".join(kind) if isinstance(kind, list) else kind
        if "enum" in sub:
            kind = " \\| ".join(str(v) for v in sub["enum"])
        default = sub.get("default", "")
        flow = isinstance(default, list)  # one table cell
        shown = (
            "" if isinstance(default, dict) else yaml.safe_dump(default, default_flow_style=flow)
        )
        shown = shown.strip().removesuffix("\n...").removesuffix("...").strip()
        yield key, kind, shown, sub.get("description", "")
        if sub.get("type") == "object" and "properties" in sub:
            yield from _rows(sub, f"{key}.")


def markdown_table() -> str:
    """The key table of config/README.md, generated from the schema (a test keeps it current)."""
    lines = ["| key | type | default | meaning |", "|---|---|---|---|"]
    for key, kind, default, description in _rows(load_schema()):
        text = " ".join(description.split()).replace("|", "\\|")
        lines.append(f"| `{key}` | {kind} | {f'`{default}`' if default else ''} | {text} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(markdown_table(), end="")
