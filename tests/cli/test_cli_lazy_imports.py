"""The command line imports only the module of the subcommand given
(``groundstation.cli.COMMAND_OF``): ``decode`` loads no database, web or
Kafka module (issue 17, decode start-up). A reader that goes away (``| head``)
ends the command quietly."""

from __future__ import annotations

import argparse
import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from groundstation import cli

RECORDINGS = Path(__file__).resolve().parents[1] / "data" / "dsp" / "recordings"
GOLDEN_IQ = Path(__file__).resolve().parents[1] / "data" / "dsp" / "rs_sps2.cf32"
#: Modules of the database, the web API, Kafka, object storage, scheduling and settings.
NOT_FOR_DECODING = (
    "sqlalchemy",
    "alembic",
    "fastapi",
    "starlette",
    "uvicorn",
    "kafka",
    "boto3",
    "h5py",
    "apscheduler",
    "pydantic_settings",
    "groundstation.db",
    "groundstation.booking",
    "groundstation.settings",
    "api",
    "ingest.producer",
)
CHILD = """
import json, sys
from groundstation.cli import main
code = main(sys.argv[1:])
print(json.dumps({"code": code, "modules": sorted(sys.modules)}), file=sys.stderr)
"""


def test_command_of_names_the_module_of_every_subcommand() -> None:
    registered = {}
    for name in cli.COMMAND_MODULES:
        parser = argparse.ArgumentParser()
        sub = parser.add_subparsers()
        importlib.import_module(f"groundstation.commands.{name}").register(sub)
        registered.update(dict.fromkeys(sub.choices, name))
    assert registered == cli.COMMAND_OF


def decode_in_own_process(argv: list[str]) -> set[str]:
    """Runs ``groundstation decode argv`` in a fresh interpreter; the modules it loaded."""
    run = subprocess.run(
        [sys.executable, "-c", CHILD, "decode", *argv],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    report = json.loads(run.stderr.strip().splitlines()[-1])
    assert report["code"] == 0, run.stderr
    assert run.stdout.strip()  # frames came out
    return set(report["modules"])


@pytest.mark.parametrize(
    "argv",
    [
        (["--satellite", "FACSAT-1", "--iq", str(RECORDINGS / "facsat_1.wav")]),
        (["--satellite", "AO-73", "--iq", str(RECORDINGS / "ao73.wav"), "--json"]),
        (["--profile", "ccsds-bpsk-rs", "--iq", str(GOLDEN_IQ), "--sample-rate", "19200"]),
    ],
)
def test_decode_in_its_own_process_loads_no_database_web_or_kafka_module(
    argv: list[str],
) -> None:
    modules = decode_in_own_process(argv)
    loaded = {
        m for m in modules for root in NOT_FOR_DECODING if m == root or m.startswith(root + ".")
    }
    assert loaded == set()
    # only the decode/simulate module of the commands (and its process pool)
    assert {m for m in modules if m.startswith("groundstation.commands.")} <= {
        "groundstation.commands._context",
        "groundstation.commands.decode_pool",
        "groundstation.commands.dsp",
    }


def test_decoding_fsk_audio_does_not_load_scipy_signal() -> None:
    """scipy.signal's import alone took ~0.55 s of CPU, more than the FSK
    receiver spends on a 60-s recording (dsp.upsample replaces resample_poly)."""
    modules = decode_in_own_process(
        ["--satellite", "FACSAT-1", "--iq", str(RECORDINGS / "facsat_1.wav")]
    )
    assert "scipy.signal" not in modules
    assert "numba" in modules  # the same decode, its kernels loaded
    # nor scipy.special (the Kaiser window's i0), scipy.io (the WAV header) nor
    # multiprocessing (a recording this short is decoded in one process)
    assert not {"scipy.special", "scipy.io", "scipy.sparse", "multiprocessing"} & modules


def test_help_and_unknown_words_still_list_every_command(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert all(word in out for word in ("decode", "reserve", "serve-scheduler", "keys"))
    with pytest.raises(SystemExit) as exc:
        cli.main(["decod"])
    assert exc.value.code == 2
    assert "invalid choice: 'decod'" in capsys.readouterr().err


def test_a_reader_that_goes_away_ends_the_command_quietly_with_141() -> None:
    child = (
        "import argparse, sys\n"
        "from groundstation.cli import run_command\n"
        "def spew(args):\n"
        "    for i in range(200_000):\n"
        "        print(f'{i:08x}' * 8)\n"
        "    return 0\n"
        "sys.exit(run_command(argparse.Namespace(command='decode', func=spew)))\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", child], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.readline().startswith(b"00000000")
    proc.stdout.close()  # as `| head -1` does
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 141
    assert err == ""
