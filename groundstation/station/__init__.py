"""A station's exchangeable hardware parts, each a leaf with a small interface.

- :mod:`.hamlib`: the line protocol of hamlib's network daemons (rotctld, rigctld).
- :mod:`.rotator`: antenna control over rotctld; :mod:`.pointing` maps a
  predicted track onto a rotator's axes (limits, cable wrap, flip);
  :mod:`.tracker` points along it in time.
- :mod:`.rig`: radio control over rigctld, Doppler-corrected tuning.

Nothing here is wired into the contact executor yet (issue 13).
"""
