"""Converters for Im2GPS3k, YFCC4k, CV-Cities, CVUSA and VIGOR on fixtures in their exact on-disk formats."""

import logging

import pytest
from PIL import Image

from geor1.data.converters import get_converter
from geor1.data.schema import SchemaError, load_dataset
from geor1.geo import destination, haversine_km


def image(path, size=(32, 16), color=(90, 120, 60)):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, color).save(path)


# ---------------------------------------------------------------------------------------------
# Im2GPS3k / YFCC4k

IM2GPS_HEADER = "IMG_ID,AUTHOR,LAT,LON,S3_Label,S16_Label,S365_Label,Prob_indoor,Prob_natural,Prob_urban"
IM2GPS_ROWS = [  # records of the real im2gps3k_places365.csv (values latitude, longitude)
    ("1023756068_20c3ffc329_1039_70323761@N00.jpg", "70323761@N00", 40.807694, -73.962262, "2,14,364"),
    ("104132709_97b998c989_41_19355699@N00.jpg", "19355699@N00", -33.861328, 151.209039, "2,12,273"),
    ("1021054395_ca7cfe55b3_1061_7132415@N03.jpg", "7132415@N03", -0.400997, -90.704498, "1,6,191"),
]


def write_im2gps(root, header=IM2GPS_HEADER, rows=IM2GPS_ROWS, swap=False, name="im2gps3k_places365.csv",
                 image_dir="im2gps3ktest"):
    lines = [header]
    for img_id, author, lat, lon, labels in rows:
        a, b = (lon, lat) if swap else (lat, lon)
        lines.append(f"{img_id},{author},{a},{b},{labels},0.0159,0.0089,0.9751")
        image(root / image_dir / img_id, size=(40, 30))
    (root / name).write_text("\n".join(lines) + "\n")
    return root


def test_im2gps3k(tmp_path):
    src, out = write_im2gps(tmp_path / "src"), tmp_path / "out"
    assert get_converter("im2gps3k")(src, out) == 3
    ds = load_dataset(out)
    assert [s.gps[0] for s in ds] == [[r[2], r[3]] for r in IM2GPS_ROWS]
    s = ds[0]
    assert (s.task, s.id, s.source, s.split, s.width, s.height) == ("geoloc", IM2GPS_ROWS[0][0], "im2gps3k", "test",
                                                                   40, 30)
    assert s.images == [f"images/{IM2GPS_ROWS[0][0]}"] and s.meta == {"author": "70323761@N00"}
    assert (out / s.images[0]).stat().st_ino == (src / "im2gps3ktest" / IM2GPS_ROWS[0][0]).stat().st_ino


def test_im2gps3k_old_lon_lat_header_is_detected(tmp_path, caplog):
    # The pre-2020 copies say LON,LAT over the very same latitude-first values.
    src = write_im2gps(tmp_path / "src", header=IM2GPS_HEADER.replace("LAT,LON", "LON,LAT"))
    with caplog.at_level(logging.WARNING):
        get_converter("im2gps3k")(src, tmp_path / "out")
    assert "holds latitudes" in caplog.text
    assert [s.gps[0] for s in load_dataset(tmp_path / "out")] == [[r[2], r[3]] for r in IM2GPS_ROWS]


def test_im2gps3k_truly_longitude_first_file(tmp_path, caplog):
    src = write_im2gps(tmp_path / "src", header=IM2GPS_HEADER.replace("LAT,LON", "LON,LAT"), swap=True)
    with caplog.at_level(logging.WARNING):
        get_converter("im2gps3k")(src, tmp_path / "out")
    assert "reading longitude first" in caplog.text
    assert [s.gps[0] for s in load_dataset(tmp_path / "out")] == [[r[2], r[3]] for r in IM2GPS_ROWS]
    # An explicit order overrides the detection.
    get_converter("im2gps3k")(src, tmp_path / "out2", coords="lon,lat")
    assert load_dataset(tmp_path / "out2")[1].gps[0] == [IM2GPS_ROWS[1][2], IM2GPS_ROWS[1][3]]


def test_yfcc4k(tmp_path):
    rows = [("25935894.jpg", "12345@N00", 35.6895, 139.69171, "2,11,12"),
            ("10010434.jpg", "99999@N01", 64.139968, -21.918754, "1,6,350")]
    src = write_im2gps(tmp_path / "src", rows=rows, name="yfcc4k_places365.csv", image_dir="images")
    assert get_converter("yfcc4k")(src, tmp_path / "out") == 2
    ds = load_dataset(tmp_path / "out")
    assert [s.source for s in ds] == ["yfcc4k"] * 2 and ds[1].gps == [[64.139968, -21.918754]]


@pytest.mark.parametrize("edit, message", [
    (lambda t: t.replace("40.807694", "north"), r"im2gps3k_places365.csv:2: field 'LAT': not a number: 'north'"),
    (lambda t: t.replace("-33.861328", "-93.861328"), r":3: field 'LAT': latitude -93.861328 outside \[-90, 90\]"),
    (lambda t: t.replace("151.209039", "191.2"), r":3: field 'LON': longitude 191.2 outside"),
    (lambda t: t.replace("IMG_ID,AUTHOR,LAT,LON", "ID,USER,LAT,LON"), r":1: header must start IMG_ID,AUTHOR,LAT,LON"),
    (lambda t: t.replace("104132709_97b998c989_41_19355699@N00.jpg", "1023756068_20c3ffc329_1039_70323761@N00.jpg"),
     r":3: field 'IMG_ID': duplicate IMG_ID"),
    (lambda t: t.replace(",-0.400997,-90.704498,1,6,191,0.0159,0.0089,0.9751", ",-0.400997"),
     r":4: field 'LON': record has 3 columns"),
    (lambda t: t.split("\n")[0] + "\n", r"no records"),
])
def test_geoloc_csv_rejects_broken_copies(tmp_path, edit, message):
    src = write_im2gps(tmp_path / "src")
    csv_file = src / "im2gps3k_places365.csv"
    csv_file.write_text(edit(csv_file.read_text()))
    with pytest.raises(SchemaError, match=message):
        get_converter("im2gps3k")(src, tmp_path / "out")


def test_geoloc_csv_missing_and_unreadable_images(tmp_path):
    src = write_im2gps(tmp_path / "src")
    (src / "im2gps3ktest" / IM2GPS_ROWS[1][0]).unlink()
    with pytest.raises(SchemaError, match=r":3: field 'IMG_ID': image .* not found"):
        get_converter("im2gps3k")(src, tmp_path / "out")
    assert get_converter("im2gps3k")(src, tmp_path / "out", skip_missing=True) == 2
    (src / "im2gps3ktest" / IM2GPS_ROWS[2][0]).write_bytes(b"not a jpeg")
    with pytest.raises(SchemaError, match=r":4: field 'IMG_ID': unreadable image"):
        get_converter("im2gps3k")(src, tmp_path / "out3", skip_missing=True)
    with pytest.raises(SchemaError, match="no im2gps3k_places365.csv"):
        get_converter("im2gps3k")(tmp_path / "empty", tmp_path / "out4")


def test_geoloc_csv_refuses_image_ids_that_escape(tmp_path):
    src = tmp_path / "src"
    (src / "im2gps3ktest").mkdir(parents=True)
    image(src / "evil.jpg")
    (src / "im2gps3k_places365.csv").write_text(IM2GPS_HEADER + "\n../evil.jpg,1@N00,1.0,2.0,0,0,0,0,0,0\n")
    with pytest.raises(SchemaError, match="inside the dataset folder"):
        get_converter("im2gps3k")(src, tmp_path / "out", images="im2gps3ktest")


# ---------------------------------------------------------------------------------------------
# CV-Cities

CENTRES = {"barcelona": (41.3851, 2.1734), "paris": (48.8566, 2.3522)}


def write_cv_cities(root, n=6):
    for city, centre in CENTRES.items():
        lines = []
        for i in range(n):
            lat, lon = destination(*centre, 60.0 * i, 0.3 * (i + 1))
            name = f"{city[:3]}_{i:04d}"
            sat, pano = f"{city}/satellite/{name}.jpg", f"{city}/panorama/{name}.jpg"
            image(root / sat, (24, 24), (0, 20 * i, 0))
            image(root / pano, (48, 24), (20 * i, 0, 0))
            lines.append(f"{name},{lon:.6f},{lat:.6f},{city},{sat},{pano}")  # longitude first, no header
        (root / city / "img_info.csv").write_text("\n".join(lines) + "\n")
    return root


def test_cv_cities_pairs(tmp_path):
    src, out = write_cv_cities(tmp_path / "src"), tmp_path / "out"
    assert get_converter("cv-cities")(src, out) == 12
    ds = load_dataset(out)
    s = ds[0]
    assert s.id == "barcelona/bar_0000" and s.task == "crossview" and s.choices == ["A"] and s.answer == "A"
    assert s.images == ["barcelona/panorama/bar_0000.jpg", "barcelona/satellite/bar_0000.jpg"]
    lat, lon = destination(*CENTRES["barcelona"], 0.0, 0.3)
    assert s.gps[0] == pytest.approx([lat, lon], abs=1e-6) and s.gps[1] == s.gps[0]
    assert (s.width, s.height) == (48, 24) and s.meta["image_sizes"] == [[48, 24], [24, 24]]
    assert s.meta["city"] == "barcelona" and s.source == "cv-cities" and s.split == "train"
    assert get_converter("cv-cities")(src, tmp_path / "one", cities="paris", limit=2) == 2


def test_cv_cities_questions(tmp_path):
    src, out = write_cv_cities(tmp_path / "src"), tmp_path / "out"
    assert get_converter("cv-cities")(src, out, make_questions=4, radius_km=5.0, seed=3) == 12
    ds = load_dataset(out)
    for q in ds:
        assert len(q.choices) == 4 and q.meta["difficulty"] == "hard" and q.meta["direction"] == "ground_to_aerial"
        city = q.id.split("/")[0]
        assert all(path.startswith(f"{city}/satellite/") for path in q.images[1:])
        truth = q.gps[1 + q.choices.index(q.answer)]
        assert all(0.1 < haversine_km(*truth, *g) <= 5.0 for g in q.gps[1:] if g != truth)
    rev = get_converter("cv-cities")(src, tmp_path / "rev", make_questions=3, reverse=True, difficulty="easy")
    assert rev == 12
    q = load_dataset(tmp_path / "rev")[0]
    assert q.images[0].startswith("barcelona/satellite/") and q.meta["direction"] == "aerial_to_ground"
    assert all(p.startswith("paris/panorama/") for i, p in enumerate(q.images[1:]) if q.choices[i] != q.answer)


@pytest.mark.parametrize("edit, message", [
    (lambda t: t.replace("41.", "141.", 1), r"img_info.csv:1: field 'latitude': latitude 141\.\d+ outside"),
    (lambda t: t.replace(",barcelona,", ",", 1), r"img_info.csv:1: 5 columns, expected 6"),
    (lambda t: "name,longitude,latitude,city,sat_dir,pano_dir\n" + t,
     r"img_info.csv:1: field 'longitude': not a number: 'longitude'"),
    (lambda t: t.replace("panorama/bar_0001", "panorama/missing"), r"img_info.csv:2: field 'pano_dir': image"),
    (lambda t: t + t.splitlines()[0] + "\n", r"img_info.csv:7: field 'name': duplicate name"),
])
def test_cv_cities_rejects_broken_copies(tmp_path, edit, message):
    src = write_cv_cities(tmp_path / "src")
    info = src / "barcelona" / "img_info.csv"
    info.write_text(edit(info.read_text()))
    with pytest.raises(SchemaError, match=message):
        get_converter("cv-cities")(src, tmp_path / "out")


def test_cv_cities_latitude_first_copy_gets_a_hint(tmp_path):
    src = tmp_path / "src"
    image(src / "x/satellite/a.jpg")
    image(src / "x/panorama/a.jpg")
    (src / "x").mkdir(exist_ok=True)
    (src / "x" / "img_info.csv").write_text("a,-33.9,151.2,x,x/satellite/a.jpg,x/panorama/a.jpg\n")
    with pytest.raises(SchemaError, match=r"latitude first\? CV-Cities lists longitude, then latitude"):
        get_converter("cv-cities")(src, tmp_path / "out")
    with pytest.raises(SchemaError, match="no <city>/img_info.csv"):
        get_converter("cv-cities")(tmp_path / "nothing", tmp_path / "out")


# ---------------------------------------------------------------------------------------------
# CVUSA

def write_cvusa(root, n=6, locations=True):
    lines, locs = [], []
    for i in range(1, n + 1):
        tile, pano, anno = f"bingmap/19/{i:07d}.jpg", f"streetview/panos/{i:07d}.jpg", f"annotations/{i:07d}.png"
        image(root / tile, (24, 24))
        image(root / pano, (64, 16))
        image(root / anno, (64, 16))
        lines.append(f"{tile},{pano},{anno}")
        lat, lon = destination(38.0, -97.0, 45.0 * i, 40.0 * i)
        locs.append(f"{lat + 1e-5:.7f},{lon:.7f},{lat:.7f},{lon:.7f},0")
    (root / "splits").mkdir(parents=True, exist_ok=True)
    (root / "splits" / "train-19zl.csv").write_text("\n".join(lines[:-2]) + "\n")
    (root / "splits" / "val-19zl.csv").write_text("\n".join(lines[-2:]) + "\n")
    if locations:
        (root / "split_locations").mkdir(exist_ok=True)
        (root / "split_locations" / "all.csv").write_text("\n".join(locs) + "\n")
    return root


def test_cvusa_pairs_with_locations(tmp_path):
    src, out = write_cvusa(tmp_path / "src"), tmp_path / "out"
    assert get_converter("cvusa")(src, out) == 4
    assert get_converter("cvusa")(src, tmp_path / "val", split="val") == 2
    s = load_dataset(out)[1]
    assert s.id == "0000002" and s.images == ["streetview/panos/0000002.jpg", "bingmap/19/0000002.jpg"]
    lat, lon = destination(38.0, -97.0, 90.0, 80.0)
    assert s.gps[0] == pytest.approx([lat, lon], abs=1e-6) and s.gps[1][0] == pytest.approx(lat + 1e-5, abs=1e-6)
    assert s.source == "cvusa" and "city" not in s.meta


def test_cvusa_questions(tmp_path):
    src = write_cvusa(tmp_path / "src")
    assert get_converter("cvusa")(src, tmp_path / "out", make_questions=3, seed=1) == 4
    qs = load_dataset(tmp_path / "out")
    # 4 pairs 40-160 km apart: no neighbour within 2 km, so the nearest ones fill in.
    assert {q.meta["difficulty"] for q in qs} == {"hard-fallback"}
    src2 = write_cvusa(tmp_path / "src2", locations=False)
    assert get_converter("cvusa")(src2, tmp_path / "out2", make_questions=3) == 4
    q = load_dataset(tmp_path / "out2")[0]
    assert q.gps == [] and q.meta["difficulty"] == "random"


@pytest.mark.parametrize("edit, message", [
    (("splits/train-19zl.csv", lambda t: t.replace("streetview/panos/0000002", "streetview/panos/9999999")),
     r"train-19zl.csv:2: field 'streetview': image '.*streetview/panos/9999999.jpg' not found"),
    (("splits/train-19zl.csv", lambda t: t.replace(",streetview/panos/0000003.jpg,annotations/0000003.png", "")),
     r"train-19zl.csv:3: 1 columns, expected bingmap"),
    (("split_locations/all.csv", lambda t: "\n".join(t.splitlines()[:2])),
     r"train-19zl.csv:3: field 'bingmap': image number 3 has no line in split_locations/all.csv"),
    (("split_locations/all.csv", lambda t: t.replace(",0\n", ",0\nx,y,z,w\n", 1)), r"all.csv:2: not numbers"),
    (("split_locations/all.csv", lambda t: "95" + t[2:]), r"all.csv:1: field 'sat_lat/sat_lon': position"),
])
def test_cvusa_rejects_broken_copies(tmp_path, edit, message):
    src = write_cvusa(tmp_path / "src")
    rel, fn = edit
    (src / rel).write_text(fn((src / rel).read_text()))
    with pytest.raises(SchemaError, match=message):
        get_converter("cvusa")(src, tmp_path / "out")


def test_cvusa_missing_split(tmp_path):
    with pytest.raises(SchemaError, match="split file not found"):
        get_converter("cvusa")(tmp_path, tmp_path / "out")
    with pytest.raises(ValueError, match="unknown split"):
        get_converter("cvusa")(tmp_path, tmp_path / "out", split="dev")


# ---------------------------------------------------------------------------------------------
# VIGOR

CHICAGO = (41.8781, -87.6298)


def write_vigor(root, city="Chicago", centre=CHICAGO, rows=2, cols=4, spacing_km=0.25):
    """A grid of satellite tiles, one panorama 20 m off each; semi-positives: the next three tiles."""
    sats = []
    for r in range(rows):
        for c in range(cols):
            lat, _ = destination(*centre, 0.0, r * spacing_km)
            _, lon = destination(*centre, 90.0, c * spacing_km)
            sats.append((f"satellite_{lat}_{lon}.png", lat, lon))
    lines = []
    for i, (name, lat, lon) in enumerate(sats):
        image(root / city / "satellite" / name, (24, 24), (0, 25 * i, 0))
        plat, plon = destination(lat, lon, 45.0, 0.02)
        pano = f"pano{i:02d}xYz_-AbC,{plat:.6f},{plon:.6f},.jpg"
        image(root / city / "panorama" / pano, (64, 32), (25 * i, 0, 0))
        semi = [sats[(i + j) % len(sats)][0] for j in (1, 2, 3)]
        fields = [pano, name, "3.1", "-9.6"] + [v for s in semi for v in (s, "-12.7", "50.0")]
        lines.append(" ".join(fields))
    split = root / "splits" / city
    split.mkdir(parents=True, exist_ok=True)
    (split / "satellite_list.txt").write_text("\n".join(s[0] for s in sats) + "\n")
    (split / "same_area_balanced_train.txt").write_text("\n".join(lines[:6]) + "\n")
    (split / "same_area_balanced_test.txt").write_text("\n".join(lines[6:]) + "\n")
    (split / "pano_label_balanced.txt").write_text("\n".join(lines) + "\n")
    return root, sats


def test_vigor_pairs(tmp_path):
    (src, sats), out = write_vigor(tmp_path / "src"), tmp_path / "out"
    assert get_converter("vigor")(src, out) == 6
    assert get_converter("vigor")(src, tmp_path / "test", split="test") == 2
    assert get_converter("vigor")(src, tmp_path / "cross", area="cross", split="test", cities="Chicago") == 8
    s = load_dataset(out)[0]
    assert s.id == "Chicago/pano00xYz_-AbC" and s.images[1] == f"Chicago/satellite/{sats[0][0]}"
    assert s.images[0].startswith("Chicago/panorama/pano00xYz_-AbC,")
    assert s.gps[1] == pytest.approx([sats[0][1], sats[0][2]])
    assert haversine_km(*s.gps[0], *s.gps[1]) == pytest.approx(0.02, abs=1e-3)  # from the file names
    assert s.meta["vigor_delta"] == [3.1, -9.6] and s.meta["city"] == "Chicago" and s.split == "same-train"
    assert s.meta["exclude_candidates"] == [f"Chicago/satellite/{n}" for n, _, _ in sats[1:4]]


def test_vigor_questions_skip_semi_positives(tmp_path):
    src, sats = write_vigor(tmp_path / "src")
    for seed in range(3):
        out = tmp_path / f"q{seed}"
        assert get_converter("vigor")(src, out, area="cross", split="test", cities=["Chicago"],
                                      make_questions=3, seed=seed) == 8
        for q in load_dataset(out):
            i = int(q.id.split("/pano")[1][:2])
            semi = {f"Chicago/satellite/{sats[(i + j) % 8][0]}" for j in (1, 2, 3)}
            assert not semi & set(q.images[1:])


@pytest.mark.parametrize("edit, message", [
    (lambda t: t.replace(" 3.1 -9.6", "", 1), r"same_area_balanced_train.txt:1: 11 fields, expected 13"),
    (lambda t: t.replace("-12.7", "left", 1), r"same_area_balanced_train.txt:1: offsets must be numbers"),
    (lambda t: t.replace("satellite_", "sat_", 1),
     r"same_area_balanced_train.txt:1: field 'satellite\[0\]': 'sat_.*' is not in satellite_list.txt"),
    (lambda t: t.replace("pano00xYz_-AbC,", "pano00xYz_-AbC_", 1),
     r"same_area_balanced_train.txt:1: field 'panorama': panorama name .* is not <id>,<lat>,<lon>,.jpg"),
])
def test_vigor_rejects_broken_copies(tmp_path, edit, message):
    src, _ = write_vigor(tmp_path / "src")
    labels = src / "splits" / "Chicago" / "same_area_balanced_train.txt"
    labels.write_text(edit(labels.read_text()))
    with pytest.raises(SchemaError, match=message):
        get_converter("vigor")(src, tmp_path / "out")


def test_vigor_missing_files(tmp_path):
    src, sats = write_vigor(tmp_path / "src")
    (src / "Chicago" / "satellite" / sats[2][0]).unlink()
    with pytest.raises(SchemaError, match=r"train.txt:3: field 'satellite\[0\]': image .* not found"):
        get_converter("vigor")(src, tmp_path / "out")
    with pytest.raises(SchemaError, match="label file not found"):
        get_converter("vigor")(src, tmp_path / "out", area="cross", split="train")  # NewYork, Seattle absent
    with pytest.raises(SchemaError, match="no city folders"):
        get_converter("vigor")(tmp_path / "none", tmp_path / "out")
