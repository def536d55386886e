"""Run /usr/bin/gr_satellites under the system Python (not the venv) after
aliasing the GNU Radio 3.10 names that Debian 12's gr-satellites 4.4 still
looks for in gnuradio.blocks (their new homes: gr.types and gnuradio.pdu).
Usage: /usr/bin/python3 grsat_run.py <gr_satellites arguments>"""

import runpy
import sys

from gnuradio import blocks, gr, pdu

for name, target in (
    ("byte_t", gr.types.byte_t),
    ("tagged_stream_to_pdu", pdu.tagged_stream_to_pdu),
    ("pdu_to_tagged_stream", pdu.pdu_to_tagged_stream),
):
    if not hasattr(blocks, name):
        setattr(blocks, name, target)

sys.argv = ["gr_satellites", *sys.argv[1:]]
runpy.run_path("/usr/bin/gr_satellites", run_name="__main__")
