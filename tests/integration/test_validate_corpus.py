"""`mlops validate` on the example corpora in tests/data/validate/.

Each case folder is a repository overlay: its files are copied over a skeleton repository (this
repository's policies and schemas, no models, an empty registry). Cases under `valid/` must pass
cleanly; cases under `invalid/` must fail and print exactly the lines of their `expected.txt`.
The other tests cover the output modes (JSON, GitHub Actions annotations), limiting the report to
some paths, the size limits and the cap on listed problems, usage errors and the real console entry point.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from support import Result, skeleton

from mlops.core.bounds import EXAMINED_PER_FILE, MANIFEST_BYTES, REGISTRY_BYTES, SHOWN_PER_FILE

DATA = Path(__file__).resolve().parents[1] / "data" / "validate"
VALID = sorted(p for p in (DATA / "valid").iterdir() if p.is_dir())
INVALID = sorted(p for p in (DATA / "invalid").iterdir() if p.is_dir())
EXPECTED = "expected.txt"
SEVERAL = DATA / "invalid" / "several-errors"


LINE = re.compile(
    r"^(?P<file>[^:]+)(?::(?P<line>\d+):(?P<column>\d+))?: "
    r"(?P<json_path>\$.*?): (?P<warning>warning: )?(?P<message>.*)$"
)
SUMMARY = re.compile(r"^error: (\d+) error\(s\) in \d+ of \d+ file\(s\)$")

Cli = Callable[..., Result]


def build(case: Path, tmp_path: Path) -> Path:
    """A skeleton repository with the case's files copied over it (the case's files win)."""
    root = skeleton(tmp_path / "repo")
    for source in sorted(case.rglob("*")):
        relative = source.relative_to(case)
        if relative == Path(EXPECTED):
            continue
        target = root / relative
        if source.is_dir():
            target.mkdir(parents=True, exist_ok=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
    return root


def expected_lines(case: Path) -> list[str]:
    return (case / EXPECTED).read_text(encoding="utf-8").splitlines()


def parse(line: str) -> dict[str, object]:
    """A rendered diagnostic line as the fields `--json` reports."""
    match = LINE.match(line)
    assert match, f"not a diagnostic line: {line!r}"
    return {
        "file": match["file"],
        "line": int(match["line"]) if match["line"] else None,
        "column": int(match["column"]) if match["column"] else None,
        "json_path": match["json_path"],
        "severity": "warning" if match["warning"] else "error",
        "message": match["message"],
    }


def error_count(lines: list[str]) -> int:
    return sum(parse(line)["severity"] == "error" for line in lines)


def test_corpus_is_complete() -> None:
    """The corpus holds at least 4 valid and 35 invalid cases; each invalid one has expectations."""
    assert len(VALID) >= 4
    assert len(INVALID) >= 35
    for case in INVALID:
        assert expected_lines(case), f"{case.name}/{EXPECTED} is missing or empty"
    for case in VALID:
        assert not (case / EXPECTED).exists(), f"valid case {case.name} has an {EXPECTED}"


@pytest.mark.parametrize("case", VALID, ids=[case.name for case in VALID])
def test_valid_case_passes(case: Path, tmp_path: Path, cli: Cli) -> None:
    """A valid repository exits 0 and prints no diagnostics."""
    result = cli("--repo", build(case, tmp_path), "validate")
    assert result.code == 0, result.out + result.err
    assert result.lines == []
    assert "file(s) valid" in result.err
    assert "Traceback" not in result.err


@pytest.mark.parametrize("case", INVALID, ids=[case.name for case in INVALID])
def test_invalid_case_reports_expected_lines(case: Path, tmp_path: Path, cli: Cli) -> None:
    """An invalid repository exits 1, prints exactly the expected diagnostics in order, and
    ends with one summary line on stderr counting the errors."""
    expected = expected_lines(case)
    result = cli("--repo", build(case, tmp_path), "validate")
    assert "Traceback" not in result.err
    assert result.out.splitlines() == expected
    assert result.code == 1
    summary = result.err.splitlines()
    assert len(summary) == 1, result.err
    match = SUMMARY.match(summary[0])
    assert match, summary[0]
    assert int(match[1]) == error_count(expected)


def test_manifest_over_its_size_limit_is_one_diagnostic(tmp_path: Path, cli: Cli) -> None:
    """A manifest over the manifest limit is refused unread: one line naming its size and the
    limit, exit 1, and nothing else written."""
    root = build(DATA / "valid" / "minimal-python", tmp_path)
    manifest = root / "models" / "iris" / "model.yaml"
    text = manifest.read_bytes()
    padding = b"# padding padding padding padding padding padding padding padding padding\n"
    size = MANIFEST_BYTES.bytes + 1
    manifest.write_bytes((text + padding * (size // len(padding) + 1))[:size])
    result = cli("--repo", root, "validate")
    assert result.code == 1
    assert result.out.splitlines() == [
        f"models/iris/model.yaml: $: file is {size} bytes; a manifest is at most "
        f"{MANIFEST_BYTES.bytes} bytes"
    ]
    assert result.err.splitlines() == ["error: 1 error(s) in 1 of 12 file(s)"]


def test_registry_over_its_size_limit_is_one_diagnostic(tmp_path: Path, cli: Cli) -> None:
    """registry.yaml has its own, larger limit, and the refusal names it."""
    root = build(DATA / "valid" / "minimal-python", tmp_path)
    size = REGISTRY_BYTES.bytes + 1
    with (root / "registry.yaml").open("r+b") as fh:
        fh.truncate(size)  # sparse: refused by its size, never read
    result = cli("--repo", root, "validate")
    assert result.code == 1
    assert result.out.splitlines() == [
        f"registry.yaml: $: file is {size} bytes; registry.yaml is at most "
        f"{REGISTRY_BYTES.bytes} bytes"
    ]


def unknown_keys_manifest(root: Path, size: int) -> int:
    """Fill the iris manifest up to `size` bytes with unknown top-level keys; their count."""
    manifest = root / "models" / "iris" / "model.yaml"
    text = manifest.read_text()
    lines = []
    while len(text) + 24 * (len(lines) + 1) <= size:
        lines.append(f"unknown_field_{len(lines):06d}: 1\n")
    manifest.write_text(text + "".join(lines))
    return len(lines)


def test_huge_manifest_lists_its_first_errors_and_counts_the_rest(tmp_path: Path, cli: Cli) -> None:
    """A manifest just within its size limit and full of unknown keys (tens of thousands)
    prints the first SHOWN_PER_FILE errors and one line counting the rest; the summary counts
    every error."""
    root = build(DATA / "valid" / "minimal-python", tmp_path)
    keys = unknown_keys_manifest(root, MANIFEST_BYTES.bytes)
    assert keys > 40_000
    result = cli("--repo", root, "validate")
    assert result.code == 1
    lines = result.out.splitlines()
    assert len(lines) == SHOWN_PER_FILE + 1
    assert all(parse(line)["file"] == "models/iris/model.yaml" for line in lines)
    assert parse(lines[0])["json_path"] == "$.unknown_field_000000"
    assert lines[-1] == (
        f"models/iris/model.yaml: $: ... and {keys - SHOWN_PER_FILE} more error(s) in this "
        f"file (showing the first {SHOWN_PER_FILE})"
    )
    assert result.err.splitlines() == [f"error: {keys} error(s) in 1 of 12 file(s)"]


def test_huge_manifest_json_reports_what_was_left_out(tmp_path: Path, cli: Cli) -> None:
    """`--json` lists the shown diagnostics, and under `truncated` how many of each file's
    problems were left out; `errors` is the true total."""
    root = build(DATA / "valid" / "minimal-python", tmp_path)
    keys = unknown_keys_manifest(root, MANIFEST_BYTES.bytes)
    result = cli("--repo", root, "validate", "--json")
    assert result.code == 1
    report = json.loads(result.out)
    assert report["valid"] is False
    assert report["errors"] == keys
    assert report["counts_exact"] is True
    assert len(report["diagnostics"]) == SHOWN_PER_FILE
    assert report["truncated"] == [
        {
            "file": "models/iris/model.yaml",
            "shown": SHOWN_PER_FILE,
            "omitted_errors": keys - SHOWN_PER_FILE,
            "omitted_warnings": 0,
            "exact": True,
        }
    ]
    help_text = " ".join(cli("validate", "--help").out.split())
    assert f"the first {SHOWN_PER_FILE} of each file" in help_text


def test_many_schema_errors_stop_being_counted(tmp_path: Path, cli: Cli) -> None:
    """Thousands of bad list items are not all examined: the output is capped, and the count
    says it is a lower bound."""
    root = build(DATA / "valid" / "minimal-python", tmp_path)
    manifest = root / "models" / "iris" / "model.yaml"
    items = 5 * EXAMINED_PER_FILE
    owners = "owners: [" + ", ".join(["1"] * items) + "]"
    manifest.write_text(manifest.read_text().replace('owners: ["@acme/ml"]', owners))
    result = cli("--repo", root, "validate")
    assert result.code == 1
    lines = result.out.splitlines()
    assert len(lines) == SHOWN_PER_FILE + 1
    assert "... and at least " in lines[-1]
    match = re.match(r"^error: at least (\d+) error\(s\) in 1 of 12 file\(s\)$", result.err.strip())
    assert match, result.err
    assert EXAMINED_PER_FILE <= int(match[1]) < items


def test_every_error_is_reported_not_the_first(tmp_path: Path, cli: Cli) -> None:
    """It reports every error, in every file, not the first one it meets."""
    result = cli("--repo", build(SEVERAL, tmp_path), "validate")
    files = {parse(line)["file"] for line in result.lines}
    assert files == {
        "models/empty/model.yaml",
        "models/iris/model.yaml",
        "models/wine/model.yaml",
        "policies/platform.yaml",
        "registry.yaml",
    }
    assert len(result.lines) == len(expected_lines(SEVERAL)) >= 10


def test_json_output_has_the_same_diagnostics(tmp_path: Path, cli: Cli) -> None:
    """`--json` reports the same diagnostics as the text output, with each field separate."""
    expected = [parse(line) for line in expected_lines(SEVERAL)]
    result = cli("--repo", build(SEVERAL, tmp_path), "validate", "--json")
    assert result.code == 1
    report = json.loads(result.out)
    assert report["valid"] is False
    assert report["errors"] == len(expected)
    assert report["warnings"] == 0
    assert "registry.yaml" in report["files"]
    assert len(report["diagnostics"]) == len(expected)
    for found, wanted in zip(report["diagnostics"], expected, strict=True):
        fields = ("file", "line", "column", "json_path", "severity", "message")
        assert {key: found[key] for key in fields} == wanted


def test_json_output_of_a_valid_repository(tmp_path: Path, cli: Cli) -> None:
    """`--json` on a valid repository says so, with every file it checked."""
    result = cli("--repo", build(DATA / "valid" / "minimal-python", tmp_path), "validate", "--json")
    assert result.code == 0
    report = json.loads(result.out)
    assert report["valid"] is True
    assert report["diagnostics"] == []
    assert "models/iris/model.yaml" in report["files"]


def annotations(out: str) -> list[tuple[str, dict[str, str], str]]:
    """The `::severity props::message` workflow commands that name a file."""
    found = []
    for line in out.splitlines():
        match = re.match(r"^::(error|warning) (file=[^:]*)::(.*)$", line)
        if match:
            props = dict(prop.split("=", 1) for prop in match[2].split(","))
            found.append((match[1], props, match[3]))
    return found


def test_github_actions_gets_one_annotation_per_problem(
    tmp_path: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under GitHub Actions it prints one `::error file=...,line=...,col=...` annotation per
    error, titled `mlops validate`, beside the plain diagnostic lines."""
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    expected = [parse(line) for line in expected_lines(SEVERAL)]
    result = cli("--repo", build(SEVERAL, tmp_path), "validate")
    assert result.code == 1
    found = annotations(result.out)
    assert len(found) == len(expected)
    for (severity, props, message), wanted in zip(found, expected, strict=True):
        assert severity == "error"
        assert props["title"] == "mlops validate"
        assert props["file"] == wanted["file"]
        assert props.get("line") == (str(wanted["line"]) if wanted["line"] else None)
        assert props.get("col") == (str(wanted["column"]) if wanted["column"] else None)
        assert message == f"{wanted['json_path']}: {wanted['message']}"
    plain = [line for line in result.out.splitlines() if not line.startswith("::")]
    assert plain == expected_lines(SEVERAL)


def test_github_actions_warnings_are_warning_annotations(
    tmp_path: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A warning becomes a `::warning` annotation, not an `::error`."""
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    case = DATA / "invalid" / "todo-placeholder-and-error"
    result = cli("--repo", build(case, tmp_path), "validate")
    assert [severity for severity, _, _ in annotations(result.out)] == ["warning", "error"]


def test_github_actions_json_output_is_still_json(
    tmp_path: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`--json` under GitHub Actions still prints nothing but the JSON report on stdout."""
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    result = cli("--repo", build(SEVERAL, tmp_path), "validate", "--json")
    assert json.loads(result.out)["errors"] == len(expected_lines(SEVERAL))


def test_path_limits_the_report_to_that_folder(tmp_path: Path, cli: Cli) -> None:
    """`mlops validate models/<name>` reports only that model's problems."""
    root = build(SEVERAL, tmp_path)
    result = cli("--repo", root, "validate", root / "models" / "iris")
    wanted = [line for line in expected_lines(SEVERAL) if line.startswith("models/iris/")]
    assert len(wanted) == 2
    assert result.code == 1
    assert result.lines == wanted
    assert result.err.splitlines() == ["error: 2 error(s) in 1 of 1 file(s)"]


def test_path_to_a_clean_file_passes_in_a_broken_repository(tmp_path: Path, cli: Cli) -> None:
    """A path with no problems exits 0, whatever is wrong elsewhere."""
    root = build(SEVERAL, tmp_path)
    result = cli("--repo", root, "validate", root / "policies" / "promotion.yaml")
    assert result.code == 0
    assert result.lines == []
    assert "1 file(s) valid" in result.err


def test_nonexistent_path_is_a_usage_error(tmp_path: Path, cli: Cli) -> None:
    """A PATH that does not exist exits 2 and names it."""
    root = build(DATA / "valid" / "minimal-python", tmp_path)
    missing = root / "models" / "nope"
    result = cli("--repo", root, "validate", missing)
    assert result.code == 2
    assert result.out == ""
    assert result.err.splitlines() == [f"error: no such file or folder: {missing}"]


def test_path_outside_the_repository_is_a_usage_error(tmp_path: Path, cli: Cli) -> None:
    """A PATH outside the repository exits 2 and says so, instead of checking nothing."""
    root = build(SEVERAL, tmp_path)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    result = cli("--repo", root, "validate", outside)
    assert result.code == 2
    assert result.out == ""
    assert "outside the repository" in result.err


def test_nonexistent_repo_folder_is_an_error(tmp_path: Path, cli: Cli) -> None:
    """`--repo` naming a folder that does not exist fails instead of validating a parent."""
    root = build(SEVERAL, tmp_path)
    result = cli("--repo", root / "models" / "typo", "validate")
    assert result.code == 2
    assert "typo" in result.err


def test_folder_that_is_not_a_repository_is_a_usage_error(tmp_path: Path, cli: Cli) -> None:
    """`--repo` naming a folder without registry.yaml or models/ exits 2, not 1 ('invalid')."""
    result = cli("--repo", tmp_path, "validate")
    assert "no model repository found" in result.err
    assert result.code == 2


def test_console_entry_point_end_to_end(tmp_path: Path) -> None:
    """`python -m mlops validate` runs the real entry point: same lines, exit 1, no traceback."""
    root = build(SEVERAL, tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "mlops", "--repo", str(root), "validate"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    assert done.stdout.splitlines() == expected_lines(SEVERAL)
    assert "Traceback" not in done.stderr
    assert SUMMARY.match(done.stderr.strip())
