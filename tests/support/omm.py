"""NOAA 19's elements of 2023-07-04 as a CCSDS OMM, in KVN and in XML (NDM),
shared by the element-format tests of orbital/ and of the ephemerides API."""

from __future__ import annotations

NOAA19_OMM_KVN = """CCSDS_OMM_VERS = 2.0
CREATION_DATE = 2023-07-04T17:00:00
ORIGINATOR = 18 SPCS
META_START
OBJECT_NAME = NOAA 19
OBJECT_ID = 2009-005A
CENTER_NAME = EARTH
REF_FRAME = TEME
TIME_SYSTEM = UTC
MEAN_ELEMENT_THEORY = SGP4
META_STOP
COMMENT the elements of the NOAA 19 TLE below
EPOCH = 2023-07-04T16:11:18.962592
MEAN_MOTION = 14.12780756 [rev/day]
ECCENTRICITY = .0013750
INCLINATION = 99.0983 [deg]
RA_OF_ASC_NODE = 231.8800 [deg]
ARG_OF_PERICENTER = 189.5465 [deg]
MEAN_ANOMALY = 170.5447 [deg]
EPHEMERIS_TYPE = 0
CLASSIFICATION_TYPE = U
NORAD_CAT_ID = 33591
ELEMENT_SET_NO = 999
REV_AT_EPOCH = 74241
BSTAR = .12938E-3 [1/ER]
MEAN_MOTION_DOT = .194E-5 [rev/day**2]
MEAN_MOTION_DDOT = 0 [rev/day**3]
"""


def omm_xml(kvn: str, norad_ids: tuple[str, ...] = ("33591",)) -> str:
    """The mean elements of ``kvn`` (a KVN OMM laid out as
    ``NOAA19_OMM_KVN``) as an XML NDM with one OMM per NORAD id."""
    lines = kvn.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("EPOCH"))
    fields = [line.split("=", 1) for line in lines[start:] if "=" in line]
    data = "".join(f"<{k.strip()}>{v.split('[')[0].strip()}</{k.strip()}>" for k, v in fields)
    message = (
        '<omm id="CCSDS_OMM_VERS" version="2.0">'
        "<header><CREATION_DATE>2023-07-04T17:00:00</CREATION_DATE></header><body><segment>"
        "<metadata><OBJECT_NAME>NOAA 19</OBJECT_NAME><OBJECT_ID>2009-005A</OBJECT_ID>"
        "<MEAN_ELEMENT_THEORY>SGP4</MEAN_ELEMENT_THEORY></metadata>"
        f"<data><meanElements>{data}</meanElements></data></segment></body></omm>"
    )
    body = "".join(message.replace("33591", norad_id) for norad_id in norad_ids)
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<ndm>{body}</ndm>'
