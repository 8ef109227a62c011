"""`lookalike serve`: the HTTP API and the web page over the store (see lookalike.server)."""

from __future__ import annotations

import click

from ..decode import pillow_allowing
from ..settings import DEFAULT_RERANK, Settings
from .config import ALLOWED_HOSTS_ENV, ALLOWED_ORIGINS_ENV, API_KEYS_ENV


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind; 0.0.0.0 exposes the service to the network.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option("--api-key", "api_keys", multiple=True, envvar=API_KEYS_ENV,
              help="Require this key for writes (and reads unless --read-open). Repeatable; "
              "the environment variable takes a comma-separated list.")
@click.option("--read-open", is_flag=True, help="With API keys: let anyone search and read.")
@click.option("--open-metrics", is_flag=True, help="Serve /metrics without a key even when reads need one.")
@click.option("--allow-host", "allow_hosts", multiple=True, envvar=ALLOWED_HOSTS_ENV,
              help=f"Also answer to this Host name (repeatable, '*' for any; {ALLOWED_HOSTS_ENV} takes a "
              "comma-separated list). Loopback names, IP addresses and the --host name are always answered.")
@click.option("--allow-origin", "allow_origins", multiple=True, envvar=ALLOWED_ORIGINS_ENV,
              help="Let pages from this origin (e.g. https://photos.example.com) upload, delete and search "
              f"(repeatable, '*' for any; {ALLOWED_ORIGINS_ENV} takes a comma-separated list).")
@click.option("--max-upload-mb", default=50, show_default=True, type=click.IntRange(1, 10_000), help="Bytes per uploaded file.")
@click.option("--max-files", default=100, show_default=True, type=click.IntRange(1, 100_000), help="Files per upload request.")
@click.option("--max-megapixels", default=100, show_default=True, type=click.IntRange(1, 10_000), help="Pixels per image.")
@click.option("--rerank", multiple=True, help="Second-stage re-ranker for every search (repeatable; replaces the "
              "default, contest), e.g. keypoints: crops and other views verified, explained on the page with lines "
              "between matched points.")
@click.pass_context
def serve(ctx: click.Context, host: str, port: int, api_keys: tuple[str, ...], read_open: bool, open_metrics: bool,
          allow_hosts: tuple[str, ...], allow_origins: tuple[str, ...], max_upload_mb: int, max_files: int,
          max_megapixels: int, rerank: tuple[str, ...]) -> None:
    """Serve the HTTP API (docs at /docs) and the web page over the store.

    \b
    lookalike --db shop.db serve --port 8000 --api-key "$KEY" --read-open
    """
    import uvicorn

    from . import ServerConfig, create_app

    def listed(values: tuple[str, ...]) -> frozenset[str]:
        return frozenset(v.strip() for value in values for v in value.split(",") if v.strip())

    config = ServerConfig(
        settings=Settings(store=ctx.obj["store"], rerank=rerank or DEFAULT_RERANK).with_db(ctx.obj["db"]),
        api_keys=listed(api_keys),
        read_open=read_open,
        open_metrics=open_metrics,
        bind_host=host,
        allowed_hosts=listed(allow_hosts),
        allowed_origins=listed(allow_origins),
        max_file_bytes=max_upload_mb * 1024 * 1024,
        max_files_per_request=max_files,
        max_pixels=max_megapixels * 1_000_000,
    )
    _check_port_free(host, port)
    ctx.with_resource(pillow_allowing(config.max_pixels))  # this process is ours: our limit is the one in force
    app = create_app(config)
    served = ctx.obj["store"] or ctx.obj["db"]  # a Milvus store is named by its URL, not the unused --db
    click.echo(f"lookalike serving {served} on http://{host}:{port}/ (API docs at /docs)", err=True)
    if host in ("0.0.0.0", "::", "") and not config.allowed_hosts:
        click.echo("note: bound to every interface; clients reaching this server by a name (not an IP "
                   "address) need --allow-host NAME (see docs/security.md)", err=True)
    uvicorn.run(app, host=host, port=port, log_level="warning")


def _check_port_free(host: str, port: int) -> None:
    """Refuse before saying "serving" when the address is taken (uvicorn would only log it
    after the banner and exit)."""
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror or exc} "
                                       "(another server there? choose another --port)") from None
