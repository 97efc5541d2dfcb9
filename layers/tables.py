"""Reading users' geodata files and tables into a raw GeoDataFrame, before any layer schema.

:func:`read_table` reads CSV, XLSX, GeoJSON, GeoPackage, zipped Shapefile and KML/KMZ into a
:class:`geopandas.GeoDataFrame` in EPSG:4326 (lon/lat degrees, WGS84) with:

- the file's own attribute columns, as read (from CSV/XLSX: text, ``NA`` for empty cells);
- ``source_row`` (Int64): the row as a spreadsheet numbers it (header = row 1, so the first
  data row is 2) for CSV/XLSX, or the feature number from 1 for geodata files. Every message
  about a row uses this number;
- ``folder`` (str) for KML/KMZ only: the KML folder (GDAL layer) the feature came from;
  ``kml_id`` (:data:`KML_ID`): the placemark's own ``id`` attribute; ExtendedData fields
  under their own names (Chinese included: GDAL's LIBKML driver would launder ``户号`` into
  ``______``);
- ``geometry``: as in the file (2-D) for geodata files, points for tables.

The layer loaders (``read_households``, ``read_villages``, ``read_services``) map these columns
onto their schemas with the helpers at the end of this module.

Anything wrong with the file is raised as one of the project's errors
(:class:`~layers.errors.InputError` and its subclasses) with a message that names the file,
the rows (as numbered above, the first few and a count) and the column, and says what to do.
No other exception escapes :func:`read_table` for a bad file.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import io
import json
import math
import re
import shutil
import struct
import tempfile
import unicodedata
import warnings
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely

from layers import i18n, survey
from layers.coords import AUTO, normalize_choice, to_wgs84
from layers.errors import FileFormatError, GapMapperError, InputError, NoDataError, SettingsError
from layers.schema import WGS84, Note, Phrase, ReadAs, add_notes, set_read_as

#: File extensions read by :func:`read_table` and the format each stands for.
FORMATS = {
    ".csv": "csv",
    ".txt": "csv",
    ".xlsx": "xlsx",
    ".geojson": "geodata",
    ".json": "geodata",
    ".gpkg": "gpkg",
    ".zip": "zip",
    ".shp": "shp",
    ".kml": "kml",
    ".kmz": "kmz",
    ".gpx": "gpx",
    ".ovkml": "ovkml",
    ".ovkmz": "ovkmz",
}

#: Formats that are zip archives: their unzipped sizes are checked before reading.
_ZIPPED = ("zip", "xlsx", "kmz", "ovkmz")

#: Shown in messages: what people can give us.
SUPPORTED_TEXT = (
    "CSV, XLSX, GeoJSON, GeoPackage (.gpkg), zipped Shapefile (.zip), KML, KMZ, "
    "GPX (waypoints), 奥维/Ovital (.ovkml, .ovkmz)"
)

#: The column a KML placemark's own ``id`` attribute arrives in: GDAL calls it ``id``, which
#: would beat a ``户号`` column as the id (and is usually empty); the layer readers use it
#: only when the file has no id column of its own.
KML_ID = "kml_id"

#: Accepted headers of the longitude / latitude columns, compared after :func:`normalize_header`.
LON_NAMES = ("lon", "lng", "long", "longitude", "x", "经度", "东经")
LAT_NAMES = ("lat", "latitude", "y", "纬度", "北纬")

#: How many rows a message lists when several rows have the same problem.
MAX_ROWS_SHOWN = 5

#: Largest file :func:`read_table` reads, in bytes (100 MiB). Tables are read whole into
#: memory (a 100 MiB CSV already takes a few GB as Python objects), so anything larger is
#: refused at once, with the limit in the message, instead of freezing the app.
MAX_TABLE_BYTES = 100 * 1024 * 1024

#: Largest total size of the members of a zip (zipped Shapefile, XLSX, KMZ) once unzipped, in
#: bytes (200 MiB), checked from the zip's directory before anything is unzipped: a 1 MB zip
#: can inflate to gigabytes ("zip bomb"). Both Python's zipfile and GDAL's /vsizip/ stop a
#: member at the size its directory entry declares, so the declared sizes are a real bound.
MAX_UNZIPPED_BYTES = 200 * 1024 * 1024

#: Largest compression ratio of one member larger than :data:`RATIO_CHECK_BYTES`. Real
#: attribute tables and worksheets compress 5-50 times; a member that claims hundreds is
#: padding made to inflate.
MAX_ZIP_RATIO = 200
RATIO_CHECK_BYTES = 16 * 1024 * 1024

#: Most members a zip may list (a zip of a million empty members costs ~1 GB of Python
#: objects just to list, before any limit on sizes could be checked).
MAX_ZIP_MEMBERS = 10_000

#: Most rows (data rows below the header) and cells a CSV or XLSX table may hold: a county's
#: households are tens of thousands of rows; past these limits a table would take gigabytes
#: as Python objects. Checked while the rows stream in, before anything else is built.
MAX_TABLE_ROWS = 200_000
MAX_TABLE_CELLS = 5_000_000

#: An XLSX sheet is read until this many empty rows follow each other. Excel keeps a "used
#: range" down to the last row ever formatted (often row 1 048 576), and a worksheet has no
#: index of its non-empty rows: streaming a million empty rows would take half a minute.
MAX_EMPTY_ROWS_RUN = 10_000

#: Columns read from an XLSX sheet (a formatted cell in column XFD makes every row 16 384 cells
#: wide); cells to the right of this column are not read.
MAX_XLSX_COLUMNS = 1_000

#: A phone's own accuracy estimate (metres) beyond which a position is reported as not a
#: household's: GPS outdoors is within 5-20 m and indoors 20-100 m, while a position from
#: mobile cells or Wi-Fi (GPS off or not yet fixed) is 500 m to several km off.
MAX_ACCURACY_M = 200.0

#: How many rows below row 1 are searched for the real header when row 1 has no lon/lat
#: (a title across merged cells above the header, as Chinese registers often have).
HEADER_SEARCH_ROWS = 10

_ROW_COLUMN = "source_row"

#: Keys in ``DataFrame.attrs`` of a frame from :func:`read_table`: the column of each role as
#: resolved from the user's mapping (``{"village": "所在村"}``), the survey tool that wrote the
#: file (``"kobo"``, ``"odk"`` or None) and the columns the positions came from
#: (``{"lon": ..., "lat": ...}`` or ``{"point": ...}``).
COLUMNS_ATTR = "columns"
SURVEY_ATTR = "survey"
POSITION_ATTR = "position"

#: Roles a column can play, as people name them (``--columns lon=东经,lat=北纬``, the app's
#: "which column is ..." step). ``point`` is one column holding both numbers ("lat lon [alt
#: [acc]]" as phones record a geopoint, or "lon,lat" as map pickers copy).
ROLES = ("lon", "lat", "point", "id", "village", "name", "phone", "children", "kind", "capacity")
POSITION_ROLES = ("lon", "lat", "point")
#: The roles each layer reads (a role another layer reads is ignored when a mapping is not
#: strict, and an error when it is).
LAYER_ROLES = {
    "households": ("lon", "lat", "point", "id", "village", "name", "phone", "children"),
    "villages": ("lon", "lat", "point", "id", "name", "village"),
    "services": ("lon", "lat", "point", "id", "name", "kind", "capacity"),
}


@dataclass(frozen=True)
class ColumnMapping:
    """Which column of a file plays which role, as the user said.

    Attributes
    ----------
    roles
        ``{role: header}``, roles from :data:`ROLES`; headers as the file writes them
        (compared exactly, else ignoring case, width and surrounding spaces).
    strict
        True: a header the file lacks, or a role the layer does not read, is an error.
        False: such pairs are skipped (a mapping given once for several files applies to
        each file that has the header).
    optional
        Roles skipped like that even when ``strict`` (shared pairs given beside a layer's
        own, see :class:`layers.columns.ColumnChoice`).
    """

    roles: Mapping[str, str]
    strict: bool = True
    optional: frozenset[str] = frozenset()

    def is_strict(self, role: str) -> bool:
        """Whether a problem with ``role``'s pair is an error (else the pair is skipped)."""
        return self.strict and role not in self.optional


def as_column_mapping(columns: Mapping[str, str] | ColumnMapping | None) -> ColumnMapping | None:
    """``columns`` as a :class:`ColumnMapping` (a plain mapping is strict)."""
    if columns is None or isinstance(columns, ColumnMapping):
        return columns
    return ColumnMapping(dict(columns), strict=True)


i18n.register(
    {
        "error.tables.unsupported_extension": {
            "zh": "无法读取 {file}：不支持“{ext}”类型的文件。可以读取的格式：{formats}。",
            "en": "Cannot read {file}: files of type '{ext}' are not supported. "
            "Supported formats: {formats}.",
        },
        "error.tables.not_readable": {
            "zh": "无法把 {file} 读取为地理数据或表格（{detail}）。请确认文件没有损坏，"
            "并且是以下格式之一：{formats}。",
            "en": "Cannot read {file} as geodata or a table ({detail}). Check that the file is "
            "not damaged and is one of: {formats}.",
        },
        "error.tables.empty_file": {
            "zh": "{file} 是空文件，没有任何内容。请选择填好数据的文件。",
            "en": "{file} is empty. Choose the file that holds the data.",
        },
        "error.tables.header_only": {
            "zh": "{file} 只有表头（第 1 行），没有数据行。请在表头下面逐行填写数据。",
            "en": "{file} has a header (row 1) but no data rows. Add one row per item "
            "below the header.",
        },
        "error.tables.no_features": {
            "zh": "{file} 里没有任何要素（点或面）。请检查导出时是否选对了图层。",
            "en": "{file} holds no features (points or areas). Check that the right layer "
            "was exported.",
        },
        "error.tables.encoding": {
            "zh": "无法识别 {file} 的文字编码（既不是 UTF-8，也不是 GBK/GB18030）。"
            "请在 Excel 或 WPS 中另存为“CSV UTF-8”或 XLSX 后再读取。",
            "en": "Cannot tell the text encoding of {file} (it is neither UTF-8 nor "
            "GBK/GB18030). Save it again from Excel or WPS as 'CSV UTF-8' or as XLSX.",
        },
        "error.tables.bad_csv": {
            "zh": "{file} 第 {row} 行无法按 CSV 读取（{detail}）。请检查引号是否成对，"
            "或在 Excel/WPS 中重新另存为 CSV。",
            "en": "{file} row {row} cannot be read as CSV ({detail}). Check that quotes come "
            "in pairs, or save the file again as CSV from Excel/WPS.",
        },
        "error.tables.too_many_cells": {
            "zh": "{file} 中有 {count} 行的单元格比表头多（第 {rows} 行）。"
            "请检查这些行是否多了分隔符（如数值里的逗号），或给多出的列加上表头。",
            "en": "{file}: {count} row(s) have more cells than the header (rows {rows}). "
            "Check for extra separators (e.g. a comma inside a number) or add a header for "
            "the extra column.",
        },
        "error.tables.no_lon_lat": {
            "zh": "{file} 中找不到经度和纬度列。找到的列：{columns}。经度列的表头可以是："
            "{lon_names}；纬度列的表头可以是：{lat_names}。请把对应的列改成其中一个名字。"
            "也可以直接指明哪一列是经度、哪一列是纬度（在软件里选择，或在命令行加上 "
            "{columns_line}）。",
            "en": "{file} has no longitude and latitude columns. Columns found: {columns}. "
            "Accepted longitude headers: {lon_names}; latitude headers: {lat_names}. Rename "
            "the columns to one of these. Or say which column is which (choose them in the "
            "app, or add {columns_line} on the command line).",
        },
        "error.tables.bad_point": {
            "zh": "{file} 的“{column}”列有 {count} 个值不是一个位置（行号: 值）：{examples}。"
            "位置应写成“纬度 经度 [海拔 [精度]]”（手机 GPS 的格式，例如 40.8213 111.6521 1200 5）"
            "或“经度,纬度”（例如 111.6521,40.8213）：请补全这些单元格，或清空它们。",
            "en": "{file}, column '{column}': {count} value(s) are not a position (row: "
            "value) {examples}. A position is 'latitude longitude [altitude [accuracy]]' "
            "(as phones record it, e.g. 40.8213 111.6521 1200 5) or 'longitude,latitude' "
            "(e.g. 111.6521,40.8213): complete those cells or empty them.",
        },
        "error.tables.point_swapped": {
            "zh": "{file} 的“{column}”列先写了经度、后写了纬度（{count} 行，例如 {examples}）："
            "手机 GPS 的位置格式是“纬度 经度 [海拔 [精度]]”，纬度在前。请把这些值改成纬度在前，"
            "或用逗号写成“经度,纬度”。",
            "en": "{file}, column '{column}' gives the longitude before the latitude ({count} "
            "row(s), e.g. {examples}): a phone's position is 'latitude longitude [altitude "
            "[accuracy]]', latitude first. Put the latitude first, or write "
            "'longitude,latitude' with a comma.",
        },
        "error.tables.point_out_of_range": {
            "zh": "{file} 的“{column}”列有 {count} 个位置超出范围（纬度应在 -90..90，经度应在 "
            "-180..180；行号: 值）：{examples}。请检查这些单元格。",
            "en": "{file}, column '{column}': {count} position(s) are out of range (latitude "
            "must be in -90..90, longitude in -180..180; row: value) {examples}. Check those "
            "cells.",
        },
        "note.tables.survey_export": {
            "zh": "{file}：识别为 {tool} 导出的表格，位置取自“{question}”，按手机 GPS 的 "
            "WGS84 坐标读取；{count} 个系统信息列（如提交时间、编号）没有使用。",
            "en": "{file}: read as a {tool} export, positions from '{question}', as phone GPS "
            "(WGS84); {count} metadata column(s) (submission time, ids...) were not used.",
        },
        "note.tables.survey_export_declared": {
            "zh": "{file}：识别为 {tool} 导出的表格，位置取自“{question}”，按所选的 {system}"
            "读取；{count} 个系统信息列（如提交时间、编号）没有使用。",
            "en": "{file}: read as a {tool} export, positions from '{question}', in {system} "
            "as chosen; {count} metadata column(s) (submission time, ids...) were not used.",
        },
        "note.tables.geopoint_chosen": {
            "zh": "{file} 有 {count} 个位置问题（{questions}）：使用的是填写最多的“{chosen}”。"
            "如果要用另一个，请在软件里选择，或在命令行加上 {columns_line}。",
            "en": "{file} has {count} position questions ({questions}): the one answered in "
            "most rows, '{chosen}', was used. To use another one, choose it in the app or add "
            "{columns_line} on the command line.",
        },
        "note.tables.point_lon_lat": {
            "zh": "{file} 的“{column}”列按“经度,纬度”读取（像地图取点工具复制的那样，经度在前）。",
            "en": "{file}: column '{column}' was read as 'longitude,latitude' (longitude "
            "first, as map pickers copy it).",
        },
        "warning.tables.poor_accuracy": {
            "zh": "{file} 中有 {count} 个位置的精度差于 {limit} 米（第 {rows} 行，最差 {worst} 米）："
            "这通常是手机没有 GPS 信号时用基站或 Wi-Fi 估计的位置，不是住户的真实位置。"
            "它们仍会参与计算；最好到现场重新定位，或删除这些坐标（只保留所在村）。",
            "en": "{file}: {count} position(s) have an accuracy worse than {limit} m (rows "
            "{rows}; the worst {worst} m): usually a phone's guess from mobile cells or Wi-Fi "
            "without a GPS fix, not where the household lives. They are still used; better "
            "record them again on site, or delete those coordinates (keeping the village).",
        },
        "note.tables.gpx_is_wgs84": {
            "zh": "{file}：GPX 文件按规定使用 WGS84 坐标，没有按 {coords} 转换。",
            "en": "{file}: GPX files are WGS84 by definition; the coordinates were not "
            "converted from {coords}.",
        },
        "error.tables.gpx_no_waypoints": {
            "zh": "{file} 里没有航点（waypoint），只有轨迹或路线。住户、村庄和设施要用航点表示；"
            "轨迹可以作为社区道路读取（命令行 --roads）。",
            "en": "{file} holds no waypoints, only tracks or routes. Households, villages and "
            "services are waypoints; a track can be read as a community road (--roads on "
            "the command line).",
        },
        "note.tables.ovital_gcj02": {
            "zh": "{file} 是奥维互动地图的文件：按 GCJ-02（火星坐标）读取（奥维 9.3 及以后的版本"
            "导出 GCJ-02 坐标）。如果位置整体偏了几百米，请改选 WGS84 重新读取。",
            "en": "{file} is a 奥维 (Ovital) file: read as GCJ-02 (Ovital exports GCJ-02 since "
            "its version 9.3). If the positions are all a few hundred metres off, load it "
            "again as WGS84.",
        },
        "error.tables.ovital_not_kml": {
            "zh": "{file} 不是 KML 格式的奥维文件，无法读取。请在奥维互动地图里把这些点导出为 "
            "KML 或 KMZ 文件后再读取。",
            "en": "{file} is not a 奥维 (Ovital) file with KML inside and cannot be read. "
            "Export the points from Ovital as KML or KMZ and load that file.",
        },
        "error.columns.unknown_role": {
            "zh": "不认识的列“{role}”（在“{value}”中）。可以指定的有：{roles}。",
            "en": "Unknown column role '{role}' (in '{value}'). Roles: {roles}.",
        },
        "error.columns.not_found": {
            "zh": "{file} 中没有“{header}”列（指定的 {role}={header}）。文件中的列：{columns}。"
            "请照抄文件第一行里的列名。",
            "en": "{file} has no column '{header}' (given as {role}={header}). Columns in the "
            "file: {columns}. Copy the header exactly as the file's first row writes it.",
        },
        "error.columns.incomplete": {
            "zh": "{file}：指定了 {given}，还缺少 {missing}。经度和纬度要一起指定，"
            "或用 point= 指定一个同时写着纬度和经度的列。",
            "en": "{file}: {given} was given but {missing} is missing. Give the longitude "
            "and the latitude together, or point= for one column holding both.",
        },
        "error.columns.role_not_for_layer": {
            "zh": "{file}：{layer} 图层没有“{role}”这一项（可以指定的有：{roles}）。",
            "en": "{file}: the {layer} layer has no '{role}' column (roles: {roles}).",
        },
        "error.tables.missing_coordinate": {
            "zh": "{file} 中有 {count} 行缺少坐标（“{column}”列为空，第 {rows} 行）。"
            "请补上经纬度，或删除这些行。",
            "en": "{file}: {count} row(s) have no value in column '{column}' (rows {rows}). "
            "Fill in the coordinates or delete those rows.",
        },
        "error.tables.non_numeric": {
            "zh": "{file} 的“{column}”列有 {count} 个值不是数字（行号: 值）：{examples}。"
            "请填写十进制度数，例如 111.52。",
            "en": "{file}, column '{column}': {count} value(s) are not numbers "
            "(row: value) {examples}. Write decimal degrees, e.g. 111.52.",
        },
        "error.tables.out_of_range": {
            "zh": "{file} 中有 {count} 行的坐标超出范围（经度应在 -180..180，纬度应在 -90..90；"
            "行号: 经度, 纬度）：{examples}。经度列“{lon_column}”和纬度列“{lat_column}”"
            "是否填反了？",
            "en": "{file}: {count} row(s) have coordinates out of range (longitude must be in "
            "-180..180, latitude in -90..90; row: lon, lat) {examples}. Are the longitude "
            "column '{lon_column}' and the latitude column '{lat_column}' swapped?",
        },
        "error.tables.lat_lon_swapped": {
            "zh": "{file} 的经纬度列填反了：“{lat_column}”列里是经度，“{lon_column}”列里是纬度"
            "（{count} 行超出范围，例如 {examples}；两列互换后所有行都正确）。"
            "请交换这两列的表头后重新读取。",
            "en": "{file} has longitude and latitude swapped: column '{lat_column}' holds "
            "longitudes and column '{lon_column}' latitudes ({count} row(s) out of range, e.g. "
            "{examples}; with the two columns swapped every row is valid). Swap the two "
            "headers and load the file again.",
        },
        "error.tables.projected": {
            "zh": "{file} 的坐标像是以米为单位的投影坐标（例如 {examples}），而不是经纬度。"
            "请在 GIS 软件中把坐标导出为 WGS84 经纬度（十进制度数），或导出为带坐标系的 "
            "GeoPackage/Shapefile。",
            "en": "{file} seems to be in a projected coordinate system: values such as "
            "{examples} look like metres, not degrees. Export longitude/latitude in decimal "
            "degrees (WGS84) from your GIS, or export a GeoPackage/Shapefile that carries "
            "its coordinate system.",
        },
        "error.tables.geo_out_of_range": {
            "zh": "{file} 中有 {count} 个要素在换算到经纬度后超出范围（第 {rows} 个要素）。"
            "文件声明的坐标系（{crs}）可能不对：请在 GIS 软件中设置正确的坐标系后重新导出。",
            "en": "{file}: {count} feature(s) fall outside longitude -180..180 / latitude "
            "-90..90 once converted to degrees (features {rows}). The file's coordinate "
            "system ({crs}) is probably wrong: set the right one in your GIS and export again.",
        },
        "error.tables.no_crs": {
            "zh": "{file} 没有坐标系信息（例如 Shapefile 缺少 .prj 文件），无法确定位置。"
            "请把 .prj 文件一起打包，或导出为 GeoJSON，或导出带经度/纬度列的 CSV。",
            "en": "{file} has no coordinate reference system (e.g. a Shapefile without its "
            ".prj file), so its positions cannot be placed. Zip the .prj together with the "
            "other parts, or export GeoJSON, or a CSV with longitude/latitude columns.",
        },
        "error.tables.zip_missing_part": {
            "zh": "{file} 中的 Shapefile {shp} 缺少 {missing}。Shapefile 由多个同名文件组成"
            "（.shp、.shx、.dbf、.prj），请把它们一起压缩成 zip。",
            "en": "The Shapefile {shp} in {file} lacks {missing}. A Shapefile is several files "
            "with the same name (.shp, .shx, .dbf, .prj): zip them all together.",
        },
        "error.tables.zip_no_shapefile": {
            "zh": "{file} 中没有 Shapefile（.shp）。压缩包里有：{contents}。"
            "请压缩 Shapefile 的全部文件，或直接选择 GeoJSON/GeoPackage/KML/CSV 文件。",
            "en": "{file} holds no Shapefile (.shp). The zip contains: {contents}. Zip all the "
            "parts of a Shapefile, or choose a GeoJSON/GeoPackage/KML/CSV file directly.",
        },
        "error.tables.zip_several_shapefiles": {
            "zh": "{file} 中有多个 Shapefile：{shapefiles}。请每个 zip 只放一个 Shapefile。",
            "en": "{file} holds several Shapefiles: {shapefiles}. Put one Shapefile per zip.",
        },
        "error.tables.layer_not_found": {
            "zh": "{file} 中没有名为“{layer}”的图层。文件中的图层：{layers}。",
            "en": "{file} has no layer named '{layer}'. Layers in the file: {layers}.",
        },
        "error.tables.missing_geometry": {
            "zh": "{file} 中有 {count} 个要素没有几何形状（第 {rows} 个要素）。"
            "请在 GIS 软件中删除或补画这些要素。",
            "en": "{file}: {count} feature(s) have no geometry (features {rows}). Delete them "
            "or draw them in your GIS.",
        },
        "error.tables.duplicate_id": {
            "zh": "{file} 中的编号“{id}”（“{column}”列）出现了不止一次：第 {first_row} 行和"
            "第 {second_row} 行。每个编号只能用一次，请修改其中一行。",
            "en": "{file}: the id '{id}' (column '{column}') appears more than once: rows "
            "{first_row} and {second_row}. Each id must be used once; change one of them.",
        },
        "error.tables.too_large": {
            "zh": "{file} 太大（{size_mb} MB），超过了可读取的上限 {limit_mb} MB。"
            "请只保留研究区内的数据和需要的列后再读取，或把文件拆成几个较小的文件。",
            "en": "{file} is too large ({size_mb} MB); the limit is {limit_mb} MB. Keep only "
            "the study area's rows and the columns needed, or split the file into smaller ones.",
        },
        "error.tables.mixed_encoding": {
            "zh": "{file} 混用了两种文字编码：第 {utf8_row} 行是 UTF-8，而第 {row} 行是 GBK/GB18030"
            "（可能是把不同来源的表格拼接在一起了）。请在 Excel 或 WPS 中打开各部分，"
            "统一另存为“CSV UTF-8”或 XLSX 后再读取。",
            "en": "{file} mixes two text encodings: row {utf8_row} is UTF-8 but row {row} is "
            "GBK/GB18030 (perhaps tables from different sources were pasted together). Open "
            "the parts in Excel or WPS and save them all as 'CSV UTF-8' or as XLSX.",
        },
        "error.tables.header_not_first": {
            "zh": "{file} 的列标题似乎在第 {row} 行，而不是第 1 行（第 1 行是“{title}”，"
            "可能是合并单元格的表头标题）。请删除第 {row} 行上面的行，让列标题位于第 1 行，"
            "然后重新读取。",
            "en": "{file}: the column headers seem to be in row {row}, not in row 1 (row 1 "
            "holds '{title}', perhaps a title across merged cells). Delete the rows above row "
            "{row} so that the headers are in row 1, then load the file again.",
        },
        "error.tables.zip_too_large": {
            "zh": "{file} 解压后有 {size_mb} MB，超过了可读取的上限 {limit_mb} MB（最大的部分："
            "{member}）。请只保留研究区内的数据和需要的列，或把数据拆成几个较小的文件后再压缩。",
            "en": "{file} unzips to {size_mb} MB, more than the {limit_mb} MB that can be read "
            "(the largest part: {member}). Keep only the study area's rows and the columns "
            "needed, or split the data into smaller files before zipping.",
        },
        "error.tables.zip_ratio": {
            "zh": "{file} 中的 {member} 压缩比为 {ratio}:1，而正常数据的压缩比不超过 {limit}:1"
            "（这样的文件通常是为了解压后撑满内存而制作的）。请向数据提供者要一份正常导出的文件。",
            "en": "{file}: {member} is compressed {ratio}:1, while real data compresses at most "
            "{limit}:1 (such files are usually made to fill the memory when unzipped). Ask the "
            "sender for a normal export of the data.",
        },
        "error.tables.zip_too_many_members": {
            "zh": "{file} 中有 {count} 个文件，超过了可读取的上限 {limit} 个。"
            "请只压缩需要的文件（例如 Shapefile 的 .shp、.shx、.dbf、.prj）。",
            "en": "{file} holds {count} files, more than the {limit} that can be read. Zip only "
            "the files needed (e.g. a Shapefile's .shp, .shx, .dbf and .prj).",
        },
        "error.tables.too_many_rows": {
            "zh": "{file} 的数据超过了 {limit} 行（读到第 {row} 行时），这是可读取的上限。"
            "请只保留研究区内的行，或把表格拆成几个较小的文件。",
            "en": "{file} has more than {limit} data rows (found at row {row}), the most that "
            "can be read. Keep only the study area's rows, or split the table into smaller "
            "files.",
        },
        "error.tables.too_many_table_cells": {
            "zh": "{file} 的单元格超过了 {limit} 个（读到第 {row} 行时），这是可读取的上限。"
            "请删除不需要的列，只保留研究区内的行，或把表格拆成几个较小的文件。",
            "en": "{file} has more than {limit} cells (found at row {row}), the most that can "
            "be read. Delete the columns not needed, keep only the study area's rows, or split "
            "the table into smaller files.",
        },
        "note.tables.sheet_read": {
            "zh": "{file}：读取的是工作表“{sheet}”（第一个有经度和纬度列的工作表）；"
            "没有读取的工作表：{others}。",
            "en": "{file}: the sheet '{sheet}' was read (the first with longitude and latitude "
            "columns); sheets not read: {others}.",
        },
        "warning.tables.other_sheets_match": {
            "zh": "{file}：工作表 {others} 也有经度和纬度列，但只读取了工作表“{sheet}”。"
            "如果要读取其他工作表，请把它移到最前面，或另存为单独的文件。",
            "en": "{file}: the sheets {others} also have longitude and latitude columns, but "
            "only the sheet '{sheet}' was read. To read another one, move it to the front or "
            "save it as a file of its own.",
        },
        "error.tables.nul_character": {
            "zh": "{file} 的文字里有空字符（\\u0000），无法读取（读取程序会在它处截断文字）。"
            "请在文本编辑器里搜索 \\u0000 并删除它，然后重新保存。",
            "en": "{file} holds the NUL character (\\u0000) in its text, which cannot be read "
            "(readers would cut the text short there). Search for \\u0000 in a text editor, "
            "delete it and save the file again.",
        },
        "error.tables.bad_integer": {
            "zh": "{file} 的“{column}”列有 {count} 个值不是非负整数（行号: 值）：{examples}。"
            "请填写 0、1、2……这样的整数，或留空。",
            "en": "{file}, column '{column}': {count} value(s) are not whole numbers >= 0 "
            "(row: value) {examples}. Write 0, 1, 2... or leave the cell empty.",
        },
    }
)


# --------------------------------------------------------------------------------------------
# small helpers shared with the layer loaders


def normalize_header(name: object) -> str:
    """A header as compared with accepted names: lower case, NFKC, no spaces/underscores/dashes."""
    text = unicodedata.normalize("NFKC", str(name)).lower()
    return "".join(ch for ch in text if not ch.isspace() and ch not in "_-")


def find_column(
    columns: Iterable[object],
    names: Sequence[str],
    *,
    tool: str | None = None,
    exclude: Iterable[object] = (),
) -> str | None:
    """The first of ``columns`` whose normalized header is in ``names`` (in ``names`` order).

    Headers are compared whole first; then without their group path (a survey export's
    ``household/village`` or, with ``tool="odk"``, ``hh-village``: see
    :func:`layers.survey.question_name`), so a question inside a group is found too.
    Returns ``None`` when there is none. ``source_row``, ``folder`` and ``geometry`` (columns
    :func:`read_table` adds) and the ``exclude`` columns are never matched.
    """
    skip = {_ROW_COLUMN, "folder", "geometry", *map(str, exclude)}
    whole: dict[str, str] = {}
    stripped: dict[str, str] = {}
    for col in columns:
        if str(col) in skip:
            continue
        whole.setdefault(normalize_header(col), str(col))
        stripped.setdefault(normalize_header(survey.question_name(col, tool)), str(col))
    for by_key in (whole, stripped):
        for name in names:
            found = by_key.get(normalize_header(name))
            if found is not None:
                return found
    return None


def role_column(
    raw: pd.DataFrame, role: str, names: Sequence[str], *, exclude: Iterable[object] = ()
) -> str | None:
    """The column of ``raw`` (a frame from :func:`read_table`) that plays ``role``.

    The user's mapping wins (``--columns village=所在村``, resolved by :func:`read_table`);
    else the first header in ``names`` (see :func:`find_column`), skipping the columns the
    mapping gives to other roles, those the positions came from, and ``exclude``.
    """
    mapping = dict(raw.attrs.get(COLUMNS_ATTR) or {})
    if role in mapping:
        return mapping[role]
    taken = {*mapping.values(), *(raw.attrs.get(POSITION_ATTR) or {}).values(), *exclude}
    return find_column(raw.columns, names, tool=raw.attrs.get(SURVEY_ATTR), exclude=taken)


def carry_reader_attrs(raw: pd.DataFrame, layer: pd.DataFrame) -> pd.DataFrame:
    """Give a layer built from ``raw`` (a frame from :func:`read_table`) what the user may
    need from how the file was read: its :class:`~layers.schema.ReadAs` and the resolved
    column mapping. Notes are passed on by the readers themselves. Returns ``layer``."""
    from layers.schema import read_as_of

    if read_as_of(raw) is not None:
        set_read_as(layer, read_as_of(raw))
    layer.attrs[COLUMNS_ATTR] = dict(raw.attrs.get(COLUMNS_ATTR) or {})
    return layer


def resolve_mapping(
    columns: Mapping[str, str] | ColumnMapping | None,
    headers: Sequence[object],
    *,
    file: str,
    layer: str | None = None,
) -> dict[str, str]:
    """``{role: header}`` of a user's mapping, with each header as the file writes it.

    A header is matched exactly, else by :func:`normalize_header` when that is unique.

    Raises
    ------
    SettingsError
        ``error.columns.unknown_role`` for a role not in :data:`ROLES`.
    InputError
        For a strict mapping: ``error.columns.not_found`` (naming the file's columns),
        ``error.columns.role_not_for_layer``.
    """
    mapping = as_column_mapping(columns)
    if mapping is None:
        return {}
    names = [str(h) for h in headers if str(h) not in (_ROW_COLUMN, "folder", "geometry")]
    out: dict[str, str] = {}
    for role, header in mapping.roles.items():
        if role not in ROLES:
            raise SettingsError(
                "error.columns.unknown_role",
                role=role,
                value=f"{role}={header}",
                roles=", ".join(ROLES),
            )
        if layer is not None and role not in LAYER_ROLES.get(layer, ROLES):
            if mapping.is_strict(role):
                raise InputError(
                    "error.columns.role_not_for_layer",
                    file=file,
                    layer=layer,
                    role=role,
                    roles=", ".join(LAYER_ROLES[layer]),
                )
            continue
        found = _match_header(str(header), names)
        if found is None:
            if mapping.is_strict(role):
                raise InputError(
                    "error.columns.not_found",
                    file=file,
                    role=role,
                    header=header,
                    columns=_short(", ".join(names), 300),
                )
            continue
        out[role] = found
    return out


def _match_header(header: str, names: Sequence[str]) -> str | None:
    if header in names:
        return header
    key = unicodedata.normalize("NFKC", header).strip().lower()
    found = [n for n in names if unicodedata.normalize("NFKC", n).strip().lower() == key]
    return found[0] if len(found) == 1 else None


def format_rows(rows: Sequence[object]) -> str:
    """The first :data:`MAX_ROWS_SHOWN` row numbers, comma separated, then an ellipsis."""
    shown = ", ".join(str(r) for r in rows[:MAX_ROWS_SHOWN])
    return shown + (", ..." if len(rows) > MAX_ROWS_SHOWN else "")


def format_examples(pairs: Sequence[tuple[object, object]]) -> str:
    """``row: 'value'`` pairs for messages, the first :data:`MAX_ROWS_SHOWN`."""
    shown = ", ".join(f"{row}: {_short(value)!r}" for row, value in pairs[:MAX_ROWS_SHOWN])
    return shown + (", ..." if len(pairs) > MAX_ROWS_SHOWN else "")


def _short(value: object, limit: int = 40) -> str:
    text = str(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def text_values(values: pd.Series) -> pd.Series:
    """Cell values as stripped text, ``NA`` for empty cells (index kept).

    Whole floats become integers (``12.0`` -> ``"12"``), as spreadsheets and shapefiles
    store ids and phone numbers as numbers.
    """

    def one(value: object) -> object:
        if value is None or value is pd.NA:
            return pd.NA
        if isinstance(value, float | np.floating):
            if math.isnan(value):
                return pd.NA
            if float(value).is_integer() and abs(value) < 1e15:
                return str(int(value))
        text = str(value).strip()
        return text if text else pd.NA

    return pd.Series([one(v) for v in values], index=values.index, dtype="object")


def parse_nonnegative_int(
    values: pd.Series, rows: pd.Series, *, file: str, column: str
) -> pd.Series:
    """Parse counts (children, capacity) into Int64, ``NA`` for empty cells.

    Accepts ``3``, ``3.0``, ``"3"``, full-width ``"３"``; rejects fractions, negatives, text.

    Raises
    ------
    InputError
        ``error.tables.bad_integer`` naming the first few bad rows with their values.
    """
    out: list[object] = []
    bad: list[tuple[object, object]] = []
    for value, row in zip(text_values(values), rows, strict=True):
        if value is pd.NA:
            out.append(pd.NA)
            continue
        number = _to_number(str(value), comma_decimal=False)
        if number is None or not number.is_integer() or number < 0 or number > 2**31:
            bad.append((row, value))
            out.append(pd.NA)
        else:
            out.append(int(number))
    if bad:
        raise InputError(
            "error.tables.bad_integer",
            file=file,
            column=column,
            count=len(bad),
            examples=format_examples(bad),
        )
    return pd.Series(out, index=values.index, dtype="Int64")


def check_unique_ids(ids: pd.Series, rows: pd.Series, *, file: str, column: str) -> None:
    """Raise ``error.tables.duplicate_id`` (naming the id and both rows) on a repeated id."""
    seen: dict[object, object] = {}
    for value, row in zip(ids, rows, strict=True):
        if value in seen:
            raise InputError(
                "error.tables.duplicate_id",
                file=file,
                id=value,
                column=column,
                first_row=seen[value],
                second_row=row,
            )
        seen[value] = row


# --------------------------------------------------------------------------------------------
# numbers


_FULLWIDTH = str.maketrans(
    {
        **{chr(0xFF10 + i): str(i) for i in range(10)},
        "．": ".",
        "。": ".",
        "－": "-",
        "−": "-",
        "＋": "+",
        "，": ",",
        "Ｅ": "E",
        "ｅ": "e",
    }
)
_UTF8_WIDE = re.compile(rb"[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}")
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_COMMA_DECIMAL = re.compile(r"[+-]?\d+,\d+")
# A degree sign and/or a hemisphere letter may follow the number ("111.5°", "40.8°N", "111.5E").
_SUFFIX = re.compile(r"(?:°|度)?([NSEWnsew]|北纬|东经)?$")


def _to_number(text: str, *, comma_decimal: bool) -> float | None:
    """Parse one coordinate cell; ``None`` when it is not a finite number."""
    s = text.translate(_FULLWIDTH)
    s = "".join(ch for ch in s if not ch.isspace())
    sign = 1.0
    match = _SUFFIX.search(s)
    if match and match.group(0):
        if match.group(1) and match.group(1).upper() in "SW":
            sign = -1.0
        s = s[: match.start()]
    if comma_decimal and _COMMA_DECIMAL.fullmatch(s):
        s = s.replace(",", ".")
    if not _NUMBER.fullmatch(s):
        return None
    value = float(s)
    return sign * value if math.isfinite(value) else None


# --------------------------------------------------------------------------------------------
# the entry point


def read_table(
    path: str | Path,
    *,
    coords: str | None = None,
    layer_label: str | None = None,
    layer: str | None = None,
    columns: Mapping[str, str] | ColumnMapping | None = None,
    allow_missing: bool = False,
    layer_kind: str | None = None,
) -> gpd.GeoDataFrame:
    """Read a user's geodata file or table into a raw GeoDataFrame in EPSG:4326.

    Parameters
    ----------
    path
        The file: ``.csv``/``.txt``, ``.xlsx``, ``.geojson``/``.json``, ``.gpkg``, ``.zip``
        (a zipped Shapefile), ``.shp`` (with its sibling files), ``.kml``, ``.kmz``,
        ``.gpx`` (its waypoints) or a 奥维 (Ovital) ``.ovkml``/``.ovkmz`` (KML inside).
    coords
        The coordinate system the positions are in, one of
        :data:`layers.coords.COORD_SYSTEMS` (``wgs84``, ``gcj02`` for Amap/Tencent exports,
        ``bd09`` for Baidu). Positions are converted to WGS84. For geodata files this applies
        after reprojecting from the file's CRS (GCJ-02 data is usually labelled as WGS84).
        ``None`` or ``"auto"``: the format's default, WGS84 (phone GPS, GPX, GIS files)
        except for 奥维 files, read as GCJ-02 with a note (``"auto"`` then lets
        :mod:`mapping.coorddetect` check it against the roads). GPX is always WGS84.
    layer_label
        The file name shown in messages (default: the name of ``path``); the app passes the
        uploaded file's original name, since it reads a temporary copy.
    layer
        The layer to read from a GeoPackage (default: the first layer with geometries).
        For KML every folder is read.
    columns
        Which column plays which role (:data:`ROLES`), as the user said: ``{"lon": "东经",
        "lat": "北纬"}`` or ``{"point": "位置"}`` say where the positions are; the other roles
        are resolved here (so that a wrong header is reported at once) and read by the layer
        readers through :func:`role_column`. See :class:`ColumnMapping`.
    allow_missing
        Keep table rows without any position (both lon and lat empty, an empty geopoint)
        with a ``None`` geometry, for the households reader to place at their village. A
        row with only one of lon/lat is still an error, and so is a geodata feature without
        geometry (a broken feature, ``error.tables.missing_geometry``).
    layer_kind
        ``"households"``, ``"villages"`` or ``"services"``: the layer being read, for the
        roles of a strict mapping (:data:`LAYER_ROLES`).

    Returns
    -------
    geopandas.GeoDataFrame
        The file's columns (a survey export's metadata columns left out, see
        :mod:`layers.survey`), plus ``source_row`` (Int64, spreadsheet row number or
        feature number) and, for KML/KMZ, ``folder`` and ``kml_id``; geometry in EPSG:4326
        (lon/lat degrees, 2-D; ``None`` for rows kept by ``allow_missing``). Index: a fresh
        ``RangeIndex``. ``attrs["notes"]``: what the user should be told about how the file
        was read (:func:`layers.schema.notes_of`), e.g. which sheet of a workbook was read,
        which geopoint question was used, positions whose accuracy is poor; the layer
        readers pass these notes on. ``attrs["coords"]``: the :class:`~layers.schema.ReadAs`.
        ``attrs`` :data:`COLUMNS_ATTR`, :data:`SURVEY_ATTR`, :data:`POSITION_ATTR`: the
        resolved mapping, the survey tool and the position columns.

    Positions are found in this order: the mapping's ``lon``/``lat`` or ``point``; a survey
    export's geopoint (split columns; of several, the one answered in most rows, with a
    note); columns named as in :data:`LON_NAMES`/:data:`LAT_NAMES` (also inside a group);
    one column whose values are positions ("lat lon [alt [acc]]" or "lon,lat"). None of these
    is ``error.tables.no_lon_lat``, which prints the ``--columns`` line that would read the
    file (from the columns whose numbers look like degrees).

    Limits, checked before the work they guard: :data:`MAX_TABLE_BYTES` on disk,
    :data:`MAX_UNZIPPED_BYTES` / :data:`MAX_ZIP_RATIO` / :data:`MAX_ZIP_MEMBERS` for zips
    (zipped Shapefile, XLSX, KMZ), :data:`MAX_TABLE_ROWS` / :data:`MAX_TABLE_CELLS` for
    CSV/XLSX tables; each refusal says the largest that fits.

    Raises
    ------
    FileFormatError
        Unsupported extension, or a file that cannot be read as its format.
    NoDataError
        An empty file, a header without rows, a geodata file without features.
    InputError
        Any problem in the content: no lon/lat columns, bad numbers, out-of-range or
        projected coordinates, missing CRS, an incomplete zipped Shapefile...
    SettingsError
        ``coords`` is not a known coordinate system.
    """
    path = Path(path)
    label = layer_label or path.name
    choice = normalize_choice(coords, AUTO)
    kind = _check_file(path, label)
    with _library_errors(path, label):
        if kind in _ZIPPED and zipfile.is_zipfile(path):
            _check_zip(path, label)
        read_as, notes = _read_as(path, kind, label, choice)
        opts = _Options(
            label=label,
            system=read_as.system,
            columns=as_column_mapping(columns),
            allow_missing=allow_missing,
            layer_kind=layer_kind,
            declared=read_as.declared,
        )
        if kind == "csv":
            gdf = _read_csv(path, opts)
        elif kind == "xlsx":
            gdf = _read_xlsx(path, opts)
        else:
            gdf = _read_geodata(path, kind, opts, layer)
    if gdf.attrs.get(SURVEY_ATTR) and read_as.reason == "default":
        read_as = ReadAs(read_as.system, read_as.declared, "survey", label)
    set_read_as(gdf, read_as)
    return add_notes(gdf, notes)


def _check_file(path: Path, label: str) -> str:
    """The format of ``path`` (a value of :data:`FORMATS`) after the checks on its name and
    size: unsupported extension, missing, empty, beyond :data:`MAX_TABLE_BYTES`."""
    ext = path.suffix.lower()
    kind = FORMATS.get(ext)
    if kind is None:
        raise FileFormatError(
            "error.tables.unsupported_extension",
            file=label,
            ext=ext or path.name,
            formats=SUPPORTED_TEXT,
        )
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise _not_readable(label, library_detail(exc, path, label)) from exc
    if size == 0:
        raise NoDataError("error.tables.empty_file", file=label)
    if size > MAX_TABLE_BYTES:
        raise InputError(
            "error.tables.too_large",
            file=label,
            size_mb=f"{size / 1024**2:.0f}",
            limit_mb=f"{MAX_TABLE_BYTES / 1024**2:.0f}",
        )
    return kind


@dataclass(frozen=True)
class TablePreview:
    """The first rows of a file as text, before any column is interpreted.

    Attributes
    ----------
    headers
        The column headers (made unique and non-empty as :func:`read_table` does).
    rows
        The first data rows, each as many texts as ``headers`` ("" for an empty cell).
    sheet
        The worksheet read, for XLSX (the first with position headers, else the first).
    geodata
        True for geodata files (GeoJSON, KML, GPX...): their positions are the geometry,
        so only the attribute roles apply.
    tool
        The survey tool that wrote the file (see :mod:`layers.survey`), or None.
    metadata
        A survey export's metadata columns (not offered as roles).
    """

    headers: list[str]
    rows: list[list[str]]
    sheet: str | None
    geodata: bool
    tool: str | None
    metadata: tuple[str, ...]


@contextlib.contextmanager
def _library_errors(path: Path, label: str) -> Iterator[None]:
    """Inside: a reader library that chokes on a damaged file becomes a message saying so,
    with why; our own errors and running out of memory pass as they are."""
    try:
        yield
    except (GapMapperError, MemoryError):
        raise
    except Exception as exc:
        raise _not_readable(label, library_detail(exc, path, label)) from exc


def read_preview(
    path: str | Path, *, layer_label: str | None = None, max_rows: int = 200
) -> TablePreview:
    """The headers and the first ``max_rows`` rows of a user's file, as text.

    For the step where people say which column is which (:mod:`layers.columns`): unlike
    :func:`read_table` it needs no position column. The same limits and messages apply to
    the file itself (size, zip members, encodings, CSV syntax).
    """
    path = Path(path)
    label = layer_label or path.name
    kind = _check_file(path, label)
    with _library_errors(path, label):
        if kind in _ZIPPED and zipfile.is_zipfile(path):
            _check_zip(path, label)
        sheet = None
        if kind == "csv":
            records = _csv_records(path, label)
        elif kind == "xlsx":
            records, sheet = _xlsx_preview(path, label, max_rows)
        else:
            gdf = read_table(path, layer_label=label, allow_missing=True)
            attrs = [c for c in gdf.columns if c not in (_ROW_COLUMN, "geometry")]
            rows = [
                ["" if pd.isna(v) else str(v) for v in values]
                for values in gdf[attrs].head(max_rows).itertuples(index=False)
            ]
            return TablePreview([str(c) for c in attrs], rows, None, True, None, ())
    records = [(row, cells) for row, cells in records if any(c.strip() for c in cells)]
    if not records:
        raise NoDataError("error.tables.empty_file", file=label)
    header = _unique_headers(records[0][1])
    width = len(header)
    rows = [
        [c.strip() for c in cells[:width]] + [""] * (width - len(cells[:width]))
        for _, cells in records[1 : 1 + max_rows]
    ]
    shape = survey.recognise(header)
    return TablePreview(header, rows, sheet, False, shape.tool, shape.metadata)


def _xlsx_preview(path: Path, label: str, max_rows: int) -> tuple[list, str]:
    import openpyxl

    if not zipfile.is_zipfile(path):
        raise _not_readable(label, "not an XLSX workbook")
    workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        sheets, matching, chosen = _choose_sheet(workbook, label, None)
        records = []
        for row, cells in _sheet_rows(chosen):
            records.append((row, cells))
            if len(records) > max_rows:
                break
    finally:
        workbook.close()
    return records, chosen.title


@dataclass(frozen=True)
class _Options:
    """How :func:`read_table` was asked to read a file (passed to the format readers)."""

    label: str
    system: str
    columns: ColumnMapping | None
    allow_missing: bool
    layer_kind: str | None
    declared: bool = False


def _read_as(path: Path, kind: str, label: str, choice: str) -> tuple[ReadAs, list[Note]]:
    """The system to read ``path`` in (the user's, else the format's default) and notes."""
    ovital = kind in ("ovkml", "ovkmz") or (kind in ("kml", "kmz") and looks_like_ovital(path))
    if kind == "gpx":
        notes = []
        if choice not in (AUTO, "wgs84"):
            notes.append(Note("note.tables.gpx_is_wgs84", {"file": label, "coords": choice}))
        return ReadAs("wgs84", False, "gpx", label), notes
    if choice != AUTO:
        return ReadAs(choice, True, "user", label), []
    if ovital:
        return ReadAs("gcj02", False, "ovital", label), [
            Note("note.tables.ovital_gcj02", {"file": label})
        ]
    return ReadAs("wgs84", False, "default", label), []


def looks_like_ovital(path: Path) -> bool:
    """Whether the first kilobytes of a KML (or a KMZ's first KML) name 奥维/Ovital."""
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                kml = [n for n in archive.namelist() if n.lower().endswith(".kml")]
                if not kml:
                    return False
                with archive.open(kml[0]) as f:
                    head = f.read(4096)
        else:
            with path.open("rb") as f:
                head = f.read(4096)
    except (OSError, zipfile.BadZipFile, ValueError):
        return False  # the reader says what is wrong with the file
    text = head.decode("utf-8", errors="replace").lower()
    return "ovital" in text or "奥维" in text


def _not_readable(label: str, detail: str) -> FileFormatError:
    """``error.tables.not_readable`` for the file shown as ``label``, saying why."""
    return FileFormatError(
        "error.tables.not_readable", file=label, detail=detail, formats=SUPPORTED_TEXT
    )


def library_detail(exc: BaseException, path: Path | str | None = None, label: str = "") -> str:
    """The first line of a library's error, naming the file only as the user called it.

    ``path`` is the file on disk (maybe a temporary copy of an upload): every spelling of it
    (as given, resolved, with either slash, behind GDAL's ``/vsizip/`` prefixes) becomes
    ``label``, and the folders it and the temporary files live in are dropped, so no server
    path reaches a message.
    """
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if path is not None:
        path = Path(_VSI_PREFIX.sub("/", str(path)))
        name = label or path.name
        files, folders = set(), set()
        for p in (path, path.resolve()):
            files.add(str(p))
            folders.add(str(p.parent))
        folders.add(tempfile.gettempdir())
        folders.add(str(Path(tempfile.gettempdir()).resolve()))
        for form in sorted({f for f in files if f}, key=len, reverse=True):
            for spelled in (form, form.replace("\\", "/"), form.replace("/", "\\")):
                text = text.replace(spelled, name)
        for folder in sorted({f for f in folders if len(f) > 1}, key=len, reverse=True):
            for spelled in (folder, folder.replace("\\", "/"), folder.replace("/", "\\")):
                text = re.sub(re.escape(spelled) + r"[\\/]+", "", text)
    text = _VSI_PREFIX.sub("", text)
    return _short(text, 160)


#: GDAL's virtual file system prefixes (``/vsizip/``, ``/vsimem/``...), with doubled slashes.
_VSI_PREFIX = re.compile(r"/vsi[a-z0-9_]+/+")


# --------------------------------------------------------------------------------------------
# CSV and XLSX


def _read_csv(path: Path, opts: _Options) -> gpd.GeoDataFrame:
    records, delimiter = _csv_records(path, opts.label, with_delimiter=True)
    return _table_to_frame(records, opts, comma_decimal=delimiter != ",")


def _csv_records(path: Path, label: str, *, with_delimiter: bool = False):
    """``(row number, cells)`` of a CSV/TXT table (and its delimiter when asked)."""
    raw = path.read_bytes()
    if raw[:2] in (b"\xff\xfe", b"\xfe\xff"):
        # Excel's "Unicode text" (.txt) export: UTF-16 with a byte-order mark, tab separated
        try:
            raw = raw.decode("utf-16").encode("utf-8")
        except UnicodeDecodeError:
            raise InputError("error.tables.encoding", file=label) from None
    if b"\x00" in raw[:65536]:
        # UTF-16 text or a binary file (an image, a zip...) renamed to .csv
        raise _not_readable(label, "binary content")
    text = _decode(raw, label)
    if not text.strip():
        raise NoDataError("error.tables.empty_file", file=label)
    delimiter = _guess_delimiter(text)
    # csv's default 128 KiB per cell would refuse a long name; the file is at most
    # MAX_TABLE_BYTES, so no cell can be longer than that
    csv.field_size_limit(max(csv.field_size_limit(), MAX_TABLE_BYTES))
    records: list[tuple[int, list[str]]] = []
    # strict: an unclosed quote is an error, not the rest of the file swallowed into one cell
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    row = 0
    try:
        limit = _TableLimits(label)
        for row, record in enumerate(reader, start=1):
            limit.count(row, record)
            records.append((row, record))
    except csv.Error as exc:
        raise InputError(
            "error.tables.bad_csv", file=label, row=row + 1, detail=library_detail(exc)
        ) from exc
    return (records, delimiter) if with_delimiter else records


def _decode(raw: bytes, label: str) -> str:
    # UTF-8 first (strict: GBK bytes are almost never valid UTF-8), then the GBK superset.
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    _check_one_encoding(raw, label)
    try:
        return raw.decode("gb18030")
    except UnicodeDecodeError:
        raise InputError("error.tables.encoding", file=label) from None


def _check_one_encoding(raw: bytes, label: str) -> None:
    """Raise ``error.tables.mixed_encoding`` when some lines are UTF-8 text and others are not.

    A file that is not UTF-8 as a whole would otherwise be decoded as GB18030, which turns
    its UTF-8 lines into plausible-looking nonsense (wrong headers, wrong names) silently.
    Only lines with a multi-byte UTF-8 character of three bytes or more (every Chinese
    character) count as UTF-8: GBK text almost never forms those by chance.
    """
    utf8_row = other_row = None
    for row, line in enumerate(raw.split(b"\n"), start=1):
        if line.isascii():
            continue
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            other_row = other_row or row
            continue
        if utf8_row is None and _UTF8_WIDE.search(line):
            utf8_row = row
    if utf8_row is not None and other_row is not None:
        raise InputError(
            "error.tables.mixed_encoding", file=label, utf8_row=utf8_row, row=other_row
        )


def _guess_delimiter(text: str) -> str:
    """Comma, semicolon or tab: the one that splits the header line into the most cells."""
    first = next((line for line in text.splitlines() if line.strip()), "")
    best, best_count = ",", 1
    for delimiter in (",", ";", "\t"):
        try:
            cells = next(csv.reader([first], delimiter=delimiter))
        except (csv.Error, StopIteration):
            continue
        if len(cells) > best_count:
            best, best_count = delimiter, len(cells)
    return best


def _read_xlsx(path: Path, opts: _Options) -> gpd.GeoDataFrame:
    """The first sheet with position headers (else the first sheet) of a workbook, streamed.

    The workbook is opened read-only (rows are parsed as they are read, never all held);
    a sheet is read until :data:`MAX_EMPTY_ROWS_RUN` empty rows in a row, within
    :data:`MAX_TABLE_ROWS` / :data:`MAX_TABLE_CELLS`. When the workbook has several sheets
    the frame carries a note saying which was read and naming the others.
    """
    import openpyxl

    label = opts.label
    if not zipfile.is_zipfile(path):
        raise _not_readable(label, "not an XLSX workbook")
    workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        sheets, matching, chosen = _choose_sheet(workbook, label, opts.columns)
        records = list(_sheet_records(chosen, _TableLimits(label)))
    finally:
        workbook.close()
    gdf = _table_to_frame(records, opts, comma_decimal=True)
    notes = []
    if len(sheets) > 1:
        others = [f"'{s.title}'" for s in sheets if s is not chosen]
        notes.append(
            Note(
                "note.tables.sheet_read",
                {"file": label, "sheet": chosen.title, "others": ", ".join(others)},
            )
        )
    if len(matching) > 1:
        others = [f"'{s.title}'" for s in matching[1:]]
        notes.append(
            Note(
                "warning.tables.other_sheets_match",
                {"file": label, "sheet": chosen.title, "others": ", ".join(others)},
            )
        )
    return add_notes(gdf, notes)


def _choose_sheet(workbook, label: str, columns: ColumnMapping | None) -> tuple[list, list, object]:
    """A workbook's sheets, those whose first row has position headers (by ``columns`` when
    given), and the sheet to read: the first of those, else the first sheet."""
    sheets = list(workbook.worksheets)
    if not sheets:
        raise NoDataError("error.tables.empty_file", file=label)
    matching = [sheet for sheet in sheets if _has_position_headers(_first_row(sheet), columns)]
    return sheets, matching, matching[0] if matching else sheets[0]


def _sheet_rows(sheet) -> Iterator[tuple[int, list[str]]]:
    """``(row number, cell texts)`` of a read-only sheet, up to the last non-empty row before
    :data:`MAX_EMPTY_ROWS_RUN` empty ones, trailing empty cells dropped.

    The sheet's own dimension is ignored (``reset_dimensions``): some programs write one
    that is too small (columns would be lost) or a ghost range down to row 1 048 576 (rows
    would be padded); rows come as the file has them, cut at :data:`MAX_XLSX_COLUMNS`.
    """
    sheet.reset_dimensions()
    empty_run = 0
    for row, values in enumerate(sheet.iter_rows(min_row=1, values_only=True), start=1):
        values = values[:MAX_XLSX_COLUMNS]
        if values.count(None) == len(values):  # counted in C: ghost rows are many
            cells = []
        else:
            cells = [_cell_text(v) for v in values]
            while cells and not cells[-1].strip():
                cells.pop()
        if not cells:
            empty_run += 1
            if empty_run >= MAX_EMPTY_ROWS_RUN:
                return
            continue
        empty_run = 0
        yield row, cells


def _first_row(sheet) -> list[str]:
    """The cells of a sheet's first non-empty row (empty list when there is none)."""
    for _, cells in _sheet_rows(sheet):
        return cells
    return []


def _has_lon_lat(cells: list[str]) -> bool:
    names = [c.strip() for c in cells]
    lon, lat = find_column(names, LON_NAMES), find_column(names, LAT_NAMES)
    return lon is not None and lat is not None and lon != lat


def _has_position_headers(cells: list[str], columns: ColumnMapping | None) -> bool:
    """Whether a header row names the positions: the user's mapping, lon/lat names (also
    inside a group), or a survey export's geopoint."""
    names = [c.strip() for c in cells]
    if columns is not None:
        given = [h for r, h in columns.roles.items() if r in POSITION_ROLES]
        if given and all(_match_header(str(h), names) for h in given):
            return True
    shape = survey.recognise(names)
    if shape.geopoints:
        return True
    lon = find_column(names, LON_NAMES, tool=shape.tool)
    lat = find_column(names, LAT_NAMES, tool=shape.tool)
    return lon is not None and lat is not None and lon != lat


def _sheet_records(sheet, limit: _TableLimits) -> Iterator[tuple[int, list[str]]]:
    for row, cells in _sheet_rows(sheet):
        limit.count(row, cells)
        yield row, cells


class _TableLimits:
    """Counts rows and cells as a table streams in; raises ``error.tables.table_too_big``."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.rows = 0
        self.cells = 0

    def count(self, row: int, cells: Sequence[str]) -> None:
        self.rows += 1
        self.cells += len(cells)
        if self.rows > MAX_TABLE_ROWS + 1:  # + the header
            raise InputError(
                "error.tables.too_many_rows", file=self.label, row=row, limit=MAX_TABLE_ROWS
            )
        if self.cells > MAX_TABLE_CELLS:
            raise InputError(
                "error.tables.too_many_table_cells",
                file=self.label,
                row=row,
                limit=MAX_TABLE_CELLS,
            )


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return str(value)


def _table_to_frame(
    records: list[tuple[int, list[str]]], opts: _Options, *, comma_decimal: bool
) -> gpd.GeoDataFrame:
    """Rows of cell texts (with their spreadsheet row numbers) -> points in EPSG:4326."""
    label = opts.label
    records = [(row, cells) for row, cells in records if any(c.strip() for c in cells)]
    if not records:
        raise NoDataError("error.tables.empty_file", file=label)
    header_row, header_cells = records[0]
    header = _unique_headers(header_cells)
    data = records[1:]
    if not data:
        raise NoDataError("error.tables.header_only", file=label)

    shape = survey.recognise(header)
    mapping = resolve_mapping(opts.columns, header, file=label, layer=opts.layer_kind)
    if not (_has_position_headers(header, None) or any(r in mapping for r in POSITION_ROLES)):
        # a title row above the real header is the likelier cause of what follows
        _check_header_below(records, label)
    width = len(header)
    too_long = [row for row, cells in data if any(c.strip() for c in cells[width:])]
    if too_long:
        raise InputError(
            "error.tables.too_many_cells",
            file=label,
            rows=format_rows(too_long),
            count=len(too_long),
        )
    columns: dict[str, list[object]] = {name: [] for name in header}
    for _, cells in data:
        padded = list(cells[:width]) + [""] * (width - len(cells))
        for name, cell in zip(header, padded, strict=True):
            text = cell.strip()
            columns[name].append(text if text else pd.NA)
    frame = pd.DataFrame(columns, dtype="object")
    rows = pd.Series([row for row, _ in data], dtype="Int64")

    found = _find_position(frame, rows, mapping, shape, label, comma_decimal)
    if found is None:
        raise InputError(
            "error.tables.no_lon_lat",
            file=label,
            columns=", ".join(header),
            lon_names=", ".join(LON_NAMES),
            lat_names=", ".join(LAT_NAMES),
            columns_line=suggest_position_columns(frame, comma_decimal=comma_decimal),
        )
    if found.missing.any() and not opts.allow_missing:
        column = found.columns.get("point") or found.columns["lon"]
        missing_rows = list(rows[found.missing])
        raise InputError(
            "error.tables.missing_coordinate",
            file=label,
            column=column,
            rows=format_rows(missing_rows),
            count=len(missing_rows),
        )
    notes = list(found.notes)
    if found.acc is not None:
        notes.extend(_accuracy_notes(found.acc, found.missing, rows, label))
    if shape.tool is not None:
        params = {
            "file": label,
            "tool": shape.label,
            "question": found.question,
            "count": len(shape.metadata),
        }
        key = "note.tables.survey_export"
        if opts.declared:
            key = "note.tables.survey_export_declared"
            params["system"] = Phrase(f"coords.system.{opts.system}")
        notes.insert(0, Note(key, params))
    lon = np.full(len(frame), np.nan)
    lat = np.full(len(frame), np.nan)
    ok = ~found.missing
    lon[ok], lat[ok] = to_wgs84(found.lon[ok], found.lat[ok], opts.system)
    frame = frame.drop(columns=[c for c in shape.metadata if c not in found.columns.values()])
    frame[_ROW_COLUMN] = rows
    geometry = np.full(len(frame), None, dtype=object)
    geometry[ok] = shapely.points(lon[ok], lat[ok])
    gdf = gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geometry, crs=WGS84).values, crs=WGS84)
    gdf.attrs[COLUMNS_ATTR] = mapping
    gdf.attrs[SURVEY_ATTR] = shape.tool
    gdf.attrs[POSITION_ATTR] = dict(found.columns)
    return add_notes(gdf, notes)


@dataclass(frozen=True)
class _Position:
    """Where a table's positions are and what they are (file's own system, degrees).

    ``lon``/``lat`` are NaN and ``missing`` True on rows without any position; ``acc`` is
    the phone's accuracy estimate (m) where the file gives one; ``columns`` maps
    ``lon``/``lat`` or ``point`` (and ``acc``) to their headers; ``question`` names them for
    messages.
    """

    columns: dict[str, str]
    question: str
    lon: np.ndarray
    lat: np.ndarray
    missing: np.ndarray
    acc: np.ndarray | None
    notes: tuple[Note, ...] = ()


def _find_position(
    frame: pd.DataFrame,
    rows: pd.Series,
    mapping: dict[str, str],
    shape: survey.SurveyShape,
    label: str,
    comma_decimal: bool,
) -> _Position | None:
    """The table's positions, found in the order :func:`read_table` documents."""
    if "point" in mapping:
        return _point_position(frame, rows, mapping["point"], label)
    given = [r for r in ("lon", "lat") if r in mapping]
    if len(given) == 1:
        missing = "lat" if given[0] == "lon" else "lon"
        raise InputError(
            "error.columns.incomplete",
            file=label,
            given=f"{given[0]}={mapping[given[0]]}",
            missing=f"{missing}=...",
        )
    if given:
        return _split_position(frame, rows, mapping["lon"], mapping["lat"], label, comma_decimal)

    if shape.geopoints:
        points = list(shape.geopoints)
        answered = [int(frame[p.lat].notna().sum()) for p in points]
        best = int(np.argmax(answered))  # the first of the most answered
        chosen = points[best]
        found = _split_position(frame, rows, chosen.lon, chosen.lat, label, comma_decimal)
        acc = _numbers_or_nan(frame[chosen.acc]) if chosen.acc else None
        notes = list(found.notes)
        if len(points) > 1:
            runner = max(
                (p for p in points if p is not chosen),
                key=lambda p: int(frame[p.lat].notna().sum()),
            )
            notes.append(
                Note(
                    "note.tables.geopoint_chosen",
                    {
                        "file": label,
                        "count": len(points),
                        "questions": ", ".join(f"'{p.question}'" for p in points),
                        "chosen": chosen.question,
                        "columns_line": columns_line({"lat": runner.lat, "lon": runner.lon}),
                    },
                )
            )
        columns = {"lon": chosen.lon, "lat": chosen.lat}
        if chosen.acc:
            columns["acc"] = chosen.acc
        return _Position(
            columns, chosen.question, found.lon, found.lat, found.missing, acc, tuple(notes)
        )

    lon_col = find_column(frame.columns, LON_NAMES, tool=shape.tool)
    lat_col = find_column(frame.columns, LAT_NAMES, tool=shape.tool)
    if lon_col is not None and lat_col is not None and lon_col != lat_col:
        return _split_position(frame, rows, lon_col, lat_col, label, comma_decimal)

    candidates = [c for c in frame.columns if _looks_like_points(frame[c])]
    if not candidates:
        return None
    answered = [int(frame[c].notna().sum()) for c in candidates]
    chosen = candidates[int(np.argmax(answered))]
    found = _point_position(frame, rows, chosen, label)
    if len(candidates) > 1:
        runner = max(
            (c for c in candidates if c != chosen), key=lambda c: int(frame[c].notna().sum())
        )
        note = Note(
            "note.tables.geopoint_chosen",
            {
                "file": label,
                "count": len(candidates),
                "questions": ", ".join(f"'{c}'" for c in candidates),
                "chosen": chosen,
                "columns_line": columns_line({"point": runner}),
            },
        )
        found = _Position(
            found.columns,
            found.question,
            found.lon,
            found.lat,
            found.missing,
            found.acc,
            (*found.notes, note),
        )
    return found


def _split_position(
    frame: pd.DataFrame,
    rows: pd.Series,
    lon_col: str,
    lat_col: str,
    label: str,
    comma_decimal: bool,
) -> _Position:
    """Positions from a longitude and a latitude column (rows with both empty: missing)."""
    empty_lon = frame[lon_col].isna().to_numpy()
    empty_lat = frame[lat_col].isna().to_numpy()
    missing = empty_lon & empty_lat
    for column, empty in ((lon_col, empty_lon), (lat_col, empty_lat)):
        partial = empty & ~missing
        if partial.any():
            partial_rows = list(rows[partial])
            raise InputError(
                "error.tables.missing_coordinate",
                file=label,
                column=column,
                rows=format_rows(partial_rows),
                count=len(partial_rows),
            )
    ok = ~missing
    lon = np.full(len(frame), np.nan)
    lat = np.full(len(frame), np.nan)
    lon[ok] = _parse_coordinates(frame[lon_col][ok], rows[ok], label, lon_col, comma_decimal)
    lat[ok] = _parse_coordinates(frame[lat_col][ok], rows[ok], label, lat_col, comma_decimal)
    _check_degrees(lon[ok], lat[ok], rows[ok], label, lon_col, lat_col)
    return _Position({"lon": lon_col, "lat": lat_col}, lon_col, lon, lat, missing, None)


#: One cell holding a position: 2 to 4 numbers apart by spaces, commas or semicolons.
_POINT_SPLIT = re.compile(r"[\s,;，；]+")
_POINT_TEXT = re.compile(
    r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[\s,;，；]+[+-]?(?:\d+(?:\.\d*)?|\.\d+)){1,3}"
)
_DECIMAL = re.compile(r"\d\.\d")
#: Cells looked at to tell whether a column holds positions.
_SAMPLE_CELLS = 200


def _looks_like_points(values: pd.Series) -> bool:
    """Whether most filled cells of a column are positions ("40.82 111.65 1200 5",
    "111.65,40.82"): two to four numbers, the first two with decimals (so that phone
    numbers written "138 0000 0001" are not taken for positions) and within 180."""
    cells = [str(v).translate(_FULLWIDTH).strip() for v in values.dropna()[:_SAMPLE_CELLS]]
    if not cells:
        return False
    good = 0
    for cell in cells:
        if not _POINT_TEXT.fullmatch(cell):
            continue
        first_two = _POINT_SPLIT.split(cell)[:2]
        if all(_DECIMAL.search(p) for p in first_two) and all(
            abs(float(p)) <= 180.0 for p in first_two
        ):
            good += 1
    return good * 2 > len(cells)


def _point_position(frame: pd.DataFrame, rows: pd.Series, column: str, label: str) -> _Position:
    """Positions from one column: "lat lon [alt [acc]]" (a phone's geopoint, latitude
    first) or "lon,lat" (two numbers with a comma, longitude first as map pickers copy it,
    told apart by the longitude being beyond 90 degrees). An empty cell is a missing row."""
    values = frame[column]
    n = len(values)
    lon = np.full(n, np.nan)
    lat = np.full(n, np.nan)
    acc = np.full(n, np.nan)
    missing = values.isna().to_numpy()
    bad: list[tuple[object, object]] = []
    swapped: list[tuple[object, object]] = []
    outside: list[tuple[object, object]] = []
    lon_first = False
    for i, (value, row) in enumerate(zip(values, rows, strict=True)):
        if missing[i]:
            continue
        text = str(value).translate(_FULLWIDTH).strip()
        parts = [p for p in _POINT_SPLIT.split(text) if p]
        numbers = [_to_number(p, comma_decimal=False) for p in parts]
        if not 2 <= len(numbers) <= 4 or any(x is None for x in numbers):
            bad.append((row, value))
            continue
        a, b = numbers[0], numbers[1]
        comma = len(numbers) == 2 and re.search(r"[,，;；]", text) is not None
        if comma and abs(a) > 90.0 and abs(b) <= 90.0:
            a, b = b, a  # "lon,lat" as map pickers copy it
            lon_first = True
        if abs(a) > 90.0 or abs(b) > 180.0:
            if abs(b) <= 90.0 and abs(a) <= 180.0:
                swapped.append((row, value))
            else:
                outside.append((row, value))
            continue
        lat[i], lon[i] = a, b
        if len(numbers) == 4:
            acc[i] = numbers[3]
    for key, pairs in (
        ("error.tables.bad_point", bad),
        ("error.tables.point_swapped", swapped),
        ("error.tables.point_out_of_range", outside),
    ):
        if pairs:
            raise InputError(
                key,
                file=label,
                column=column,
                count=len(pairs),
                examples=format_examples(pairs),
            )
    notes = []
    if lon_first:
        notes.append(Note("note.tables.point_lon_lat", {"file": label, "column": column}))
    has_acc = bool(np.isfinite(acc).any())
    return _Position(
        {"point": column}, column, lon, lat, missing, acc if has_acc else None, tuple(notes)
    )


def _numbers_or_nan(values: pd.Series) -> np.ndarray:
    """A column's numbers (NaN for empty or non-numeric cells)."""
    out = np.full(len(values), np.nan)
    for i, value in enumerate(values):
        if value is pd.NA or value is None:
            continue
        number = _to_number(str(value), comma_decimal=False)
        if number is not None:
            out[i] = number
    return out


def _accuracy_notes(
    acc: np.ndarray, missing: np.ndarray, rows: pd.Series, label: str
) -> list[Note]:
    """A warning naming the positions whose accuracy is worse than :data:`MAX_ACCURACY_M`."""
    with np.errstate(invalid="ignore"):
        poor = (acc > MAX_ACCURACY_M) & ~missing
    if not poor.any():
        return []
    return [
        Note(
            "warning.tables.poor_accuracy",
            {
                "file": label,
                "count": int(poor.sum()),
                "limit": f"{MAX_ACCURACY_M:g}",
                "rows": format_rows(list(rows[poor])),
                "worst": f"{np.nanmax(acc[poor]):,.0f}",
            },
        )
    ]


def columns_line(mapping: Mapping[str, str], layer: str | None = None) -> str:
    """The command-line option that gives ``mapping``: ``--columns lon=东经,lat=北纬``
    (quoted when a header holds a space; ``households:`` first when ``layer`` is given)."""
    pairs = ",".join(f"{role}={header}" for role, header in mapping.items())
    value = f"{layer}:{pairs}" if layer else pairs
    if any(ch.isspace() or ch in "\"'&|<>^" for ch in value):
        value = '"' + value.replace('"', '\\"') + '"'
    return f"--columns {value}"


#: Header words that hint at a longitude / latitude column (compared lower-case).
_LON_HINTS = ("经", "lon", "lng", "x", "东", "east")
_LAT_HINTS = ("纬", "lat", "y", "北", "north")


def guess_position_columns(frame: pd.DataFrame, *, comma_decimal: bool = False) -> dict[str, str]:
    """The columns that most likely hold longitudes and latitudes, from their numbers.

    A column counts when most of its first :data:`_SAMPLE_CELLS` filled cells are numbers
    within -180..180; a longitude column has numbers beyond 90 (all of China's are) or a
    header hinting at one (经, lon, x, 东...), a latitude column numbers within -90..90 and,
    among several, a hinting header first. Returns ``{"lon": ..., "lat": ...}``,
    ``{"point": ...}`` for a column of positions, or ``{}``.
    """
    for col in frame.columns:
        if col not in (_ROW_COLUMN, "geometry", "folder") and _looks_like_points(frame[col]):
            return {"point": str(col)}
    stats: list[tuple[str, float, float]] = []  # header, max |value|, median |value|
    for col in frame.columns:
        if col in (_ROW_COLUMN, "geometry", "folder"):
            continue
        cells = [str(v) for v in frame[col].dropna()[:_SAMPLE_CELLS]]
        if not cells:
            continue
        numbers = [_to_number(c, comma_decimal=comma_decimal) for c in cells]
        values = np.array([x for x in numbers if x is not None], dtype=float)
        if len(values) * 5 < len(cells) * 4 or len(values) == 0:
            continue
        big = float(np.max(np.abs(values)))
        if big > 180.0 or not _DECIMAL.search(" ".join(cells[:20])):
            continue
        stats.append((str(col), big, float(np.median(np.abs(values)))))

    def hint(header: str, words: tuple[str, ...]) -> bool:
        text = normalize_header(header)
        return any(w in text for w in words)

    lon_cands = [s for s in stats if s[2] > 90.0 or hint(s[0], _LON_HINTS)]
    lon_cands.sort(key=lambda s: (not hint(s[0], _LON_HINTS), not s[2] > 90.0))
    if not lon_cands:
        return {}
    lon = lon_cands[0][0]
    lat_cands = [s for s in stats if s[0] != lon and s[1] <= 90.0]
    lat_cands.sort(key=lambda s: not hint(s[0], _LAT_HINTS))
    if not lat_cands:
        return {}
    return {"lon": lon, "lat": lat_cands[0][0]}


def suggest_position_columns(frame: pd.DataFrame, *, comma_decimal: bool = False) -> str:
    """The ``--columns`` line for :func:`guess_position_columns` (placeholders when none)."""
    guess = guess_position_columns(frame, comma_decimal=comma_decimal)
    return columns_line(guess or {"lon": "COLUMN", "lat": "COLUMN"})


def _check_header_below(records: list[tuple[int, list[str]]], label: str) -> None:
    """Raise ``error.tables.header_not_first`` when a row below the first holds lon/lat headers."""
    for row, cells in records[1 : 1 + HEADER_SEARCH_ROWS]:
        names = [c.strip() for c in cells]
        lon, lat = find_column(names, LON_NAMES), find_column(names, LAT_NAMES)
        if lon is not None and lat is not None and lon != lat:
            title = " ".join(c.strip() for c in records[0][1] if c.strip())
            raise InputError(
                "error.tables.header_not_first", file=label, row=row, title=_short(title)
            )


def _unique_headers(cells: list[str]) -> list[str]:
    """Header texts made unique and non-empty (``column_3`` for an empty header in column 3)."""
    out: list[str] = []
    seen: set[str] = set()
    reserved = {_ROW_COLUMN, "geometry", "folder"}
    for i, cell in enumerate(cells, start=1):
        name = cell.strip().lstrip("\ufeff") or f"column_{i}"
        base, n = name, 2
        while name in seen or name in reserved:
            name = f"{base}_{n}"
            n += 1
        seen.add(name)
        out.append(name)
    return out


def _parse_coordinates(
    values: pd.Series, rows: pd.Series, label: str, column: str, comma_decimal: bool
) -> np.ndarray:
    missing = [row for value, row in zip(values, rows, strict=True) if value is pd.NA]
    if missing:
        raise InputError(
            "error.tables.missing_coordinate",
            file=label,
            column=column,
            rows=format_rows(missing),
            count=len(missing),
        )
    out = np.empty(len(values), dtype=float)
    bad: list[tuple[object, object]] = []
    for i, (value, row) in enumerate(zip(values, rows, strict=True)):
        number = _to_number(str(value), comma_decimal=comma_decimal)
        if number is None:
            bad.append((row, value))
        else:
            out[i] = number
    if bad:
        raise InputError(
            "error.tables.non_numeric",
            file=label,
            column=column,
            count=len(bad),
            examples=format_examples(bad),
        )
    return out


def _check_degrees(
    lon: np.ndarray,
    lat: np.ndarray,
    rows: pd.Series,
    label: str,
    lon_col: str,
    lat_col: str,
) -> None:
    """Range checks on lon/lat degrees, telling projected metres and swapped columns apart."""
    bad = (np.abs(lon) > 180.0) | (np.abs(lat) > 90.0)
    if not bad.any():
        return
    big = (np.abs(lon) > 1000.0) | (np.abs(lat) > 1000.0)
    # Projected metres (UTM eastings ~500 000, northings ~4 500 000) are big on most rows;
    # a single typo (1115 for 111.5) is reported as out of range instead.
    if big.sum() * 2 >= len(lon):
        examples = [f"{_fmt(x)}, {_fmt(y)}" for x, y in zip(lon[big], lat[big], strict=True)]
        raise InputError("error.tables.projected", file=label, examples="; ".join(examples[:2]))
    bad_rows = list(rows[bad])
    examples = [
        (row, f"{_fmt(x)}, {_fmt(y)}")
        for row, x, y in zip(bad_rows, lon[bad], lat[bad], strict=True)
    ]
    example_text = ", ".join(f"{row}: {xy}" for row, xy in examples[:MAX_ROWS_SHOWN])
    if len(examples) > MAX_ROWS_SHOWN:
        example_text += ", ..."
    swapped_ok = bool(np.all((np.abs(lat) <= 180.0) & (np.abs(lon) <= 90.0)))
    key = "error.tables.lat_lon_swapped" if swapped_ok else "error.tables.out_of_range"
    raise InputError(
        key,
        file=label,
        lon_column=lon_col,
        lat_column=lat_col,
        count=len(bad_rows),
        examples=example_text,
    )


def _fmt(value: float) -> str:
    return f"{value:.6g}" if abs(value) < 1e6 else f"{value:.0f}"


# --------------------------------------------------------------------------------------------
# geodata files


def _read_geodata(path: Path, kind: str, opts: _Options, layer: str | None) -> gpd.GeoDataFrame:
    label, system = opts.label, opts.system
    if kind == "zip":
        member = _shapefile_in_zip(path, label)
        source = f"/vsizip/{path.resolve()}/{member}"
        gdf = _read_layer(source, label, file=path, encoding=_dbf_encoding_in_zip(path, member))
    elif kind == "shp":
        _check_shapefile_parts(
            label, path.name, {p.name.lower() for p in path.parent.iterdir()}, path.stem
        )
        gdf = _read_layer(str(path), label, file=path)
    elif kind in ("kml", "kmz"):
        gdf = _read_kml(path, label)
    elif kind in ("ovkml", "ovkmz"):
        gdf = _read_ovital(path, kind, label)
    elif kind == "gpx":
        gdf = _read_gpx_waypoints(path, label)
    elif kind == "gpkg":
        gdf = _read_layer(str(path), label, file=path, layer=_gpkg_layer(path, label, layer))
    elif _check_json_text(path, label):
        with tempfile.TemporaryDirectory(prefix="gapmapper-json-") as folder:
            gdf = _read_layer(str(_unescaped_json(path, Path(folder))), label, file=path)
    else:
        gdf = _read_layer(str(path), label, file=path)
    if len(gdf) == 0:
        raise NoDataError("error.tables.no_features", file=label)
    rows = pd.Series(np.arange(1, len(gdf) + 1), dtype="Int64", index=gdf.index)
    if _ROW_COLUMN in gdf.columns:
        gdf = gdf.rename(columns={_ROW_COLUMN: f"{_ROW_COLUMN}_file"})
    gdf[_ROW_COLUMN] = rows

    # a feature without geometry is a broken feature (``allow_missing`` is for table rows
    # whose GPS failed): refused, naming the features
    missing = (gdf.geometry.isna() | gdf.geometry.is_empty).to_numpy()
    if missing.any():
        missing_rows = list(rows[missing])
        raise InputError(
            "error.tables.missing_geometry",
            file=label,
            rows=format_rows(missing_rows),
            count=len(missing_rows),
        )
    if gdf.crs is None:
        raise InputError("error.tables.no_crs", file=label)
    crs_name = gdf.crs.name
    gdf = gdf.set_geometry(shapely.force_2d(gdf.geometry.values)).to_crs(WGS84)
    _check_geo_bounds(gdf, rows, label, crs_name)
    if system != "wgs84":
        gdf = gdf.set_geometry(
            shapely.transform(gdf.geometry.values, _xy_to_wgs84(system)), crs=WGS84
        )
    gdf = gdf.reset_index(drop=True)
    gdf.attrs[COLUMNS_ATTR] = resolve_mapping(
        _without_positions(opts.columns), list(gdf.columns), file=label, layer=opts.layer_kind
    )
    gdf.attrs[SURVEY_ATTR] = None
    gdf.attrs[POSITION_ATTR] = {}
    return gdf


def _without_positions(columns: ColumnMapping | None) -> ColumnMapping | None:
    """A mapping without its position roles (a geodata file's positions are its geometry)."""
    if columns is None:
        return None
    roles = {r: h for r, h in columns.roles.items() if r not in POSITION_ROLES}
    return ColumnMapping(roles, columns.strict, columns.optional)


def _read_gpx_waypoints(path: Path, label: str) -> gpd.GeoDataFrame:
    """The waypoints of a GPX file (households, villages or services are waypoints).

    GDAL's GPX driver streams the file with expat (no DTD, no entities); a GPX that holds
    only tracks or routes is ``error.tables.gpx_no_waypoints``.
    """
    layers = dict(_list_layers(str(path), label))
    gdf = _read_layer(str(path), label, file=path, layer="waypoints") if layers else None
    if gdf is None or len(gdf) == 0:
        for other in ("tracks", "routes"):
            if other in layers and pyogrio.read_info(str(path), layer=other)["features"]:
                raise InputError("error.tables.gpx_no_waypoints", file=label)
        raise NoDataError("error.tables.no_features", file=label)
    # GDAL lists every GPX field whether the file uses it or not: keep the used ones
    keep = [c for c in gdf.columns if c == "geometry" or gdf[c].notna().any()]
    return gdf[keep]


def _read_ovital(path: Path, kind: str, label: str) -> gpd.GeoDataFrame:
    """An 奥维 (Ovital) ``.ovkml`` (KML text) or ``.ovkmz`` (a zip holding KML), read as KML.

    GDAL picks its KML driver by extension, so the file is read through a copy named
    ``.kml``/``.kmz`` in a private temporary folder; an Ovital file in Ovital's own binary
    format is ``error.tables.ovital_not_kml``.
    """
    if kind == "ovkmz":
        if not zipfile.is_zipfile(path):
            raise InputError("error.tables.ovital_not_kml", file=label)
        with zipfile.ZipFile(path) as archive:
            if not any(n.lower().endswith(".kml") for n in archive.namelist()):
                raise InputError("error.tables.ovital_not_kml", file=label)
    else:
        with path.open("rb") as f:
            head = f.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
        if not (head.startswith(b"<?xml") or head.startswith(b"<kml")):
            raise InputError("error.tables.ovital_not_kml", file=label)
    with tempfile.TemporaryDirectory(prefix="gapmapper-ovital-") as folder:
        copy = Path(folder) / ("ovital.kmz" if kind == "ovkmz" else "ovital.kml")
        shutil.copyfile(path, copy)
        return _read_kml(copy, label)


#: A JSON ``\\u0000`` escape (not one whose backslash is itself escaped).
_JSON_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")
#: A JSON surrogate pair escape (``\\ud83d\\ude00``): a character beyond U+FFFF.
_JSON_PAIR = re.compile(rb"\\u([dD][89abAB][0-9a-fA-F]{2})\\u([dD][c-fC-F][0-9a-fA-F]{2})")


def _check_json_text(path: Path, label: str) -> bool:
    """Scan a GeoJSON text for what GDAL would read wrongly without a word.

    Raises ``error.tables.nul_character`` for ``\\u0000`` (GDAL reads strings as C strings,
    so ``"a\\u0000b"`` arrives as ``"a"``). Returns True when the text escapes a character
    beyond U+FFFF whose last 16 bits fall in D800-DFFF (rare Chinese characters such as
    U+2D800 among them): GDAL 3.12 turns those into U+FFFD, so the file must be read
    through a copy that writes them as UTF-8 (:func:`_unescaped_json`). Chunks overlap so
    an escape across two is found.
    """
    tail = b""
    mangled = False
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK_BYTES):
            text = tail + chunk
            if _JSON_NUL.search(text):
                raise InputError("error.tables.nul_character", file=label)
            for m in _JSON_PAIR.finditer(text):
                high, low = int(m.group(1), 16), int(m.group(2), 16)
                point = 0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00)
                mangled = mangled or 0xD800 <= (point & 0xFFFF) <= 0xDFFF
            tail = chunk[-64:]
    return mangled


def _unescaped_json(path: Path, folder: Path) -> Path:
    """A copy of a JSON file in ``folder`` with every character written as UTF-8."""
    with path.open("rb") as f:
        data = json.load(f)
    copy = folder / (path.stem + ".geojson")
    with copy.open("w", encoding="utf-8") as f:
        json.dump(data, f, ensure_ascii=False)
    return copy


def _xy_to_wgs84(system: str) -> Callable[[np.ndarray], np.ndarray]:
    def convert(xy: np.ndarray) -> np.ndarray:
        x, y = to_wgs84(xy[:, 0], xy[:, 1], system)
        return np.column_stack([x, y])

    return convert


def _check_geo_bounds(gdf: gpd.GeoDataFrame, rows: pd.Series, label: str, crs: str) -> None:
    bounds = gdf.geometry.bounds.to_numpy()
    with np.errstate(invalid="ignore"):
        ok = gdf.geometry.isna().to_numpy() | (
            np.isfinite(bounds).all(axis=1)
            & (bounds[:, 0] >= -180.0)
            & (bounds[:, 2] <= 180.0)
            & (bounds[:, 1] >= -90.0)
            & (bounds[:, 3] <= 90.0)
        )
    if ok.all():
        return
    bad = ~ok
    big = np.isfinite(bounds).all(axis=1) & (np.abs(bounds) > 1000.0).any(axis=1)
    if big.sum() * 2 >= len(bounds):
        examples = [f"{_fmt(b[0])}, {_fmt(b[1])}" for b in bounds[big][:2]]
        raise InputError("error.tables.projected", file=label, examples="; ".join(examples))
    bad_rows = list(rows[bad])
    raise InputError(
        "error.tables.geo_out_of_range",
        file=label,
        crs=crs,
        rows=format_rows(bad_rows),
        count=len(bad_rows),
    )


def _read_layer(
    source: str,
    label: str,
    *,
    file: Path,
    layer: str | None = None,
    encoding: str | None = None,
) -> gpd.GeoDataFrame:
    kwargs: dict[str, object] = {}
    if layer is not None:
        kwargs["layer"] = layer
    if encoding is not None:
        kwargs["encoding"] = encoding
    try:
        with warnings.catch_warnings():
            # GDAL's notes on repaired files (duplicate feature ids, odd field types) come
            # through as warnings; the file was read, and they are nothing a user can act on.
            warnings.simplefilter("ignore", RuntimeWarning)
            warnings.simplefilter("ignore", UserWarning)
            gdf = pyogrio.read_dataframe(source, **kwargs)
    except pyogrio.errors.DataSourceError as exc:
        raise _not_readable(label, library_detail(exc, file, label)) from exc
    if not isinstance(gdf, gpd.GeoDataFrame) or gdf.geometry.name not in gdf.columns:
        raise _not_readable(label, "no geometry column")
    return gdf


def _list_layers(path: str, label: str) -> list[tuple[str, str | None]]:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            layers = pyogrio.list_layers(path)
    except pyogrio.errors.DataSourceError as exc:
        raise _not_readable(label, library_detail(exc, path, label)) from exc
    return [(str(name), geom) for name, geom in layers]


def _gpkg_layer(path: Path, label: str, layer: str | None) -> str:
    layers = _list_layers(str(path), label)
    if not layers:
        raise NoDataError("error.tables.no_features", file=label)
    names = [name for name, _ in layers]
    if layer is not None:
        if layer not in names:
            raise InputError(
                "error.tables.layer_not_found", file=label, layer=layer, layers=", ".join(names)
            )
        return layer
    spatial = [name for name, geom in layers if geom]
    return spatial[0] if spatial else names[0]


def _read_kml(path: Path, label: str) -> gpd.GeoDataFrame:
    """Every folder (GDAL layer) of a KML or KMZ, concatenated, with a ``folder`` column.

    ExtendedData keeps its own field names: GDAL's LIBKML driver launders them to ASCII by
    default (``户号`` -> ``______``, so a households file lost its columns), which its
    ``LIBKML_LAUNDER_FIELD_NAMES`` option turns off. The placemark's ``id`` attribute is
    renamed :data:`KML_ID`. libkml refuses any DTD (no entity expansion, no external
    entities); a KMZ is a zip, checked like one before this.
    """
    pyogrio.set_gdal_config_options({"LIBKML_LAUNDER_FIELD_NAMES": "NO"})
    frames = []
    for name, _ in _list_layers(str(path), label):
        gdf = _read_layer(str(path), label, file=path, layer=name)
        if len(gdf):
            gdf["folder"] = name
            frames.append(gdf)
    if not frames:
        raise NoDataError("error.tables.no_features", file=label)
    crs = frames[0].crs
    gdf = gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs=crs)
    if "id" in gdf.columns and KML_ID not in gdf.columns:
        gdf = gdf.rename(columns={"id": KML_ID})
    return gdf


_SHP_PARTS = (".shx", ".dbf")


def _shapefile_in_zip(path: Path, label: str) -> str:
    """The member name of the one Shapefile (.shp) in a zip, after checking its parts."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = [
                n
                for n in archive.namelist()
                if not n.endswith("/") and not n.startswith("__MACOSX/")
            ]
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise _not_readable(label, library_detail(exc, path, label)) from exc
    shapefiles = sorted(n for n in names if n.lower().endswith(".shp"))
    if not shapefiles:
        raise InputError(
            "error.tables.zip_no_shapefile",
            file=label,
            contents=_short(", ".join(names) or "-", 200),
        )
    if len(shapefiles) > 1:
        raise InputError(
            "error.tables.zip_several_shapefiles", file=label, shapefiles=", ".join(shapefiles)
        )
    shp = shapefiles[0]
    stem = shp[:-4]
    _check_shapefile_parts(label, shp, {n.lower() for n in names}, stem)
    return shp


def _check_shapefile_parts(label: str, shp: str, names: set[str], stem: str) -> None:
    """Raise when .shx/.dbf are missing (names: lower-case member names), or .prj is."""
    missing = [ext for ext in _SHP_PARTS if (stem + ext).lower() not in names]
    if missing:
        raise InputError(
            "error.tables.zip_missing_part", file=label, shp=shp, missing=", ".join(missing)
        )
    if (stem + ".prj").lower() not in names:
        raise InputError("error.tables.no_crs", file=label)


def _dbf_encoding_in_zip(path: Path, member: str) -> str | None:
    """``None`` (let GDAL decide) unless the .dbf has no .cpg and its text is not UTF-8.

    Chinese GIS software often writes GBK attribute tables without a .cpg file, which GDAL
    would then decode as Latin-1 into mojibake; when the records are not valid UTF-8 they
    are read as GB18030 (a superset of GBK). The records are streamed through an
    incremental decoder, a chunk at a time, never read whole.
    """
    stem = member[:-4]
    with zipfile.ZipFile(path) as archive:
        lower = {n.lower(): n for n in archive.namelist()}
        if (stem + ".cpg").lower() in lower:
            return None
        with archive.open(lower[(stem + ".dbf").lower()]) as dbf:
            return _stream_encoding(dbf)


def _stream_encoding(dbf: io.BufferedIOBase) -> str | None:
    """``"GB18030"`` when a .dbf's records (after its header) are not UTF-8, else ``None``."""
    head = dbf.read(32)
    if len(head) < 32:
        return None
    (header_length,) = struct.unpack("<H", head[8:10])
    skip = header_length - len(head)
    while skip > 0:
        chunk = dbf.read(min(skip, _CHUNK_BYTES))
        if not chunk:
            return None
        skip -= len(chunk)
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        while chunk := dbf.read(_CHUNK_BYTES):
            decoder.decode(chunk)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return "GB18030"
    return None


_CHUNK_BYTES = 1 << 20


def _check_zip(path: Path, label: str) -> None:
    """Refuse a zip whose members would unzip past the limits, from its directory alone.

    Raises ``error.tables.zip_too_many_members``, ``error.tables.zip_too_large`` (with the
    largest size that fits) or ``error.tables.zip_ratio``; a damaged directory is
    ``error.tables.not_readable``.
    """
    count = _zip_member_count(path)
    if count is not None and count > MAX_ZIP_MEMBERS:
        raise InputError(
            "error.tables.zip_too_many_members", file=label, count=count, limit=MAX_ZIP_MEMBERS
        )
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise _not_readable(label, library_detail(exc, path, label)) from exc
    if len(infos) > MAX_ZIP_MEMBERS:
        raise InputError(
            "error.tables.zip_too_many_members",
            file=label,
            count=len(infos),
            limit=MAX_ZIP_MEMBERS,
        )
    total = sum(info.file_size for info in infos)
    if total > MAX_UNZIPPED_BYTES:
        largest = max(infos, key=lambda info: info.file_size)
        raise InputError(
            "error.tables.zip_too_large",
            file=label,
            size_mb=f"{total / 1024**2:.0f}",
            limit_mb=f"{MAX_UNZIPPED_BYTES / 1024**2:.0f}",
            member=f"{_short(largest.filename, 60)}, {largest.file_size / 1024**2:.0f} MB",
        )
    for info in infos:
        if info.file_size > RATIO_CHECK_BYTES:
            ratio = info.file_size / max(info.compress_size, 1)
            if ratio > MAX_ZIP_RATIO:
                raise InputError(
                    "error.tables.zip_ratio",
                    file=label,
                    member=_short(info.filename, 60),
                    ratio=f"{ratio:.0f}",
                    limit=MAX_ZIP_RATIO,
                )


def _zip_member_count(path: Path) -> int | None:
    """How many members a zip's end record declares (``None`` when it has none we can find).

    Read from the last 64 KiB before :class:`zipfile.ZipFile` lists them all as objects.
    """
    with path.open("rb") as f:
        f.seek(0, io.SEEK_END)
        size = f.tell()
        f.seek(max(0, size - 65_557))
        tail = f.read()
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) < at + 22:
        return None
    (entries,) = struct.unpack("<H", tail[at + 10 : at + 12])
    return None if entries == 0xFFFF else entries  # 0xFFFF: ZIP64, counted by ZipFile
