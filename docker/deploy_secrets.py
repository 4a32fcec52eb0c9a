#!/usr/bin/env python3
"""The deployment's secrets: refuse a missing or placeholder one by name, make strong ones, hash the proxy's users.

Standard library only: it runs in every image (``taxi-secrets``; the PostgreSQL and proxy images have no venv)
and on the host before anything is built (``make up``).

    taxi-secrets check [--env-file F] NAME [NAME ...]
                                           exit 1 naming each secret that is empty, a placeholder, too short or
                                           holds characters a database URL cannot carry; never prints a value
                                           (with F: the file's values unless the environment sets them, as compose)
    taxi-secrets generate EXAMPLE OUT      OUT from EXAMPLE with every secret replaced by a random one (mode 600)
    taxi-secrets htpasswd NAME             the proxy's password file for the "user:password" pairs in NAME

List secrets hold comma-separated values (``TAXI_API_KEYS``), pair secrets ``name:secret`` pairs
(``TAXI_DASHBOARD_KEYS``, ``PROXY_USERS``); each value in them is checked.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import secrets
import sys
from collections.abc import Mapping
from pathlib import Path

MIN_LENGTH = 16
# what docker/.env.example ships and what people type when they mean "later"
PLACEHOLDER = re.compile(r"change.?me|placeholder|example|^(secret|password|admin|test|default)\d*$", re.IGNORECASE)
# generated secrets are URL-safe; other characters would break the database URLs compose builds from them
SAFE = re.compile(r"^[A-Za-z0-9_.~-]+$")
LIST_SECRETS = frozenset({"TAXI_API_KEYS"})
PAIR_SECRETS = frozenset({"TAXI_DASHBOARD_KEYS", "PROXY_USERS"})
# the names `generate` fills in, with the user name of each pair secret
SECRETS = {
    "POSTGRES_PASSWORD": None,
    "PLATFORM_DB_PASSWORD": None,
    "DAGSTER_DB_PASSWORD": None,
    "MLFLOW_DB_PASSWORD": None,
    "API_DB_PASSWORD": None,
    "DASHBOARD_DB_PASSWORD": None,
    "MLFLOW_PLATFORM_PASSWORD": None,
    "MLFLOW_READER_PASSWORD": None,
    "MLFLOW_FLASK_SERVER_SECRET_KEY": None,
    "TAXI_API_KEYS": None,
    "TAXI_DASHBOARD_KEYS": "ops",
    "PROXY_USERS": "ops",
}


def values(name: str, raw: str) -> list[tuple[str, str]]:
    """The (user, secret) pairs a secret holds: one unnamed value, a list, or name:secret pairs."""
    if name in PAIR_SECRETS:
        pairs = [part.strip().partition(":") for part in raw.split(",") if part.strip()]
        # an entry without its name reads as a nameless secret, refused as such
        return [(user, secret) if sep else ("", user) for user, sep, secret in pairs] or [("", "")]
    if name in LIST_SECRETS:
        return [("", part.strip()) for part in raw.split(",") if part.strip()] or [("", "")]
    return [("", raw)]


def problems(env: Mapping[str, str], names: list[str]) -> list[str]:
    """What is wrong with each named secret, one line per problem, naming the secret and never its value."""
    found = []
    for name in names:
        raw = env.get(name, "")
        if not raw.strip():
            found.append(f"{name} is not set")
            continue
        for user, value in values(name, raw):
            where = f"{name} (user {user!r})" if user else name
            if name in PAIR_SECRETS and not user:
                found.append(f"{where}: each entry must be name:secret")
            elif PLACEHOLDER.search(value):
                found.append(f"{where} is a placeholder")
            elif len(value) < MIN_LENGTH:
                found.append(f"{where} is shorter than {MIN_LENGTH} characters")
            elif not SAFE.match(value):
                found.append(f"{where} holds characters other than letters, digits and _ . ~ -")
    return found


def generate(example: Path, out: Path) -> list[str]:
    """Write ``out`` from ``example`` with a fresh random value for every secret; the names filled in."""
    filled = []
    lines = []
    for line in example.read_text().splitlines():
        name, sep, _ = line.partition("=")
        if sep and not line.lstrip().startswith("#") and name in SECRETS:
            token = secrets.token_urlsafe(24)
            while PLACEHOLDER.search(token):  # a random word that reads as a placeholder would be refused
                token = secrets.token_urlsafe(24)
            user = SECRETS[name]
            line = f"{name}={user}:{token}" if user else f"{name}={token}"
            filled.append(name)
        lines.append(line)
    out.touch(mode=0o600, exist_ok=False)
    out.write_text("\n".join(lines) + "\n")
    return filled


def read_env_file(path: Path) -> dict[str, str]:
    """The ``NAME=value`` lines of an env file (comments and blank lines skipped)."""
    lines = [line for line in path.read_text().splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return dict(line.split("=", 1) for line in lines if "=" in line)


def htpasswd(raw: str) -> str:
    """Nginx's password file for "user:password" pairs, salted SHA-1 ({SSHA}) per user."""
    lines = []
    for user, password in values("PROXY_USERS", raw):
        salt = secrets.token_bytes(8)
        digest = hashlib.sha1(password.encode() + salt, usedforsecurity=True).digest()
        lines.append(f"{user}:{{SSHA}}{base64.b64encode(digest + salt).decode()}")
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    """The command line (see the module's docstring)."""
    if len(argv) >= 2 and argv[0] == "check":
        env: dict[str, str] = dict(os.environ)
        if len(argv) >= 3 and argv[1] == "--env-file":
            # what compose will pass: the file's values, each overridden by the shell's when the shell sets it
            env = read_env_file(Path(argv[2])) | env
            argv = argv[2:]
        found = problems(env, argv[1:])
        for problem in found:
            print(f"refusing to start: {problem}", file=sys.stderr)
        if found:
            print(
                "set each in docker/.env (`make up` writes strong ones there when it has none; "
                "docs/operations/deployment.md)",
                file=sys.stderr,
            )
        return 1 if found else 0
    if len(argv) == 3 and argv[0] == "generate":
        try:
            filled = generate(Path(argv[1]), Path(argv[2]))
        except FileExistsError:
            print(f"error: {argv[2]} exists; its secrets are kept", file=sys.stderr)
            return 1
        print(f"{argv[2]}: {len(filled)} secrets generated ({', '.join(filled)})")
        return 0
    if len(argv) == 2 and argv[0] == "htpasswd":
        found = problems(os.environ, [argv[1]])
        if found:
            print("\n".join(f"refusing to start: {problem}" for problem in found), file=sys.stderr)
            return 1
        sys.stdout.write(htpasswd(os.environ[argv[1]]))
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
