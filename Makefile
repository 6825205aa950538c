# The two set-up commands of the README: `make run` (the main job) and `make test` (the test suite).
PYTHON ?= python3
PIP := $(PYTHON) -m pip
# A plain `pip install torch` pulls a multi-GB CUDA build. Machines without an NVIDIA GPU pin
# the CPU build 2.13.0 (served from local files on the project's CPU machines); machines with
# one take the newest torch that pyproject.toml allows. Override with `make run TORCH=...`.
TORCH ?= $(if $(shell command -v nvidia-smi 2>/dev/null),torch,torch==2.13.0)

.PHONY: install install-test run test

install:
	$(PIP) install --quiet "$(TORCH)" -e .

# the tests validate the native Audio Commons features against the original package (an oracle),
# train with Weights & Biases offline, and run sweep workers on a PostgreSQL study
install-test:
	$(PIP) install --quiet "$(TORCH)" -e ".[test,timbral,wandb,postgres]"
	$(PIP) install --quiet --no-deps timbral_models==0.4.0

# the main job (spinvae quickstart): build the in-repo DX7 banks (no timbre features), evaluate the shipped model
# against parameter interpolation on their test split, write the HTML report and a morph bank; `make run SYX=my_cartridges/`
# evaluates it on your own .syx files, fine-tunes it on them for a few minutes and reports both
run: install
	spinvae quickstart $(if $(SYX),--files $(SYX))

test: install-test
	$(PYTHON) -m pytest
