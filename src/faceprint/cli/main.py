"""Entry point: ``faceprint <command>``."""

from __future__ import annotations

import logging

import click

from faceprint import __version__
from faceprint.cli.attention import attention
from faceprint.cli.demo import demo
from faceprint.cli.liveness import liveness
from faceprint.cli.evaluate import eval_group
from faceprint.cli.faces import compare, detect, identify
from faceprint.cli.models import models_cmd
from faceprint.cli.collections import collection_group, faces_group, index, search, users_group
from faceprint.cli.governance import audit_group, consent_group, erase, purge
from faceprint.cli.serve import keys_group, serve
from faceprint.cli.video import video_group, watch


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="faceprint")
@click.option("-v", "--verbose", is_flag=True, help="Log progress details to stderr.")
def cli(verbose: bool) -> None:
    """faceprint: self-hosted face recognition."""
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")


for command in (
    detect, compare, identify, models_cmd, eval_group, demo,
    collection_group, index, search, faces_group, users_group,
    consent_group, erase, purge, audit_group,
    serve, keys_group, watch, video_group, attention, liveness,
):
    cli.add_command(command)


def main() -> None:
    cli(prog_name="faceprint")


if __name__ == "__main__":
    main()
