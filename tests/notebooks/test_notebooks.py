"""The tutorial notebooks of notebooks/: committed without outputs, and running end to end on a tiny dataset.

The notebooks run in order, as a user runs them, from the notebooks folder, with their
settings (environment variables) pointing at the ``tiny_dataset`` fixture and a temporary output
folder: notebook 2 trains one epoch and saves the checkpoint that notebook 3 reads; notebook 4 renders
five soundfont notes, matches them with 10 steps, builds a dataset of them and 48 procedural presets,
trains one epoch and morphs between two of the notes. They share one
kernel to save two start-ups (torch, lightning and the feature worker processes take most of a
minute to start on a loaded machine), with the namespace cleared (``%reset -f``) before each one, so
that a notebook that leaned on another's variables or imports would still fail.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pandas as pd
import pytest
import soundfile

from spinvae.synth.dx7.schema import voice_name
from spinvae.synth.dx7.sysex import read_sysex

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
ORDER = ["01_explore_dataset.ipynb", "02_train_small_model.ipynb", "03_interpolate_and_edit.ipynb",
         "04_match_and_morph_recordings.ipynb"]
CELL_TIMEOUT_S = 240
# run before each notebook: an empty namespace, as in a fresh kernel (where __spec__ and its kin are None:
# %reset drops them, and multiprocessing's spawn reads __spec__), and which Python the kernel runs
FRESH_NAMESPACE = """%reset -f
__spec__ = __loader__ = __package__ = None
print(__import__("sys").executable)"""


def test_the_notebooks_are_the_four_tutorials():
    assert sorted(p.name for p in NOTEBOOKS.glob("*.ipynb")) == ORDER


@pytest.mark.parametrize("name", sorted(p.name for p in NOTEBOOKS.glob("*.ipynb")))
def test_committed_notebook_has_no_outputs(name):
    nbformat = pytest.importorskip("nbformat", reason="nbformat is in the test extra: pip install -e '.[test]'")
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    nbformat.validate(notebook)
    dirty = [i for i, cell in enumerate(notebook.cells)
             if cell.cell_type == "code" and (cell.outputs or cell.execution_count is not None)]
    assert not dirty, (f"notebooks/{name}: code cells {dirty} hold outputs or execution counts; strip them with "
                       f"`jupyter nbconvert --clear-output --inplace notebooks/{name}`")
    assert notebook.metadata.kernelspec.name == "python3"


def _python3_kernel_or_skip() -> None:
    for module in ("nbclient", "nbformat", "ipykernel"):
        pytest.importorskip(module, reason=f"{module} is in the test extra: pip install -e '.[test]'")
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        KernelSpecManager().get_kernel_spec("python3")
    except NoSuchKernel:
        pytest.skip("no 'python3' Jupyter kernel: ipykernel, installed in this environment, normally provides it")


def _outputs(notebook, mime: str) -> list[str]:
    return [output["data"][mime] for cell in notebook.cells if cell.cell_type == "code"
            for output in cell.outputs if mime in output.get("data", {})]


def test_notebooks_run_in_order_on_a_tiny_dataset(tiny_dataset, tmp_path):
    _python3_kernel_or_skip()
    import nbformat
    from jupyter_client.manager import KernelManager
    from nbclient import NotebookClient

    from spinvae.audio.soundfont import soundfont_available

    order = ORDER
    if reason := soundfont_available():
        print(f"notebook 4 not run (it records its notes from the soundfont): {reason}")
        order = ORDER[:3]
    out = tmp_path / "out"
    settings = {"SPINVAE_DATA": str(tiny_dataset), "SPINVAE_OUT": str(out), "SPINVAE_EPOCHS": "1",
                "SPINVAE_PROCEDURAL": "48", "SPINVAE_MATCH_STEPS": "10"}
    before = sorted(p.relative_to(NOTEBOOKS) for p in NOTEBOOKS.rglob("*"))
    kernel = KernelManager(kernel_name="python3")
    kernel.start_kernel(cwd=str(NOTEBOOKS), env=os.environ | settings)  # Jupyter runs a notebook in its folder
    executed = {}
    try:
        for name in order:
            notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
            notebook.cells.insert(0, nbformat.v4.new_code_cell(FRESH_NAMESPACE))
            try:
                NotebookClient(notebook, km=kernel, timeout=CELL_TIMEOUT_S).execute()
            finally:
                nbformat.write(notebook, tmp_path / name)  # the executed notebook, to read when something fails
            assert notebook.cells[0].outputs[0]["text"].strip() == sys.executable, "the kernel runs another Python"
            executed[name] = notebook
    finally:
        kernel.shutdown_kernel(now=True)

    for name, notebook in executed.items():
        assert _outputs(notebook, "image/png"), f"{name}: no picture"
    for name in (ORDER[0], ORDER[2]):
        assert any("<audio" in html for html in _outputs(executed[name], "text/html")), f"{name}: no audio player"

    assert (out / "small_model.ckpt").is_file()
    bank = read_sysex(out / "interpolation" / "model" / "interpolation.syx")
    assert len(bank.params) == 32
    assert [voice_name(voice).strip() for voice in bank.params[:9]] == [f"MORPH {i}" for i in range(1, 10)]
    assert len((out / "edit" / "attribute.csv").read_text().splitlines()) == 1 + 9
    assert sorted(p.relative_to(NOTEBOOKS) for p in NOTEBOOKS.rglob("*")) == before, "a notebook wrote into notebooks/"
    if len(order) < len(ORDER):
        return
    assert any("<audio" in html for html in _outputs(executed[ORDER[3]], "text/html")), "notebook 4: no audio player"
    matches = pd.read_csv(out / "matched" / "matches.csv")
    assert len(matches) == 5 and matches["reason"].isna().all()
    manifest = json.loads((out / "recordings_dataset" / "manifest.json").read_text())
    fitted = [s for s in manifest["sources"] if "fit_distance" in s]
    assert len(fitted) == 5 and all(s["fit_distance"] < 1.0 for s in fitted)
    assert (out / "recordings_model.ckpt").is_file()
    steps = sorted((out / "recordings_morph").glob("step_*.wav"))
    attributes = pd.read_csv(out / "recordings_morph" / "attributes.csv")
    assert len(steps) == len(attributes) > 7  # the 7 steps and the extrapolated ones
    assert attributes["u"].min() == pytest.approx(-0.5) and attributes["u"].max() == pytest.approx(1.5)
    assert soundfile.info(steps[0]).samplerate == 48000
