"""run.py's command line grammar: every subcommand and option, and nothing that runs them.

It imports nothing heavier than broadcaster.models, so that `run.py --help` answers at once; each
command's code is imported by broadcaster.cli.main when that command runs.
"""

from __future__ import annotations

import argparse
from typing import Any, NoReturn

from broadcaster.models import Role
from broadcaster.scopes import MEANING, VALID

ROLES = [r.value for r in Role]


class Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line on stderr (exit code 2), pointing at --help."""

    def error(self, message: str) -> NoReturn:
        """Print one line naming the problem, and exit 2."""
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def port(text: str) -> int:
    """A TCP port to listen on: 1-65535."""
    try:
        number = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number; give 1-65535") from None
    if not 1 <= number <= 65535:
        raise argparse.ArgumentTypeError(f"{number} is not a port number; give 1-65535")
    return number


def parser() -> argparse.ArgumentParser:
    """The argument parser, one subcommand per job."""
    p = Parser(prog="run.py", description="The city alert broadcaster.")
    p.add_argument("--config", help="site config over config/default.toml (or set BROADCASTER_CONFIG)")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    serve = sub.add_parser("serve", help="run the all-in-one service (the default)")
    serve.add_argument("--host", help="listen address (default from [server] host)")
    serve.add_argument("--port", type=port, help="listen port (default from [server] port)")

    send = sub.add_parser(
        "send", help="create and approve an alert (a live one the [approval] policy names waits for an approver)"
    )
    send.add_argument("--category", required=True, help="category id, e.g. disaster")
    send.add_argument(
        "--level",
        type=int,
        choices=range(0, 6),
        metavar="0-5",
        help="警戒レベル; needed only where the category has levels",
    )
    send.add_argument("--title", required=True)
    send.add_argument("--body", required=True)
    send.add_argument("--instruction", default="", help="what residents should do")
    send.add_argument("--channels", help="comma-separated; default: the category's channels")
    send.add_argument(
        "--districts", help="comma-separated district ids (run.py districts list); default: the whole city"
    )
    send.add_argument("--exercise", action="store_true", help="an exercise: testers and the outbox only")
    send.add_argument("--yes", action="store_true", help="confirm a live alert without asking")
    send.add_argument("--no-wait", action="store_true", help="do not deliver in this process; leave it to the service")

    alerts = sub.add_parser("alerts", help="one alert in every language it speaks, and where each came from")
    show = alerts.add_subparsers(dest="action", required=True, metavar="ACTION").add_parser(
        "show", help="an alert's words per language, each marked phrasebook, officer or notice"
    )
    show.add_argument("alert_id")
    show.add_argument("--json", action="store_true", help="print JSON")

    status = sub.add_parser("status", help="the delivery report of one alert (times in JST)")
    status.add_argument("alert_id")
    status.add_argument("--json", action="store_true", help="print JSON")

    subs = sub.add_parser("subscribers", help="import, export or count subscribers")
    subs_cmd = subs.add_subparsers(dest="action", required=True, metavar="ACTION")
    imp = subs_cmd.add_parser("import", help="import a CSV file; any bad row imports nothing")
    imp.add_argument("file")
    subs_cmd.add_parser("export", help="write every subscriber as CSV to standard output")
    lst = subs_cmd.add_parser("list", help="counts by category and channel")
    lst.add_argument("--show-contacts", action="store_true", help="also list contacts (personal data)")

    _districts(sub)
    _fm(sub)
    _jma(sub)
    _accounts(sub)
    _audit(sub)
    _keys(sub)
    return p


def _districts(sub: Any) -> None:
    districts = sub.add_parser("districts", help="the city's 地区: list them, check them against the postal data")
    cmd = districts.add_subparsers(dest="action", required=True, metavar="ACTION")
    lst = cmd.add_parser("list", help="each district: id, name, reading, towns and how many subscribers chose it")
    lst.add_argument("--json", action="store_true", help="print JSON")
    cmd.add_parser(
        "check",
        help="check every district's towns against Japan Post's data and its outline file; exit 1 naming each problem",
    )


def _fm(sub: Any) -> None:
    fm = sub.add_parser("fm", help="community-FM speech: how a text will be read")
    cmd = fm.add_subparsers(dest="action", required=True, metavar="ACTION")
    reading = cmd.add_parser(
        "reading", help="print in katakana what the FM channel will say for TEXT (readings and numbers applied)"
    )
    reading.add_argument("text", metavar="TEXT")


def _keys(sub: Any) -> None:
    keys = sub.add_parser(
        "keys", help="the key subscriber contacts are encrypted with (BROADCASTER_DATA_KEY): new, rotate"
    )
    cmd = keys.add_subparsers(dest="action", required=True, metavar="ACTION")
    cmd.add_parser("new", help="print a new random key (32 bytes, base64url) to set as BROADCASTER_DATA_KEY")
    cmd.add_parser(
        "rotate",
        help="with the service stopped, re-encrypt every contact from the key in BROADCASTER_DATA_KEY_OLD "
        "to the one in BROADCASTER_DATA_KEY, in one transaction",
    )


def _audit(sub: Any) -> None:
    audit = sub.add_parser("audit", help="the audit log: verify its hash chain")
    cmd = audit.add_subparsers(dest="action", required=True, metavar="ACTION")
    cmd.add_parser(
        "verify",
        help="check every entry's hash from the first; exit 0 if the log is intact, 1 naming the first broken entry",
    )


def _jma(sub: Any) -> None:
    jma = sub.add_parser("jma", help="JMA 防災情報XML: inspect, replay, serve samples")
    cmd = jma.add_subparsers(dest="action", required=True, metavar="ACTION")
    inspect = cmd.add_parser("inspect", help="print what the service would make of one document, as JSON")
    inspect.add_argument("file")
    inspect.add_argument(
        "--area",
        action="extend",
        nargs="+",
        metavar="CODE",
        help="area codes instead of the configured ones; several: repeat the flag, list them, or separate with commas",
    )
    inspect.add_argument("--json", action="store_true", help="JSON output (the only format; kept for scripts)")
    replay = cmd.add_parser("replay", help="inject documents as if the feed had delivered them")
    replay.add_argument("files", nargs="+")
    serve = cmd.add_parser("serve-samples", help="serve a folder of documents as a local JMA Atom feed")
    serve.add_argument("folder")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=port, default=8000)
    serve.add_argument(
        "--cert", help="serve https with this PEM certificate (chain); the service reads feeds over https only"
    )
    serve.add_argument("--key", help="the certificate's PEM private key (default: in the --cert file)")


def _accounts(sub: Any) -> None:
    users = sub.add_parser(
        "users", help="console accounts: add, set, list, reset, unlock, totp-off, role, disable, enable"
    )
    cmd = users.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = cmd.add_parser("add", help="create an account; prints a one-time password")
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=ROLES)
    contacts = "where approval notices reach the account (personal data: never logged)"
    add.add_argument("--email", default="", metavar="ADDRESS", help=f"mail address; {contacts}")
    add.add_argument("--line-id", default="", metavar="ID", help=f"LINE user id (U + 32 hex digits); {contacts}")
    change = cmd.add_parser("set", help="change an account's mail address or LINE user id ('' clears one)")
    change.add_argument("name")
    change.add_argument("--email", metavar="ADDRESS", help="mail address for approval notices")
    change.add_argument("--line-id", metavar="ID", help="LINE user id for approval notices")
    cmd.add_parser("list", help="every account with its role, state and creation time (JST)")
    reset = cmd.add_parser("reset", help="a new one-time password (also unlocks the account)")
    reset.add_argument("name")
    unlock = cmd.add_parser("unlock", help="lift the lock that many failed logins put on an account")
    unlock.add_argument("name")
    totp_off = cmd.add_parser("totp-off", help="remove an account's second factor (a lost phone, no recovery code)")
    totp_off.add_argument("name")
    role = cmd.add_parser("role", help="change an account's role")
    role.add_argument("name")
    role.add_argument("role", choices=ROLES)
    for action in ("disable", "enable"):
        cmd.add_parser(action, help=f"{action} an account").add_argument("name")

    tokens = sub.add_parser("tokens", help="API tokens for other city systems: add, list, revoke")
    tcmd = tokens.add_subparsers(dest="action", required=True, metavar="ACTION")
    scopes = "; ".join(f"{scope}: {meaning}" for scope, meaning in MEANING.items())
    add_token = tcmd.add_parser("add", help="make a token with its scopes; prints it once")
    add_token.add_argument("name")
    add_token.add_argument(
        "--scope",
        dest="scopes",
        action="append",
        required=True,
        choices=VALID,
        metavar="SCOPE",
        help=f"what the token may do (at least one; repeat the flag for more): {scopes}",
    )
    tcmd.add_parser("list", help="every token: name, scopes, created, revoked (never the token itself)")
    tcmd.add_parser("revoke", help="stop a token working").add_argument("name")
