"""``flask admin``: create admin users and set their passwords (prompted, never as arguments)."""
from __future__ import annotations

import click
from email_validator import EmailNotValidError, validate_email
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import func, select
from werkzeug.security import generate_password_hash

from ..extensions import db
from ..models import AdminUser
from .auth import normalize_email

admin_cli = AppGroup("admin", help="Manage the users of the /admin page.")

def _find(email: str) -> AdminUser | None:
    return db.session.scalar(select(AdminUser).where(func.lower(AdminUser.email) == email))


def _email_argument(email: str) -> str:
    email = normalize_email(email)
    try:  # syntax only, no DNS (https://github.com/JoshData/python-email-validator)
        validate_email(email, check_deliverability=False)
    except EmailNotValidError as exc:
        raise click.BadParameter(f"not an email address ({exc})", param_hint="EMAIL") from None
    return email


def _prompt_password() -> str:
    minimum = int(current_app.config.get("ADMIN_MIN_PASSWORD_LENGTH", 8))
    password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    if len(password) < minimum:
        raise click.ClickException(f"the password must have at least {minimum} characters")
    return password


@admin_cli.command("create-user")
@click.argument("email")
def create_user(email: str) -> None:
    """Create an admin user; prompts twice for the password.

    \f
    Exit status 1 (``click.ClickException``) if a user with this email exists or the password is
    shorter than ``ADMIN_MIN_PASSWORD_LENGTH`` characters (default 8); exit status 2
    (``click.BadParameter``) if EMAIL is not an email address (or is over 320 characters).
    """
    email = _email_argument(email)
    if _find(email) is not None:
        raise click.ClickException("an admin user with this email exists; use `admin set-password`")
    password = _prompt_password()
    user = AdminUser(email=email, password_hash=generate_password_hash(password), is_active=True)
    db.session.add(user)
    db.session.commit()
    click.echo(f"admin user {user.id} created")


def _existing(email: str) -> AdminUser:
    """The admin user with this email; a ClickException if there is none."""
    user = _find(_email_argument(email))
    if user is None:
        raise click.ClickException("no admin user with this email")
    return user


@admin_cli.command("set-password")
@click.argument("email")
def set_password(email: str) -> None:
    """Set a new password (and reactivate the user); signs out its open sessions.

    \f
    Exit status 1 (``click.ClickException``) if there is no such user or the password is too
    short; exit status 2 (``click.BadParameter``) if EMAIL is not an email address.
    """
    user = _existing(email)
    user.password_hash = generate_password_hash(_prompt_password())
    user.is_active = True
    db.session.commit()
    click.echo(f"admin user {user.id}: password changed")


@admin_cli.command("deactivate")
@click.argument("email")
def deactivate(email: str) -> None:
    """Stop a user from signing in; signs out its open sessions.

    \f
    Exit status 1 (``click.ClickException``) if there is no such user; exit status 2
    (``click.BadParameter``) if EMAIL is not an email address.
    """
    user = _existing(email)
    user.is_active = False
    db.session.commit()
    click.echo(f"admin user {user.id} deactivated")
