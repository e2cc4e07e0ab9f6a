#!/usr/bin/env python3
"""Self-check of the golden corpus (independent of the Rust validator).

    python3 golden/check.py [-v]

For every case folder it re-reads the bytes and reports rule IDs of the kit's catalogue
(spec/src/rules.rs) for the problems this small reference reader can see: strict MS932
decoding, CRLF records, column counts per layout and version, the file-name regexes of
SUMMARY §3.1, field formats, keys between files, 7表 totals and send units. It then compares:

* valid/v3, valid/v4.1: no finding at all;
* valid/v4.0 and invalid/*: every rule in expect.toml must be found; anything else found is
  printed as "extra" (incidental findings are allowed but should be few).

The script only reads; exit status 1 when a valid case has findings or an expected rule is missing.
Python 3.11, standard library only.
"""

from __future__ import annotations

import calendar
import codecs
import pathlib
import re
import sys
import tomllib
from collections import Counter, defaultdict

HERE = pathlib.Path(__file__).resolve().parent
DATA = HERE.parent / "spec" / "data"
V3, V40, V41 = "v3", "v4.0", "v4.1"
CSV_VERSION = {V3: "202208", V40: "202504", V41: "202407"}


def _toml(p):
    with open(p, "rb") as f:
        return tomllib.load(f)


LAYOUTS = {}
for _p in sorted((DATA / "layouts").glob("*.toml")):
    _t = _toml(_p)
    for _k in _t["kinds"]:
        LAYOUTS[_k] = _t
CODES = _toml(DATA / "codes.toml")["tables"]
TYPES = {t["code"]: t for t in _toml(DATA / "service_types.toml")["types"]}
VERSIONS = _toml(DATA / "versions.toml")
RULE_IDS = re.findall(r'\{ "([A-Z]+[0-9]{3})"', (HERE.parent / "spec/src/rules.rs").read_text("utf-8"))


def columns(kind, ver):
    out = []
    for c in LAYOUTS[kind]["columns"]:
        if ver == V3 and c.get("since") == "v4.0":
            continue
        c = dict(c)
        if ver == V3 and "len_v3" in c:
            c["len"] = c["len_v3"]
        out.append(c)
    return out


# ------------------------------------------------------------------------------- names (§3.1)
MONTHLY = "UPHOSOKU|UPPLAN|UPJSK|DLTPLAN|DLTJSK|UPSIKYU"
PLAIN = ("UP1KYO|UP2KYO|UP3KYO|DLT1KYO|UPKIHON_SUB1|UPKIHON_SUB2|UPKIHON|DLTKIHON|UPYOBO_SUB|"
         "UPYOBO|DLTYOBO")
T2, T3 = r"_([0-9A-Z]{2})", r"_([0-9A-Z]{3})"
NAME_RES = []
for shape, t in ((V41, T2), (V40, T3), (V3, "")):
    g = t if t else ""
    NAME_RES.append((shape, "m", re.compile(
        rf"^({MONTHLY})_(\d{{6}})_(\d{{10}}){g}_(\d{{10}}){g}_(\d{{14}})\.(CSV|csv)$")))
    NAME_RES.append((shape, "p", re.compile(
        rf"^({PLAIN})_(\d{{10}}){g}_(\d{{10}}){g}_(\d{{14}})\.(CSV|csv)$")))
    NAME_RES.append((shape, "i", re.compile(
        rf"^(UPKIHON_IMAGE)_(\d{{10}}){g}_(\d{{10}}){g}_(\d{{14}})_(\d{{4}})\.(jpg|JPG)$")))
KIHON_MONTH_RE = re.compile(rf"^UPKIHON_000000_(\d{{10}}){T2}_(\d{{10}}){T2}_(\d{{14}})\.CSV$")


def parse_name(name):
    """-> dict(kind, shape, month, s, st, r, rt, serial, ext, branch) or None."""
    for shape, form, rx in NAME_RES:
        m = rx.match(name)
        if not m:
            continue
        g = list(m.groups())
        d = dict(kind=g.pop(0), shape=shape, month=None, branch=None)
        if form == "m":
            d["month"] = g.pop(0)
        d["ext"] = g.pop()
        if form == "i":
            d["branch"] = g.pop()
        if shape == V3:
            d.update(s=g[0], st=None, r=g[1], rt=None, serial=g[2])
        else:
            d.update(s=g[0], st=g[1], r=g[2], rt=g[3], serial=g[4])
        return d
    m = KIHON_MONTH_RE.match(name)
    if m:
        return dict(kind="UPKIHON", shape=V41, month="000000", branch=None, ext="CSV", s=m[1],
                    st=m[2], r=m[3], rt=m[4], serial=m[5], kihon_month=True)
    return None


def real_month(s):
    return len(s) == 6 and s.isdigit() and 1 <= int(s[4:]) <= 12


def real_date(s):
    if len(s) != 8 or not s.isdigit() or not real_month(s[:6]):
        return False
    return 1 <= int(s[6:]) <= calendar.monthrange(int(s[:4]), int(s[4:6]))[1]


def real_datetime(s):
    return real_date(s[:8]) and int(s[8:10]) < 24 and int(s[10:12]) < 60 and int(s[12:]) < 60


def real_time(s):
    return len(s) == 4 and s.isdigit() and int(s[:2]) < 24 and int(s[2:]) < 60


# ------------------------------------------------------------------------------- bytes → records
def scan_bytes(data: bytes, add):
    """Strict MS932 byte classes (ENC001–ENC005)."""
    i = 0
    while i < len(data):
        b = data[i]
        if b < 0x80 or 0xA1 <= b <= 0xDF:
            i += 1
            continue
        if (0x81 <= b <= 0x9F or 0xE0 <= b <= 0xFC) and i + 1 < len(data) and (
                0x40 <= data[i + 1] <= 0x7E or 0x80 <= data[i + 1] <= 0xFC):
            pair = data[i:i + 2]
            if b == 0x87:
                add("ENC004")
            elif b in (0xED, 0xEE) or 0xFA <= b <= 0xFC:
                add("ENC005")
            elif 0xF0 <= b <= 0xF9:
                add("ENC003")
            else:
                try:
                    codecs.decode(pair, "cp932")
                except UnicodeDecodeError:
                    add("ENC002")
            i += 2
            continue
        add("ENC001")
        i += 1


def tokenize(text: str, add):
    """Quote-aware split into records of (value, quoted) fields; reports CSV00x."""
    records, rec, field, quoted = [], [], [], False
    state = "start"   # start, unq, q, qseen
    ends = []
    i, n = 0, len(text)
    line_start = True

    def end_field():
        nonlocal field, quoted
        rec.append(("".join(field), quoted))
        field, quoted = [], False

    while i < n:
        c = text[i]
        if state == "q":
            if c == '"':
                state = "qseen"
            else:
                field.append(c)
            i += 1
            continue
        if state == "qseen":
            if c == '"':
                field.append('"')
                state = "q"
                i += 1
                continue
            if c not in ",\r\n":
                add("CSV003")
                state = "unq"
                continue
        if c in "\r\n":
            eol = "\r\n" if text.startswith("\r\n", i) else c
            if line_start and not rec and not field:
                add("CSV006")
            else:
                end_field()
                records.append(rec)
                rec = []
            ends.append(eol)
            i += len(eol)
            state, line_start = "start", True
            continue
        line_start = False
        if c == ",":
            end_field()
            state = "start"
        elif c == '"':
            if state == "start":
                state, quoted = "q", True
            else:
                add("CSV002")
                field.append(c)
        else:
            if state == "start":
                state = "unq"
            field.append(c)
        i += 1
    if state == "q":
        add("CSV001")
    if rec or field or state in ("q", "qseen"):
        end_field()
        records.append(rec)
        add("CSV007")
    if ends:
        if ends[0] != "\r\n":
            add("CSV004")
        if len(set(ends)) > 1:
            add("CSV005")
    for r in records:
        for v, _ in r:
            if len(v.encode("cp932", "replace")) > (1 << 20):
                add("CSV009")
    return records


# ------------------------------------------------------------------------------- one file
def check_field(col, value, quoted, add, ver):
    fmt = col["format"]
    if fmt in ("text", "image_name"):
        # The UPKIHON image name's 書式 reads フリーテキスト (L4 L819): quoted like free text.
        if value and not quoted:
            add("FLD005")
        if any(ord(ch) < 0x20 and ch not in "\r\n" for ch in value):
            add("ENC008")
        return
    if quoted:
        add("FLD006")
    if value == "":
        if col.get("req"):
            add("FLD001")
        return
    if "len" in col and len(value) > col["len"]:
        add("FLD002")
        return
    ok = True
    if fmt in ("csv_version", "yyyymm"):
        ok = real_month(value)
    elif fmt == "yyyymm_or_zero":
        ok = value == "000000" or real_month(value)
    elif fmt == "yyyymmdd":
        ok = real_date(value)
    elif fmt == "yyyymmdd_or_zero":
        ok = value == "00000000" or real_date(value)
    elif fmt == "hhmm":
        ok = real_time(value)
    elif fmt == "hhmm_or_9999":
        ok = value == "9999" or real_time(value)
    elif fmt == "integer":
        ok = re.fullmatch(r"-?\d+", value) is not None
        if ok and value.startswith("-"):
            add("FLD008")
        if ok and "min" in col and not col["min"] <= int(value) <= col["max"]:
            add("FLD010")
    elif fmt == "decimal":
        ok = re.fullmatch(r"\d+\.\d+", value) is not None
    elif fmt == "insurer":
        ok = re.fullmatch(r"\d{6}", value) is not None
    elif fmt == "insured":
        ok = re.fullmatch(r"\d{10}|H\d{9}", value) is not None
    elif fmt == "office":
        ok = re.fullmatch(r"\d{10}", value) is not None
    elif fmt == "service_type":
        ok = value in TYPES
    elif fmt in ("service_code", "service_code_or_total"):
        total = fmt == "service_code_or_total" and (value == "999999" or re.fullmatch(
            r"[0-9A-Z]{2}(AAAA|EEEE|ZZZZ)", value))
        if not total:
            ok = re.fullmatch(r"[0-9A-Z]{2}\d{4}", value) is not None
            if ok and value[:2] not in TYPES:
                add("FLD011")
            elif ok and not TYPES[value[:2]]["linked"]:
                add("FLD009")
    elif fmt.startswith("code:"):
        if value not in {c["code"] for c in CODES[fmt[5:]]["codes"]}:
            add("FLD004")
    elif fmt == "day_mask":
        ok = re.fullmatch(r"[01]{31}", value) is not None
    elif fmt == "equipment_code":
        ok = re.fullmatch(r"[0-9A-Za-z-]{12}", value) is not None
    elif fmt == "postal":
        ok = re.fullmatch(r"\d{3}-\d{4}", value) is not None
    elif fmt == "unused":
        add("FLD007")
    if not ok:
        add("FLD003")


class CsvFile:
    def __init__(self, path: pathlib.Path, add):
        self.path, self.name = path, path.name
        self.meta = parse_name(self.name)
        self.rows: list[dict] = []
        self.kind = self.meta["kind"] if self.meta else None
        self.shape = self.meta["shape"] if self.meta else None
        data = path.read_bytes()
        self.data = data
        if self.kind == "UPKIHON_IMAGE":
            if not data.startswith(b"\xff\xd8\xff"):
                add("FILE004")
            return
        if data.startswith(b"\xef\xbb\xbf"):
            add("ENC006")
            data = data[3:]
        if not data:
            add("CSV008")
            return
        try:
            text = codecs.decode(data, "cp932")
            scan_bytes(data, add)
        except UnicodeDecodeError:
            try:
                data.decode("utf-8")
                add("ENC007")
                return
            except UnicodeDecodeError:
                scan_bytes(data, add)
                text = codecs.decode(data, "cp932", "replace")
        records = tokenize(text, add)
        if not self.meta:
            self.identify(records, add)
            return
        if self.meta.get("ext") == "csv":
            add("NAME002")
        cols = columns(self.kind, self.shape)
        for rec in records:
            if rec and not re.fullmatch(r"\d{6}", rec[0][0]):
                add("REC002")
                continue
            if len(rec) != len(cols):
                add("REC001")
                continue
            row = {}
            for col, (value, quoted) in zip(cols, rec):
                check_field(col, value, quoted, add, self.shape)
                row[col["no"]] = value
                row.setdefault(col["name"], value)
            self.rows.append(row)

    def identify(self, records, add):
        widths = {len(r) for r in records}
        known = any(len(columns(k, v)) in widths for k in LAYOUTS for v in (V3, V41))
        if known and all(re.fullmatch(r"\d{6}", r[0][0]) for r in records):
            add("NAME009")
        else:
            add("NAME010")


# ------------------------------------------------------------------------------- one unit
SEND_UNITS = _toml(DATA / "send_units.toml")["units"]
ORDER = {V3: 0, V40: 1, V41: 2}


def unit_matches(files: list[CsvFile]) -> bool:
    shapes = {f.shape for f in files}
    version = max(shapes, key=ORDER.get)
    present = {f.kind for f in files}
    hos = [f for f in files if f.kind == "UPHOSOKU"]
    hosoku = None if not hos else ("zero" if hos[0].meta["month"] == "000000" else "month")
    for d in SEND_UNITS:
        if "since" in d and ORDER[version] < ORDER[d["since"]]:
            continue
        if "until" in d and ORDER[version] > ORDER[d["until"]]:
            continue
        allowed = set(d["required"]) | set(d["optional"])
        if set(d["required"]) <= present <= allowed and d.get("hosoku") in (None, hosoku):
            return True
    return False


def check_unit(files: list[CsvFile], add) -> bool:
    """Send-unit rules; True when the files form a unit of send_units.toml."""
    kinds = Counter(f.kind for f in files)
    for k, n in kinds.items():
        if n > 1 and k != "UPKIHON_IMAGE":
            add("UNIT002")
    if len({f.shape for f in files}) > 1:
        add("UNIT003")
    months = {f.meta["month"] for f in files if f.meta["month"] not in (None, "000000")}
    if len(months) > 1:
        add("UNIT004")
    if len({(f.meta["st"], f.meta["rt"]) for f in files}) > 1:
        add("UNIT005")
    ok = unit_matches(files)
    if not ok:
        add("UNIT001")
    return ok


def versions_of(f: CsvFile, add):
    vals = [r[1] for r in f.rows]
    if not vals:
        return
    if len(set(vals)) > 1:
        add("VER004")
    known = {v["value"]: v for v in VERSIONS["versions"]}
    wrong = {v["value"] for v in VERSIONS["known_wrong"]}
    month = f.meta["month"] if f.meta["month"] not in (None, "000000") else None
    for v in set(vals):
        if v in wrong:
            add("VER002")
        elif v not in known or known[v]["status"] == "historical":
            add("VER001")
        elif known[v]["status"] == "withdrawn" and f.shape != V40:
            add("VER003")
        spec = known.get(v, {}).get("spec")
        if spec and (spec == V3) != (f.shape == V3):
            add("VER005")
        if spec and month and v == vals[0]:
            if month < known[v]["applies_from"]:
                add("VER006")
            elif spec == V3 and month >= "202504":
                add("VER007")


def check_xrf(files: list[CsvFile], add):
    by = defaultdict(list)
    for f in files:
        by[f.kind].append(f)
    rows = lambda k: [r for f in by.get(k, []) for r in f.rows]  # noqa: E731
    k3 = lambda r, n: (r[2], r[3], r[n])  # noqa: E731
    # 1表 set
    t1 = {k3(r, 14) for r in rows("UP1KYO")}
    for kind in ("UP2KYO", "UP3KYO"):
        for r in rows(kind):
            if k3(r, 5) not in t1:
                add("XRF001")
    hos = [r for f in by.get("UPHOSOKU", []) for r in f.rows]
    hplan = {k3(r, 4) for r in hos if r[63] == "000000"}
    hmon = {k3(r, 63) for r in hos if r[63] != "000000"}
    if "UP1KYO" in by:
        for k in t1 - hplan:
            add("XRF002")
        if hplan - t1:
            add("XRF008")
    p6 = {k3(r, 5) for r in rows("UPPLAN")}
    p7 = {k3(r, 5) for r in rows("UPSIKYU")}
    if "UPPLAN" in by or "UPSIKYU" in by:
        if p7 - p6:
            add("XRF003")
        if "UPHOSOKU" in by and p6 - hmon:
            add("XRF004")
        if p6 - p7:
            add("XRF005")
        if hmon - p6:
            add("XRF008")
    kih = {k3(r, 4) for r in rows("UPKIHON")}
    for kind in ("UPKIHON_SUB1", "UPKIHON_SUB2"):
        for r in rows(kind):
            if k3(r, 4) not in kih:
                add("XRF006")
    yob = {k3(r, 4) for r in rows("UPYOBO")}
    for r in rows("UPYOBO_SUB"):
        if k3(r, 4) not in yob:
            add("XRF006")
    images = {f.name for f in by.get("UPKIHON_IMAGE", [])}
    for f in by.get("UPKIHON", []):
        for r in f.rows:
            img = r[62]
            if img:
                if img not in images:
                    add("XRF007")
                meta = parse_name(img)
                if not meta or (meta["s"], meta["st"], meta["r"], meta["rt"], meta["serial"]) != (
                        f.meta["s"], f.meta["st"], f.meta["r"], f.meta["rt"], f.meta["serial"]):
                    add("XRF007")


def check_content(f: CsvFile, add):
    if not f.rows:
        return
    month = f.meta["month"]
    versions_of(f, add)
    if f.meta.get("kihon_month"):
        add("NAME006")
    if f.kind in ("UPPLAN", "UPJSK", "UPSIKYU", "DLTPLAN", "DLTJSK"):
        col = 4 if f.kind in ("DLTPLAN", "DLTJSK") else 5
        ms = {r[col] for r in f.rows}
        if len(ms) > 1:
            add("FILE001")
        if any(m != month for m in ms):
            add("FILE002")
    if f.kind in ("UPPLAN", "UPJSK"):
        for r in f.rows:
            if r[10][:6] != r[5]:
                add("FILE002")
    if f.kind == "UPHOSOKU":
        for r in f.rows:
            if month == "000000" and (r[63] != "000000" or r[4] == "00000000"):
                add("FILE003")
            elif month != "000000" and (r[63] == "000000" or r[4] not in ("", "00000000")):
                add("FILE003")
            elif month != "000000" and r[63] != month:
                add("FILE002")
    if f.kind in ("UPPLAN", "UPJSK") and f.shape != V3:
        for r in f.rows:
            eq = r[15][:2] in ("17", "67")
            if eq and not (r[16] or r[17]):
                add("EQP001")
            if not eq and (r[16] or r[17]):
                add("EQP002")
    if f.kind == "UPSIKYU":
        tais = 10 if f.shape != V3 else None
        by_user = defaultdict(list)
        for r in f.rows:
            by_user[(r[2], r[3])].append(r)
        for rows in by_user.values():
            codes = [r[9] for r in rows]
            if "999999" not in codes:
                add("TOT001")
            for r in rows:
                summary = r[9] == "999999" or r[9][2:] in ("AAAA", "EEEE", "ZZZZ")
                if r[9] == "999999" and r[7] != "9999999999":
                    add("TOT002")
                if summary and (r[13] != "0" or r[14] or r[15]):
                    add("TOT003")
                if not summary and tais and r[9][:2] in ("17", "67") and not (r[10] or r[11]):
                    add("EQP001")
            per_type = Counter(c[:2] for c in codes if c != "999999" and c[2:] not in ("AAAA", "EEEE", "ZZZZ"))
            for t, n in per_type.items():
                if n > 1 and t + "AAAA" not in codes:
                    add("TOT004")
            for c in codes:
                if c[2:] == "AAAA" and per_type.get(c[:2], 0) == 0:
                    add("TOT005")
    if f.kind == "UP2KYO":
        seen = set()
        for r in f.rows:
            k = (r[2], r[3], r[5], r[6], r[8], r[13])
            if k in seen:
                add("PLN001")
            seen.add(k)
    if f.kind == "UPKIHON":
        for r in f.rows:
            if r[62] and not re.fullmatch(r"UPKIHON_IMAGE_.*_\d{4}\.(jpg|JPG)", r[62]):
                add("FLD003")


def check_case(folder: pathlib.Path):
    found: list[str] = []
    add = found.append
    files = []
    for p in sorted(folder.iterdir()):
        if p.name == "expect.toml":
            continue
        f = CsvFile(p, add)
        if f.meta is None:
            if re.fullmatch(r"[A-Z0-9_]+\.(CSV|csv)", p.name):
                add("NAME001")
            continue
        if f.meta["shape"] == V40:
            add("NAME005")
        for who in ("st", "rt"):
            code = f.meta[who]
            if code is not None:
                t = TYPES.get(code[:2])
                if t is None:
                    add("NAME007")
                elif not t["linked"]:
                    add("NAME008")
        if f.meta["s"] == f.meta["r"]:
            add("NAME003")
        if not real_datetime(f.meta["serial"]):
            add("NAME004")
        if f.meta["month"] not in (None, "000000") and not real_month(f.meta["month"]):
            add("NAME001")
            continue
        files.append(f)
        check_content(f, add)
    units = defaultdict(list)
    for f in files:
        units[(f.meta["r"], f.meta["serial"], f.meta["s"])].append(f)
    for unit in units.values():
        if check_unit(unit, add):
            check_xrf(unit, add)
    return found, files


def basic(tree: str):
    """The plain checks: strict cp932, CRLF after every record, column counts, §3.1 names."""
    n = dec = crlf = cols = names = recs = 0
    problems = []
    for p in sorted((HERE / tree).rglob("*")):
        if not p.is_file() or p.name == "expect.toml":
            continue
        n += 1
        meta = parse_name(p.name)
        if meta and meta["shape"] in (V3, V41) and not meta.get("kihon_month") and meta["ext"] in ("CSV", "jpg"):
            names += 1
        elif tree == "valid" and not (meta and meta["shape"] == V40):
            problems.append(f"name {p.name}")
        if p.suffix.lower() != ".csv":
            continue
        data = p.read_bytes()
        try:
            text = codecs.decode(data, "cp932")
            dec += 1
        except UnicodeDecodeError:
            problems.append(f"decode {p.relative_to(HERE)}") if tree == "valid" else None
            continue
        found = []
        records = tokenize(text, found.append)
        if not found and data.endswith(b"\r\n") and b"\n" not in data.replace(b"\r\n", b""):
            crlf += 1
        elif tree == "valid":
            problems.append(f"crlf {p.relative_to(HERE)} {found}")
        if meta:
            want = len(columns(meta["kind"], V3 if meta["shape"] == V3 else V41))
            if records and all(len(r) == want for r in records):
                cols += 1
                recs += len(records)
            elif tree == "valid":
                problems.append(f"columns {p.relative_to(HERE)}")
    print(f"{tree}: {n} files; {dec} CSV decode as strict cp932; {crlf} CRLF-only with a final CRLF; "
          f"{cols} with the layout's column count in every record ({recs} records); "
          f"{names} names match the V3/V4.1 regexes of SUMMARY §3.1")
    for pr in problems:
        print("  PROBLEM", pr)
    return len(problems)


def main():
    verbose = "-v" in sys.argv
    bad = 0
    ncsv = njpg = nbytes = 0
    covered = set()
    kinds_by = defaultdict(lambda: defaultdict(set))
    for folder in sorted(p for p in (HERE / "valid").glob("*/*") if p.is_dir()) + sorted(
            p for p in (HERE / "invalid").glob("*") if p.is_dir()):
        rel = folder.relative_to(HERE).as_posix()
        found, files = check_case(folder)
        for p in folder.iterdir():
            nbytes += p.stat().st_size
            ncsv += p.suffix.lower() == ".csv"
            njpg += p.suffix.lower() == ".jpg"
        exp_path = folder / "expect.toml"
        expected = set(_toml(exp_path)["rules"]) if exp_path.exists() else set()
        got = set(found)
        if rel.startswith("valid/"):
            ver = rel.split("/")[1]
            label = "minimal" if folder.name.endswith("minimal") else (
                "rich" if folder.name.endswith("rich") else "other")
            for f in files:
                kinds_by[ver][f.kind].add(label)
            if got != expected:
                bad += 1
                print(f"FAIL {rel}: found {sorted(got)}, expected {sorted(expected)}")
            elif verbose:
                print(f"ok   {rel}: {sorted(got) or 'clean'}")
        else:
            covered |= expected
            missing = expected - got
            extra = got - expected
            if missing:
                bad += 1
                print(f"FAIL {rel}: expected {sorted(expected)} not found (found {sorted(got)})")
            elif extra or verbose:
                print(f"ok   {rel}" + (f"  (extra: {sorted(extra)})" if extra else ""))
    print(f"{ncsv} CSV files (incl. lower-case .csv), {njpg} JPEG files, {nbytes} bytes")
    bad += basic("valid")
    basic("invalid")
    for ver in (V3, V41):
        expect_kinds = {k for k, t in LAYOUTS.items() if ver != V3 or t["since"] == "v3"}
        if ver != V3:
            expect_kinds.add("UPKIHON_IMAGE")
        for k in sorted(expect_kinds):
            labels = kinds_by[ver].get(k, set())
            if not {"minimal", "rich"} <= labels:
                bad += 1
                print(f"FAIL coverage {ver} {k}: {sorted(labels)}")
    not_covered = [r for r in RULE_IDS if r not in covered]
    if not_covered:
        bad += 1
        print("FAIL rules without an invalid case:", not_covered)
    print(f"{len(RULE_IDS)} rules in rules.rs, {len(covered)} covered by invalid cases")
    print("OK" if not bad else f"{bad} problem(s)")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
