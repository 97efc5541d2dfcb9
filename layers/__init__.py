"""Data layers of the service-gap mapper and how they come in.

Every layer has one schema, written in its module's docstring and checked by its loader:

- :mod:`layers.villages` -- village points (and their areas where known)
- :mod:`layers.households` -- household points (sensitive: about children)
- :mod:`layers.services` -- kindergartens, schools (and childcare) as points
- :mod:`layers.osm` -- roads, services, villages and boundaries from a local OSM file
- :mod:`layers.overpass` -- the same from the Overpass API (the only module that uses the network)
- :mod:`layers.tables` -- user files (CSV, XLSX, GeoJSON, GPKG, zipped Shapefile, KML/KMZ,
  GPX waypoints, 奥维 .ovkml/.ovkmz)
- :mod:`layers.survey` -- KoboToolbox and ODK Central exports: geopoints, groups, metadata
- :mod:`layers.columns` -- which column is which (``--columns``, the app's mapping step)
- :mod:`layers.coords` -- WGS84 / GCJ-02 / BD-09 and the local projected CRS
- :mod:`layers.editing` -- workshop edits (add, move, delete, attributes), validated
- :mod:`layers.roads` -- road segments as arrays, the contract with the routing network
- :mod:`layers.errors` / :mod:`layers.i18n` -- the error family and the translation table

This package never imports :mod:`mapping` nor streamlit.
"""
