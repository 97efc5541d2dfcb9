"""What the service-gap mapper computes and draws from the layers.

- :mod:`mapping.settings` -- travel modes, speeds and thresholds, with where the defaults come from
- :mod:`mapping.network` -- the routing network (compact sparse arrays) and snapping to roads
- :mod:`mapping.access` -- road distance and time from every point to the nearest service
- :mod:`mapping.gaps` -- households to villages, and per-village service gaps with reasons
- :mod:`mapping.scenario` / :mod:`mapping.analysis` -- loading a study area and running it all
- :mod:`mapping.maps` -- folium maps; :mod:`mapping.cli` -- ``python -m mapping``

This package never imports streamlit.
"""
