# The two commands of the README: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DEMO := demo-data
LOOKALIKE := $(BIN)/lookalike --db $(DEMO)/lookalike.db

.PHONY: demo test screenshots bench bench-copies bench-crops bench-scale bench-startup bench-video bench-train train-copy-model install browser test-data clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# The demo needs the package alone; the tests also exercise training (torch, CPU build) and
# the benchmark code with its peers (imagededup with --no-deps: its hashing needs none of its
# torch dependencies).
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[formats,video]'
	touch $@

$(VENV)/.test-installed: $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e '.[test,train,bench,formats,video]'
	$(BIN)/python -m pip install --quiet --no-deps 'imagededup==0.3.3.post2'
	touch $@

install: $(VENV)/.installed

demo: install
	$(BIN)/python -m lookalike.demo $(DEMO)
	$(LOOKALIKE) index $(DEMO)/gallery --label-from prefix
	$(LOOKALIKE) search $(DEMO)/queries/astronaut-rot90.jpg -k 5
	$(LOOKALIKE) search $(DEMO)/queries/coffee-crop80.jpg -k 5
	$(LOOKALIKE) compare $(DEMO)/gallery/chelsea.png $(DEMO)/queries/chelsea-jpeg15.jpg || true
	$(LOOKALIKE) duplicates

# The web page's end-to-end tests drive Debian's Chromium (installed here when we are root).
browser:
	@command -v chromium >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null; \
	  else echo "browser tests will be skipped: install Debian's chromium (sudo apt-get install chromium)"; fi; }

# Real images from Debian packages: opencv-doc's same-object pairs for the keypoint tests,
# wallpapers, clip art and Fashion-MNIST for the benchmark code's own tests. Installed here
# when we are root; otherwise those tests are skipped with the apt-get line to run.
TEST_PACKAGES := opencv-doc mate-backgrounds plasma-workspace-wallpapers openclipart-png tuxpaint-stamps-default dataset-fashion-mnist lomiri-wallpapers ukui-wallpapers
test-data:
	@missing=$$(for p in $(TEST_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	  else echo "tests on real photos will be skipped: sudo apt-get install --no-install-recommends" $$missing; fi; \
	fi

test: $(VENV)/.test-installed browser test-data
	$(BIN)/python -m pytest

# The README's pictures of the web page, drawn again by the browser test.
screenshots: $(VENV)/.test-installed browser
	LOOKALIKE_REDRAW_SCREENSHOTS=1 $(BIN)/python -m pytest -q tests/server/test_page.py -k readme_screenshots

# Long: prepares real data sets from Debian packages (installed when we are root), measures
# lookalike and its peers, and rewrites docs/benchmarks.md. Not part of `make test`.
bench: $(VENV)/.test-installed test-data
	$(BIN)/python -m bench.run

# Copy detection against hard negatives (every distractor of the sources' kind): lookalike
# and the raw CNN embedding, per gallery and edit kind (docs/copies.md). Also part of `make bench`.
bench-copies: $(VENV)/.test-installed test-data
	$(BIN)/python -m bench.copies

# Heavy crops, pastes and other viewpoints, with and without regions and keypoint
# verification (tables for docs/crops-and-views.md). Prepares the data like `make bench`.
bench-crops: $(VENV)/.test-installed test-data
	$(BIN)/python -m bench.crops

# A million items on one machine: peak RSS serving, index recall and latency, duplicates;
# then indexing into a real Milvus server in one process and on a Dask cluster of 1 and 2
# workers, and the cluster size for 100 million images (bench.cluster).
# `make bench` measures the same within its speed part; this runs only those figures.
bench-scale: $(VENV)/.test-installed
	$(BIN)/python -m bench.scale
	$(BIN)/python -m bench.cluster

# Issue 20: start-up of `lookalike --help`, `info` and `remove` next to a bare numpy + Pillow
# import, a cold `search` on 10,000 images (the speed benchmark's stores, built if missing)
# and cached thumbnails from `lookalike serve`. Also part of `make bench`.
bench-startup: $(VENV)/.test-installed test-data
	$(BIN)/python -m bench.startup

# Indexing cost per minute of video (slideshows of real photos, 720p and 360p): the Video
# section of docs/benchmarks.md. Also part of `make bench`.
bench-video: $(VENV)/.test-installed
	$(BIN)/python -m bench.video

# Long: trains siamese / autoencoder / texture models on Fashion-MNIST and real photos and
# rewrites the before/after table in docs/training.md.
bench-train: $(VENV)/.test-installed test-data
	$(BIN)/python -m bench.train

# The copy descriptor shipped in src/lookalike/models/weights/ (model card: docs/copy-descriptor.md):
# ~90 minutes on 2 cores, resumable (run it again after a stop). Trained only on these
# packages' pictures, none of which the benchmarks use (they use MATE and Plasma wallpapers,
# opencv-doc, scikit-image, openclipart's animals and food, Fashion-MNIST's test split);
# stellarium-data and gimp-data are kept for independent evaluation.
COPY_TRAIN_PACKAGES := gnome-backgrounds ukui-wallpapers lomiri-wallpapers lomiri-wallpapers-16.04 lomiri-wallpapers-20.04 sway-backgrounds desktop-base openclipart-png wesnoth-1.16-data extremetuxracer-data dataset-fashion-mnist
CLIPART_TRAIN := buildings buttons computer containers decorations education electronics geography logos office people plants recreation science shapes signs_and_symbols special tools transportation unsorted
WESNOTH_IMAGES := /usr/share/games/wesnoth/1.16/data/core/images
COPY_TRAIN_SOURCES = /usr/share/backgrounds/gnome /usr/share/backgrounds/sway $(wildcard /usr/share/backgrounds/*.jpg /usr/share/backgrounds/*.png) \
  /usr/share/desktop-base $(addprefix /usr/share/openclipart/png/,$(CLIPART_TRAIN)) \
  $(WESNOTH_IMAGES)/portraits $(WESNOTH_IMAGES)/story $(WESNOTH_IMAGES)/maps /usr/share/games/etr/textures /usr/share/games/etr/terrains
COPY_MODEL := src/lookalike/models/weights/copy_lite0.npz
train-copy-model: $(VENV)/.test-installed
	@missing=$$(for p in $(COPY_TRAIN_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; fi
	$(BIN)/lookalike train copy-descriptor $(COPY_TRAIN_SOURCES) --idx /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz --out $(COPY_MODEL) --steps 1000 $(COPY_TRAIN_FLAGS)

clean:
	rm -rf $(VENV) $(DEMO) .pytest_cache
