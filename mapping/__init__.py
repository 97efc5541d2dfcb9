"""What the service-gap mapper computes and draws from the layers.

- :mod:`mapping.settings` -- travel modes, speeds and thresholds, with where the defaults come from
- :mod:`mapping.network` -- the routing network (compact sparse arrays) and snapping to roads
- :mod:`mapping.netcache` -- a disk cache of read extracts and built networks
- :mod:`mapping.access` -- road distance and time from every point to the nearest service
- :mod:`mapping.routing` -- virtual source nodes and cost pairs between many sources and points
- :mod:`mapping.gaps` -- households to villages, and per-village service gaps with reasons
- :mod:`mapping.scenario` / :mod:`mapping.analysis` -- loading a study area and running it all
- :mod:`mapping.coorddetect` -- which coordinate system a user's file is in, told by the roads
- :mod:`mapping.whatif` -- proposed services, before and after
- :mod:`mapping.planning` / :mod:`mapping.capacity` / :mod:`mapping.coverage` -- where new
  services should go, places per child (2SFCA), coverage bands and service areas
- :mod:`mapping.maps` / :mod:`mapping.printmap` -- the offline HTML map and the printable map
- :mod:`mapping.export` / :mod:`mapping.project` -- tables, GeoPackages, workshop projects
- :mod:`mapping.cli` -- ``python -m mapping analyze|plan``

This package never imports streamlit.
"""
