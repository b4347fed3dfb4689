"""``referee arena serve | invite | export``: thin shells over :mod:`referee.arena`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from referee.cli.base import Command, Group, app, check_outputs, fail
from referee.errors import InputError

arena_app = typer.Typer(help="A self-hostable human-voting arena with a live leaderboard.", no_args_is_help=True, cls=Group)
app.add_typer(arena_app, name="arena")
DbOption = Annotated[str, typer.Option("--db", metavar="URL", help="Database: sqlite:///arena.db or postgresql://user@host/db (serve creates a missing SQLite file; invite and export need an existing one).")]


@arena_app.command("serve", cls=Command)
def arena_serve(
    outputs: Annotated[list[str] | None, typer.Option("--outputs", metavar="FILE", help="Model outputs to add (any format `referee judge` reads).")] = None,
    extra_outputs: Annotated[list[str] | None, typer.Argument(metavar="[FILE...]", show_default=False, help="More output files (an unquoted glob after --outputs).")] = None,
    db: DbOption = "sqlite:///arena.db",
    host: Annotated[str, typer.Option(metavar="HOST", help="Interface to listen on (non-loopback needs an admin token).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(metavar="PORT", help="Port.")] = 8000,
    sampling: Annotated[str, typer.Option(metavar="HOW", help="Pair selection: uniform | balanced | active.")] = "uniform",
    refresh: Annotated[float, typer.Option(metavar="SECONDS", help="Seconds between leaderboard recomputations (when votes arrived).")] = 10.0,
    rate_limit: Annotated[float, typer.Option(metavar="RATE", help="Votes per second per annotator (bursts of 2x; 0 = no limit).")] = 2.0,
    identity_filter: Annotated[bool, typer.Option("--identity-filter", help="Leave out votes on responses that name a model.")] = False,
    admin_token_env: Annotated[str, typer.Option(metavar="VAR", help="Environment variable holding the admin token.")] = "REFEREE_ADMIN_TOKEN",
    sqlite_sync: Annotated[str, typer.Option(metavar="LEVEL", help="SQLite durability: normal (survives crashes) | full (also power loss).")] = "normal",
    public_leaderboard: Annotated[bool, typer.Option("--public-leaderboard", help="Show the leaderboard without logging in.")] = False,
    seed: Annotated[int | None, typer.Option(metavar="SEED", help="Seed of the pair sampler (default: random).")] = None,
    title: Annotated[str, typer.Option(metavar="TEXT", help="Title shown on the pages.")] = "referee arena",
    reveal: Annotated[bool, typer.Option("--reveal/--no-reveal", help="Name the two models to the voter after each vote. Off (the default), voters never see names and every battle stays available. On, fixed outputs would let a voter recognise a revealed response later, so that annotator is never shown it again and is done after at most floor(M/2) battles per prompt of M models. Neither hides a model's recognisable style; admins always see names.")] = False,
    max_connections: Annotated[int, typer.Option(metavar="N", help="Most connections held (the oldest idle ones are closed to make room).")] = 1000,
    header_timeout: Annotated[float, typer.Option(metavar="SECONDS", help="Close a connection whose request headers are not complete this long after it opened.")] = 10.0,
    keep_alive: Annotated[float, typer.Option(metavar="SECONDS", help="Close an idle keep-alive connection after this long.")] = 5.0,
    session_hours: Annotated[float, typer.Option(metavar="HOURS", help="Lifetime of a login session (logout, `referee arena revoke` and a new admin token end sessions sooner).")] = 720.0,
    public_url: Annotated[str | None, typer.Option(metavar="URL", help="The address users reach the arena at (e.g. behind a proxy), for login links; default http://HOST:PORT.")] = None,
) -> None:
    """Serve the voting arena: Vote, Leaderboard and Admin pages and the JSON API."""
    from referee.arena import serve

    def ready(info: dict[str, Any]) -> None:
        typer.echo(
            f"referee arena: {info['models']} models, {info['prompts']} prompts, {info['votes']} votes so far; "
            f"serving {info['url']}" + ("" if info["admin"] else f" (admin disabled: set ${admin_token_env})"),
            err=True,
        )

    try:
        serve(
            [*(outputs or []), *(extra_outputs or [])] or None, db=db, host=host, port=port, sampling=sampling, refresh=refresh, rate_limit=rate_limit,
            identity_filter=identity_filter, admin_token_env=admin_token_env, sqlite_sync=sqlite_sync,
            public_leaderboard=public_leaderboard, seed=seed, title=title, ready=ready,
            reveal=reveal, max_connections=max_connections, header_timeout=header_timeout, keep_alive=keep_alive,
            session_hours=session_hours, public_url=public_url,
        )
    except InputError as err:
        fail(err)


@arena_app.command("invite", cls=Command)
def arena_invite(
    name: Annotated[str, typer.Option("--name", metavar="NAME", help="The annotator's name (unique).")],
    db: DbOption = "sqlite:///arena.db",
    url: Annotated[str | None, typer.Option("--public-url", "--url", metavar="URL", help="The arena's public address, to print a login link too.")] = None,
) -> None:
    """Create an annotator; prints their token (shown once)."""
    from referee.arena import invite

    try:
        token = invite(name, db=db)
    except InputError as err:
        fail(err)
    typer.echo(token)
    if url:
        typer.echo(f"{url.rstrip('/')}/login?token={token}", err=True)


@arena_app.command("revoke", cls=Command)
def arena_revoke(
    name: Annotated[str, typer.Option("--name", metavar="NAME", help="The annotator to shut out.")],
    db: DbOption = "sqlite:///arena.db",
) -> None:
    """End every session of an annotator and disable their token, at once (a running server too)."""
    from referee.arena import revoke

    try:
        ended = revoke(name, db=db)
    except InputError as err:
        fail(err)
    typer.echo(f"revoked {name.strip()}: token disabled, {ended} sessions ended", err=True)


@arena_app.command("export", cls=Command)
def arena_export(
    db: DbOption = "sqlite:///arena.db",
    output: Annotated[Path, typer.Option("--output", "-o", metavar="FILE", help="votes.jsonl | .csv | .parquet (the folder must exist)")] = Path("votes.jsonl"),
    identity_filter: Annotated[bool, typer.Option("--identity-filter", help="Leave out votes on responses that name a model.")] = False,
) -> None:
    """Write all votes as canonical comparisons (for `referee rank` / `referee audit`)."""
    from referee.arena import export

    check_outputs(output)
    try:
        frame = export(db, output, identity_filter=identity_filter)
    except InputError as err:
        fail(err)
    typer.echo(f"wrote {len(frame)} votes to {output}", err=True)
