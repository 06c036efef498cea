"""The ``comity`` command line, run in-process on the test database.

The CLI reads its settings from the environment, so each test hands it the ``settings``
fixture's home, database URL and secret as ``COMITY_*`` variables; what the commands
did is then checked through the services and the database, not only their output.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import typer
from sqlalchemy import func, select
from typer.testing import CliRunner, Result

from comity.audit.models import AuditEvent
from comity.cli.main import app
from comity.identity.models import ApiToken
from comity.identity.passwords import verify_password
from comity.identity.permissions import ROLE_PERMISSIONS, Permission, Role, markdown_table
from comity.identity.tokens import resolve_token
from comity.identity.users import find_user, list_users
from comity.node import Node, local_operator
from comity.settings import Settings
from factories import make_user

Run = Callable[..., Result]
PASSWORD_RE = re.compile(r"One-time password:?\s+(\S+)")
SECRET_RE = re.compile(r"(comity_[A-Za-z0-9_-]+)")


def flat(text: str) -> str:
    """Output with Rich's line wrapping undone."""
    return " ".join(text.split())


def cli_env(settings: Settings) -> dict[str, str | None]:
    assert settings.secret_key is not None
    return {
        "COMITY_HOME": str(settings.home),
        "COMITY_DATABASE_URL": settings.database_url,
        "COMITY_SECRET_KEY": settings.secret_key.get_secret_value(),
        "COMITY_NODE_NAME": settings.node_name,
        "COMITY_TSA_URL": settings.tsa_url or None,
        "COMITY_TSA_CA_FILE": str(settings.tsa_ca_file) if settings.tsa_ca_file else None,
        "COMITY_CONFIG": None,
    }


def invoke(env: dict[str, str | None], *args: str) -> Result:
    # Unexpected exceptions propagate to pytest instead of becoming exit code 1.
    return CliRunner().invoke(app, list(args), env=env, catch_exceptions=False)


@pytest.fixture
def run(settings: Settings) -> Run:
    env = cli_env(settings)
    return lambda *args: invoke(env, *args)


def ok(result: Result) -> Result:
    assert result.exit_code == 0, result.output
    return result


def as_json(result: Result) -> Any:
    return json.loads(ok(result).stdout)


def refused(result: Result, code: int, message: str) -> None:
    assert result.exit_code == code, result.output
    assert message in result.stderr
    assert result.stderr.startswith("Error: ")
    assert result.stderr.count("\n") == 1
    assert "Traceback" not in result.output


def snapshot(node: Node) -> tuple[object, ...]:
    """Everything a refused command must leave alone."""
    with node.uow() as uow:
        people = [
            (u.username, u.role_names, u.is_active, u.password_hash, u.totp_enabled)
            for u in list_users(uow, local_operator())
        ]
        events = uow.session.scalar(select(func.count(AuditEvent.id)))
        tokens = uow.session.scalar(select(func.count(ApiToken.id)))
    return (people, events, tokens)


def test_init_prints_a_one_time_password_and_a_second_init_adds_no_admin(
    settings: Settings, run: Run
) -> None:
    first = ok(run("init"))
    text = flat(first.output)
    match = PASSWORD_RE.search(first.output)
    assert match is not None
    assert "Varesh Monitoring Network" in text
    assert "http://127.0.0.1:8000/" in text
    assert "shown only once" in text
    assert "changed at the first sign-in" in text

    second = ok(run("init"))
    assert "One-time password" not in second.output
    assert "no administrator was created" in flat(second.output)

    node = Node.open(settings)
    try:
        with node.uow() as uow:
            everyone = list_users(uow, local_operator())
            assert [u.username for u in everyone] == ["admin"]
            admin = everyone[0]
            assert admin.role_names == [Role.ADMINISTRATOR.value]
            assert admin.must_change_password
            assert verify_password(admin.password_hash, match.group(1))
    finally:
        node.close()


def test_init_json_names_the_admin(settings: Settings, run: Run) -> None:
    report = as_json(run("init", "--admin", "amira", "--json"))
    assert report["organisation"] == "Varesh Monitoring Network"
    assert report["admin_username"] == "amira"
    assert report["url"] == "http://127.0.0.1:8000/"
    assert len(report["fingerprint"].split()) == 8

    again = as_json(run("init", "--json"))
    assert again["admin_username"] is None
    assert again["one_time_password"] is None
    assert again["fingerprint"] == report["fingerprint"]

    node = Node.open(settings)
    try:
        with node.uow() as uow:
            admin = find_user(uow, local_operator(), "amira")
            assert verify_password(admin.password_hash, report["one_time_password"])
    finally:
        node.close()


def test_serve_initialises_then_hands_the_app_to_uvicorn(
    settings: Settings, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The web app is built elsewhere; serve only has to hand it the opened node.
    served: list[dict[str, Any]] = []
    web_app = types.ModuleType("comity.web.app")
    web_app.create_app = lambda node: ("app for", node.settings.home)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "comity.web.app", web_app)
    monkeypatch.setattr(
        "uvicorn.run", lambda app, **options: served.append({"app": app, **options})
    )

    first = ok(run("serve", "--host", "::1", "--port", "8123"))
    assert PASSWORD_RE.search(first.output) is not None
    assert "http://[::1]:8123/" in first.output
    assert served == [
        {
            "app": ("app for", settings.home),
            "host": "::1",
            "port": 8123,
            "log_level": "info",
            "server_header": False,
        }
    ]

    second = ok(run("serve"))
    assert "One-time password" not in second.output
    assert served[1]["host"] == "127.0.0.1"
    assert served[1]["port"] == 8000


@pytest.mark.parametrize(
    "command",
    [
        ["user", "list"],
        ["user", "add", "zoe", "-r", "analyst"],
        ["token", "list"],
        ["audit", "show"],
    ],
)
def test_commands_refuse_a_node_that_was_never_initialised(
    tmp_path: Path, command: list[str]
) -> None:
    home = tmp_path / "nowhere"
    env: dict[str, str | None] = {
        "COMITY_HOME": str(home),
        "COMITY_DATABASE_URL": None,
        "COMITY_SECRET_KEY": None,
        "COMITY_CONFIG": None,
    }
    refused(invoke(env, *command), 1, "Run 'comity init' first")
    assert not home.exists()


@pytest.mark.parametrize("empty_file", [False, True])
def test_commands_refuse_a_database_without_schema(tmp_path: Path, empty_file: bool) -> None:
    database = tmp_path / "fresh.db"
    if empty_file:
        database.touch()
    env: dict[str, str | None] = {
        "COMITY_HOME": str(tmp_path / "home"),
        "COMITY_DATABASE_URL": f"sqlite:///{database}",
        "COMITY_SECRET_KEY": "s" * 48,
        "COMITY_CONFIG": None,
    }
    refused(invoke(env, "user", "list"), 1, "has no schema yet")
    assert database.exists() == empty_file


def test_invalid_settings_are_one_line_not_a_traceback(settings: Settings) -> None:
    env = {**cli_env(settings), "COMITY_NODE_COUNTRY": "Netherlands"}
    refused(invoke(env, "user", "list"), 1, "COMITY_NODE_COUNTRY")


def test_user_commands_change_what_they_say(node: Node, run: Run) -> None:
    actor = local_operator()
    added = ok(
        run(
            "user",
            "add",
            "Amira",
            "--role",
            "investigator",
            "-r",
            "prosecutor",
            "--name",
            "Amira Haddad",
            "--email",
            "amira@example.org",
        )
    )
    assert "Created user 'amira' (investigator, prosecutor)" in added.output
    first_password = PASSWORD_RE.search(added.output)
    assert first_password is not None
    with node.uow() as uow:
        amira = find_user(uow, actor, "amira")
        assert amira.display_name == "Amira Haddad"
        assert amira.email == "amira@example.org"
        assert amira.role_names == ["investigator", "prosecutor"]
        assert amira.must_change_password
        assert verify_password(amira.password_hash, first_password.group(1))

    listed = {u["username"]: u for u in as_json(run("user", "list", "--json"))}
    assert set(listed) == {"admin", "amira"}
    assert listed["amira"]["roles"] == ["investigator", "prosecutor"]
    assert listed["amira"]["is_active"] is True
    table = ok(run("user", "list")).output
    assert "Amira Haddad" in table
    assert "investigator" in table

    assert "Disabled 'amira'" in ok(run("user", "disable", "amira")).output
    with node.uow() as uow:
        assert not find_user(uow, actor, "amira").is_active
    listed = {u["username"]: u for u in as_json(run("user", "list", "--json"))}
    assert listed["amira"]["is_active"] is False

    assert "Enabled 'amira'" in ok(run("user", "enable", "amira")).output
    with node.uow() as uow:
        assert find_user(uow, actor, "amira").is_active

    reset = as_json(run("user", "reset-password", "amira", "--json"))
    assert reset["user"]["username"] == "amira"
    with node.uow() as uow:
        hashed = find_user(uow, actor, "amira").password_hash
        assert verify_password(hashed, reset["one_time_password"])
        assert not verify_password(hashed, first_password.group(1))

    text_reset = ok(run("user", "reset-password", "amira"))
    new_password = PASSWORD_RE.search(text_reset.output)
    assert new_password is not None
    with node.uow() as uow:
        assert verify_password(find_user(uow, actor, "amira").password_hash, new_password.group(1))

    assert "analyst" in ok(run("user", "roles", "amira", "--role", "analyst")).output
    with node.uow() as uow:
        assert find_user(uow, actor, "amira").role_names == ["analyst"]


def test_reset_2fa_removes_the_authenticator(node: Node, run: Run) -> None:
    officer = make_user(node, Role.ADMINISTRATOR)
    with node.uow() as uow:
        assert find_user(uow, local_operator(), officer.username).totp_enabled
    ok(run("user", "reset-2fa", officer.username))
    with node.uow() as uow:
        assert not find_user(uow, local_operator(), officer.username).totp_enabled


def test_token_secret_works_until_revoked(node: Node, run: Run) -> None:
    auditor = make_user(node, Role.AUDITOR)
    created = as_json(
        run(
            "token",
            "create",
            "--user",
            auditor.username,
            "--name",
            "nightly export",
            "--scope",
            "audit:read",
            "--days",
            "7",
            "--json",
        )
    )
    secret = created["secret"]
    with node.uow() as uow:
        acting = resolve_token(uow, secret)
        assert acting is not None
        assert acting.label == auditor.username
        assert acting.permissions == frozenset({Permission.AUDIT_READ})

    listed = as_json(run("token", "list", "--user", auditor.username, "--json"))
    assert [t["id"] for t in listed] == [created["token"]["id"]]
    assert listed[0]["revoked_at"] is None
    assert created["token"]["id"] in ok(run("token", "list")).output

    assert "Revoked token 'nightly export'" in ok(run("token", "revoke", listed[0]["id"])).output
    with node.uow() as uow:
        assert resolve_token(uow, secret) is None
    assert as_json(run("token", "list", "--json"))[0]["revoked_at"] is not None


def test_token_create_prints_the_secret_once_in_text(node: Node, run: Run) -> None:
    documenter = make_user(node, Role.DOCUMENTER)
    output = ok(
        run("token", "create", "--user", documenter.username, "--name", "cli", "-s", "node:view")
    ).output
    match = SECRET_RE.search(output)
    assert match is not None
    assert "shown only once" in flat(output)
    with node.uow() as uow:
        assert resolve_token(uow, match.group(1)) is not None


def test_audit_show_lists_what_the_cli_did(node: Node, run: Run) -> None:
    ok(run("user", "add", "amira", "--role", "analyst"))
    page = as_json(run("audit", "show", "--action", "user.", "--json"))
    assert page["total"] == 2  # the first administrator, then amira
    newest = page["events"][0]
    assert newest["action"] == "user.create"
    assert newest["actor"] == local_operator().label
    assert newest["via"] == "cli"
    assert newest["detail"] == {"username": "amira", "roles": ["analyst"]}

    reads = as_json(run("audit", "show", "--action", "audit.read", "--json"))
    assert reads["total"] == 1  # the earlier read; this one is recorded after it
    assert reads["events"][0]["detail"] == {"filter": {"action": "user."}, "rows": 2}

    operator = local_operator().label
    by_actor = as_json(run("audit", "show", "--actor", operator, "--limit", "1", "--json"))
    assert len(by_actor["events"]) == 1
    assert by_actor["total"] > 1
    assert as_json(run("audit", "show", "--actor", "nobody", "--json"))["total"] == 0

    future = as_json(run("audit", "show", "--since", "2999-01-01", "--json"))
    assert future == {"total": 0, "events": []}
    until_past = as_json(run("audit", "show", "--until", "2000-01-01T00:00+01:00", "--json"))
    assert until_past["total"] == 0

    table = ok(run("audit", "show", "--action", "user.create", "--limit", "1")).output
    assert "user.create" in table
    assert "1 of 2 matching events" in table


def test_audit_show_rejects_bad_filters(node: Node, run: Run) -> None:
    bad_time = run("audit", "show", "--since", "yesterday")
    assert bad_time.exit_code == 2
    assert "ISO 8601" in bad_time.output
    refused(run("audit", "show", "--outcome", "maybe"), 2, "outcome must be one of")
    refused(run("audit", "show", "--limit", "0"), 2, "limit must be between")


@pytest.mark.parametrize(
    ("command", "code", "message"),
    [
        (["user", "add", "zoe", "--role", "wizard"], 2, "Unknown role(s): wizard"),
        (["user", "add", "amira", "--role", "analyst"], 1, "The user name 'amira' is taken"),
        (["user", "add", "No Spaces!", "--role", "analyst"], 2, "A user name has 3 to 64"),
        (["user", "disable", "ghost"], 1, "No user 'ghost'"),
        (["user", "reset-password", "ghost"], 1, "No user 'ghost'"),
        (["user", "roles", "amira", "--role", "wizard"], 2, "Unknown role(s): wizard"),
        (["user", "roles", "admin", "--role", "analyst"], 1, "last active administrator"),
        (["user", "disable", "admin"], 1, "last active administrator"),
        (["user", "enable", "amira"], 1, "'amira' is already active"),
        (
            ["token", "create", "--user", "ghost", "--name", "x", "--scope", "node:view"],
            1,
            "No user 'ghost'",
        ),
        (
            ["token", "create", "--user", "amira", "--name", "x", "--scope", "audit:read"],
            1,
            "a token cannot grant more than its user's roles",
        ),
        (
            ["token", "create", "--user", "amira", "--name", "x", "--scope", "nope"],
            2,
            "Unknown scope 'nope'",
        ),
        (
            ["token", "create", "--user", "amira", "--name", "x", "-s", "node:view", "--days", "0"],
            2,
            "A token lives between 1 and",
        ),
        (["token", "revoke", "no-such-token"], 1, "No such token."),
    ],
)
def test_bad_input_is_refused_and_changes_nothing(
    node: Node, run: Run, command: list[str], code: int, message: str
) -> None:
    make_user(node, Role.ANALYST, username="amira")
    before = snapshot(node)
    refused(run(*command), code, message)
    assert snapshot(node) == before


def test_missing_required_option_is_a_usage_error(node: Node, run: Run) -> None:
    result = run("user", "add", "zoe")
    assert result.exit_code == 2
    assert "--role" in result.output


def test_db_upgrade_reports_the_revision(node: Node, run: Run) -> None:
    report = as_json(run("db", "upgrade", "--json"))
    assert report["before"] is not None
    assert report["before"] == report["after"]
    assert f"up to date at revision {report['after']}" in ok(run("db", "upgrade")).output


def test_db_upgrade_creates_the_schema_of_an_empty_database(tmp_path: Path) -> None:
    database = tmp_path / "empty.db"
    database.touch()
    env: dict[str, str | None] = {
        "COMITY_HOME": str(tmp_path / "home"),
        "COMITY_DATABASE_URL": f"sqlite:///{database}",
        "COMITY_SECRET_KEY": None,
        "COMITY_CONFIG": None,
    }
    report = json.loads(ok(invoke(env, "db", "upgrade", "--json")).stdout)
    assert report["before"] is None
    assert report["after"] is not None
    assert "up to date" in ok(invoke(env, "db", "upgrade")).output
    assert not (tmp_path / "home").exists()


@pytest.mark.parametrize("command", [["db", "upgrade"], ["init"], ["serve"]])
def test_a_database_that_cannot_be_opened_is_one_line(tmp_path: Path, command: list[str]) -> None:
    missing = tmp_path / "no-such-directory"
    env: dict[str, str | None] = {
        "COMITY_HOME": str(tmp_path / "home"),
        "COMITY_DATABASE_URL": f"sqlite:///{missing}/comity.db",
        "COMITY_SECRET_KEY": None,
        "COMITY_CONFIG": None,
    }
    refused(invoke(env, *command), 1, f"Cannot use the database sqlite:///{missing}/comity.db")
    assert not missing.exists()


def test_roles_prints_the_permission_table(run: Run) -> None:
    table = as_json(run("roles", "--json"))
    assert {row["role"]: set(row["permissions"]) for row in table} == {
        role.value: {p.value for p in granted} for role, granted in ROLE_PERMISSIONS.items()
    }
    output = ok(run("roles")).output
    for role in Role:
        assert role.value in output
    assert "Read the audit trail" in flat(output)
    assert ok(run("roles", "--markdown")).stdout == markdown_table()
    refused(run("roles", "--json", "--markdown"), 2, "not both")


def _command_paths() -> list[list[str]]:
    paths: list[list[str]] = []

    def walk(command: Any, path: list[str]) -> None:
        paths.append(path)
        for name, sub in getattr(command, "commands", {}).items():
            walk(sub, [*path, name])

    walk(typer.main.get_command(app), [])
    return paths


def test_the_command_tree_is_complete() -> None:
    assert {" ".join(path) for path in _command_paths()} == {
        "",
        "init",
        "serve",
        "roles",
        "db",
        "db upgrade",
        "db scrub",
        "user",
        "user add",
        "user list",
        "user disable",
        "user enable",
        "user reset-password",
        "user reset-2fa",
        "user roles",
        "token",
        "token create",
        "token list",
        "token revoke",
        "audit",
        "audit show",
        "ledger",
        "ledger status",
        "ledger verify",
        "ledger prove",
        "ledger check-proof",
        "ledger consistency",
        "ledger checkpoint",
        "ledger witness",
        "ledger witness add",
        "ledger witness list",
        "ledger follow",
        "ledger followed",
        "ledger witness-run",
        "ledger alarms",
        "ledger unfollow",
        "ledger timestamp",
        "evidence",
        "evidence add",
        "evidence list",
        "evidence show",
        "evidence get",
        "evidence export",
        "evidence check",
        "evidence capture",
        "evidence timestamp",
        "evidence derive",
        "evidence group",
        "evidence group show",
        "evidence deletion",
        "evidence deletion request",
        "evidence deletion approve",
        "evidence deletion list",
        "evidence deletion withdraw",
        "evidence deletion reject",
        "package",
        "package verify",
        "demo",
        "records",
        "records create",
        "records show",
        "records edit",
        "records history",
        "records diff",
        "records restore",
        "records delete",
        "records search",
        "records import",
        "records export",
        "records report",
        "records vocab",
        "records vocab list",
        "records vocab show",
        "records vocab import",
        "records field",
        "records field add",
        "records field list",
        "node",
        "node descriptor",
        "peers",
        "peers add",
        "peers confirm",
        "peers update",
        "peers suspend",
        "peers resume",
        "peers revoke",
        "peers list",
        "peers show",
        "messages",
        "messages peers",
        "messages send",
        "messages outbox",
        "messages inbox",
        "messages read",
        "messages show",
        "messages deliver",
        "messages dead",
        "messages retry",
        "messages export",
        "messages import",
    }


@pytest.mark.parametrize("path", _command_paths(), ids=lambda path: " ".join(path) or "comity")
def test_every_command_has_help_with_an_example(path: list[str]) -> None:
    result = invoke({}, *path, "--help")
    assert result.exit_code == 0, result.output
    assert "Example: comity" in result.output


def test_python_dash_m_comity_runs_the_cli() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "comity", "--help"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "Example: comity" in result.stdout


def test_names_are_printed_as_given_not_as_markup(node: Node, run: Run) -> None:
    odd = "[/oops] [bold]x"
    ok(run("user", "add", "amira", "--role", "analyst", "--name", odd))
    assert odd in ok(run("user", "list")).output
    created = ok(run("token", "create", "--user", "amira", "--name", odd, "--scope", "node:view"))
    assert f"Created token '{odd}'" in flat(created.output)
    assert "[/oops]" in ok(run("audit", "show", "--action", "token.")).output.replace("│", "")
