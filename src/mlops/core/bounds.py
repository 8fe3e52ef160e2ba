"""What bad input may cost: the largest file of each kind we read, and how many of one file's
problems we list before counting the rest.

A broken or hostile file must answer in time and output proportional to a real one, whatever
its size. Three bounds keep it so:

- a byte limit per kind of file, checked before the file is read (`size_limit`);
- at most `SHOWN_PER_FILE` diagnostics listed per file; the rest are counted and stand as one
  `Omission` line after the file's listed ones (`truncate`);
- at most `EXAMINED_PER_FILE` schema errors examined per file; past it the count is a lower
  bound, and says so.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple

from mlops.core import layout
from mlops.core.diagnostics import Diagnostic, Severity

MIB = 1024 * 1024

# 50 lines fill a screen or one fold of a CI log: enough to fix a file that was edited by hand
# (our largest invalid example has 10 problems in five files), and every real problem in a
# real manifest. A file with more was generated or mangled; the first 50 show the pattern, and
# more lines would only hide the other files' problems and the summary below them.
SHOWN_PER_FILE = 50
# Raw JSON Schema errors examined per file before counting stops: 20 times the shown ones, so
# that a manifest a person wrote (a few hundred values at most) is always counted exactly, while
# a generated one costs no more than a few milliseconds of schema checking.
EXAMINED_PER_FILE = 1000


class SizeLimit(NamedTuple):
    """The largest file of one kind: `what` names the kind in the message."""

    what: str
    bytes: int

    def problem(self, size: int) -> str | None:
        """The refusal of a file of `size` bytes, or None when it is within the limit."""
        if size <= self.bytes:
            return None
        return f"file is {size} bytes; {self.what} is at most {self.bytes} bytes"


# Our largest manifest is 8 KB; one declaring 2,000 documented features is about 0.5 MB.
MANIFEST_BYTES = SizeLimit("a manifest", 1 * MIB)
# A registry grows about 0.9 KB per version with every field filled: 200 models with 50
# versions each measure 9.3 MB and validate in about a second (bench/validate_bounds.py).
# 32 MiB leaves over three times that headroom, about 36,000 versions.
REGISTRY_BYTES = SizeLimit(layout.REGISTRY, 32 * MIB)
# Policies are a page each (1 KB today); per-model overrides for 1,000 models stay under 0.5 MB.
POLICY_BYTES = SizeLimit("a policy file", 1 * MIB)
# Anything else we parse (params.yaml, dvc.yaml, dvc.lock): generous, still bounded.
YAML_BYTES = SizeLimit("a YAML file", 16 * MIB)


def size_limit(path: str) -> SizeLimit:
    """The limit for a repository-relative `path`, by what the file is."""
    if path == layout.REGISTRY:
        return REGISTRY_BYTES
    model = layout.model_of_path(path)
    if model is not None and path == layout.manifest_path(model):
        return MANIFEST_BYTES
    if path.startswith(f"{layout.POLICIES_DIR}/"):
        return POLICY_BYTES
    return YAML_BYTES


@dataclass(frozen=True)
class Omission(Diagnostic):
    """One line standing for the problems of `file` that are counted but not listed."""

    shown: int = 0
    errors: int = 0
    warnings: int = 0
    exact: bool = True  # False: counting stopped; the file has at least this many more

    @classmethod
    def of(
        cls, file: str, *, shown: int, errors: int, warnings: int = 0, exact: bool = True
    ) -> Omission:
        severity: Severity = "error" if errors or not exact else "warning"
        message = _omission_message(shown, errors, warnings, exact)
        return cls(file, (), message, None, severity, shown, errors, warnings, exact)

    def summary(self) -> dict[str, object]:
        """The counts as `mlops validate --json` reports them under `truncated`."""
        return {
            "file": self.file,
            "shown": self.shown,
            "omitted_errors": self.errors,
            "omitted_warnings": self.warnings,
            "exact": self.exact,
        }


def _omission_message(shown: int, errors: int, warnings: int, exact: bool) -> str:
    counts = [f"{n} more {noun}(s)" for n, noun in ((errors, "error"), (warnings, "warning")) if n]
    text = " and ".join(counts) or "0 more error(s)"
    if not exact:
        text = f"at least {text}"
        return (
            f"... and {text} in this file (showing the first {shown}; "
            f"counting stops after {EXAMINED_PER_FILE} schema errors)"
        )
    return f"... and {text} in this file (showing the first {shown})"


def truncate(diagnostics: Iterable[Diagnostic], shown: int = SHOWN_PER_FILE) -> list[Diagnostic]:
    """The first `shown` diagnostics of each file, in the given order, then one `Omission`
    counting the rest of that file (earlier omissions of the file are folded into it)."""
    by_file: dict[str, list[Diagnostic]] = {}
    for diagnostic in diagnostics:
        by_file.setdefault(diagnostic.file, []).append(diagnostic)
    result: list[Diagnostic] = []
    for file, group in by_file.items():
        listed = [d for d in group if not isinstance(d, Omission)]
        folded = [d for d in group if isinstance(d, Omission)]
        kept, rest = listed[:shown], listed[shown:]
        result += kept
        errors = sum(d.severity == "error" for d in rest) + sum(o.errors for o in folded)
        warnings = sum(d.severity != "error" for d in rest) + sum(o.warnings for o in folded)
        exact = all(o.exact for o in folded)
        if errors or warnings or not exact:
            omitted = Omission.of(
                file, shown=len(kept), errors=errors, warnings=warnings, exact=exact
            )
            result.append(omitted)
    return result


class Tally(NamedTuple):
    """Problems counted over listed diagnostics and omissions: `exact` False means the counts
    are lower bounds."""

    errors: int
    warnings: int
    files_with_errors: int
    exact: bool


def tally(diagnostics: Iterable[Diagnostic]) -> Tally:
    errors = warnings = 0
    exact = True
    bad: set[str] = set()
    for d in diagnostics:
        if isinstance(d, Omission):
            errors, warnings, exact = errors + d.errors, warnings + d.warnings, exact and d.exact
            if d.errors or not d.exact:
                bad.add(d.file)
        elif d.severity == "error":
            errors += 1
            bad.add(d.file)
        else:
            warnings += 1
    return Tally(errors, warnings, len(bad), exact)


def listed(diagnostics: Iterable[Diagnostic]) -> list[Diagnostic]:
    """The diagnostics themselves, without the omission lines."""
    return [d for d in diagnostics if not isinstance(d, Omission)]


def omissions(diagnostics: Iterable[Diagnostic]) -> list[Omission]:
    return [d for d in diagnostics if isinstance(d, Omission)]
