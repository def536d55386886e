"""The sample data ``groundstation demo`` runs on, shipped inside the package
(read with ``importlib.resources.files(__name__)``).

In the repository these files are symbolic links to ``sample_tles/`` at its
top, the one copy kept by hand (see ``sample_tles/README.md``); building the
sdist and the wheel copies their contents into the package.

- ``weather.tle``: the weather and Earth-observation satellites' elements
  (CelesTrak, 2023-07-04).
- ``stations.yaml``: six ground-station sites with their horizon masks.

The demo's mission profile is defined in ``groundstation.commands.demo``.
"""
