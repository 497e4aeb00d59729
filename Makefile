# One entry point per job. `make test` and `make demo` install what they need first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check
STAMP := $(VENV)/.mmgen_det-installed
REQS := requirements/build.txt requirements/mmcv.txt requirements/runtime.txt requirements/tests.txt setup.py
PYTEST_ARGS ?=
# worker processes for `make test` (pytest-xdist; tests/conftest.py splits the cores between them)
TEST_WORKERS ?= 2
DEMO_WORK_DIR ?= work_dirs/demo
GENERATOR ?= copy-paste
DEMO_DEVICE ?= cpu

.PHONY: install browser test demo bench bench-accuracy clean

install: $(STAMP)
	@$(PY) -c "import torch, mmcv, mmcv.ops, mmdet, mmgen_det; \
	print(f'mmgen_det {mmgen_det.__version__}: torch {torch.__version__}, mmcv {mmcv.__version__} (ops OK), mmdet {mmdet.__version__}')"

# Order matters (docs/get_started.md): torch first, setuptools<82, mmcv compiled against that torch,
# then the rest. pip caches the mmcv wheel by mmcv's version only, so a wheel built against another
# torch is detected (mmcv.ops fails to import) and rebuilt without the cache. mmcv's ops compile
# without debug information (-g0 overrides Python's -g): the same code, several times faster to build.
MMCV_BUILD := MMCV_WITH_OPS=1 CFLAGS="$(CFLAGS) -g0"
$(STAMP): $(REQS)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -r requirements/build.txt
	$(PY) -c "import mmcv.ops" 2>/dev/null || $(MMCV_BUILD) $(PIP) install --no-build-isolation -r requirements/mmcv.txt
	$(PY) -c "import mmcv.ops" 2>/dev/null || $(MMCV_BUILD) $(PIP) install --no-build-isolation \
		--no-cache-dir --force-reinstall --no-deps -r requirements/mmcv.txt
	$(PIP) install -r requirements/runtime.txt -r requirements/tests.txt
	$(PIP) install --no-build-isolation --no-deps -e .
	$(PY) -m pip check
	touch $(STAMP)

# Chromium and chromedriver for the tests that open the HTML gallery in a browser, from the
# distribution's packages where the machine allows it (root and apt-get); elsewhere those tests skip,
# saying why, and `make test` goes on.
browser:
	@if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then \
		echo "browser: $$(command -v chromium) and $$(command -v chromedriver)"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver) \
			|| echo "browser: apt-get could not install chromium; the browser tests will skip"; \
	else \
		echo "browser: no chromium, and no root with apt-get to install it; the browser tests will skip"; \
	fi

test: install browser
	$(PY) -m pytest tests -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

# The shipped sample through the same one command a user runs on their own data; the mixed arm is left
# out to keep it short on 2 cores (DEMO_ARMS="real-only synthetic-pretrain mixed compute-matched" adds it;
# the measured time: docs/experiments.md#the-demo-make-demo).
DEMO_ARMS ?= real-only synthetic-pretrain compute-matched
demo: install
	$(PY) tools/run_experiment.py --data data/fish4knowledge-mini --device $(DEMO_DEVICE) --generator $(GENERATOR) \
		--arms $(DEMO_ARMS) --work-dir $(DEMO_WORK_DIR)

bench: install
	$(PY) benchmarks/run_all.py

# Real-only vs generated data by number of real images on the full Fish4Knowledge, raccoon and aquarium sets
# (paths: FISH=, RACCOON=, AQUARIUM=); every stage cached in work_dirs/bench_accuracy, so a rerun resumes.
FISH ?= ../shared/data/fish4knowledge
RACCOON ?= ../shared/data/raccoon
AQUARIUM ?= ../shared/data/aquarium
bench-accuracy: install
	$(PY) benchmarks/bench_accuracy.py --fish $(FISH) --raccoon $(RACCOON) --aquarium $(AQUARIUM) $(BENCH_ARGS)

clean:
	rm -rf $(VENV) build *.egg-info
