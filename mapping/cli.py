"""The command line: ``python -m mapping analyze ...``.

It calls the same library functions as the app: load a scenario, run the analysis, write the
results. Progress goes to stderr, the summary to stdout.

- Outputs are all-or-nothing: every file is staged beside ``--out`` and moved in only when all
  were written (:func:`layers.files.output_folder`); a failed run leaves the earlier results
  exactly as they were.
- Bad input and a bad environment (``--out`` naming a file, no permission, a full disk, a
  result open in Excel) end with a message in the chosen language and exit code 2; an internal
  bug ends with a short message naming the log that holds the details, exit code 1. No
  traceback reaches the console.
- Windows: consoles that cannot encode a name (Mongolian script on a GBK console) print a
  replacement character instead of failing, and paths pasted with quotes ("Copy as path" in
  Explorer) are read without them.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import TextIO

import pandas as pd

from layers import i18n
from layers.coords import COORD_CHOICES, COORD_SYSTEMS
from layers.errors import GapMapperError, InputError
from layers.files import output_folder, write_error_log
from layers.roads import MODES
from layers.services import SERVICE_KINDS
from mapping.planning import OBJECTIVES, WEIGHTS
from mapping.settings import (
    DEFAULT_THRESHOLDS_M,
    AnalysisSettings,
    parse_distance_m,
    parse_threshold,
)

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
        "error.cli.kinds": {
            "zh": "--kinds“{value}”没有给出服务类型：请写一个或几个，用逗号隔开，可选 {choices}。",
            "en": "--kinds '{value}' names no service kind: give one or more, comma separated, "
            "from {choices}.",
        },
        "error.cli.internal": {
            "zh": "内部错误：程序出了问题（不是您的数据的问题），没有改动任何已有文件。"
            "详细信息在日志 log: {log}",
            "en": "Internal error: something went wrong in the program (not in your data); no "
            "earlier file was changed. The details are in the log: {log}",
        },
        "error.cli.internal_nolog": {
            "zh": "内部错误：程序出了问题（{error}），没有改动任何已有文件。",
            "en": "Internal error: something went wrong in the program ({error}); no earlier "
            "file was changed.",
        },
        "error.cli.os": {
            "zh": "无法完成：{reason}。请检查文件和文件夹后再运行一次。",
            "en": "Could not finish: {reason}. Check the files and folders and run again.",
        },
        "error.cli.interrupted": {
            "zh": "已中断，没有改动任何已有文件。",
            "en": "Interrupted; no earlier file was changed.",
        },
        "error.cli.join_m": {
            "zh": "--join-m“{value}”不对：请给出 0 到 1000 之间的米数，例如 20。",
            "en": "--join-m '{value}' is not usable: give metres between 0 and 1000, e.g. 20.",
        },
        "error.cli.condition_without_closures": {
            "zh": "给出了 --condition {names}，但没有 --closures 文件：请用 --closures 给出封路文件。",
            "en": "--condition {names} was given without a --closures file: give the closures "
            "file with --closures.",
        },
        "cli.written": {"zh": "已写入：{files}", "en": "Written: {files}"},
        "cli.report": {
            "zh": "报告：{villages} 个村中有 {flagged} 个到最近的{kind}超过 {limit} 公里。",
            "en": "Report: {flagged} of {villages} villages are more than {limit} km from the "
            "nearest {kind}.",
        },
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


def _thresholds(values: list[str]) -> tuple[dict[str, float], dict[str, float]]:
    """The distance thresholds (m) and the travel-time thresholds (min) of ``--threshold``:
    ``kindergarten=10km`` or ``kindergarten=30min`` (both may be given for one kind)."""
    metres, minutes = dict(DEFAULT_THRESHOLDS_M), {}
    for value in values:
        kind, sep, text = value.partition("=")
        if not sep:
            raise InputError("error.cli.threshold_format", value=value)
        unit, amount = parse_threshold(text, kind.strip())
        (minutes if unit == "min" else metres)[kind.strip()] = amount
    return metres, minutes


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


def _kinds(value: str) -> tuple[str, ...]:
    """The service kinds of ``--kinds`` (comma separated, full-width commas too)."""
    kinds = tuple(k.strip() for k in value.replace("，", ",").split(",") if k.strip())
    if not kinds:
        raise InputError("error.cli.kinds", value=value, choices=", ".join(SERVICE_KINDS))
    return tuple(dict.fromkeys(kinds))


def path_argument(value: str) -> Path:
    """A path from the command line, without the quotes Windows Explorer's "Copy as path" puts
    around it (and the spaces a paste may bring)."""
    text = value.strip()
    while len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        text = text[1:-1].strip()
    return Path(text)


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
    _add_thresholds_option(a)
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

    r = sub.add_parser(
        "report", help="the report PDF for the township and a phone card per village"
    )
    _add_data_options(r)
    _add_thresholds_option(r)
    r.add_argument(
        "--service",
        choices=SERVICE_KINDS,
        default="kindergarten",
        help="the kind of service the report is about (default kindergarten)",
    )
    r.add_argument(
        "--privacy",
        choices=("committee", "displaced", "full"),
        default="committee",
        help="committee (default: no household name, id, phone or position), displaced or "
        "full (team only)",
    )
    r.add_argument(
        "--cards",
        choices=("flagged", "all", "none"),
        default="flagged",
        help="village cards for the flagged villages (default), every village, or none",
    )
    r.add_argument("--author", default="", help="who made the report (printed on its cover)")

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


def _add_thresholds_option(a: argparse.ArgumentParser) -> None:
    a.add_argument(
        "--threshold",
        action="append",
        default=[],
        metavar="KIND=DIST",
        help="e.g. kindergarten=10km, or kindergarten=30min for travel time (repeatable)",
    )


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
        "--osm", type=path_argument, help="local OSM extract: .osm, .osm.gz, .osm.bz2, .osm.pbf"
    )
    src.add_argument("--place", help="download this place from OpenStreetMap (needs internet once)")
    src.add_argument("--bbox", help="download W,S,E,N (degrees) from OpenStreetMap")
    a.add_argument(
        "--clip", help="with --osm: keep only W,S,E,N (degrees) of the extract", metavar="W,S,E,N"
    )
    a.add_argument("--villages", type=path_argument, help="villages file (replaces OSM villages)")
    a.add_argument("--households", type=path_argument, help="households file")
    a.add_argument("--services", type=path_argument, help="services file (replaces OSM services)")
    a.add_argument(
        "--roads",
        action="append",
        default=[],
        type=path_argument,
        metavar="FILE",
        help="community roads: recorded GPS tracks (GPX) or lines (KML/KMZ, GeoJSON, GPKG, "
        "zipped Shapefile) joined into the roads (repeatable)",
    )
    a.add_argument(
        "--closures",
        action="append",
        default=[],
        type=path_argument,
        metavar="FILE",
        help="road conditions: areas or lines that close roads (or slow them, with a "
        "speed_kmh attribute), grouped by a condition attribute (repeatable)",
    )
    a.add_argument(
        "--condition",
        action="append",
        default=[],
        metavar="NAME",
        help="apply only this condition of --closures, e.g. 冬季积雪 (repeatable; default all)",
    )
    a.add_argument(
        "--join-m",
        type=float,
        default=None,
        metavar="M",
        help="a community road's vertex this near a road (m) joins it (default 20)",
    )
    a.add_argument(
        "--coords",
        choices=COORD_CHOICES,
        default=None,
        help="coordinate system of your files: wgs84 (GPS), gcj02 (Amap/Tencent), bd09 "
        "(Baidu), or auto (the one whose points sit closest to the roads); default: each "
        "file's own (wgs84; gcj02 for 奥维/Ovital files), with a warning when the roads say "
        "otherwise",
    )
    a.add_argument(
        "--columns",
        action="append",
        default=[],
        metavar="[LAYER:]ROLE=HEADER,...",
        help="which column is which, e.g. lon=东经,lat=北纬,village=所在村 (applies to every "
        "file with those headers) or households:lon=东经,... for one layer's file; roles: "
        "lon, lat, point, id, village, name, phone, children, kind, capacity (repeatable)",
    )
    a.add_argument(
        "--require-coords",
        action="store_true",
        help="refuse households without coordinates (default: place them at their village)",
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
    a.add_argument("--out", type=path_argument, default=Path("out"), help="output folder")


def use_console_encoding_safely(*streams: TextIO) -> None:
    """Let ``streams`` print every character: one the console's encoding lacks (Mongolian
    script on a Chinese Windows console, GBK) becomes a replacement, not an error."""
    for stream in streams or (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            try:
                reconfigure(errors="replace")
            except (ValueError, OSError):  # a closed or unusual stream: leave it
                pass


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code (0 done, 2 bad input or environment,
    1 internal error)."""
    use_console_encoding_safely()
    args = build_parser().parse_args(argv)
    lang = args.lang
    started = time.perf_counter()

    def progress(msg: str) -> None:
        print(f"[{time.perf_counter() - started:6.1f}s] {msg}", file=sys.stderr, flush=True)

    try:
        if args.command == "plan":
            return _plan(args, progress)
        if args.command == "report":
            return _report(args, progress)
        return _analyze(args, progress)
    except GapMapperError as err:
        print(err.message(lang), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(i18n.t("error.cli.interrupted", lang), file=sys.stderr)
        return 130
    except OSError as err:
        # the environment refused something outside the output folder (reading a file the
        # readers did not explain): a message, not a traceback
        reason = err.strerror or type(err).__name__
        if err.filename:
            reason = f"{err.filename}: {reason}"
        print(i18n.t("error.cli.os", lang, reason=reason), file=sys.stderr)
        return 2
    except Exception as err:
        log = write_error_log(err, "python -m mapping " + " ".join(sys.argv[1:] or argv or []))
        if log is None:
            message = i18n.t("error.cli.internal_nolog", lang, error=type(err).__name__)
        else:
            message = i18n.t("error.cli.internal", lang, log=str(log))
        print(message, file=sys.stderr)
        return 1


def _settings(
    args: argparse.Namespace, thresholds: tuple[dict, dict] | dict[str, float], kinds
) -> AnalysisSettings:
    metres, minutes = thresholds if isinstance(thresholds, tuple) else (thresholds, {})
    return AnalysisSettings(
        mode=args.mode,
        thresholds_m=metres,
        time_thresholds_min=minutes,
        kinds=tuple(kinds),
        snap_to=args.snap_to,
        speeds_kmh=_speeds(args.speed),
        **({"walk_speed_kmh": args.walk_speed} if args.walk_speed is not None else {}),
    )


def _load(args: argparse.Namespace, kinds, progress):
    """The scenario the data options name (the demo, an OSM source, the user's files)."""
    from layers.columns import parse_columns_option
    from mapping.scenario import load_demo, load_scenario, replace_layers

    columns = parse_columns_option(args.columns)
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
            columns=columns,
            require_coords=args.require_coords,
        )
    if args.demo and (args.villages or args.households or args.services):
        scenario = replace_layers(
            scenario,
            villages=args.villages,
            households=args.households,
            services=args.services,
            coords=args.coords,
            columns=columns,
            require_coords=args.require_coords,
        )
    warning = scenario.outside_warning(args.lang)
    if warning:
        print(warning, file=sys.stderr)
    from layers.schema import notes_of

    for layer in (scenario.villages, scenario.households, scenario.services):
        _print_notes(notes_of(layer), args.lang)
    return scenario


def _print_notes(notes, lang: str) -> None:
    """What the readers want the user to know (which sheet was read, data left out)."""
    for note in notes:
        print(note.message(lang), file=sys.stderr)


def _run(args: argparse.Namespace, scenario, settings, progress):
    """The analysis on the roads as corrected by ``--roads``, ``--closures`` and
    ``--condition`` (:func:`mapping.corrections.run_corrected`)."""
    from layers.tracks import (
        concat_closures,
        concat_community_roads,
        read_closures,
        read_community_roads,
    )
    from mapping.community import JOIN_M
    from mapping.corrections import run_corrected

    join_m = JOIN_M if args.join_m is None else args.join_m
    if not (join_m > 0 and join_m < 1000):
        raise InputError("error.cli.join_m", value=args.join_m)
    # road lines take a system (default and auto: wgs84; tracks.py notes 奥维 files)
    line_coords = args.coords if args.coords in COORD_SYSTEMS else "wgs84"
    community = (
        concat_community_roads(*(read_community_roads(p, coords=line_coords) for p in args.roads))
        if args.roads
        else None
    )
    closures = (
        concat_closures(*(read_closures(p, coords=line_coords) for p in args.closures))
        if args.closures
        else None
    )
    if args.condition and closures is None:
        raise InputError("error.cli.condition_without_closures", names=", ".join(args.condition))
    run = run_corrected(
        scenario,
        settings,
        community=community,
        closures=closures,
        condition=args.condition or None,
        join_m=join_m,
        progress=progress,
    )
    _print_notes(run.notes, args.lang)
    return run


def _write_corrections(run, out, lang: str, privacy: str) -> None:
    """health.csv always; with community roads what they changed and the roads themselves
    (GeoJSON and GPX, to reuse); with closures the conditions side by side."""
    from layers.tracks import write_community_roads
    from mapping.export import write_csv
    from mapping.health import compute_health

    health = compute_health(run.analysis, households=privacy == "full")
    table = pd.DataFrame(health.drop(columns="geometry"))
    table["lon"] = health.geometry.x
    table["lat"] = health.geometry.y
    write_csv(table, out.path("health.csv"))
    if run.join is not None:
        write_csv(run.community_changes(), out.path("community_changes.csv"))
        write_community_roads(run.community, out.path("community_roads.geojson"))
        write_community_roads(run.community, out.path("community_roads.gpx"))
    if run.closures is not None and len(run.closures):
        write_csv(run.conditions_side_by_side(), out.path("conditions.csv"))


def _analyze(args: argparse.Namespace, progress) -> int:
    from mapping.export import (
        household_table,
        summarize,
        village_table,
        write_csv,
        write_geopackage,
    )
    from mapping.privacy import displacement_key_for

    kinds = _kinds(args.kinds)
    settings = _settings(args, _thresholds(args.threshold), kinds)
    scenario = _load(args, kinds, progress)
    run = _run(args, scenario, settings, progress)
    analysis = run.analysis
    progress("writing results")
    with output_folder(args.out) as out:
        _write_corrections(run, out, args.lang, args.privacy)
        write_csv(village_table(analysis, args.lang), out.path("villages.csv"))
        write_csv(household_table(analysis), out.path("households.csv"))
        write_geopackage(analysis, out.path("layers.gpkg"), privacy=args.privacy)
        if not args.no_map:
            from mapping.maps import draw_map, write_map_html

            m = draw_map(
                analysis,
                lang=args.lang,
                kind=kinds[0],
                privacy=args.privacy,
                key=displacement_key_for(args.privacy),
                corrections=run,
            )
            write_map_html(m, out.path("map.html"))
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
                corrections=run,
            )
            try:
                for suffix in (".pdf", ".png"):
                    write_print_map(fig, out.path(f"map-{args.paper}{suffix}"))
            finally:
                import matplotlib.pyplot as plt

                plt.close(fig)
        names = out.names
    print(summarize(analysis, args.lang))
    files = ", ".join(str(args.out / name) for name in names)
    progress(i18n.t("cli.written", args.lang, files=files))
    return 0


def _report(args: argparse.Namespace, progress) -> int:
    import zipfile

    import matplotlib.pyplot as plt

    from mapping.cards import card_file_name, cards_for, draw_village_card, write_card
    from mapping.mapmodel import build_map_model
    from mapping.privacy import displacement_key_for
    from mapping.report import write_report

    kind = args.service
    thresholds = _thresholds(args.threshold)
    settings = _settings(args, thresholds, (kind,))
    scenario = _load(args, (kind,), progress)
    run = _run(args, scenario, settings, progress)
    analysis = run.analysis
    model = build_map_model(
        analysis, lang=args.lang, kind=kind, privacy=args.privacy,
        key=displacement_key_for(args.privacy), corrections=run,
    )  # fmt: skip
    with output_folder(args.out) as out:
        progress("drawing the report")
        write_report(
            model,
            out.path("report.pdf"),
            author=args.author,
            progress=lambda done, total: progress(f"report page {done}/{total}"),
        )
        if args.cards != "none":
            ids = cards_for(model, args.cards)
            taken: set[str] = set()
            names = []
            for i, vid in enumerate(ids, start=1):
                name = card_file_name(str(analysis.villages.at[vid, "village_name"]), vid, taken)
                fig = draw_village_card(model, vid)
                try:
                    write_card(fig, out.path(f"cards/{name}"))
                finally:
                    plt.close(fig)
                names.append(name)
                if i % 10 == 0 or i == len(ids):
                    progress(f"village card {i}/{len(ids)}")
            # one file to send: WeChat and e-mail take a zip of the cards
            with zipfile.ZipFile(out.path("cards.zip"), "w", zipfile.ZIP_STORED) as z:
                for name in names:
                    z.write(out.path(f"cards/{name}"), arcname=name)
        written = out.names
    print(summarize_report(analysis, kind, args.lang))
    files = ", ".join(str(args.out / n) for n in written if not n.startswith("cards/"))
    progress(i18n.t("cli.written", args.lang, files=files))
    return 0


def summarize_report(analysis, kind: str, lang: str) -> str:
    """One line for the console: how many villages the report and the cards cover."""
    v = analysis.villages
    return i18n.t(
        "cli.report",
        lang,
        flagged=int(v[f"flag_{kind}"].sum()),
        villages=len(v),
        kind=i18n.t(f"kind.{kind}", lang),
        limit=f"{analysis.settings.threshold_m(kind) / 1000:g}",
    )


def _plan(args: argparse.Namespace, progress) -> int:
    from mapping.analysis import apply_proposals
    from mapping.coverage import coverage_table
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
    run = _run(args, scenario, settings, progress)
    before = run.analysis
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
    with output_folder(args.out) as out:
        pd.DataFrame(sites.drop(columns="geometry")).to_csv(
            out.path("sites.csv"), index=True, encoding="utf-8-sig"
        )
        table.to_csv(out.path("coverage.csv"), index=False, encoding="utf-8-sig")
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
                corrections=run,
                key=displacement_key_for(args.privacy),
            )
            write_map_html(m, out.path("map.html"))
        names = out.names
    print(_plan_summary(sites, table, kind, settings.threshold_m(kind), args.lang))
    files = ", ".join(str(args.out / name) for name in names)
    progress(i18n.t("cli.written", args.lang, files=files))
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
