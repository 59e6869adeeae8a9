"""The service's one settings class: every ``GEOECO_*`` environment variable, in one place
(the HTTP service's limits and folders, and the job system's store, workers and engine).

Only the API reads the environment; the library takes everything as arguments. List-valued
settings (``cors_origins``, ``api_keys``) are comma-separated strings, split by properties,
because pydantic-settings would otherwise expect JSON in the variable.

Examples
--------
>>> s = Settings(api_keys=" a, b ,", cors_origins="http://localhost:3000")
>>> sorted(s.api_key_set), s.cors_origin_list, s.keys_enabled
(['a', 'b'], ['http://localhost:3000'], True)
>>> Settings(api_keys="").keys_enabled
False
>>> Settings(admin_keys="root").admin_key_set, Settings(admin_keys="root").keys_enabled
(frozenset({'root'}), False)
>>> Settings(job_plugins="a.b, c").plugin_modules, Settings(job_store_url="sqlite:///j").store_url
(('a.b', 'c'), 'sqlite:///j')
"""

from __future__ import annotations

from pathlib import Path

import platformdirs
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from geoeco.catalog.demo_region import DEFAULT_DEMO_SIZE
from geoeco.catalog.demo_region import Size as DemoSize
from geoeco.catalog.store import UserLayerStore
from geoeco.core.engine import EngineName
from geoeco.core.uploads import ZipLimits
from geoeco.core.userdata import DEFAULT_LIMITS, UserDataLimits

_LIM = DEFAULT_LIMITS


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


class Settings(BaseSettings):
    """Configuration of the HTTP service (env prefix ``GEOECO_``, optional ``.env`` file).

    Unknown variables and empty values are ignored, so ``GEOECO_API_KEYS=`` means "keys off".
    """

    model_config = SettingsConfigDict(
        env_prefix="GEOECO_", env_file=".env", extra="ignore", env_ignore_empty=True
    )

    data_dir: Path = Field(
        default_factory=lambda: Path(platformdirs.user_data_dir("geoeco")),
        description="Root folder of the service's own data (user layers, job results).",
    )
    layers_dir: Path | None = Field(
        default=None,
        description="Folder of user layer manifests (*.toml); default `<data_dir>/layers`.",
    )
    cache_dir: Path = Field(
        default_factory=lambda: Path(platformdirs.user_cache_dir("geoeco")),
        description="Where built-in generated layers (the demo region) are built and cached.",
    )
    input_catalogs: Path | None = Field(
        default=None,
        description="TOML file of the catalogs the `inputs` process reads (the format of "
        "geoeco/data/catalogs.toml: `[catalogs.NAME]` tables; an entry replaces the built-in "
        "catalog of that name, e.g. a local mirror in an isolated network); default: the "
        "built-in public catalogs. Requests never name a catalog.",
    )
    jobs_dir: Path | None = Field(
        default=None,
        description="Folder of the job store (used by the job system); default `<data_dir>/jobs`.",
    )
    cors_origins: str = Field(
        default="", description="Comma-separated origins allowed by CORS; empty = CORS off."
    )
    api_keys: str = Field(
        default="",
        description="Comma-separated API keys accepted in `X-API-Key` by routes that start "
        "work, upload or delete; empty = keys off.",
    )
    admin_keys: str = Field(
        default="",
        description="Comma-separated admin keys (in `X-API-Key`): may list, read and dismiss "
        "every job, with API keys on or off; empty = no admin.",
    )
    max_body_bytes: int = Field(
        default=20_000_000, ge=1, description="Largest accepted request body (bytes) -> 413."
    )
    max_vertices: int = Field(
        default=100_000, ge=4, description="Most vertices in an input geometry (all parts)."
    )
    max_sync_area_km2: float = Field(
        default=50_000.0,
        gt=0,
        description="Largest area of interest (km²) answered synchronously; larger -> async job.",
    )
    max_async_area_km2: float = Field(
        default=2_000_000.0, gt=0, description="Largest area of interest (km²) accepted at all."
    )
    rate_limit_per_minute: int = Field(
        default=600, ge=0, description="Requests per minute per API key or client IP; 0 = off."
    )
    rate_limit_burst: int | None = Field(
        default=None,
        ge=1,
        description="Requests allowed at once before limiting; default = rate_limit_per_minute.",
    )
    items_default_limit: int = Field(
        default=100, ge=1, description="Features per page when `limit` is not given."
    )
    items_max_limit: int = Field(
        default=1000, ge=1, description="Largest page served; a larger `limit` is served as this."
    )
    max_concurrent_jobs: int = Field(
        default=2, ge=1, description="Jobs run at once by the job system."
    )
    root_path: str = Field(
        default="", description="ASGI root path when served behind a proxy under a prefix."
    )
    query_demo_size: DemoSize = Field(
        default=DEFAULT_DEMO_SIZE,
        description="Demo run answering queries and screenings without `run`: `full` (about "
        "100 km at 90 m, built in about 1 min on first use) or `small` (about 10 km at 30 m).",
    )
    query_cache_runs: int = Field(
        default=4, ge=1, description="Opened zoning runs kept in memory for queries (LRU)."
    )
    max_batch_sites: int = Field(
        default=1000, ge=1, description="Most sites in one `POST /screen/batch` request."
    )
    max_upload_bytes: int = Field(
        default=100_000_000, ge=1, description="Largest uploaded file (bytes) -> 413."
    )
    max_upload_unpacked_bytes: int = Field(
        default=250_000_000,
        ge=1,
        description="Largest total size of an unpacked zip upload (one layer's files) -> 413.",
    )
    max_upload_files: int = Field(default=200, ge=1, description="Most members in a zip upload.")
    max_upload_ratio: float = Field(
        default=250.0,
        gt=1,
        description="Largest compression ratio of a zip member over 1 MB, and of the whole "
        "archive (unpacked bytes / uploaded bytes) once it unpacks to over 1 MB -> 413.",
    )
    max_raster_pixels: int = Field(
        default=_LIM.max_raster_pixels,
        ge=1,
        le=_LIM.max_raster_pixels,
        description="Largest width × height of an uploaded raster, from its header -> 413 "
        "(at most the library's limit, which every later read applies).",
    )
    max_raster_bands: int = Field(
        default=_LIM.max_raster_bands,
        ge=1,
        le=_LIM.max_raster_bands,
        description="Most bands of an uploaded raster -> 413.",
    )
    max_raster_blocks: int = Field(
        default=_LIM.max_raster_blocks,
        ge=1,
        le=_LIM.max_raster_blocks,
        description="Most blocks (tiles or strips, over all bands) of an uploaded raster -> 413.",
    )
    max_raster_block_bytes: int = Field(
        default=_LIM.max_block_bytes,
        ge=1,
        le=_LIM.max_block_bytes,
        description="Largest uncompressed block of an uploaded raster (bytes) -> 413.",
    )
    max_vector_features: int = Field(
        default=_LIM.max_vector_features,
        ge=1,
        le=_LIM.max_vector_features,
        description="Most features of an uploaded vector layer -> 413.",
    )
    log_json: bool = Field(
        default=True, description="Structured JSON logs (one line per request) on stderr."
    )
    log_level: str = Field(default="INFO", description="Level of the `geoeco_api` loggers.")
    # -- the job system -------------------------------------------------------------------
    job_store_url: str | None = Field(
        default=None,
        description="Job store: sqlite:///path or postgresql://...; default SQLite file "
        "`<jobs dir>/jobs.sqlite3`.",
    )
    job_run_workers: bool = Field(
        default=True, description="Run job workers inside each API process (else: only queue)."
    )
    job_time_limit_s: float = Field(
        default=3600.0, gt=0, description="Longest a job may run before it is killed and failed."
    )
    job_max_attempts: int = Field(
        default=2, ge=1, description="Attempts of a job whose worker died before it fails."
    )
    job_retention_days: float = Field(
        default=30.0, ge=0, description="Finished jobs older than this are deleted; 0 = keep."
    )
    job_sync_max_cells: int = Field(
        default=250_000,
        ge=0,
        description="Largest run (grid cells) executed synchronously; larger -> async job.",
    )
    job_sync_timeout_s: float = Field(
        default=60.0,
        ge=0,
        description="How long a synchronous request waits before it is answered as async.",
    )
    job_stale_after_s: float = Field(
        default=60.0, gt=0, description="A running job without heartbeat this long is recovered."
    )
    job_poll_interval_s: float = Field(
        default=0.5, gt=0, description="How often an idle worker polls the store."
    )
    job_plugins: str = Field(
        default="",
        description="Comma-separated modules imported by workers (they may register processes).",
    )
    engine: EngineName = Field(
        default="local",
        description="Where erosion and zoning jobs compute their windows: in the job process, "
        "or on Dask workers.",
    )
    dask_scheduler: str | None = Field(
        default=None,
        description="Address of an existing Dask scheduler (tcp://host:8786) for engine=dask; "
        "unset: each job starts a local cluster.",
    )

    @property
    def user_layers_dir(self) -> Path:
        """Folder of user layer manifests (``layers_dir`` or ``<data_dir>/layers``)."""
        return self.layers_dir if self.layers_dir is not None else self.data_dir / "layers"

    @property
    def job_store_dir(self) -> Path:
        """Folder of the job store (``jobs_dir`` or ``<data_dir>/jobs``)."""
        return self.jobs_dir if self.jobs_dir is not None else self.data_dir / "jobs"

    @property
    def uploads_dir(self) -> Path:
        """Folder of uploaded layer files (``<data_dir>/uploads``)."""
        return self.data_dir / "uploads"

    @property
    def store_url(self) -> str:
        """The job store URL (``job_store_url``, default SQLite in :attr:`job_store_dir`)."""
        if self.job_store_url:
            return self.job_store_url
        return "sqlite:///" + str((self.job_store_dir / "jobs.sqlite3").resolve())

    @property
    def plugin_modules(self) -> tuple[str, ...]:
        """``job_plugins`` split on commas."""
        return tuple(_split(self.job_plugins))

    @property
    def user_layer_store(self) -> UserLayerStore:
        """The user layers (:attr:`user_layers_dir`) and uploads (:attr:`uploads_dir`), with
        the limits of uploaded files."""
        zip_limits = ZipLimits(
            max_files=self.max_upload_files,
            max_total_bytes=self.max_upload_unpacked_bytes,
            max_ratio=self.max_upload_ratio,
        )
        return UserLayerStore(
            self.user_layers_dir,
            uploads_dir=self.uploads_dir,
            limits=self.user_data_limits,
            zip_limits=zip_limits,
        )

    @property
    def user_data_limits(self) -> UserDataLimits:
        """The header limits applied to uploaded files (:mod:`geoeco.core.userdata`)."""
        return UserDataLimits(
            max_raster_pixels=self.max_raster_pixels,
            max_raster_bands=self.max_raster_bands,
            max_raster_blocks=self.max_raster_blocks,
            max_block_bytes=self.max_raster_block_bytes,
            max_vector_features=self.max_vector_features,
            max_vector_bytes=min(_LIM.max_vector_bytes, self.max_upload_unpacked_bytes),
        )

    @property
    def cors_origin_list(self) -> list[str]:
        """``cors_origins`` split on commas."""
        return _split(self.cors_origins)

    @property
    def api_key_set(self) -> frozenset[str]:
        """``api_keys`` split on commas."""
        return frozenset(_split(self.api_keys))

    @property
    def admin_key_set(self) -> frozenset[str]:
        """``admin_keys`` split on commas."""
        return frozenset(_split(self.admin_keys))

    @property
    def keys_enabled(self) -> bool:
        """Whether routes that start work, upload or delete require an API key."""
        return bool(self.api_key_set)

    @property
    def burst(self) -> int:
        """Token-bucket capacity."""
        return self.rate_limit_burst or max(self.rate_limit_per_minute, 1)


__all__ = ["Settings"]
