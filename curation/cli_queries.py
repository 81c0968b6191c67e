"""`gallery curate query ls|show|run|rm`: saved searches (saved by `gallery curate search ... --save NAME`)."""

from __future__ import annotations

import json

import typer

from gallery.state import state

query_app = typer.Typer(no_args_is_help=True, help="Saved searches (a show's programme can play one by name).")


@query_app.command("ls")
def query_ls(ctx: typer.Context, as_json: bool = typer.Option(False, "--json")) -> None:
    """List saved searches (one that is not valid any more says why)."""
    from curation import queries

    rows = queries.ls(state(ctx).catalogue)
    if as_json:
        typer.echo(json.dumps([q.as_dict() if q else {"id": r.id, "name": r.name, "error": err}
                               for r, q, err in rows], indent=2))
        return
    for r, q, err in rows:
        typer.echo(f"{r.id:>4}  {r.name}  ({q.describe() if q else 'NOT VALID: ' + str(err)})")
    if not rows:
        typer.echo("no saved searches (save one with `gallery curate search ... --save NAME`)", err=True)


@query_app.command("show")
def query_show(ctx: typer.Context, name: str = typer.Argument(..., help="the saved search's name"),
               as_json: bool = typer.Option(False, "--json")) -> None:
    """A saved search's text, filters and limit."""
    from curation import queries

    q = queries.get(state(ctx).catalogue, name)
    if as_json:
        typer.echo(json.dumps(q.as_dict(), indent=2))
        return
    typer.echo(f"{q.name}: {q.describe()}\n  saved {q.created:%Y-%m-%d %H:%M}, changed {q.updated:%Y-%m-%d %H:%M}")


@query_app.command("run")
def query_run(ctx: typer.Context, name: str = typer.Argument(..., help="the saved search's name"),
              as_json: bool = typer.Option(False, "--json")) -> None:
    """The artworks a saved search gives now, in order (what a programme playing it shows)."""
    from curation import queries

    st = state(ctx)
    ids = queries.resolve(st.catalogue, name, settings=st.settings)
    if as_json:
        typer.echo(json.dumps(ids))
        return
    for i, a in enumerate(ids):
        art = st.catalogue.get(a)
        typer.echo(f"{i + 1:>4}. #{a} {art.kind if art else '?'} {art.title if art else ''}")
    typer.echo(f"{len(ids)} artwork(s)", err=True)


@query_app.command("rm")
def query_rm(ctx: typer.Context, name: str = typer.Argument(..., help="the saved search's name")) -> None:
    """Delete a saved search (a programme still naming it is refused by `gallery config check`)."""
    from curation import queries

    typer.echo(f"deleted saved search {queries.delete(state(ctx).catalogue, name)!r}")
