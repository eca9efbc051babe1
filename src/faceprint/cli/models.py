"""faceprint models."""

from __future__ import annotations

import click

import faceprint as fp
from faceprint.cli.common import echo_json, handle_errors
from faceprint.errors import FaceprintError


@click.command("models")
@click.option("--json", "as_json", is_flag=True)
@handle_errors
def models_cmd(as_json: bool) -> None:
    """List every model: task, file, sha256, licence, source package, published accuracy."""
    from faceprint.eval.report import table
    from faceprint.models import locate

    rows = []
    for c in fp.list_models():
        try:
            where = str(locate(c))
        except FaceprintError as exc:
            where = f"MISSING ({exc})"
        rows.append({
            "name": c.name, "task": c.task.value, "license": c.license, "commercial_use": c.commercial_use,
            "package": c.package, "file": where, "sha256": c.sha256, "published": c.published,
        })
    if as_json:
        echo_json(rows)
        return
    click.echo(table([[r["name"], r["task"], r["license"], "yes" if r["commercial_use"] else "no", r["package"], r["sha256"][:16] + "…", r["published"]] for r in rows],
                     ["model", "task", "licence", "commercial", "package", "sha256", "published accuracy"]))
    click.echo("")
    for r in rows:
        click.echo(f"{r['name']}: {r['file']}")
