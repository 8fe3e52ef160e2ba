"""Property-based tests: whatever junk a manifest or the registry holds, `mlops validate` answers
with diagnostics and exit 0 or 1, never with a traceback or exit 2.

One scratch repository (a valid model `iris`) is built per test; each example rewrites only the
file under test and runs the whole command in-process.
"""

from __future__ import annotations

import contextlib
import io
import shutil
import string
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import skeleton

from mlops.adapters.yaml_files import parse_yaml_bytes
from mlops.cli import main

DATA = Path(__file__).resolve().parents[1] / "data" / "validate"
VALID_MODEL = DATA / "valid" / "minimal-python" / "models" / "iris"

# Examples share the module's scratch repository; the autouse fixtures only isolate the
# environment, which no example changes.
FUZZ = settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

Validate = Callable[[str, bytes], tuple[int, str, str]]


@pytest.fixture(scope="module")
def run_validate(tmp_path_factory: pytest.TempPathFactory) -> Validate:
    """Write one file of a scratch repository, run `mlops validate`, return code, out, err."""
    root = skeleton(tmp_path_factory.mktemp("fuzz") / "repo")
    shutil.copytree(VALID_MODEL, root / "models" / "iris")
    originals = {
        path: (root / path).read_bytes() for path in ("models/iris/model.yaml", "registry.yaml")
    }

    def run(relative: str, content: bytes) -> tuple[int, str, str]:
        for path, original in originals.items():
            (root / path).write_bytes(content if path == relative else original)
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(["--repo", str(root), "validate"])
        return code, out.getvalue(), err.getvalue()

    return run


def assert_handled(result: tuple[int, str, str]) -> None:
    code, out, err = result
    assert "Traceback" not in out + err
    assert "unexpected" not in err, err
    assert code in (0, 1), (code, out, err)
    if code == 1:
        assert out.strip(), "exit 1 without a diagnostic"


YAMLISH = string.ascii_letters + string.digits + ":-[]{}&*!|>'\"#%@\t\n ,?~.<"

keys = st.sampled_from(
    [
        "schema_version", "name", "description", "owners", "language", "task", "entrypoints",
        "data", "features", "target", "metrics", "primary", "gates", "absolute", "min", "max",
        "serving", "batch", "schedule", "monitoring", "drift", "compliance", "pii", "card",
        "models", "iris", "versions", "stages", "production", "canary", "version", "weight",
    ]
) | st.text(max_size=8)  # fmt: skip
scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=20)
    | st.sampled_from(["1", "iris", "train.py", "0 3 * * 1", "@acme/ml", "TODO", "psi"])
)
json_like = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(keys, children, max_size=5),
    max_leaves=25,
)
documents = st.dictionaries(keys, json_like, max_size=8) | json_like


@st.composite
def mutated_manifests(draw: st.DrawFn) -> Any:
    """The valid manifest with one to three values, anywhere in it, replaced by junk."""
    manifest = yaml.safe_load((VALID_MODEL / "model.yaml").read_text(encoding="utf-8"))
    for _ in range(draw(st.integers(1, 3))):
        node = manifest
        while True:
            children = list(node) if isinstance(node, dict) else list(range(len(node)))
            if not children:
                break
            key = draw(st.sampled_from(children))
            if not isinstance(node[key], dict | list) or draw(st.booleans()):
                node[key] = draw(json_like)
                break
            node = node[key]
    return manifest


def dump(value: Any) -> bytes:
    return yaml.safe_dump(value, allow_unicode=True, sort_keys=False).encode("utf-8")


@FUZZ
@given(content=st.binary(max_size=300))
def test_arbitrary_bytes_as_a_manifest(run_validate: Validate, content: bytes) -> None:
    """Any bytes at all as a model.yaml: a diagnostic or a pass, never a crash."""
    assert_handled(run_validate("models/iris/model.yaml", content))


@FUZZ
@given(text=st.text(alphabet=YAMLISH, max_size=200))
def test_yaml_punctuation_soup_as_a_manifest(run_validate: Validate, text: str) -> None:
    """Text made of YAML's special characters, letters and digits: never a crash."""
    assert_handled(run_validate("models/iris/model.yaml", text.encode("utf-8")))


@FUZZ
@given(value=documents)
def test_structured_junk_as_a_manifest(run_validate: Validate, value: Any) -> None:
    """Well-formed YAML of any shape, keyed with real field names, as a manifest."""
    assert_handled(run_validate("models/iris/model.yaml", dump(value)))


@FUZZ
@given(value=mutated_manifests())
def test_valid_manifest_with_junk_inside(run_validate: Validate, value: Any) -> None:
    """The valid manifest with junk in a few places reaches the cross-field rules: no crash."""
    assert_handled(run_validate("models/iris/model.yaml", dump(value)))


@FUZZ
@given(value=documents)
def test_structured_junk_as_the_registry(run_validate: Validate, value: Any) -> None:
    """Well-formed YAML of any shape, keyed with real field names, as registry.yaml."""
    assert_handled(run_validate("registry.yaml", dump(value)))


@FUZZ
@given(
    models=st.dictionaries(
        st.sampled_from(["iris", "ghost", "Iris", "1"]),
        st.fixed_dictionaries(
            {},
            optional={
                "versions": st.dictionaries(st.sampled_from(["1", "2", "x y"]), json_like),
                "stages": st.dictionaries(
                    st.sampled_from(["staging", "production", "canary", "other"]),
                    scalars | st.dictionaries(st.sampled_from(["version", "weight"]), scalars),
                ),
            },
        ),
        max_size=3,
    )
)
def test_registry_shaped_junk(run_validate: Validate, models: dict[str, Any]) -> None:
    """A registry of the right outline with junk stages and versions: never a crash."""
    assert_handled(run_validate("registry.yaml", dump({"schema_version": 1, "models": models})))


@settings(max_examples=250, deadline=None)
@given(
    raw=st.binary(max_size=200)
    | st.text(alphabet=YAMLISH, max_size=200).map(str.encode)
    | documents.map(dump)
)
def test_parse_yaml_bytes_never_raises(raw: bytes) -> None:
    """The parser returns a document or diagnostics for any input; every diagnostic names the
    file, has a message, and a position (when it has one) of line and column >= 1."""
    result = parse_yaml_bytes(raw, "x.yaml")
    assert result.document is not None or result.diagnostics
    for diagnostic in result.diagnostics:
        assert diagnostic.file == "x.yaml"
        assert diagnostic.message
        if diagnostic.position is not None:
            assert diagnostic.position.line >= 1
            assert diagnostic.position.column >= 1
            # libyaml may point at the end of the stream: one line past a missing final newline
            assert diagnostic.position.line <= raw.count(b"\n") + 2
    if result.document is not None:
        assert result.document.file == "x.yaml"
