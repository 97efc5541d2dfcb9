"""The command line: ``python -m mapping analyze ...``.

It calls the same library functions as the app: load a scenario, run the analysis, write the
results. Progress goes to stderr, the summary to stdout; bad input ends with a clear message
and exit code 2.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import pandas as pd

from layers import i18n
from layers.coords import COORD_SYSTEMS
from layers.errors import GapMapperError, InputError
from layers.roads import MODES
from layers.services import SERVICE_KINDS
from mapping.planning import OBJECTIVES, WEIGHTS
from mapping.settings import DEFAULT_THRESHOLDS_M, AnalysisSettings, parse_distance_m

i18n.register(
    {
        "error.cli.threshold_format": {
            "zh": "阈值“{value}”格式不对：应写成 类型=距离，例如 kindergarten=10km。",
            "en": "Threshold '{value}' is not of the form KIND=DIST, e.g. kindergarten=10km.",
        },
        "error.cli.bbox_format": {
            "zh": "范围“{value}”格式不对：应写成 西,南,东,北 四个经纬度数值，例如 111.2,41.3,111.9,41.8。",
            "en": "Bounding box '{value}' is not of the form W,S,E,N in degrees, "
            "e.g. 111.2,41.3,111.9,41.8.",
        },
        "error.cli.speed_format": {
            "zh": "车速“{value}”格式不对：应写成 道路类型=公里每小时，例如 track=15。",
            "en": "Speed '{value}' is not of the form CLASS=KMH, e.g. track=15.",
        },
        "cli.written": {"zh": "已写入：{files}", "en": "Written: {files}"},
        "plan.summary": {
            "zh": "建议新增 {n} 处{kind}：{km} 公里以内的住户由 {before} 户增至 {after} 户"
            "（共 {total} 户）。",
            "en": "{n} new {kind} site(s) suggested: households within {km} km go from "
            "{before} to {after} (of {total}).",
        },
        "plan.site": {
            "zh": "{site}：{name}（经度 {lon}，纬度 {lat}），新增覆盖 {n} 户",
            "en": "{site}: {name} (lon {lon}, lat {lat}), {n} households newly covered",
        },
    }
)


def _thresholds(values: list[str]) -> dict[str, float]:
    out = dict(DEFAULT_THRESHOLDS_M)
    for value in values:
        kind, sep, dist = value.partition("=")
        if not sep:
            raise InputError("error.cli.threshold_format", value=value)
        out[kind.strip()] = parse_distance_m(dist, kind.strip())
    return out


def _speeds(values: list[str]) -> dict[str, float] | None:
    out = {}
    for value in values:
        cls, sep, kmh = value.partition("=")
        try:
            out[cls.strip()] = float(kmh)
        except ValueError:
            raise InputError("error.cli.speed_format", value=value) from None
        if not sep:
            raise InputError("error.cli.speed_format", value=value)
    return out or None


def parse_bbox(value: str | None) -> tuple[float, float, float, float] | None:
    """Parse ``W,S,E,N`` (degrees; a full-width comma is fine) into a tuple."""
    if value is None:
        return None
    parts = value.replace("，", ",").split(",")
    try:
        w, s, e, n = (float(p) for p in parts)
    except ValueError:
        raise InputError("error.cli.bbox_format", value=value) from None
    return w, s, e, n


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for the README and tests)."""
    parser = argparse.ArgumentParser(
        prog="python -m mapping",
        description="Road distance from households and villages to kindergartens and schools, "
        "and the villages beyond a threshold.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    a = sub.add_parser("analyze", help="distances, village gaps, tables and a map")
    _add_data_options(a)
    a.add_argument(
        "--threshold",
        action="append",
        default=[],
        metavar="KIND=DIST",
        help="e.g. kindergarten=10km (repeatable)",
    )
    a.add_argument(
        "--kinds",
        default="kindergarten,school",
        help="service kinds, comma separated (kindergarten,school,childcare)",
    )
    _add_map_options(a)
    a.add_argument(
        "--print",
        dest="paper",
        choices=("A4", "A3"),
        default=None,
        help="also write a printable map (map-A4.pdf and map-A4.png) on this paper size",
    )

    p = sub.add_parser("plan", help="where new services should go, and coverage before/after")
    _add_data_options(p)
    _add_map_options(p)
    p.add_argument(
        "--service",
        choices=SERVICE_KINDS,
        default="kindergarten",
        help="the kind of service to plan (default kindergarten)",
    )
    p.add_argument("--add", type=int, required=True, metavar="K", help="number of new sites")
    p.add_argument(
        "--objective",
        choices=OBJECTIVES,
        default="coverage",
        help="coverage: most households newly within the threshold; "
        "distance: least total road distance",
    )
    p.add_argument(
        "--threshold",
        default=None,
        metavar="DIST",
        help="coverage threshold, e.g. 5km (default: the service's usual threshold)",
    )
    p.add_argument(
        "--grid",
        default=None,
        metavar="DIST",
        help="also consider road points on a grid of this spacing, e.g. 2km",
    )
    p.add_argument("--weight", choices=WEIGHTS, default="households", help="what to count")
    return parser


def _add_map_options(a: argparse.ArgumentParser) -> None:
    """The options of the map file (shared by analyze and plan)."""
    a.add_argument(
        "--privacy",
        choices=("committee", "displaced", "full"),
        default="committee",
        help="map detail: committee (village totals only), displaced (households moved "
        "300-600 m at random, nothing personal) or full (team only)",
    )
    a.add_argument("--no-map", action="store_true", help="skip map.html")


def _add_data_options(a: argparse.ArgumentParser) -> None:
    """The options that say where the data comes from and how to travel (shared)."""
    src = a.add_mutually_exclusive_group()
    src.add_argument("--demo", action="store_true", help="the built-in demo Banner (fictional)")
    src.add_argument(
        "--osm", type=Path, help="local OSM extract: .osm, .osm.gz, .osm.bz2, .osm.pbf"
    )
    src.add_argument("--place", help="download this place from OpenStreetMap (needs internet once)")
    src.add_argument("--bbox", help="download W,S,E,N (degrees) from OpenStreetMap")
    a.add_argument(
        "--clip", help="with --osm: keep only W,S,E,N (degrees) of the extract", metavar="W,S,E,N"
    )
    a.add_argument("--villages", type=Path, help="villages file (replaces OSM villages)")
    a.add_argument("--households", type=Path, help="households file")
    a.add_argument("--services", type=Path, help="services file (replaces OSM services)")
    a.add_argument(
        "--coords",
        choices=COORD_SYSTEMS,
        default="wgs84",
        help="coordinate system of lon/lat in your tables (default wgs84)",
    )
    a.add_argument("--mode", choices=MODES, default="motorbike", help="travel mode")
    a.add_argument(
        "--walk-speed",
        type=float,
        default=None,
        metavar="KMH",
        help="walking speed in km/h (default 4.5; also used for off-road legs)",
    )
    a.add_argument(
        "--speed",
        action="append",
        default=[],
        metavar="CLASS=KMH",
        help="vehicle speed for an OSM highway class, e.g. track=15 (repeatable)",
    )
    a.add_argument(
        "--snap-to",
        choices=("largest", "any"),
        default="largest",
        help="snap points to the largest road piece (default) or any road",
    )
    a.add_argument("--lang", choices=i18n.LANGUAGES, default="zh", help="language of outputs")
    a.add_argument("--out", type=Path, default=Path("out"), help="output folder")


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    args = build_parser().parse_args(argv)
    lang = args.lang
    started = time.perf_counter()

    def progress(msg: str) -> None:
        print(f"[{time.perf_counter() - started:6.1f}s] {msg}", file=sys.stderr, flush=True)

    try:
        if args.command == "plan":
            return _plan(args, progress)
        return _analyze(args, progress)
    except GapMapperError as err:
        print(err.message(lang), file=sys.stderr)
        return 2


def _settings(args: argparse.Namespace, thresholds_m: dict[str, float], kinds) -> AnalysisSettings:
    return AnalysisSettings(
        mode=args.mode,
        thresholds_m=thresholds_m,
        kinds=tuple(kinds),
        snap_to=args.snap_to,
        speeds_kmh=_speeds(args.speed),
        **({"walk_speed_kmh": args.walk_speed} if args.walk_speed is not None else {}),
    )


def _load(args: argparse.Namespace, kinds, progress):
    """The scenario the data options name (the demo, an OSM source, the user's files)."""
    from mapping.scenario import load_demo, load_scenario, replace_layers

    if args.demo:
        progress("loading the demo scenario")
        scenario = load_demo()
    else:
        scenario = load_scenario(
            osm=args.osm,
            place=args.place,
            bbox=parse_bbox(args.bbox),
            villages=args.villages,
            households=args.households,
            services=args.services,
            coords=args.coords,
            include_childcare="childcare" in kinds,
            clip=parse_bbox(args.clip),
            progress=progress,
        )
    if args.demo and (args.villages or args.households or args.services):
        scenario = replace_layers(
            scenario,
            villages=args.villages,
            households=args.households,
            services=args.services,
            coords=args.coords,
        )
    warning = scenario.outside_warning(args.lang)
    if warning:
        print(warning, file=sys.stderr)
    return scenario


def _analyze(args: argparse.Namespace, progress) -> int:
    from mapping.analysis import run_analysis
    from mapping.export import summarize, write_geopackage, write_tables
    from mapping.privacy import displacement_key_for

    kinds = tuple(k.strip() for k in args.kinds.split(",") if k.strip())
    settings = _settings(args, _thresholds(args.threshold), kinds)
    scenario = _load(args, kinds, progress)
    analysis = run_analysis(scenario, settings, progress=progress)
    progress("writing results")
    files = write_tables(analysis, args.out, args.lang)
    files.append(write_geopackage(analysis, args.out / "layers.gpkg", privacy=args.privacy))
    if not args.no_map:
        from mapping.maps import draw_map, write_map_html

        m = draw_map(
            analysis,
            lang=args.lang,
            kind=kinds[0],
            privacy=args.privacy,
            key=displacement_key_for(args.privacy),
        )
        files.append(write_map_html(m, args.out / "map.html"))
    if args.paper:
        from mapping.printmap import draw_print_map, write_print_map

        progress("drawing the printable map")
        fig = draw_print_map(
            analysis,
            lang=args.lang,
            kind=kinds[0],
            paper=args.paper,
            privacy=args.privacy,
            key=displacement_key_for(args.privacy),
        )
        for suffix in (".pdf", ".png"):
            files.append(write_print_map(fig, args.out / f"map-{args.paper}{suffix}"))
    print(summarize(analysis, args.lang))
    progress(i18n.t("cli.written", args.lang, files=", ".join(str(f) for f in files)))
    return 0


def _plan(args: argparse.Namespace, progress) -> int:
    from mapping.analysis import apply_proposals, run_analysis
    from mapping.coverage import coverage_table
    from mapping.export import atomic_path
    from mapping.planning import sites_to_proposals, suggest_sites
    from mapping.privacy import displacement_key_for

    kind = args.service
    if args.add < 1:
        raise InputError("error.planning.k", k=args.add)
    thresholds = dict(DEFAULT_THRESHOLDS_M)
    if args.threshold is not None:
        thresholds[kind] = parse_distance_m(args.threshold, kind)
    grid_m = parse_distance_m(args.grid, "grid") if args.grid is not None else None
    settings = _settings(args, thresholds, (kind,))
    scenario = _load(args, (kind,), progress)
    before = run_analysis(scenario, settings, progress=progress)
    sites = suggest_sites(
        before,
        kind,
        args.add,
        objective=args.objective,
        candidates="villages+grid" if grid_m else "villages",
        grid_m=grid_m,
        weight=args.weight,
        progress=progress,
    )
    after = apply_proposals(before, sites_to_proposals(sites, kind, args.lang))
    bands = sorted({1000.0, 3000.0, 5000.0, 10000.0, settings.threshold_m(kind)})
    table = pd.concat(
        [
            coverage_table(before, kind, bands, by="overall", after=after),
            coverage_table(before, kind, bands, by="village", after=after),
        ],
        ignore_index=True,
    )
    progress("writing results")
    files = []
    for name, frame in (
        ("sites.csv", pd.DataFrame(sites.drop(columns="geometry"))),
        ("coverage.csv", table),
    ):
        with atomic_path(args.out / name) as tmp:
            frame.to_csv(tmp, index=name == "sites.csv", encoding="utf-8-sig")
        files.append(args.out / name)
    if not args.no_map:
        from mapping.coverage import service_areas
        from mapping.maps import draw_map, write_map_html

        progress("drawing the map of the suggested sites")
        areas = service_areas(after, kind, (settings.threshold_m(kind),))
        m = draw_map(
            after,
            lang=args.lang,
            kind=kind,
            privacy=args.privacy,
            service_areas=areas,
            key=displacement_key_for(args.privacy),
        )
        files.append(write_map_html(m, args.out / "map.html"))
    print(_plan_summary(sites, table, kind, settings.threshold_m(kind), args.lang))
    progress(i18n.t("cli.written", args.lang, files=", ".join(str(f) for f in files)))
    return 0


def _plan_summary(sites, table, kind: str, threshold_m: float, lang: str) -> str:
    overall = table[(table["scope"] == "overall") & (table["band_m"] == threshold_m)].iloc[0]
    kind_name = i18n.t(f"kind.{kind}", lang)
    lines = [
        i18n.t(
            "plan.summary",
            lang,
            n=len(sites),
            kind=kind_name,
            km=f"{threshold_m / 1000:g}",
            before=int(overall["hh_within_before"]),
            after=int(overall["hh_within_after"]),
            total=int(overall["n_households"]),
        )
    ]
    for site_id, row in sites.iterrows():
        lines.append(
            i18n.t(
                "plan.site",
                lang,
                site=site_id,
                name=row["name"] or row["candidate"],
                lon=f"{row['lon']:.5f}",
                lat=f"{row['lat']:.5f}",
                n=int(row["newly_covered_households"]),
            )
        )
    return "\n".join(lines)
