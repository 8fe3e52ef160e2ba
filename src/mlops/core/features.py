"""The input features a model.yaml declares, and one value checked against one feature.

Pure logic on plain data, shared by the serving requests check and batch scoring.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

FEATURE_TYPES = ("number", "integer", "boolean", "string", "category")
INT64_LIMIT = 2**63
# MLflow signature column types (DataType names) and the pandas dtype each one needs.
SIGNATURE_DTYPES = {
    "double": "float64", "float": "float32", "long": "int64", "integer": "int32",
    "boolean": "bool", "string": "object",
}  # fmt: skip
MANIFEST_DTYPES = {"number": "float64", "integer": "int64", "boolean": "bool"}


@dataclass(frozen=True)
class Feature:
    """One input feature as model.yaml declares it (`whole`: the model takes whole numbers)."""

    name: str
    type: str
    minimum: float | None = None
    maximum: float | None = None
    categories: tuple[Any, ...] = ()
    nullable: bool = False
    whole: bool = False

    @property
    def integral(self) -> bool:
        return self.type == "integer" or (self.type == "number" and self.whole)

    def expected(self) -> str:
        """What a valid value looks like, in words: `a number >= 0`, `true or false`."""
        if self.type == "boolean":
            kind = "true or false"
        elif self.type == "string":
            kind = "a string"
        elif self.type == "category":
            kind = "one of " + ", ".join(json.dumps(c) for c in self.categories)
        else:
            kind = "a whole number" if self.integral else "a number"
            if self.minimum is not None and self.maximum is not None:
                kind += f" from {number(self.minimum)} to {number(self.maximum)}"
            elif self.minimum is not None:
                kind += f" >= {number(self.minimum)}"
            elif self.maximum is not None:
                kind += f" <= {number(self.maximum)}"
        return kind + " or null" if self.nullable else kind


def check_value(feature: Feature, value: Any) -> tuple[Any, str | None]:
    """The normalised value, or None and what is wrong with it."""
    if value is None:
        return None, None if feature.nullable else "got null"
    if feature.type in ("boolean", "string"):
        wanted = bool if feature.type == "boolean" else str
        return (value, None) if isinstance(value, wanted) else (None, f"got {describe(value)}")
    if feature.type == "category":
        known = isinstance(value, (str, int)) and not isinstance(value, bool)
        if known and any(type(c) is type(value) and c == value for c in feature.categories):
            return value, None
        return None, f"got {describe(value)}, which is not a category"
    if isinstance(value, bool) or not is_number(value):
        return None, f"got {describe(value)}"
    if isinstance(value, float) and not math.isfinite(value):
        return None, f"{value} is not a finite number"
    if feature.integral:
        if isinstance(value, float) and not value.is_integer():
            return None, f"{number(value)} is not a whole number"
        value = int(value)
        if not -INT64_LIMIT <= value < INT64_LIMIT:
            return None, f"{value} is outside the 64-bit integer range"
    else:
        try:
            value = float(value)
        except OverflowError:
            return None, "is too large for a 64-bit number"
    if feature.minimum is not None and value < feature.minimum:
        return None, f"{number(value)} is below the minimum {number(feature.minimum)}"
    if feature.maximum is not None and value > feature.maximum:
        return None, f"{number(value)} is above the maximum {number(feature.maximum)}"
    return value, None


class ManifestError(ValueError):
    """The manifest's feature list cannot be used to check requests."""


def features_from_manifest(manifest: Mapping[str, Any]) -> list[Feature]:
    """The `data.features` of a parsed model.yaml; ManifestError says which entry is unusable."""
    data = manifest.get("data")
    entries = data.get("features") if isinstance(data, Mapping) else None
    if not isinstance(entries, list) or not entries:
        raise ManifestError("data.features: expected a non-empty list of features")
    features: list[Feature] = []
    for index, entry in enumerate(entries):
        where = f"data.features[{index}]"
        if not isinstance(entry, Mapping) or not isinstance(entry.get("name"), str):
            raise ManifestError(f"{where}: expected an object with a name")
        kind = entry.get("type")
        if kind not in FEATURE_TYPES:
            raise ManifestError(f"{where}.type: expected one of {', '.join(FEATURE_TYPES)}")
        bounds = [entry.get(key) for key in ("minimum", "maximum")]
        if any(
            b is not None and (isinstance(b, bool) or not isinstance(b, (int, float)))
            for b in bounds
        ):
            raise ManifestError(f"{where}: minimum and maximum must be numbers")
        categories = entry.get("categories") or []
        if kind == "category" and (not isinstance(categories, list) or not categories):
            raise ManifestError(f"{where}.categories: a category feature needs its categories")
        if any(f.name == entry["name"] for f in features):
            raise ManifestError(f"{where}: feature {entry['name']!r} is declared twice")
        features.append(
            Feature(entry["name"], kind, bounds[0], bounds[1], tuple(categories),
                    entry.get("nullable") is True)
        )  # fmt: skip
    return features


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float))


def number(value: float) -> str:
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e16:
        return str(int(value))
    return repr(value)


def describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:40] + "..."
        return f"a string ({shown!r})"
    if isinstance(value, (int, float)):
        return f"the number {number(value)}"
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list):
        return f"a list of {len(value)} values"
    return f"a {type(value).__name__}"


def model_schema(
    features: Sequence[Feature], input_schema: Any
) -> tuple[list[Feature], dict[str, str]]:
    """The features tightened by the model's MLflow input schema (a number the model takes as
    an integer column must be whole: MLflow refuses to cast 110.0 to one) and the pandas dtype
    of each feature column (the schema's type, else the manifest's)."""
    signature: dict[str, str] = {}
    if input_schema is not None and input_schema.has_input_names():
        types = input_schema.input_types_dict().items()
        signature = {str(name): getattr(kind, "name", str(kind)) for name, kind in types}
    undeclared = sorted(set(signature) - {f.name for f in features})
    if undeclared:
        raise ManifestError(f"the model takes {', '.join(undeclared)}, not in model.yaml")
    whole = ("long", "integer")
    tightened = [replace(f, whole=True) if signature.get(f.name) in whole else f for f in features]
    dtypes = {}
    for feature in tightened:
        dtype = SIGNATURE_DTYPES.get(signature.get(feature.name, ""))
        if dtype is None:
            dtype = "int64" if feature.integral else MANIFEST_DTYPES.get(feature.type, "object")
        dtypes[feature.name] = dtype
    return tightened, dtypes
