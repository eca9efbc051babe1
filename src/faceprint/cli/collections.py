"""faceprint collection | index | search | faces | users: the collection verbs."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator

import click

import faceprint as fp
from faceprint.cli.common import EXIT_CODES, echo_json, engine_options, expand_images, fmt_fmr, handle_errors, make_engine

if TYPE_CHECKING:
    from faceprint.enrolment import ImageEnrolment
    from faceprint.types import FaceSearch, UserSearch


def home_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--home", type=click.Path(file_okay=False, path_type=Path), default=None, help="Store folder (default: $FACEPRINT_HOME or ~/.faceprint).")(fn)


@contextmanager
def open_service(home: Path | None, accurate: bool = False, embedder: str | None = None, *, collection: str | None = None) -> Iterator[fp.Service]:
    """A service over the store at ``home`` and an engine, both closed afterwards.

    With ``collection`` and no engine choice, the engine follows the collection: it is
    built for the embedder that made the collection's vectors (Engine.for_contract).
    """
    if collection is not None and not accurate and embedder is None:
        with fp.Store(home) as store:
            try:
                model = store.collections.model(collection)
            except fp.errors.NotFound:
                model = None  # the command's own call says so, in its words
        if model is not None:
            with fp.Engine.for_contract(model) as engine, fp.Service(home, engine=engine) as svc:
                yield svc
            return
    with make_engine(accurate, embedder) as engine, fp.Service(home, engine=engine) as svc:
        yield svc


# -- collection ---------------------------------------------------------------
@click.group("collection")
def collection_group() -> None:
    """Create, list, describe and delete collections."""


@collection_group.command("create")
@click.argument("name")
@click.option("--purpose", required=True, help="What the collection is for; every search records it.")
@click.option("--no-consent-required", is_flag=True, help="Index subjects without consent records (logged).")
@click.option("--max-age-days", type=float, default=None, help="Erase faces older than this automatically.")
@click.option("--json", "as_json", is_flag=True)
@home_option
@engine_options
@handle_errors
def collection_create(name: str, purpose: str, no_consent_required: bool, max_age_days: float | None, as_json: bool, home: Path | None, accurate: bool, embedder: str | None) -> None:
    """Create collection NAME for one declared purpose."""
    from faceprint.rekognition import shapes

    with open_service(home, accurate, embedder) as svc:
        info = svc.create_collection(name, purpose=purpose, consent_required=not no_consent_required, max_age_days=max_age_days)
    if as_json:
        return echo_json(shapes.create_collection(info))
    rules = "consent required" if info.consent_required else "NO consent required"
    keep = f", faces kept {info.max_age_days:g} days" if info.max_age_days else ""
    click.echo(f"created {info.name}: purpose {info.purpose!r}, {rules}{keep}, model {info.model}")


@collection_group.command("list")
@click.option("--json", "as_json", is_flag=True)
@home_option
@handle_errors
def collection_list(as_json: bool, home: Path | None) -> None:
    """List collections with their face and user counts."""
    with fp.Store(home) as store:
        infos = [store.collections.describe(n) for n in store.collections.names()]
    if as_json:
        return echo_json({"CollectionIds": [i.name for i in infos], "FaceModelVersions": [i.model for i in infos]})
    for i in infos:
        click.echo(f"{i.name}\t{i.face_count} faces\t{i.user_count} users\tpurpose: {i.purpose}")


@collection_group.command("describe")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True)
@home_option
@handle_errors
def collection_describe(name: str, as_json: bool, home: Path | None) -> None:
    """Show a collection's counts and rules."""
    from faceprint.rekognition import shapes

    with fp.Store(home) as store:
        info = store.collections.describe(name)
    if as_json:
        return echo_json(shapes.describe_collection(info))
    click.echo(f"{info.name}: {info.face_count} faces, {info.user_count} users")
    click.echo(f"  purpose: {info.purpose}\n  consent required: {'yes' if info.consent_required else 'no'}")
    click.echo(f"  retention: {f'{info.max_age_days:g} days' if info.max_age_days else 'none'}\n  model: {info.model}")


@collection_group.command("delete")
@click.argument("name")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@home_option
@handle_errors
def collection_delete(name: str, yes: bool, home: Path | None) -> None:
    """Delete a collection and erase all of its faces."""
    if not yes:
        click.confirm(f"erase collection {name} and all its faces?", abort=True)
    with fp.Store(home) as store:
        n = store.collections.delete(name)
    click.echo(f"deleted {name}: {n} faces erased")


# -- index / search -------------------------------------------------------------
@click.command("index")
@click.argument("name")
@click.argument("paths", nargs=-1, required=True)
@click.option("--external-image-id", default=None, help="Subject of the given image files (folders use DIR/<subject>/<images>).")
@click.option("--max-faces", type=int, default=None, help="Keep the N largest faces per image (default: 1 in subject folders, all otherwise).")
@click.option("--quality-filter", type=click.Choice(["NONE", "AUTO", "LOW", "MEDIUM", "HIGH"]), default="AUTO", show_default=True)
@click.option("--no-users", is_flag=True, help="Do not create a user per subject folder.")
@click.option("--json", "as_json", is_flag=True, help="Print one IndexFaces response per image.")
@home_option
@engine_options
@handle_errors
def index(name: str, paths: tuple[str, ...], external_image_id: str | None, max_faces: int | None, quality_filter: str, no_users: bool, as_json: bool, home: Path | None, accurate: bool, embedder: str | None) -> None:
    """Index faces into collection NAME.

    A folder laid out as DIR/<subject>/<images> indexes each image's largest face under
    ExternalImageId <subject> and associates it with the user <subject>.
    """
    from tqdm import tqdm

    from faceprint.rekognition import shapes
    from faceprint.enrolment import enrol

    bar: tqdm | None = None

    def shown(done: int, total: int, image: ImageEnrolment | None) -> None:
        nonlocal bar
        if image is None:
            bar = tqdm(total=total, desc=f"indexing into {name}", unit="img", disable=as_json, leave=False)
            return
        if image.error is not None and not image.refused:
            click.echo(f"{image.path}: error: {image.error} [{image.error.code}]", err=True)
        if bar is not None:
            bar.update()
            if done == total:
                bar.close()  # before the users' messages

    try:
        with open_service(home, accurate, embedder, collection=name) as svc:
            report = enrol(svc, name, paths, external_image_id=external_image_id, max_faces=max_faces, quality_filter=quality_filter, users=not no_users, progress=shown)
    finally:
        if bar is not None:
            bar.close()
    for user in report.users:
        for face in user.unassociated:
            click.echo(f"user {user.user_id}: face {face.face_id} not associated ({face.reason}{'' if face.similarity is None else f', similarity {face.similarity:.1f}'})", err=True)
        if user.error is not None:
            click.echo(f"user {user.user_id}: {user.error} [{user.error.code}]", err=True)
    if as_json:
        echo_json([{"Image": str(i.path), **shapes.index_faces(i.result)} for i in report.images if i.result is not None])
    else:
        detail = ", ".join(f"{k} x{v}" for k, v in report.not_indexed.items())
        users = report.users_updated
        click.echo(f"{name}: indexed {report.faces_indexed} faces from {len(report.images)} images" + (f", {users} users updated" if users else "") + (f"; not indexed: {detail}" if detail else ""))
    if report.refused:
        click.echo(f"refused (no valid consent for this collection's purpose): {', '.join(report.refused)}", err=True)
        raise SystemExit(EXIT_CODES["consent_required"])


@click.command("search")
@click.argument("name")
@click.argument("images", nargs=-1, required=True)
@click.option("--max-faces", type=int, default=10, show_default=True)
@click.option("--min-similarity", "--threshold", "min_similarity", type=float, default=fp.DEFAULT_MIN_SIMILARITY, show_default=True, help="FaceMatchThreshold: similarity 0-100 (40: 1 false match in 10,000 pairs).")
@click.option("--users", "by_users", is_flag=True, help="Search users (SearchUsersByImage) instead of faces.")
@click.option("--json", "as_json", is_flag=True, help="Print the SearchFacesByImage (or SearchUsersByImage) response.")
@home_option
@engine_options
@handle_errors
def search(name: str, images: tuple[str, ...], max_faces: int, min_similarity: float, by_users: bool, as_json: bool, home: Path | None, accurate: bool, embedder: str | None) -> None:
    """Search collection NAME for the largest face of each image."""
    from faceprint.rekognition import shapes

    files = expand_images(images)
    responses: list[dict[str, Any]] = []
    failed: list[int] = []
    with open_service(home, accurate, embedder, collection=name) as svc:
        for path in files:
            try:
                if by_users:
                    users = svc.search_users_by_image(name, path, min_similarity=min_similarity, max_users=max_faces)
                    responses.append(shapes.search_users(users))
                    if not as_json:
                        _print_users(path, users)
                else:
                    found = svc.search_faces_by_image(name, path, max_faces=max_faces, min_similarity=min_similarity)
                    responses.append(shapes.search_faces(found))
                    if not as_json:
                        _print_faces(path, found)
            except fp.FaceprintError as exc:
                if len(files) == 1:
                    raise
                click.echo(f"{path}: error: {exc} [{exc.code}]", err=True)
                failed.append(EXIT_CODES.get(exc.code, 1))
    if as_json:
        echo_json(responses[0] if len(files) == 1 else responses)
    if failed:
        raise SystemExit(max(failed))


def _print_faces(path: Path, found: FaceSearch) -> None:
    from faceprint.rekognition.shapes import REFUSAL_MESSAGES

    click.echo(f"{path}: {len(found.matches)} match(es) among {found.gallery_size} faces at similarity >= {found.min_similarity:g} (expected strangers per search: {found.expected_false_matches:.2g})")
    if found.refusal:
        click.echo(f"  REFUSED: {REFUSAL_MESSAGES[found.refusal]}")
    for m in found.matches:
        click.echo(f"  {m.face.external_image_id or '-'}\tsimilarity={m.match.similarity:5.1f}\tfalse_match_rate={fmt_fmr(m.match)}\tface={m.face.face_id}")


def _print_users(path: Path, found: UserSearch) -> None:
    from faceprint.rekognition.shapes import REFUSAL_MESSAGES

    click.echo(f"{path}: {len(found.matches)} user(s)")
    if found.refusal:
        click.echo(f"  REFUSED: {REFUSAL_MESSAGES[found.refusal]}")
    for m in found.matches:
        click.echo(f"  {m.user.user_id}\tsimilarity={m.match.similarity:5.1f}\tfalse_match_rate={fmt_fmr(m.match)}\tfaces={m.user.face_count}")


# -- faces / users ----------------------------------------------------------------
@click.group("faces")
def faces_group() -> None:
    """List and delete the faces of a collection."""


@faces_group.command("list")
@click.argument("name")
@click.option("--user", "user_id", default=None)
@click.option("--max-results", type=int, default=1000, show_default=True)
@click.option("--next-token", default=None)
@click.option("--json", "as_json", is_flag=True, help="Print the ListFaces response.")
@home_option
@handle_errors
def faces_list(name: str, user_id: str | None, max_results: int, next_token: str | None, as_json: bool, home: Path | None) -> None:
    """ListFaces: one page of a collection's faces."""
    from faceprint.rekognition import shapes

    with fp.Store(home) as store:
        model = store.collections.describe(name).model
        faces, token = store.faces.page(name, user_id=user_id, max_results=max_results, next_token=next_token)
    if as_json:
        return echo_json(shapes.list_faces(faces, token, model))
    for f in faces:
        click.echo(f"{f.face_id}\t{f.external_image_id or '-'}\t{f.user_id or '-'}\tconfidence={f.confidence:.1f}")
    if token:
        click.echo(f"more: --next-token {token}")


@faces_group.command("delete")
@click.argument("name")
@click.argument("face_ids", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True, help="Print the DeleteFaces response.")
@home_option
@handle_errors
def faces_delete(name: str, face_ids: tuple[str, ...], as_json: bool, home: Path | None) -> None:
    """DeleteFaces: erase faces by FaceId."""
    from faceprint.rekognition import shapes

    with fp.Store(home) as store:
        deleted, failed = store.faces.delete(name, list(face_ids))
    if as_json:
        return echo_json(shapes.delete_faces(deleted, failed))
    click.echo(f"deleted {len(deleted)} face(s)")
    for fid, uid, why in failed:
        click.echo(f"  not deleted {fid}: {why}" + (f" (user {uid})" if uid else ""), err=True)


@click.group("users")
def users_group() -> None:
    """Users: a person's faces grouped under one id."""


@users_group.command("list")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print the ListUsers response.")
@home_option
@handle_errors
def users_list(name: str, as_json: bool, home: Path | None) -> None:
    """ListUsers (every page)."""
    from faceprint.rekognition import shapes

    with fp.Store(home) as store:
        users, token = store.users.page(name)
        while token:
            more, token = store.users.page(name, next_token=token)
            users += more
    if as_json:
        return echo_json(shapes.list_users(users, None))
    for u in users:
        click.echo(f"{u.user_id}\t{u.status}\t{u.face_count} faces")


@users_group.command("create")
@click.argument("name")
@click.argument("user_id")
@home_option
@handle_errors
def users_create(name: str, user_id: str, home: Path | None) -> None:
    """CreateUser."""
    with fp.Store(home) as store:
        store.users.create(name, user_id)
    click.echo(f"created user {user_id}")


@users_group.command("delete")
@click.argument("name")
@click.argument("user_id")
@home_option
@handle_errors
def users_delete(name: str, user_id: str, home: Path | None) -> None:
    """DeleteUser (its faces stay, unassociated)."""
    with fp.Store(home) as store:
        store.users.delete(name, user_id)
    click.echo(f"deleted user {user_id}")


@users_group.command("associate")
@click.argument("name")
@click.argument("user_id")
@click.argument("face_ids", nargs=-1, required=True)
@click.option("--min-similarity", "--threshold", "min_similarity", type=float, default=fp.DEFAULT_MIN_SIMILARITY, show_default=True, help="UserMatchThreshold.")
@click.option("--json", "as_json", is_flag=True)
@home_option
@handle_errors
def users_associate(name: str, user_id: str, face_ids: tuple[str, ...], min_similarity: float, as_json: bool, home: Path | None) -> None:
    """AssociateFaces."""
    from faceprint.rekognition import shapes

    with open_service(home, collection=name) as svc:
        done, failed = svc.associate_faces(name, user_id, list(face_ids), min_similarity=min_similarity)
        status = svc.store.users.status(name, user_id)
    if as_json:
        return echo_json(shapes.associate_faces(done, failed, status))
    click.echo(f"associated {len(done)} face(s) with {user_id}")
    for fid, _, sim, why in failed:
        click.echo(f"  not associated {fid}: {why}" + ("" if sim is None else f" (similarity {sim:.1f})"), err=True)
