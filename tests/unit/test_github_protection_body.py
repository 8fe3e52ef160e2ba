"""The branch protection body setup sends: everything read back kept, the loop's needs added."""

from __future__ import annotations

from typing import Any

from mlops.adapters.github_settings import protection_body


def test_an_unprotected_branch_gets_the_loops_needs_only() -> None:
    assert protection_body(None, ["mlops gate"]) == {
        "required_status_checks": {"strict": False, "contexts": ["mlops gate"]},
        "enforce_admins": False,
        "required_pull_request_reviews": {
            "dismiss_stale_reviews": False,
            "require_code_owner_reviews": True,
            "required_approving_review_count": 1,
            "require_last_push_approval": False,
        },
        "restrictions": None,
    }


def test_every_setting_read_back_is_kept() -> None:
    """Checks, strictness, approvals, dismissal and push restrictions, bypass allowances and
    the on/off settings of a GET answer go back unchanged, as the logins and slugs a PUT takes."""
    users = [{"login": "mchen", "id": 1}]
    teams = [{"slug": "ml-platform", "id": 2}]
    apps = [{"slug": "deployer", "id": 3}]
    current: dict[str, Any] = {
        "required_status_checks": {"strict": True, "contexts": ["lint", "mlops gate"]},
        "enforce_admins": {"url": "u", "enabled": True},
        "required_pull_request_reviews": {
            "dismiss_stale_reviews": True,
            "require_code_owner_reviews": False,
            "required_approving_review_count": 3,
            "require_last_push_approval": True,
            "dismissal_restrictions": {"users": users, "teams": teams, "apps": []},
            "bypass_pull_request_allowances": {"users": [], "teams": teams, "apps": apps},
        },
        "restrictions": {"users": users, "teams": [], "apps": apps},
        "required_linear_history": {"enabled": True},
        "allow_force_pushes": {"enabled": False},
        "lock_branch": {"enabled": False},
    }
    body = protection_body(current, ["mlops gate"])
    assert body["required_status_checks"] == {"strict": True, "contexts": ["lint", "mlops gate"]}
    assert body["enforce_admins"] is True
    reviews = body["required_pull_request_reviews"]
    assert reviews["require_code_owner_reviews"] is True
    assert (reviews["required_approving_review_count"], reviews["dismiss_stale_reviews"]) == (
        3,
        True,
    )
    assert reviews["dismissal_restrictions"] == {
        "users": ["mchen"], "teams": ["ml-platform"], "apps": [],
    }  # fmt: skip
    assert reviews["bypass_pull_request_allowances"]["apps"] == ["deployer"]
    assert body["restrictions"] == {"users": ["mchen"], "teams": [], "apps": ["deployer"]}
    assert (body["required_linear_history"], body["allow_force_pushes"]) == (True, False)
    assert "allow_deletions" not in body  # not read back: GitHub's default stays
