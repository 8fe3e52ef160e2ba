"""The approval rule on plain data: which reviews count, and whether every unit is approved."""

from __future__ import annotations

import json
from collections.abc import Sequence

import pytest

from mlops.core.approval import (
    ApprovalReport,
    ChangedFile,
    Review,
    evaluate_approvals,
    latest_reviews,
)
from mlops.core.codeowners import CodeownersError

HEAD = "h" * 40
OLD = "0" * 40
CODEOWNERS = """\
*                        @acme/ml-platform
/models/iris/            @acme/iris-team @mchen
/models/churn/           @ana
/models/churn/generated/
/docs/                   docs@example.com
"""
TEAMS = {("acme", "iris-team"): ["Bob", "carol"], ("acme", "ml-platform"): ["plat"]}


def review(user: str, state: str = "APPROVED", at: int = 1, commit: str = HEAD) -> Review:
    return Review(user, state, commit, f"2024-05-01T10:{at:02d}:00Z")


def readable(org: str, team: str) -> Sequence[str] | None:
    return TEAMS.get((org, team), [])


def unreadable(org: str, team: str) -> Sequence[str] | None:
    return None


def evaluate(
    reviews: Sequence[Review],
    *,
    changed: Sequence[ChangedFile] = (ChangedFile("models/iris/train.py"),),
    models: dict[str, list[str]] | None = None,
    author: str = "alice",
    teams=readable,
    codeowners: str = CODEOWNERS,
    platform: Sequence[str] = ("@acme/ml-platform",),
) -> ApprovalReport:
    return evaluate_approvals(
        codeowners_text=codeowners,
        changed=changed,
        touched_models={"iris": ["@acme/iris-team", "@mchen"]} if models is None else models,
        author=author,
        head_sha=HEAD,
        reviews=reviews,
        team_members=teams,
        platform_owners=platform,
    )


def test_an_owner_approval_on_the_head_approves_the_model_and_its_files() -> None:
    """One approval by a model owner satisfies both the model and its CODEOWNERS line."""
    report = evaluate([review("mchen")])
    assert report.ok
    assert [(u.name, u.approved, u.approved_by) for u in report.models] == [
        ("iris", True, ("@mchen",))
    ]
    assert [(u.files, u.required, u.lines) for u in report.files] == [
        (("models/iris/train.py",), ("@acme/iris-team", "@mchen"), (2,))
    ]
    assert report.approvers == ("@mchen",)


def test_without_any_review_nothing_is_approved_and_owners_are_named() -> None:
    """A unit without a counting approval says whose approval it needs."""
    report = evaluate([])
    assert not report.ok
    assert report.models[0].reasons == ("needs an approval from one of @acme/iris-team, @mchen",)
    assert report.files[0].approved is False


def test_a_non_owner_approval_does_not_count() -> None:
    """An approval by someone who owns nothing touched approves nothing."""
    report = evaluate([review("stranger")])
    assert not report.ok
    assert report.approvers == ("@stranger",)


def test_a_later_changes_requested_cancels_an_earlier_approval() -> None:
    """The reviewer's latest deciding review counts: changes requested after approving."""
    report = evaluate([review("mchen", at=1), review("mchen", "CHANGES_REQUESTED", at=2)])
    assert not report.ok
    assert "@mchen's latest review requested changes" in report.models[0].reasons


def test_a_dismissed_review_cancels_the_approval() -> None:
    """A dismissed approval no longer counts."""
    report = evaluate([review("mchen", at=1), review("mchen", "DISMISSED", at=2)])
    assert not report.ok
    assert "@mchen's latest review was dismissed" in report.models[0].reasons


def test_comments_and_pending_reviews_do_not_cancel_an_approval() -> None:
    """COMMENTED and PENDING reviews after an approval leave it standing."""
    report = evaluate(
        [review("mchen", at=1), review("mchen", "COMMENTED", at=2), review("mchen", "PENDING")]
    )
    assert report.ok


def test_reviews_are_ordered_by_time_not_by_list_position() -> None:
    """An approval submitted after a change request wins even when listed first."""
    later = Review("mchen", "APPROVED", HEAD, "2024-05-01T12:00:00+02:00")  # 10:00 UTC
    earlier = Review("mchen", "CHANGES_REQUESTED", HEAD, "2024-05-01T09:30:00Z")
    assert latest_reviews([later, earlier])["mchen"] is later
    assert evaluate([later, earlier]).ok


def test_it_ignores_an_approval_given_before_the_last_push() -> None:
    """An approval of an older commit is stale: not counted, and reported naming the reviewer."""
    report = evaluate([review("mchen", commit=OLD)])
    assert not report.ok
    stale = f"@mchen approved {OLD[:12]}, not the head {HEAD[:12]}"
    assert any(reason.startswith(stale) for reason in report.models[0].reasons)
    assert any(note.startswith(stale) for note in report.notes)
    assert report.approvers == ()


def test_the_authors_own_approval_never_counts() -> None:
    """An author who owns the model cannot approve their own change."""
    report = evaluate([review("MChen")], author="mchen")
    assert not report.ok
    message = "@MChen is the author: an author's own approval never counts"
    assert message in report.models[0].reasons
    assert message in report.notes


def test_an_approving_team_member_satisfies_a_team_owner() -> None:
    """@org/team is satisfied by a member's approval when membership can be read."""
    report = evaluate([review("carol")], models={"iris": ["@acme/iris-team"]})
    assert report.ok
    assert report.models[0].reasons == ("approved by @carol (member of @acme/iris-team)",)


def test_a_team_that_cannot_be_expanded_is_unsatisfied_and_says_why() -> None:
    """Without read access to team membership the team counts as unapproved, plainly said."""
    report = evaluate([review("carol")], models={"iris": ["@acme/iris-team"]}, teams=unreadable)
    assert not report.ok
    expected = (
        "team @acme/iris-team could not be expanded: the token cannot read team membership "
        "(set MLOPS_TEAMS_TOKEN to a token that may)"
    )
    assert any(reason.startswith(expected) for reason in report.models[0].reasons)
    assert expected in report.notes


def test_another_owner_approval_stands_in_for_an_unreadable_team() -> None:
    """When another owner of the unit approved, the unreadable team does not block it."""
    report = evaluate([review("mchen")], teams=unreadable)
    assert report.ok
    assert report.models[0].approved_by == ("@mchen",)


def test_logins_match_case_insensitively() -> None:
    """GitHub logins ignore case: @MChen in a manifest is approved by reviewer mchen."""
    owners = "* @Plat\n/models/iris/ @MChen @ACME/Iris-Team\n"
    report = evaluate(
        [review("mchen"), review("BOB")],
        models={"iris": ["@MChen"]},
        codeowners=owners,
        teams=lambda org, team: ["bob"] if (org, team) == ("ACME", "Iris-Team") else None,
    )
    assert report.ok
    assert report.files[0].approved_by == ("@mchen", "@BOB")


def test_a_rename_needs_the_owners_of_its_previous_path_too() -> None:
    """Moving a file out of a model's folder needs that model's owners as well."""
    moved = [ChangedFile("models/churn/train.py", previous_path="models/iris/train.py")]
    report = evaluate([review("ana")], changed=moved, models={})
    assert [(u.required, u.files, u.approved) for u in report.files] == [
        (("@acme/iris-team", "@mchen"), ("models/iris/train.py",), False),
        (("@ana",), ("models/churn/train.py",), True),
    ]
    assert not report.ok
    assert evaluate([review("ana"), review("bob")], changed=moved, models={}).ok


def test_unowned_files_need_a_platform_owner() -> None:
    """Files whose winning line has no owners are listed as unowned and need an approval
    from a platform owner: without one the gate fails, it does not pass on an empty list."""
    changed = [ChangedFile("models/churn/generated/card.md")]
    report = evaluate([], changed=changed, models={})
    assert not report.ok
    assert report.unowned == ("models/churn/generated/card.md",)
    (unit,) = report.files
    assert (unit.name, unit.required, unit.files) == (
        "unowned paths (platform owners)", ("@acme/ml-platform",),
        ("models/churn/generated/card.md",),
    )  # fmt: skip
    assert unit.reasons[0] == "needs an approval from one of @acme/ml-platform"
    assert evaluate([review("plat")], changed=changed, models={}).ok


def test_without_codeowners_every_path_needs_a_platform_owner() -> None:
    """A base branch with no CODEOWNERS owns nothing: nothing merges without the platform."""
    report = evaluate([review("ana")], changed=[ChangedFile("README.md")], models={},
                      codeowners="")  # fmt: skip
    assert not report.ok and report.unowned == ("README.md",)
    nobody = evaluate([], changed=[ChangedFile("README.md")], models={}, codeowners="", platform=())
    assert not nobody.ok
    assert nobody.files[0].reasons == ("it has no owners to approve it",)


def test_files_with_the_same_owners_are_grouped() -> None:
    """Many files owned by one owner set make one unit, not one unit per file."""
    changed = [ChangedFile(f"models/iris/f{i}.py") for i in range(50)]
    changed += [ChangedFile("README.md"), ChangedFile("src/mlops/cli.py")]
    report = evaluate([review("mchen"), review("plat")], changed=changed)
    assert [(u.name, len(u.files), u.lines) for u in report.files] == [
        ("@acme/iris-team @mchen", 50, (2,)),
        ("@acme/ml-platform", 2, (1,)),
    ]
    assert report.ok


def test_an_email_owner_cannot_be_matched_and_says_so() -> None:
    """Email owners cannot be tied to a login here; the reason says so."""
    report = evaluate([review("mchen")], changed=[ChangedFile("docs/guide.md")], models={})
    assert not report.ok
    assert "email owner docs@example.com cannot be matched to a GitHub login" in (
        report.files[0].reasons
    )


def test_a_model_without_owners_cannot_be_approved() -> None:
    """An ownerless model is never approved."""
    report = evaluate([review("mchen")], changed=[], models={"orphan": []})
    assert not report.ok
    assert report.models[0].reasons == ("it has no owners to approve it",)


def test_an_owner_that_is_no_github_reference_is_named() -> None:
    """A malformed owner in a manifest never matches anyone, and the reason says so."""
    report = evaluate([review("mchen")], changed=[], models={"iris": ["mchen"]})
    assert not report.ok
    assert "'mchen' is not a GitHub user, team or email: it cannot approve" in (
        report.models[0].reasons
    )


def test_team_membership_is_read_once_per_team_and_only_when_someone_reviewed() -> None:
    """Team look-ups are cached, and skipped entirely when nobody reviewed."""
    calls: list[tuple[str, str]] = []

    def counting(org: str, team: str) -> Sequence[str] | None:
        calls.append((org, team))
        return TEAMS.get((org, team), [])

    changed = [ChangedFile("models/iris/a.py"), ChangedFile("models/iris/b.py")]
    evaluate([], changed=changed, teams=counting)
    assert calls == []
    evaluate([review("carol")], changed=changed, teams=counting)
    assert calls == [("acme", "iris-team")]


def test_an_invalid_base_codeowners_is_refused_naming_the_line() -> None:
    """A GitLab section in the base CODEOWNERS is an error, not silently accepted."""
    with pytest.raises(CodeownersError, match=r"CODEOWNERS:2: .*GitLab section header"):
        evaluate([review("mchen")], codeowners="* @plat\n[Models]\n/models/ @mchen\n")


def test_a_malformed_review_time_is_an_error_naming_the_reviewer() -> None:
    """A submitted_at that is not ISO-8601 is refused rather than guessed."""
    with pytest.raises(ValueError, match="review by mchen: submitted_at 'yesterday'"):
        evaluate([Review("mchen", "APPROVED", HEAD, "yesterday")])


def test_the_report_serialises_to_json() -> None:
    """to_dict gives plain JSON with the verdict, every unit and the notes."""
    report = evaluate([review("mchen"), review("old", commit=OLD)])
    data = json.loads(json.dumps(report.to_dict()))
    assert data["ok"] is True
    assert data["models"][0] == {
        "kind": "model",
        "name": "iris",
        "required": ["@acme/iris-team", "@mchen"],
        "approved": True,
        "approved_by": ["@mchen"],
        "reasons": ["approved by @mchen"],
        "files": [],
        "lines": [],
    }
    assert data["files"][0]["files"] == ["models/iris/train.py"]
    assert data["notes"][0].startswith("@old approved")
