#!/usr/bin/env python3
"""Generator of the golden corpus of the care-plan CSV conformance kit.

Writes byte-exact Shift-JIS (MS932) files of the ケアプランデータ連携標準仕様 (V3, V4.0, V4.1) under

    golden/valid/<version>/<case>/     conformant send units (v4.0: valid with warnings)
    golden/invalid/<RULEID>-<slug>/    one send unit with exactly one problem + expect.toml

Column order, column sets per version, and which fields are free text come from the layout tables
in spec/data/layouts/*.toml; records are built as dicts keyed by the layout's column names (or by
the V4.1 column number where a layout repeats a name). Run from anywhere:

    python3 golden/generate.py

The output is deterministic: no clock, no randomness, files rewritten from scratch each run.
Python 3.11, standard library only.
"""

from __future__ import annotations

import calendar
import codecs
import pathlib
import shutil
import tomllib
import zlib
from decimal import ROUND_DOWN, Decimal

HERE = pathlib.Path(__file__).resolve().parent
DATA = HERE.parent / "spec" / "data"

V3, V40, V41 = "v3", "v4.0", "v4.1"
CSV_VERSION = {V3: "202208", V40: "202504", V41: "202407"}
EOL = "\r\n"


# --------------------------------------------------------------------------------------------
# The standard as data
# --------------------------------------------------------------------------------------------

def _load_toml(path: pathlib.Path) -> dict:
    with path.open("rb") as f:
        return tomllib.load(f)


def _load_layouts() -> dict[str, dict]:
    out: dict[str, dict] = {}
    for path in sorted((DATA / "layouts").glob("*.toml")):
        table = _load_toml(path)
        for kind in table["kinds"]:
            out[kind] = table
    return out


LAYOUTS = _load_layouts()
CODES = _load_toml(DATA / "codes.toml")["tables"]
SERVICE_TYPES = {t["code"]: t for t in _load_toml(DATA / "service_types.toml")["types"]}


def columns(kind: str, ver: str) -> list[dict]:
    """The columns of `kind` in files of `ver`: V3 drops the `since = "v4.0"` columns."""
    out = []
    for col in LAYOUTS[kind]["columns"]:
        if ver == V3 and col.get("since") == "v4.0":
            continue
        col = dict(col)
        if ver == V3 and "len_v3" in col:
            col["len"] = col["len_v3"]
        out.append(col)
    return out


# --------------------------------------------------------------------------------------------
# Writing records
# --------------------------------------------------------------------------------------------

class Raw(str):
    """A field written exactly as given: no quoting, no checks (used to build invalid files)."""


def _resolve(kind: str, ver: str, key) -> int | None:
    """Index of a record key (column name, or V4.1 column number) in the columns of `ver`."""
    cols = columns(kind, ver)
    if isinstance(key, int):
        for i, col in enumerate(cols):
            if col["no"] == key:
                return i
        if any(c["no"] == key for c in LAYOUTS[kind]["columns"]):
            return None  # a V4 column written to a V3 file: dropped
        raise KeyError(f"{kind}: no column No.{key}")
    hits = [i for i, col in enumerate(cols) if col["name"] == key]
    if len(hits) > 1:
        raise KeyError(f"{kind}: column name {key!r} is ambiguous, use the column number")
    if hits:
        return hits[0]
    if any(c["name"] == key for c in LAYOUTS[kind]["columns"]):
        return None
    raise KeyError(f"{kind}: no column {key!r}")


def render(kind: str, ver: str, rec: dict, minimal: bool = False, keep: tuple = (),
           ncols: int | None = None) -> str:
    """One record as text with its CRLF. Free text is enclosed in "" with inner quotes doubled
    (empty free text is written as nothing); every other field is written bare. With `minimal`,
    only required (必須/必要) columns and the names in `keep` keep their values."""
    cols = columns(kind, ver)
    values: dict[int, object] = {}
    for key, value in rec.items():
        idx = _resolve(kind, ver, key)
        if idx is not None:
            values[idx] = value
    fields = []
    for i, col in enumerate(cols):
        value = values.get(i)
        if value is None:
            value = ""
        if minimal and not (col.get("req") or col.get("req_inferred") or col.get("needed")
                            or col.get("fixed") or col["name"] in keep or col["no"] in keep):
            value = ""
        if isinstance(value, Raw):
            fields.append(str(value))
            continue
        value = str(value)
        if col["format"] in ("text", "image_name"):
            fields.append('"' + value.replace('"', '""') + '"' if value else "")
        else:
            if any(ch in value for ch in ',"\r\n'):
                raise ValueError(f"{kind} {col['name']}: bare field holds a delimiter: {value!r}")
            fields.append(value)
    if ncols is not None:  # invalid cases: drop columns from the end
        fields = fields[:ncols]
    return ",".join(fields) + EOL


def ms932(text: str) -> bytes:
    return codecs.encode(text, "cp932")  # strict: anything outside MS932 raises


class F:
    """One file of a case: its name and either records (rendered on demand) or raw bytes."""

    def __init__(self, name: str, kind: str | None = None, ver: str | None = None,
                 recs: list[dict] | None = None, data: bytes | None = None,
                 minimal: bool = False, keep: tuple = ()):
        self.name, self.kind, self.ver = name, kind, ver
        self.recs = recs if recs is not None else []
        self.minimal, self.keep = minimal, keep
        self._data = data
        self._lines: list[str] | None = None

    def lines(self) -> list[str]:
        """Rendered lines (each ending in CRLF); invalid cases may edit this list in place."""
        if self._lines is None:
            self._lines = [render(self.kind, self.ver, r, self.minimal, self.keep)
                           for r in self.recs]
        return self._lines

    @property
    def data(self) -> bytes:
        if self._data is None:
            self._data = ms932("".join(self.lines()))
        return self._data

    @data.setter
    def data(self, value: bytes) -> None:
        self._data = value


# --------------------------------------------------------------------------------------------
# Names
# --------------------------------------------------------------------------------------------

def party(p: tuple[str, str], ver: str) -> list[str]:
    office, stype = p
    if ver == V3:
        return [office]
    if ver == V40:
        return [office, stype + "0"]  # the withdrawn 3-character code: service type + "0"
    return [office, stype]


def fname(kind: str, ver: str, sender, receiver, serial: str, month: str | None = None,
          branch: str | None = None, ext: str | None = None) -> str:
    parts = [kind]
    if month is not None:
        parts.append(month)
    parts += party(sender, ver) + party(receiver, ver) + [serial]
    if branch is not None:
        parts.append(branch)
    if ext is None:
        ext = "jpg" if kind == "UPKIHON_IMAGE" else "CSV"
    return "_".join(parts) + "." + ext


# A 1x1 grey baseline JFIF: SOI, APP0, DQT, SOF0, DHT (DC), DHT (AC), SOS, one block, EOI.
TINY_JPEG = (
    bytes.fromhex("FFD8")
    + bytes.fromhex("FFE000104A46494600010100000100010000")
    + bytes.fromhex("FFDB004300") + bytes([1] * 64)
    + bytes.fromhex("FFC0000B080001000101011100")
    + bytes.fromhex("FFC4001400") + bytes([1] + [0] * 15) + bytes([0])
    + bytes.fromhex("FFC4001410") + bytes([1] + [0] * 15) + bytes([0])
    + bytes.fromhex("FFDA" "0008" "01" "0100" "00" "3F" "00")
    + bytes.fromhex("3F")
    + bytes.fromhex("FFD9")
)


def _png_chunk(tag: bytes, body: bytes) -> bytes:
    return (len(body).to_bytes(4, "big") + tag + body
            + (zlib.crc32(tag + body) & 0xFFFFFFFF).to_bytes(4, "big"))


# A 1x1 grey PNG (invalid case FILE004: a PNG renamed to .jpg).
TINY_PNG = (b"\x89PNG\r\n\x1a\n"
            + _png_chunk(b"IHDR", bytes.fromhex("00000001" "00000001" "08" "00" "00" "00" "00"))
            + _png_chunk(b"IDAT", zlib.compress(b"\x00\x80", 9))
            + _png_chunk(b"IEND", b""))


# --------------------------------------------------------------------------------------------
# Calendar helpers
# --------------------------------------------------------------------------------------------

def add_months(ym: str, n: int) -> str:
    y, m = int(ym[:4]), int(ym[4:])
    k = y * 12 + (m - 1) + n
    return f"{k // 12:04d}{k % 12 + 1:02d}"


def days_in(ym: str) -> int:
    return calendar.monthrange(int(ym[:4]), int(ym[4:]))[1]


def weekdays(ym: str, wds: tuple[int, ...], start: int = 1, end: int = 31) -> list[int]:
    """Days of month `ym` falling on the ISO weekdays `wds` (1 = Monday … 7 = Sunday)."""
    y, m = int(ym[:4]), int(ym[4:])
    return [d for d in range(1, days_in(ym) + 1)
            if start <= d <= end and calendar.weekday(y, m, d) + 1 in wds]


def day_mask(ym: str, first: int, last: int | None = None) -> str:
    last = days_in(ym) if last is None else last
    return "".join("1" if first <= d <= last else "0" for d in range(1, 32))


# --------------------------------------------------------------------------------------------
# Offices (office number, service type)
# --------------------------------------------------------------------------------------------

CM = ("0310000100", "43")          # 居宅介護支援事業所
HOUKATSU = ("0330000400", "46")    # 地域包括支援センター (介護予防支援)
P11 = ("0320000201", "11")         # 訪問介護
P15A = ("0320000201", "15")        # 通所介護 under the same office number as P11
P15 = ("0320000202", "15")         # 通所介護 with a satellite
P17 = ("0320000300", "17")         # 福祉用具貸与
P15K = ("0320000500", "15")        # 共生型通所介護 (a 障害福祉 生活介護 office)
PA1 = ("0320000201", "A1")         # 訪問型サービス（みなし）
PA5 = ("0320000202", "A5")         # 通所型サービス（みなし）
P67 = ("0320000300", "67")         # 介護予防福祉用具貸与
P41 = ("0320000600", "41")         # 特定福祉用具販売 (not linked; invalid cases only)
P31 = ("0320000700", "31")         # 居宅療養管理指導 (outside the 区分支給限度; invalid cases only)

OFFICE_NAME = {
    P11: "ひまわり訪問介護ステーション",
    P15A: "ひまわりデイサービス",
    P15: "あおぞらデイサービスセンター",
    P17: "みどり福祉用具レンタル",
    P15K: "共生型デイ　つばさ（生活介護事業所）",
    PA1: "ひまわり訪問介護ステーション",
    PA5: "あおぞらデイサービスセンター",
    P67: "みどり福祉用具レンタル",
    P41: "みどり福祉用具販売",
    P31: "千代田内科クリニック",
    CM: "ケアプランセンターさくら",
    HOUKATSU: "中央地域包括支援センター",
}
CM_PERSON = "佐藤　花子"
HK_PERSON = "鈴木　一郎"

PRICE = {"11": "11.40", "15": "10.90", "17": "11.40", "A1": "11.40", "A5": "10.90",
         "67": "11.40", "41": "11.40", "31": "10.00"}


# --------------------------------------------------------------------------------------------
# People and their services
# --------------------------------------------------------------------------------------------

class Era:
    """Dates of one scenario: the service month, the plan month before it, serial prefixes."""

    def __init__(self, month: str):
        self.month = month                       # service month of 6表/7表/実績
        self.pm = add_months(month, -1)          # month in which plans are written
        self.nm = add_months(month, 1)           # month in which 実績 are sent
        self.y = int(month[:4])

    def d(self, ym: str, day: int) -> str:
        return f"{ym}{day:02d}"


def svc(office, code, units, days, start="9999", end="9999", count=1, branch="", tais="",
        todoke="", yogu="", meisai="", mask="", monthly=False):
    return dict(office=office, code=code, units=units, days=days, start=start, end=end,
                count=count, branch=branch, tais=tais, todoke=todoke, yogu=yogu,
                meisai=meisai, mask=mask, monthly=monthly)


def people(e: Era) -> dict[str, dict]:
    """The users of the corpus for one era. 2表/3表 texts deliberately hold commas, doubled
    quotes and CRLF line breaks."""
    pm, m = e.pm, e.month
    pm1 = add_months(pm, -1)
    limit_to = e.d(add_months(pm, 11), days_in(add_months(pm, 11)))
    u = {}
    u["U1"] = dict(
        insurer="131016", insured="1234500001", kana="カイゴ　タロウ", name="介護　太郎", sex="1",
        birth="19400315", postal="100-0001", addr1="東京都千代田区千代田一丁目1番1号",
        addr2="さくらハイツ101号室", phone="03-1234-5678", cert_date=e.d(pm1, 5),
        limit_from=e.d(pm, 1), limit_to=limit_to, cert_status="2", level="22", limit="19705",
        prev_level="21", level_changed=e.d(pm, 1), plan_date=e.d(pm, 20), made=e.d(pm, 20),
        first_plan="20230401", plan_cat="21", living_reason="", other_reason="",
        analysis=('本人は「住み慣れた自宅で暮らし続けたい」と希望, 家族は"できる範囲で"支えたいとの意向。'
                  "\r\n入浴と服薬管理に課題がある。"),
        opinion="特になし",
        policy=("転倒に注意し, 入浴の安全を確保する。\r\n緊急時は長女（携帯 090-1111-2222）へ連絡する。"),
    )
    u["U2"] = dict(
        insurer="131016", insured="H123456789", kana="セイホ　ハナコ", name="生保　花子", sex="2",
        birth="19451102", postal="100-0005", addr1="東京都千代田区丸の内二丁目3番4号",
        addr2="", phone="03-2345-6789", cert_date=e.d(pm, 2), limit_from=e.d(pm, 1),
        limit_to=limit_to, cert_status="2", level="21", limit="16765", prev_level="",
        level_changed="", plan_date=e.d(pm, 18), made=e.d(pm, 18), first_plan=e.d(pm, 18),
        plan_cat="11", living_reason="1", other_reason="",
        analysis="生活保護単独（介護扶助）の方。\r\n一人暮らしで, 調理と掃除に支援が必要。",
        opinion="", policy="福祉事務所のケースワーカーと連携して支援する。",
    )
    u["U3"] = dict(
        insurer="012025", insured="9876500003", kana="ジュウトク　ジロウ", name="住特　次郎",
        sex="1", birth="19380707", postal="101-0021", addr1="東京都千代田区外神田三丁目5番6号",
        addr2="住宅型有料老人ホームあかね　205号室（住所地特例：保険者は北海道函館市）",
        phone="03-3456-7890", cert_date=e.d(pm1, 25), limit_from=e.d(pm1, 1),
        limit_to=limit_to, cert_status="2", level="23", limit="27048", prev_level="22",
        level_changed=e.d(pm1, 1), plan_date=e.d(pm, 10), made=e.d(pm, 10),
        first_plan="20210901", plan_cat="52", living_reason="3",
        other_reason='同居の妻も要支援のため, "家事が困難"。',
        analysis=("住所地特例の対象者（保険者：函館市）。\r\n共生型通所介護（生活介護事業所）を"
                  "引き続き利用し, 日中の活動を確保する。"),
        opinion="通所系サービスの継続が望ましい。", policy="夜間の排泄介助と日中の活動を支援する。",
    )
    u["U4"] = dict(
        insurer="131016", insured="1234500004", kana="ツウショ　サブロウ", name="通所　三郎",
        sex="1", birth="19500101", postal="", addr1="", addr2="", phone="",
        cert_date=e.d(pm1, 10), limit_from=e.d(pm1, 1), limit_to=limit_to, cert_status="2",
        level="21", limit="16765", prev_level="", level_changed="", plan_date=e.d(pm, 15),
        made=e.d(pm, 15), first_plan="20240601", plan_cat="21", living_reason="",
        other_reason="", analysis="", opinion="", policy="",
    )
    # 予防 users (V4 only)
    u["Y1"] = dict(
        insurer="131016", insured="1234500011", kana="ヨボウ　ウメ", name="予防　うめ", sex="2",
        birth="19420220", postal="100-0011", addr1="東京都千代田区内幸町一丁目2番3号", addr2="",
        phone="03-4567-8901", cert_date=e.d(pm1, 12), limit_from=e.d(pm1, 1),
        limit_to=limit_to, cert_status="2", level="12", limit="5032", prev_level="12",
        level_changed="", plan_date=e.d(pm, 20), made=e.d(pm, 20), first_plan="20240401",
        plan_cat="21", kihon_level="12", consult=e.d(pm, 10), yobo_level="1",
    )
    u["Y2"] = dict(
        insurer="131016", insured="1234500012", kana="ジギョウ　マツ", name="事業　まつ", sex="2",
        birth="19470505", postal="100-0012", addr1="東京都千代田区日比谷公園1番1号", addr2="",
        phone="", cert_date="", limit_from=e.d(pm, 1), limit_to=limit_to, cert_status="",
        level="06", limit="5032", prev_level="", level_changed="", plan_date=e.d(pm, 22),
        made=e.d(pm, 22), first_plan=e.d(pm, 22), plan_cat="11", kihon_level="01",
        consult=e.d(pm, 15), yobo_level="3",
    )

    # Services of the service month (6表 rows come from these).
    m_ = m
    s = {}
    s["U1"] = [
        svc(P11, "111211", 258, weekdays(m_, (1, 4)), "1000", "1045"),                 # 身体介護2
        svc(P11, "112111", 179, weekdays(m_, (2,)), "1400", "1445"),                    # 生活援助2
        svc(P15A, "151325", 775, weekdays(m_, (3, 6)), "0930", "1645"),                 # 通所介護
        svc(P15A, "155051", 40, weekdays(m_, (3, 6)), "0930", "1645"),                  # 入浴介助加算
        svc(P17, "171001", 500, [1], tais="00170-000012", yogu="自走用標準型車いす　ＫＡ－２２"),
        svc(P17, "171003", 1000, [1], tais="00456-000078", yogu="特殊寝台　らくらくベッド３モーター"),
    ]
    s["U2"] = [
        svc(P11, "111111", 163, weekdays(m_, (1, 2, 3, 4, 5), start=12), "0800", "0825"),
        svc(P15, "151215", 658, weekdays(m_, (2, 5), start=12), "0930", "1645", branch="1"),
    ]
    s["U3"] = [
        svc(P11, "111111", 163, weekdays(m_, (1, 3, 5)), "1800", "1825"),
        svc(P15K, "151335", 833, weekdays(m_, (2, 4)), "1000", "1600"),
        svc(P17, "171004", 100, [1], todoke="90001-000123", yogu="サイドレール　ＳＲ－１", meisai="1"),
        svc(P17, "171004", 100, [1], tais="00456-000091", yogu="ベッド用テーブル　ＴＢ－５", meisai="2"),
        svc(P17, "171007", 300, [15], tais="00321-000456", yogu="据置型手すり　たちあっぷ",
            mask=day_mask(m_, 15)),
    ]
    s["U4"] = [
        svc(P15, "151215", 658, weekdays(m_, (1, 4)), "0930", "1645"),
    ]
    y2_first = weekdays(m_, (1, 2, 3, 4, 5), start=12)[0]
    s["Y1"] = [
        svc(PA1, "A11111", 1176, weekdays(m_, (2,)), "1000", "1045", monthly=True),
        svc(P67, "671007", 60, [1], tais="00321-000456", yogu="据置型手すり　たちあっぷ"),
    ]
    s["Y2"] = [
        svc(PA1, "A11111", 1176, weekdays(m_, (3,), start=12), "1400", "1445", monthly=True,
            mask=day_mask(m_, y2_first)),
        svc(PA5, "A51111", 1798, weekdays(m_, (5,), start=12), "0930", "1600", monthly=True,
            mask=day_mask(m_, y2_first)),
    ]
    for k, lst in s.items():
        u[k]["services"] = lst
        u[k]["key"] = k
    return u


# --------------------------------------------------------------------------------------------
# Record builders, one per layout
# --------------------------------------------------------------------------------------------

def hosoku(ver, u, cm, plan_date=None, month=None):
    """利用者補足情報: with plan_date for the 1表 set (No.63 = 000000), with month for the 6表 set
    (No.4 = 00000000)."""
    return {
        "CSVバージョン": CSV_VERSION[ver], "保険者番号": u["insurer"], "被保険者番号": u["insured"],
        "居宅サービス計画作成（変更）日": plan_date if plan_date else "00000000",
        "利用者氏名フリガナ": u["kana"], "利用者氏名": u["name"], "利用者性別": u["sex"],
        "利用者生年月日": u["birth"], "利用者郵便番号": u["postal"], "利用者住所１": u["addr1"],
        "利用者住所２": u["addr2"], "利用者電話番号": u["phone"], "認定日": u["cert_date"],
        "限度額適用開始年月日": u["limit_from"], "限度額適用終了年月日": u["limit_to"],
        "認定状況区分": u["cert_status"], "要介護状態変更日": u["level_changed"],
        "要介護状態区分": u["level"], "区分支給限度基準額": u["limit"],
        "合計限度超単位数": "0", "前回要介護状態区分": u["prev_level"],
        "同意書受付業者": cm[0], "更新業者コード": cm[0], "識別子": "",
        "対象年月": month if month else "000000",
    }


def table1(ver, u, cm):
    return {
        "CSVバージョン": CSV_VERSION[ver], "保険者番号": u["insurer"], "被保険者番号": u["insured"],
        "作成年月日": u["made"], "利用者郵便番号": u["postal"], "利用者住所１": u["addr1"],
        "利用者住所２": u["addr2"], "居宅サービス計画作成者氏名": CM_PERSON,
        "介護支援事業者名": OFFICE_NAME[cm], "介護支援事業者郵便番号": "100-0003",
        "介護支援事業者住所１": "東京都千代田区一ツ橋一丁目1番1号", "介護支援事業者住所２": "さくらビル2階",
        "介護支援事業者コード": cm[0], "居宅サービス計画作成（変更）日": u["plan_date"],
        "初回居宅サービス計画作成日": u["first_plan"], "計画書区分": u["plan_cat"],
        "認定状況区分": u["cert_status"], "認定日": u["cert_date"],
        "認定有効期間開始日": u["limit_from"], "認定有効期間終了日": u["limit_to"],
        "要介護状態区分": u["level"],
        "利用者及び家族の生活に対する意向を踏まえた課題分析の結果": u["analysis"],
        "介護認定審査会の意見及びサービスの種類の指定": u["opinion"],
        "総合的な援助の方針": u["policy"], "生活援助中心型の算定理由": u["living_reason"],
        "その他理由": u["other_reason"], "更新業者コード": cm[0], "識別子": "",
    }


def table2(ver, u, cm, lines):
    """lines: (課題NO, 課題, 目標NO, 長期, 短期, 長期期間, 短期期間, 内容NO, 内容, 保険, 種別, office)"""
    out = []
    for (kno, kadai, gno, lg, sg, lp, sp, ino, naiyo, hoken, shu, office, freq) in lines:
        out.append({
            "CSVバージョン": CSV_VERSION[ver], "保険者番号": u["insurer"],
            "被保険者番号": u["insured"], "居宅計画書作成年月日": u["made"],
            "居宅サービス計画作成（変更）日": u["plan_date"], "課題ＮＯ": kno, "課題": kadai,
            "援助目標ＮＯ": gno, "長期目標": lg, "短期目標": sg, "長期期間": lp, "短期期間": sp,
            "援助内容ＮＯ": ino, "サービス内容": naiyo, "保険対象区分": hoken, "サービス種別": shu,
            "サービス事業者コード": office[0] if office else "",
            "サービス事業所名": OFFICE_NAME[office] if office else "",
            "頻度": freq, "実施期間": sp, "更新業者コード": cm[0], "識別子": "",
        })
    return out


def table2_lines(uk: str, e: Era):
    y = e.y
    lp = f"{y}年{int(e.month[4:])}月1日～{y + 1}年3月31日"
    sp = f"{y}年{int(e.month[4:])}月1日～{y}年10月31日"
    if uk == "U1":
        return [
            (1, '自宅の浴槽をまたげず, 一人で入浴できない。\r\n本人は"家のお風呂に入りたい"と話す。', 1,
             "安全に入浴できる", "見守りのもと週2回入浴する", lp, sp, 1, "入浴介助, 洗身の一部介助", "Y",
             "通所介護", P15A, "週2回"),
            ("1", "", "1", "", "", "", sp, 2, "浴室用手すりの検討", "N", "家族", None, "随時"),
            (1, "", 2, "", "清潔を保つ", "", sp, 1, "更衣・整容の介助", "Y", "訪問介護", P11, "週2回"),
            (2, "薬の飲み忘れがある", 1, "服薬を自己管理できる", "声かけで飲み忘れがなくなる", lp, sp, 1,
             "服薬確認, 声かけ", "Y", "訪問介護", P11, "週3回"),
            (3, "歩行が不安定で, 外出が少ない", 1, "近所へ外出できる", "車いすで外出する", lp, sp, 1,
             "車いす・特殊寝台の貸与", "Y", "福祉用具貸与", P17, "毎日"),
        ]
    if uk == "U2":
        return [
            (1, "調理と掃除ができない", 1, "清潔な環境で暮らす", "週5回の支援で生活を整える", lp, sp, 1,
             "身体介護（排泄・食事）", "Y", "訪問介護", P11, "週5回"),
            (2, "閉じこもりがち", 1, "人と交流する", "通所で入浴と交流をする", lp, sp, 1,
             "通所介護（サテライト事業所）", "Y", "通所介護", P15, "週2回"),
        ]
    if uk == "U3":
        return [
            (1, "夜間の排泄に介助が必要", 1, "夜間も安心して過ごす", "夕方の排泄介助を受ける", lp, sp, 1,
             "排泄介助", "Y", "訪問介護", P11, "週3回"),
            (2, "日中の活動が少ない", 1, "日中を楽しく過ごす", "共生型通所介護に通う", lp, sp, 1,
             "共生型通所介護（生活介護事業所）", "Y", "通所介護", P15K, "週2回"),
            (3, "ベッドからの起き上がりが困難", 1, "自力で起き上がる", "手すりを使って起き上がる", lp, sp,
             1, "特殊寝台付属品, 手すりの貸与", "Y", "福祉用具貸与", P17, "毎日"),
        ]
    return [(1, "入浴", 1, "入浴できる", "週2回入浴する", lp, sp, 1, "通所介護", "Y", "通所介護", P15,
             "週2回")]


def table3(ver, u, rows):
    """rows: dicts with keys svc, wd, s, e (weekly service) / act, as_, ae / other."""
    out = []
    for r in rows:
        out.append({
            "CSVバージョン": CSV_VERSION[ver], "保険者番号": u["insurer"],
            "被保険者番号": u["insured"], "週間サービス計画表作成年月日": u["made"],
            "居宅サービス計画作成（変更）日": u["plan_date"],
            "介護サービス内容": r.get("svc", ""), "曜日": r.get("wd", ""), 8: r.get("s", ""),
            9: r.get("e", ""), "主な日常生活上の活動": r.get("act", ""), 11: r.get("as_", ""),
            12: r.get("ae", ""), "週単位以外のサービス": r.get("other", ""),
        })
    return out


def table3_rows(uk: str):
    if uk == "U1":
        return [
            dict(svc="訪問介護（身体介護）", wd="1", s="1000", e="1045"),
            dict(svc="訪問介護（生活援助）", wd="2", s="1400", e="1445"),
            dict(svc="通所介護, 入浴介助", wd="3", s="0930", e="1645"),
            dict(svc="訪問介護（身体介護）", wd="4", s="1000", e="1045"),
            dict(svc="通所介護, 入浴介助", wd="6", s="0930", e="1645"),
            dict(act="起床・朝食", as_="0700", ae="0800"),
            dict(act='昼食（"配食サービス"を利用）', as_="1200", ae="1300"),
            dict(act="就寝", as_="2100", ae="2130"),
            dict(other="福祉用具貸与（車いす, 特殊寝台）\r\n通院：月2回（長女が同行）"),
        ]
    if uk == "U2":
        return [dict(svc="訪問介護（身体介護）", wd=str(d), s="0800", e="0825") for d in range(1, 6)] + [
            dict(svc="通所介護（サテライト）", wd="2", s="0930", e="1645"),
            dict(svc="通所介護（サテライト）", wd="5", s="0930", e="1645"),
            dict(other="福祉事務所ケースワーカー訪問：月1回"),
        ]
    if uk == "U3":
        return [dict(svc="訪問介護（排泄介助）", wd=str(d), s="1800", e="1825") for d in (1, 3, 5)] + [
            dict(svc="共生型通所介護", wd="2", s="1000", e="1600"),
            dict(svc="共生型通所介護", wd="4", s="1000", e="1600"),
            dict(act="起床", as_="0630", ae="0700"),
            dict(other="福祉用具貸与（特殊寝台付属品, 手すり）"),
        ]
    return [dict(svc="通所介護", wd="1", s="0930", e="1645")]


def plan6_rows(ver, u, month, made, cm, cm_person, svcs, updater=None):
    """第6表 / 実績 records: one per service and day."""
    rows = []
    for s in svcs:
        for n, day in enumerate(s["days"]):
            units = s["units"] if (not s["monthly"] or n == 0) else 0
            rows.append((day, s["start"], s["code"], {
                "CSVバージョン": CSV_VERSION[ver], "保険者番号": u["insurer"],
                "被保険者番号": u["insured"], "作成年月日": made, "対象年月": month,
                "プラン担当業者コード": cm[0], "プラン担当者名": cm_person,
                "単位数": units, "サービス利用日": f"{month}{day:02d}", "日割対象日": s["mask"],
                "サービス開始時刻": s["start"], "サービス終了時刻": s["end"],
                "サービス回数": s["count"], "サービスコード": s["code"], "TAISコード": s["tais"],
                "福祉用具届出コード": s["todoke"], "用具名称（機種名）": s["yogu"],
                "明細判別コード": s["meisai"], "サービス事業者コード": s["office"][0],
                "サービス事業所名": OFFICE_NAME[s["office"]], "サテライト枝番": s["branch"],
                "３０日超区分": "0", "更新業者コード": (updater or cm)[0], "識別子": "",
            }))
    rows.sort(key=lambda r: (r[0], r[1], r[2]))
    return [r[3] for r in rows]


def _money(units: int, price: str, rate: int):
    cost = int((Decimal(units) * Decimal(price)).to_integral_value(rounding=ROUND_DOWN))
    claim = int((Decimal(cost) * rate / 100).to_integral_value(rounding=ROUND_DOWN))
    return cost, claim, cost - claim


def sikyu_rows(ver, u, month, made, cm, svcs):
    """第7表 records of one user: service rows, a <type>AAAA subtotal for each type with more
    than one code row, and the 999999 grand total (office 9999999999)."""
    base = {"CSVバージョン": CSV_VERSION[ver], "保険者番号": u["insurer"],
            "被保険者番号": u["insured"], "作成年月日": made, "対象年月": month,
            "３０日超区分": "0", "事業所コード": "9999999999", "入力者コード": cm[0],
            "更新業者コード": cm[0], "識別子": ""}
    rate = 100 if u["insured"].startswith("H") else 90
    agg: dict[tuple, dict] = {}
    for s in svcs:
        key = (s["office"], s["branch"], s["code"], s["tais"], s["todoke"], s["meisai"])
        a = agg.setdefault(key, dict(s=s, count=0))
        a["count"] += 1 if s["monthly"] else s["count"] * len(s["days"])
    types: dict[str, list] = {}
    for a in agg.values():
        types.setdefault(a["s"]["code"][:2], []).append(a)
    rows = []
    grand = dict(units=0, cost=0, claim=0, copay=0)
    for stype, lst in types.items():
        tot = 0
        type_rows = []
        for a in lst:
            s = a["s"]
            amount = s["units"] * a["count"]
            tot += amount
            type_rows.append(dict(base, **{
                "サービス事業所名": OFFICE_NAME[s["office"]], "サービス事業所コード": s["office"][0],
                "サテライト枝番": s["branch"], "サービスコード": s["code"], "TAISコード": s["tais"],
                "福祉用具届出コード": s["todoke"], "用具名称（機種名）": s["yogu"],
                "単位数": s["units"], "回数／日数": a["count"], "サービス単位金額": amount,
                "給付管理単位数": amount,
            }))
        cost, claim, copay = _money(tot, PRICE[stype], rate)
        totals = {"種類支給限度基準内単位数": tot, "区分支給限度基準内単位数": tot,
                  "単位数単価": PRICE[stype], "費用総額保険／事業対象分": cost, "給付率": rate,
                  "保険／事業費請求額": claim, "利用者負担保険／事業対象分": copay}
        if len(type_rows) > 1:
            offices = {r["サービス事業所コード"] for r in type_rows}
            branches = {r["サテライト枝番"] for r in type_rows}
            first = lst[0]["s"]
            rows += type_rows
            rows.append(dict(base, **totals, **{
                "サービス事業所名": OFFICE_NAME[first["office"]] if len(offices) == 1 else "",
                "サービス事業所コード": offices.pop() if len(offices) == 1 else "9999999999",
                "サテライト枝番": branches.pop() if len(branches) == 1 else "",
                "サービスコード": stype + "AAAA", "単位数": 0, "回数／日数": 0,
                "サービス単位金額": tot, "給付管理単位数": tot,
            }))
        else:
            type_rows[0].update(totals)
            rows += type_rows
        grand["units"] += tot
        grand["cost"] += cost
        grand["claim"] += claim
        grand["copay"] += copay
    rows.append(dict(base, **{
        "サービス事業所コード": "9999999999", "サービスコード": "999999", "単位数": 0,
        "回数／日数": 0, "サービス単位金額": grand["units"], "給付管理単位数": grand["units"],
        "区分支給限度基準内単位数": grand["units"], "費用総額保険／事業対象分": grand["cost"],
        "保険／事業費請求額": grand["claim"], "利用者負担保険／事業対象分": grand["copay"],
    }))
    return rows


def kihon(ver, u, image_name):
    r = {
        "CSVバージョン": CSV_VERSION[ver], "保険者番号": u["insurer"], "被保険者番号": u["insured"],
        "相談日": u["consult"], "計画種類": "1" if u["key"] == "Y1" else "2", "委託の有無": "1",
        "作成担当者": HK_PERSON, "相談方法": "01", "相談回数": "01" if u["key"] == "Y2" else "02",
        "前回相談日": "" if u["key"] == "Y2" else add_months(u["consult"][:6], -6) + "10",
        "利用者の現況": "01", "利用者氏名ﾌﾘｶﾞﾅ": u["kana"], "利用者氏名": u["name"],
        "利用者性別": u["sex"], "利用者生年月日": u["birth"],
        "利用者住所": u["addr1"], "利用者電話番号": u["phone"],
        "障害高齢者の日常生活自立度": "11", "認知症高齢者の日常生活自立度": "02",
        "要介護状態区分": u["kihon_level"],
        "基本チェックリスト記入結果": "1" if u["key"] == "Y2" else "",
        "基本チェックリスト記入日": u["consult"] if u["key"] == "Y2" else "",
        "障害等認定(身障)": "0", "障害等認定(療育)": "0", "障害等認定(精神)": "0",
        "障害等認定(難病)": "0", "居住形態": "05", "自室の階数": "2", "住宅改修の有無": "2",
        "経済状況(国民年金)": "1", "経済状況(厚生年金)": "0", "経済状況(障害年金)": "0",
        "経済状況(生活保護)": "0", "経済状況詳細": "年金のみ, 月額約6万円",
        "来所者(相談者)氏名": "予防　一子", "来所者(相談者)続柄": "長女",
        "1 緊急連絡先(氏名)": "予防　一子", "1 緊急連絡先(続柄)": "長女",
        "1 緊急連絡先(住所)": "東京都港区芝公園四丁目2番8号", "1 緊急連絡先(電話番号)": "090-1234-5678",
        "家族構成 画像ファイル名": image_name,
        "家族関係等の状況": '長女が近隣に住み, 週1回訪問。\r\n本人は"迷惑をかけたくない"と話す。',
        "今までの生活": "専業主婦として家庭を支えた。",
        "１日の生活・すごし方(生活全般)": "日中は居間でテレビを見て過ごす。",
        "趣味・楽しみ・特技": "編み物, 園芸", "友人・地域との関係": "老人会に参加していた。",
        "現在利用している公的サービス": "訪問型サービス", "現在利用している非公的サービス": "配食サービス",
        "同意日": u["consult"], "同意者氏名": u["name"],
    }
    if u["key"] == "Y1":
        r.update({"認定有効期限開始日": u["limit_from"], "認定有効期間終了日": u["limit_to"],
                  "前回の介護度": "12"})
    return r


def kihon_sub1(ver, u, rows):
    return [{"CSVバージョン": CSV_VERSION[ver], "保険者番号": u["insurer"],
             "被保険者番号": u["insured"], "相談日": u["consult"], "時間": t,
             "本人の生活状況": a, "介護者・家族の生活状況": b} for (t, a, b) in rows]


def kihon_sub2(ver, u, rows):
    return [{"CSVバージョン": CSV_VERSION[ver], "保険者番号": u["insurer"],
             "被保険者番号": u["insured"], "相談日": u["consult"], "年月日": ymd, "病名": dz,
             "医療機関・医師名": hosp, "主治医・意見作成者フラグ": flag, "医療機関・医師電話番号": tel,
             "経過": prog, "治療中の内容": txt} for (ymd, dz, hosp, flag, tel, prog, txt) in rows]


def yobo(ver, u):
    return {
        "CSVバージョン": CSV_VERSION[ver], "保険者番号": u["insurer"], "被保険者番号": u["insured"],
        "計画作成(変更)日": u["plan_date"], "計画種類": "1" if u["key"] == "Y1" else "2",
        "委託の有無": "1", "整理番号": "R-" + u["insured"][-4:], "利用者名": u["name"],
        "認定年月日": u["cert_date"], "認定有効期間開始日": u["limit_from"] if u["cert_date"] else "",
        "認定有効期間終了日": u["limit_to"] if u["cert_date"] else "", "計画書区分": u["plan_cat"],
        "認定状況区分": u["cert_status"], "要支援状態区分": u["yobo_level"],
        "計画作成者氏名（地域包括支援センター担当者名）": HK_PERSON,
        "計画作成者事業者・事業所名": OFFICE_NAME[HOUKATSU],
        "計画作成者事業者・事業所住所": "東京都千代田区九段南一丁目2番1号",
        "計画作成者事業者・事業所電話番号": "03-5555-0400", "初回作成日": u["first_plan"],
        "担当地域包括支援センター": OFFICE_NAME[HOUKATSU],
        "目標とする生活(1日)": "朝の散歩を続ける", "目標とする生活(1年)": '孫の結婚式に"自分の足で"出席する',
        "【運動・移動】現在の状況": "屋外歩行は杖を使用, 約300m", "【運動・移動】本人・家族の意欲・意向": "歩く力を保ちたい",
        "【運動・移動】領域における課題の有無": "1", "【運動・移動】領域における課題（背景・原因）": "下肢筋力の低下",
        "【日常生活(家庭生活)】現在の状況": "掃除が難しい", "【日常生活(家庭生活)】領域における課題の有無": "1",
        "【社会参加、対人関係・コミュニケーション】領域における課題の有無": "2",
        "【健康管理】領域における課題の有無": "2", "健康状態の留意点": "血圧に注意\r\n（主治医より）",
        "妥当な支援の実施に向けた方針": "本人の意欲を尊重する", "総合的な方針": "転倒を予防し, 外出の機会を保つ。",
        "基本チェックリストの該当数(運動不足)": "3", "基本チェックリストの該当数(栄養改善)": "0",
        "基本チェックリストの該当数(口腔内ケア)": "1", "基本チェックリストの該当数(閉じこもり予防)": "1",
        "基本チェックリストの該当数(物忘れ予防)": "0", "基本チェックリストの該当数(うつ予防)": "0",
        "事業プログラムの要否(運動不足)": "1", "事業プログラムの要否(栄養改善)": "2",
        "事業プログラムの要否(口腔内ケア)": "2", "事業プログラムの要否(閉じこもり予防)": "2",
        "事業プログラムの要否(物忘れ予防)": "2", "事業プログラムの要否(うつ予防)": "2",
        "地域包括支援センター意見": "計画のとおり実施する。", "同意日": u["plan_date"], "同意者氏名": u["name"],
    }


def yobo_sub(ver, u, rows):
    out = []
    for (kno, kadai, teian, ikou, goal, pno, point, self_, svc_, uno, shu, office, period) in rows:
        out.append({
            "CSVバージョン": CSV_VERSION[ver], "保険者番号": u["insurer"],
            "被保険者番号": u["insured"], "計画作成(変更)日": u["plan_date"], "課題ＮＯ": kno,
            "総合的課題": kadai, "課題に対する目標と具体策の提案": teian,
            "具体策についての意向 本人・家族": ikou, "目標": goal, "支援計画ＮＯ": pno,
            "【支援計画】目標についての支援のポイント": point,
            "【支援計画】本人等のセルフケアや家族の支援、インフォーマルサービス（民間サービス）": self_,
            "【支援計画】介護保険サービス又は地域支援事業（総合事業のサービス）": svc_,
            "利用サービスＮＯ": uno, "【利用サービス】サービス種別": shu,
            "【利用サービス】事業所(利用先)": office, "【利用サービス】期間": period,
        })
    return out


def yobo_sub_rows(uk, e: Era):
    period = f"{e.y}年{int(e.month[4:])}月～{e.y}年10月"
    if uk == "Y1":
        return [
            (1, "下肢筋力が低下し, 転倒の危険がある", "筋力を保ち転倒を防ぐ", "運動を続けたい", "週1回の運動",
             1, "無理のない運動", "自宅で体操", "訪問型サービス", 1, "訪問型サービス（みなし）",
             OFFICE_NAME[PA1], period),
            (1, "", "", "", "", 1, "", "", "", 2, "介護予防福祉用具貸与", OFFICE_NAME[P67], period),
            (1, "", "", "", "", 2, '"手すり"の活用', "家族が見守る", "", 1, "介護予防福祉用具貸与",
             OFFICE_NAME[P67], period),
            (2, "掃除ができない", "掃除を一緒に行う", "できることは自分で", "居室の掃除を続ける", 1,
             "一緒に行う家事", "長女の支援", "訪問型サービス", 1, "訪問型サービス（みなし）",
             OFFICE_NAME[PA1], period),
        ]
    return [
        (1, "外出の機会が少ない", "通所で交流する", "行ってみたい", "週1回外出する", 1, "送迎で通所",
         "", "通所型サービス", 1, "通所型サービス（みなし）", OFFICE_NAME[PA5], period),
    ]


def dlt(kind, ver, u, value, extra=None):
    cols = columns(kind, ver)
    r = {cols[0]["name"]: CSV_VERSION[ver], cols[1]["name"]: u["insurer"],
         cols[2]["name"]: u["insured"], cols[3]["name"]: value}
    if extra:
        r.update(extra)
    return r


# --------------------------------------------------------------------------------------------
# Send units
# --------------------------------------------------------------------------------------------

def unit_plan(ver, e, users, sender, receiver, serial, minimal=False):
    """居宅 ①: 1表 + 2表 + 3表 (V4) + 補足 (000000)."""
    files = []
    t1, t2, t3, h = [], [], [], []
    for u in users:
        t1.append(table1(ver, u, sender))
        t2 += table2(ver, u, sender, table2_lines(u["key"], e)[:1] if minimal
                     else table2_lines(u["key"], e))
        t3 += table3(ver, u, table3_rows(u["key"])[:1] if minimal else table3_rows(u["key"]))
        h.append(hosoku(ver, u, sender, plan_date=u["plan_date"]))
    files.append(F(fname("UP1KYO", ver, sender, receiver, serial), "UP1KYO", ver, t1, minimal=minimal))
    files.append(F(fname("UP2KYO", ver, sender, receiver, serial), "UP2KYO", ver, t2, minimal=minimal))
    if ver != V3:
        files.append(F(fname("UP3KYO", ver, sender, receiver, serial), "UP3KYO", ver, t3,
                       minimal=minimal))
    files.append(F(fname("UPHOSOKU", ver, sender, receiver, serial, month="000000"), "UPHOSOKU",
                   ver, h, minimal=minimal))
    return files


def unit_riyohyo(ver, e, users, sender, receiver, serial, month=None, made=None, minimal=False,
                 person=CM_PERSON):
    """居宅 ② (and 予防 (4)): 6表 + 7表 + 補足 (month)."""
    month = month or e.month
    made = made or e.d(e.pm, 24)
    p6, p7, h = [], [], []
    for u in users:
        svcs = u["services"][:1] if minimal else u["services"]
        p6 += plan6_rows(ver, u, month, made, sender, person, svcs[:1] if minimal else svcs)
        if minimal:
            p6 = p6[:1]
            first = dict(svcs[0], days=svcs[0]["days"][:1])
            p7 += sikyu_rows(ver, u, month, made, sender, [first])
        else:
            p7 += sikyu_rows(ver, u, month, made, sender, svcs)
        h.append(hosoku(ver, u, sender, month=month))
    return [
        F(fname("UPPLAN", ver, sender, receiver, serial, month=month), "UPPLAN", ver, p6, minimal=minimal),
        F(fname("UPSIKYU", ver, sender, receiver, serial, month=month), "UPSIKYU", ver, p7,
          minimal=minimal),
        F(fname("UPHOSOKU", ver, sender, receiver, serial, month=month), "UPHOSOKU", ver, h,
          minimal=minimal),
    ]


def unit_jisseki(ver, e, users, sender, receiver, serial, cm=CM, person=CM_PERSON, minimal=False,
                 month=None, made=None):
    """Service office: UPJSK alone, rows of the sender's office and service type only."""
    month = month or e.month
    made = made or e.d(e.nm, 2)
    rows = []
    for u in users:
        mine = [s for s in u["services"] if s["office"][0] == sender[0]
                and s["code"][:2] == sender[1]]
        mine = [dict(s, start=_actual(s["start"]), end=_actual(s["end"])) for s in mine]
        rows += plan6_rows(ver, u, month, made, cm, person, mine, updater=sender)
    if minimal:
        rows = rows[:1]
    return [F(fname("UPJSK", ver, sender, receiver, serial, month=month), "UPJSK", ver, rows,
              minimal=minimal)]


def _actual(t: str) -> str:
    """Actual times differ a little from planned ones (5 minutes later)."""
    if t == "9999":
        return t
    h, m = int(t[:2]), int(t[2:]) + 5
    h, m = h + m // 60, m % 60
    return f"{h:02d}{m:02d}"


KIHON_SUB1 = [
    ("6:00", "起床, 洗面", ""),
    ("12:00", '昼食（"配食"）', "長女が電話で確認"),
    ("21:00", "就寝", ""),
]
KIHON_SUB2 = [
    ("H20年10月", "高血圧症", "千代田内科クリニック　山本医師", "1", "03-3333-4444", "01", "降圧剤を服用\r\n月1回通院"),
    ("R5年3月", "腰部脊柱管狭窄症", "九段整形外科", "2", "03-5555-6666", "02", ""),
]


def unit_kihon(ver, users, sender, receiver, serial, minimal=False, with_subs=True):
    """予防 (1): UPKIHON + UPKIHON_SUB1 + UPKIHON_SUB2 + one image per KIHON row."""
    files, k, s1, s2 = [], [], [], []
    images = []
    for n, u in enumerate(users, start=1):
        img = fname("UPKIHON_IMAGE", ver, sender, receiver, serial, branch=f"{n:04d}")
        k.append(kihon(ver, u, img))
        s1 += kihon_sub1(ver, u, KIHON_SUB1[:1] if minimal else KIHON_SUB1)
        s2 += kihon_sub2(ver, u, KIHON_SUB2[:1] if minimal else KIHON_SUB2)
        images.append(F(img, data=TINY_JPEG))
    files.append(F(fname("UPKIHON", ver, sender, receiver, serial), "UPKIHON", ver, k,
                   minimal=minimal, keep=("家族構成 画像ファイル名",)))
    if with_subs:
        files.append(F(fname("UPKIHON_SUB1", ver, sender, receiver, serial), "UPKIHON_SUB1", ver, s1,
                       minimal=minimal))
        files.append(F(fname("UPKIHON_SUB2", ver, sender, receiver, serial), "UPKIHON_SUB2", ver, s2,
                       minimal=minimal))
    return files + images


def unit_yobo(ver, e, users, sender, receiver, serial, minimal=False):
    """予防 (3): UPYOBO + UPYOBO_SUB."""
    y, s = [], []
    for u in users:
        y.append(yobo(ver, u))
        rows = yobo_sub_rows(u["key"], e)
        s += yobo_sub(ver, u, rows[:1] if minimal else rows)
    return [F(fname("UPYOBO", ver, sender, receiver, serial), "UPYOBO", ver, y, minimal=minimal),
            F(fname("UPYOBO_SUB", ver, sender, receiver, serial), "UPYOBO_SUB", ver, s,
              minimal=minimal)]


def unit_dlt1kyo(ver, users, sender, receiver, serial):
    return [F(fname("DLT1KYO", ver, sender, receiver, serial), "DLT1KYO", ver,
              [dlt("DLT1KYO", ver, u, u["plan_date"]) for u in users])]


def unit_dltplan(ver, users, sender, receiver, serial, month):
    return [F(fname("DLTPLAN", ver, sender, receiver, serial, month=month), "DLTPLAN", ver,
              [dlt("DLTPLAN", ver, u, month) for u in users])]


def unit_dltjsk(ver, users, sender, receiver, serial, month):
    return [F(fname("DLTJSK", ver, sender, receiver, serial, month=month), "DLTJSK", ver,
              [dlt("DLTJSK", ver, u, month, {"サービス事業者コード": sender[0],
                                             "サービス種類コード": sender[1]}) for u in users])]


def unit_dltkihon(ver, users, sender, receiver, serial):
    return [F(fname("DLTKIHON", ver, sender, receiver, serial), "DLTKIHON", ver,
              [dlt("DLTKIHON", ver, u, u["consult"]) for u in users])]


def unit_dltyobo(ver, users, sender, receiver, serial):
    return [F(fname("DLTYOBO", ver, sender, receiver, serial), "DLTYOBO", ver,
              [dlt("DLTYOBO", ver, u, u["plan_date"]) for u in users])]


# --------------------------------------------------------------------------------------------
# The corpus
# --------------------------------------------------------------------------------------------

CASES: dict[str, tuple[list[F], dict | None]] = {}


def case(path: str, files: list[F], rules: list[str] | None = None, why: str | None = None):
    names = [f.name for f in files]
    if len(names) != len(set(names)):
        raise ValueError(f"{path}: duplicate file names")
    if path in CASES:
        raise ValueError(f"{path}: defined twice")
    CASES[path] = (files, dict(rules=rules, why=why) if rules else None)


def build_valid():
    e5 = Era("202505")   # V4 service month
    e6 = Era("202506")
    e4 = Era("202412")   # V3 service month
    P5, P6, P4 = people(e5), people(e6), people(e4)
    U = lambda P, *ks: [P[k] for k in ks]  # noqa: E731

    # ---------------- V4.1, and the same cases in the withdrawn V4.0 shape (CSVバージョン 202504, a
    # 3-character code after each office number): valid with the NAME005 warning.
    why40 = ("Files of the withdrawn V4.0 edition (CSVバージョン 202504, a 3-character code after "
             "each office number) are accepted; the name shape is warned about.")
    for v in (V41, V40):
        def vcase(path, files, v=v):
            if v == V40:
                case(path, files, ["NAME005"], why40)
            else:
                case(path, files)
        vcase(f"valid/{v}/kyotaku-plan-minimal",
             unit_plan(v, e5, U(P5, "U4"), CM, P15, "20250425090000", minimal=True))
        vcase(f"valid/{v}/kyotaku-plan-rich",
             unit_plan(v, e5, U(P5, "U1", "U2", "U3"), CM, P11, "20250425100000")
             + unit_plan(v, e5, U(P5, "U1", "U3"), CM, P17, "20250425100500"))
        vcase(f"valid/{v}/riyohyo-minimal",
             unit_riyohyo(v, e6, U(P6, "U4"), CM, P15, "20250527090000", minimal=True))
        vcase(f"valid/{v}/riyohyo-rich",
             unit_riyohyo(v, e5, U(P5, "U1", "U2", "U3"), CM, P11, "20250425110000")
             + unit_riyohyo(v, e5, U(P5, "U1", "U3"), CM, P17, "20250425110500")
             + unit_riyohyo(v, e5, U(P5, "U2", "U4"), CM, P15, "20250425111000")
             + unit_riyohyo(v, e5, U(P5, "U1"), CM, P15A, "20250425111500")
             + unit_riyohyo(v, e5, U(P5, "U3"), CM, P15K, "20250425112000"))
        vcase(f"valid/{v}/jisseki-minimal",
             unit_jisseki(v, e5, U(P5, "U4"), P15, CM, "20250602090000", minimal=True))
        vcase(f"valid/{v}/jisseki-rich",
             unit_jisseki(v, e5, U(P5, "U1", "U2", "U3"), P11, CM, "20250603100000")
             + unit_jisseki(v, e5, U(P5, "U1"), P15A, CM, "20250603100100")
             + unit_jisseki(v, e5, U(P5, "U1", "U3"), P17, CM, "20250603100200")
             + unit_jisseki(v, e5, U(P5, "U2", "U4"), P15, CM, "20250603100300")
             + unit_jisseki(v, e5, U(P5, "U3"), P15K, CM, "20250603100400"))
        vcase(f"valid/{v}/dlt1kyo-minimal", unit_dlt1kyo(v, U(P5, "U4"), CM, P15, "20250428090000"))
        vcase(f"valid/{v}/dltplan-minimal",
             unit_dltplan(v, U(P6, "U4"), CM, P15, "20250528090000", "202506"))
        vcase(f"valid/{v}/dltjsk-minimal",
             unit_dltjsk(v, U(P5, "U4"), P15, CM, "20250604090000", "202505"))
        vcase(f"valid/{v}/deletions-rich",
             unit_dlt1kyo(v, U(P5, "U1", "U3"), CM, P11, "20250428100000")
             + unit_dltplan(v, U(P6, "U1", "U2"), CM, P11, "20250528100000", "202506")
             + unit_dltplan(v, U(P5, "U3"), CM, P15K, "20250428100500", "202505")
             + unit_dltjsk(v, U(P5, "U1"), P15A, CM, "20250604100000", "202505")
             + unit_dltjsk(v, U(P5, "U1", "U2", "U3"), P11, CM, "20250604100100", "202505")
             + unit_dltkihon(v, U(P5, "Y1", "Y2"), HOUKATSU, PA1, "20250428110000")
             + unit_dltyobo(v, U(P5, "Y1", "Y2"), HOUKATSU, PA1, "20250428110100"))
        vcase(f"valid/{v}/kihon-minimal",
             unit_kihon(v, U(P5, "Y2"), HOUKATSU, PA5, "20250425130000", minimal=True))
        vcase(f"valid/{v}/yobo-minimal",
             unit_yobo(v, e5, U(P5, "Y2"), HOUKATSU, PA5, "20250425130500", minimal=True))
        vcase(f"valid/{v}/dltkihon-minimal",
             unit_dltkihon(v, U(P5, "Y2"), HOUKATSU, PA5, "20250428130000"))
        vcase(f"valid/{v}/dltyobo-minimal",
             unit_dltyobo(v, U(P5, "Y2"), HOUKATSU, PA5, "20250428130500"))
        vcase(f"valid/{v}/yobo-rich",
             # (2) 計画書 + 利用者基本情報 (with annexes and images) in one unit
             unit_yobo(v, e5, U(P5, "Y1", "Y2"), HOUKATSU, PA1, "20250425140000")
             + unit_kihon(v, U(P5, "Y1", "Y2"), HOUKATSU, PA1, "20250425140000")
             # (1) 利用者基本情報 alone, (3) 計画書 alone
             + unit_kihon(v, U(P5, "Y2"), HOUKATSU, PA5, "20250425140500")
             + unit_yobo(v, e5, U(P5, "Y2"), HOUKATSU, PA5, "20250425141000")
             # (4) サービス利用票 + 別表 + 補足
             + unit_riyohyo(v, e5, U(P5, "Y1", "Y2"), HOUKATSU, PA1, "20250425141500", person=HK_PERSON)
             + unit_riyohyo(v, e5, U(P5, "Y1"), HOUKATSU, P67, "20250425142000", person=HK_PERSON)
             # (8) 実績
             + unit_jisseki(v, e5, U(P5, "Y1", "Y2"), PA1, HOUKATSU, "20250603140000", cm=HOUKATSU,
                            person=HK_PERSON)
             + unit_jisseki(v, e5, U(P5, "Y1"), P67, HOUKATSU, "20250603140100", cm=HOUKATSU,
                            person=HK_PERSON))

    # ---------------- V3 (202208, service month 202412)
    v = V3
    case("valid/v3/kyotaku-plan-minimal",
         unit_plan(v, e4, U(P4, "U4"), CM, P15, "20241125090000", minimal=True))
    case("valid/v3/kyotaku-plan-rich",
         unit_plan(v, e4, U(P4, "U1", "U2", "U3"), CM, P11, "20241125100000")
         + unit_plan(v, e4, U(P4, "U1", "U3"), CM, P17, "20241125100500"))
    case("valid/v3/riyohyo-minimal",
         unit_riyohyo(v, e4, U(P4, "U4"), CM, P15, "20241126090000", minimal=True))
    case("valid/v3/riyohyo-rich",
         unit_riyohyo(v, e4, U(P4, "U1", "U2", "U3"), CM, P11, "20241126100000")
         + unit_riyohyo(v, e4, U(P4, "U1", "U3"), CM, P17, "20241126100500")
         + unit_riyohyo(v, e4, U(P4, "U2", "U4"), CM, P15, "20241126101000"))
    case("valid/v3/jisseki-minimal",
         unit_jisseki(v, e4, U(P4, "U4"), P15, CM, "20250106090000", minimal=True))
    case("valid/v3/jisseki-rich",
         unit_jisseki(v, e4, U(P4, "U1", "U2", "U3"), P11, CM, "20250106100000")
         + unit_jisseki(v, e4, U(P4, "U1"), P15A, CM, "20250106100100")
         + unit_jisseki(v, e4, U(P4, "U1", "U3"), P17, CM, "20250106100200")
         + unit_jisseki(v, e4, U(P4, "U2", "U4"), P15, CM, "20250106100300"))
    case("valid/v3/dlt1kyo-minimal", unit_dlt1kyo(v, U(P4, "U4"), CM, P15, "20241128090000"))
    case("valid/v3/dltplan-minimal",
         unit_dltplan(v, U(P4, "U4"), CM, P15, "20241128090500", "202412"))
    case("valid/v3/dltjsk-minimal",
         unit_dltjsk(v, U(P4, "U4"), P15, CM, "20250107090000", "202412"))
    case("valid/v3/deletions-rich",
         unit_dlt1kyo(v, U(P4, "U1", "U3"), CM, P11, "20241128100000")
         + unit_dltplan(v, U(P4, "U1", "U2"), CM, P11, "20241128100500", "202412")
         + unit_dltjsk(v, U(P4, "U1"), P15A, CM, "20250107100000", "202412")
         + unit_dltjsk(v, U(P4, "U1", "U2", "U3"), P11, CM, "20250107100100", "202412"))


# --------------------------------------------------------------------------------------------
# Invalid cases: a valid unit, one problem
# --------------------------------------------------------------------------------------------

E5 = Era("202505")
P5 = people(E5)
V = V41
SER = "20250425120000"   # serial of the invalid units unless a case needs another


def base_plan(users=("U1",), serial=SER, receiver=P11):
    return unit_plan(V, E5, [P5[k] for k in users], CM, receiver, serial)


def base_riyohyo(users=("U1",), serial=SER, receiver=P11, month=None):
    return unit_riyohyo(V, E5, [P5[k] for k in users], CM, receiver, serial, month=month)


def base_jisseki(users=("U1", "U2"), sender=P11, serial="20250603120000", month=None, made=None):
    return unit_jisseki(V, E5, [P5[k] for k in users], sender, CM, serial, month=month, made=made)


def base_kihon(users=("Y1",), serial=SER):
    return unit_kihon(V, [P5[k] for k in users], HOUKATSU, PA1, serial)


def pick(files: list[F], prefix: str) -> F:
    hits = [f for f in files if f.name.startswith(prefix + "_") and
            not (prefix == "UPKIHON" and f.name.startswith(("UPKIHON_SUB", "UPKIHON_IMAGE")))
            and not (prefix == "UPYOBO" and f.name.startswith("UPYOBO_SUB"))]
    assert len(hits) == 1, (prefix, [f.name for f in files])
    return hits[0]


def rename(f: F, old: str, new: str) -> F:
    assert old in f.name, (f.name, old)
    f.name = f.name.replace(old, new)
    return f


def replace_bytes(f: F, old: bytes, new: bytes, count: int = 1) -> None:
    data = f.data
    assert data.count(old) >= 1, (f.name, old)
    f.data = data.replace(old, new, count)


def set_field(f: F, rec_index: int, key, value) -> None:
    f.recs[rec_index][key] = value
    f._lines = None
    f._data = None


def inv(rule: str, slug: str, files: list[F], why: str, rules: list[str] | None = None):
    case(f"invalid/{rule}-{slug}", files, rules or [rule], why)


def build_invalid():
    # ---------------------------------------------------------------- encoding
    fs = base_riyohyo()
    p = pick(fs, "UPPLAN")
    set_field(p, 0, "プラン担当者名", "佐藤\u0001花子")
    replace_bytes(p, b"\x01", b"\xff")
    inv("ENC001", "ff-byte-in-text", fs,
        "The byte 0xFF inside the free-text プラン担当者名 can never occur in MS932.")

    fs = base_riyohyo()
    p = pick(fs, "UPPLAN")
    set_field(p, 0, "プラン担当者名", "佐藤\u0001花子")
    replace_bytes(p, b"\x01", b"\x85\x40")
    inv("ENC002", "unassigned-8540", fs,
        "The well-formed pair 0x85 0x40 (row 9) has no character assigned in MS932.")

    fs = base_riyohyo()
    h = pick(fs, "UPHOSOKU")
    set_field(h, 0, "利用者氏名", "介護　\u0001郎")
    replace_bytes(h, b"\x01", b"\xf0\x40")
    inv("ENC003", "gaiji-f040-in-name", fs,
        "利用者氏名 contains the user-defined (外字) character 0xF0 0x40.")

    fs = base_plan()
    t2 = pick(fs, "UP2KYO")
    set_field(t2, 0, "課題", "①自宅の浴槽をまたげず, 一人で入浴できない。")
    inv("ENC004", "nec-circled-digit", fs,
        "The 2表 課題 text starts with the NEC special character ① (0x87 0x40).")

    fs = base_riyohyo()
    h = pick(fs, "UPHOSOKU")
    set_field(h, 0, "利用者氏名", "髙橋　太郎")
    inv("ENC005", "ibm-taka", fs,
        "利用者氏名 is written with the IBM extension character 髙 (0xFB 0xFC).")

    fs = base_jisseki()
    fs[0].data = b"\xef\xbb\xbf" + fs[0].data
    inv("ENC006", "utf8-bom", fs, "The UPJSK file starts with a UTF-8 byte order mark.")

    fs = base_jisseki()
    fs[0].data = "".join(fs[0].lines()).encode("utf-8")
    inv("ENC007", "utf8-file", fs,
        "The whole UPJSK file is encoded in UTF-8 instead of MS932.", ["ENC007"])

    fs = base_jisseki()
    set_field(fs[0], 0, "サービス事業所名", "ひまわり\t訪問介護ステーション")
    inv("ENC008", "tab-in-text", fs,
        "A TAB control character stands inside the free-text サービス事業所名.")

    # ---------------------------------------------------------------- csv
    fs = unit_yobo(V, E5, [P5["Y1"]], HOUKATSU, PA1, SER)
    sub = pick(fs, "UPYOBO_SUB")
    lines = sub.lines()
    assert lines[-1].endswith('"\r\n')
    lines[-1] = lines[-1][:-3] + "\r\n"
    inv("CSV001", "unterminated-quote", fs,
        "The free-text 【利用サービス】期間 at the end of the last UPYOBO_SUB record is opened with a quote that is never closed.")

    fs = base_jisseki()
    set_field(fs[0], 0, "サービス事業所名", Raw('ひまわり"訪問介護"'))
    inv("CSV002", "stray-quote", fs,
        "An unquoted サービス事業所名 contains double quotes in the middle of the field.",
        ["CSV002"])

    fs = base_jisseki()
    set_field(fs[0], 0, "サービス事業所名", Raw('"ひまわり"訪問介護'))
    inv("CSV003", "text-after-quote", fs,
        "A quoted サービス事業所名 is followed by more text before the next comma.")

    fs = base_jisseki()
    fs[0]._lines = [ln[:-2] + "\n" for ln in fs[0].lines()]
    inv("CSV004", "lf-only", fs, "Every record of the UPJSK file ends with LF instead of CR LF.")

    fs = base_jisseki()
    ls = fs[0].lines()
    for i in range(len(ls) // 2, len(ls)):
        ls[i] = ls[i][:-2] + "\n"
    inv("CSV005", "mixed-eol", fs,
        "The first records of the UPJSK file end with CR LF, the later ones with LF only.")

    fs = base_jisseki()
    fs[0].lines().insert(1, "\r\n")
    inv("CSV006", "blank-line", fs, "A blank line stands between the first and second records.")

    fs = base_jisseki()
    ls = fs[0].lines()
    ls[-1] = ls[-1][:-2]
    inv("CSV007", "no-final-crlf", fs,
        "The last record of the UPJSK file is not followed by CR LF (an info finding).")

    fs = base_jisseki()
    fs[0].data = b""
    inv("CSV008", "empty-upjsk", fs, "The UPJSK file is 0 bytes long and holds no records.")

    fs = base_jisseki(users=("U4",), sender=P15)
    set_field(fs[0], 0, "サービス事業所名", "あおぞら" + "A" * ((1 << 20) + 64))
    inv("CSV009", "huge-field", fs,
        "A free-text サービス事業所名 is longer than 1 MiB, the kit's field size limit.")

    # ---------------------------------------------------------------- names
    fs = base_jisseki(month="202505")
    rename(fs[0], "UPJSK_202505_", "UPJSK_202513_")
    inv("NAME001", "month-202513", fs,
        "The month segment of the UPJSK name is 202513, which is not a month.",
        ["NAME001"])

    fs = base_jisseki()
    rename(fs[0], ".CSV", ".csv")
    inv("NAME002", "lowercase-csv", fs, "The UPJSK file name ends in .csv instead of .CSV.")

    same = ("0310000100", "11")
    fs = unit_riyohyo(V, E5, [P5["U4"]], CM, same, SER)
    inv("NAME003", "sender-is-receiver", fs,
        "The send unit goes from office 0310000100 to the same office number 0310000100.")

    fs = base_jisseki(serial="20250632250000")
    inv("NAME004", "serial-not-datetime", fs,
        "The serial 20250632250000 is 14 digits but not a real date and time.")

    fs = unit_plan(V, E5, [P5["U1"]], CM, P11, SER)
    for f in fs:
        rename(f, "_0310000100_43_0320000201_11_", "_0310000100_430_0320000201_110_")
    inv("NAME005", "v40-shape", fs,
        "The names use the withdrawn V4.0 3-character codes 430/110 while the records carry 202407.")

    fs = base_kihon()
    fs = [f for f in fs if f.name.startswith("UPKIHON_0")]
    set_field(fs[0], 0, "家族構成 画像ファイル名", "")
    rename(fs[0], "UPKIHON_", "UPKIHON_000000_")
    inv("NAME006", "kihon-month-segment", fs,
        "The UPKIHON name carries the 000000 month segment of the 本文 example, which the layout rule lacks.")

    fs = base_jisseki()
    rename(fs[0], "_0320000201_11_", "_0320000201_99_")
    inv("NAME007", "service-type-99", fs,
        "The sender service type in the UPJSK name is 99, which is not a service type.")

    fs = unit_riyohyo(V, E5, [P5["U1"]], CM, P41, SER)
    inv("NAME008", "receiver-type-41", fs,
        "The 利用票 unit is addressed to service type 41 (特定福祉用具販売), which the exchange does not cover.")

    fs = base_riyohyo(users=("U4",), receiver=P15)
    p = pick(fs, "UPPLAN")
    inv("NAME009", "renamed-plan-csv", [F("plan.csv", data=p.data)],
        "A valid V4.1 UPPLAN file was renamed to plan.csv, so its kind can only be read from its content.")

    inv("NAME010", "random-csv", [F("data.csv", data=ms932(
        "A-001,歯ブラシ,3\r\nA-002,タオル,10\r\nA-003,せっけん,5\r\n"))],
        "An unrelated product list named data.csv is neither named nor shaped like a file of the standard.")

    # ---------------------------------------------------------------- records
    fs = base_riyohyo()
    p = pick(fs, "UPPLAN")
    rec = p.recs[0]
    p.lines()[0] = render("UPPLAN", V3, rec)  # the V4.1 record minus the three V4 columns
    inv("REC001", "v3-record-in-v41-upplan", fs,
        "One record of a V4.1-named UPPLAN has the 22 columns of the V3 layout.")

    fs = base_jisseki()
    header = ",".join(c["name"] for c in columns("UPJSK", V)) + EOL
    fs[0].lines().insert(0, header)
    inv("REC002", "header-row", fs, "The UPJSK file starts with a header row of column names.")

    # ---------------------------------------------------------------- fields
    fs = base_jisseki()
    set_field(fs[0], 0, "作成年月日", "")
    inv("FLD001", "empty-required", fs, "The required 作成年月日 of the first UPJSK record is empty.")

    fs = base_jisseki()
    set_field(fs[0], 0, "単位数", "1234567")
    inv("FLD002", "units-too-long", fs, "単位数 holds 7 digits where the layout allows 6.")

    fs = base_jisseki()
    set_field(fs[0], 0, "サービス利用日", "20250532")
    inv("FLD003", "impossible-date", fs, "サービス利用日 is 20250532, which is not a calendar date.",
        ["FLD003"])

    fs = base_plan()
    set_field(pick(fs, "UP1KYO"), 0, "計画書区分", "13")
    inv("FLD004", "plan-category-13", fs, "計画書区分 13 is not in the 計画書区分 code table.")

    fs = base_jisseki()
    set_field(fs[0], 0, "サービス事業所名", Raw("ひまわり訪問介護ステーション"))
    inv("FLD005", "unquoted-text", fs,
        "The free-text サービス事業所名 is written without enclosing double quotes.")

    fs = base_jisseki()
    set_field(fs[0], 0, "CSVバージョン", Raw('"202407"'))
    inv("FLD006", "quoted-version", fs, "CSVバージョン is enclosed in quotes although it is not free text.")

    fs = base_jisseki()
    set_field(fs[0], 0, "識別子", "1")
    inv("FLD007", "identifier-set", fs, "識別子, marked 「※使用しない」, holds the value 1.")

    fs = base_jisseki()
    fs[0].recs.append(dict(fs[0].recs[0], **{"サービスコード": "114001", "単位数": "-50"}))
    inv("FLD008", "negative-units", fs,
        "A 同一建物減算 row carries the negative 単位数 -50, which the spec does not mention.")

    fs = base_jisseki()
    fs[0].recs.append(dict(fs[0].recs[0], **{"サービスコード": "411001", "単位数": "0"}))
    inv("FLD009", "non-linked-service", fs,
        "A 41 特定福祉用具販売 row stands in a 実績 file although type 41 is outside the exchange.")

    fs = base_plan()
    set_field(pick(fs, "UP2KYO"), 0, "課題ＮＯ", "0")
    inv("FLD010", "issue-no-zero", fs, "課題ＮＯ 0 is outside its range 1 to 99.")

    fs = base_jisseki()
    set_field(fs[0], 0, "サービスコード", "991111")
    inv("FLD011", "service-type-99", fs,
        "サービスコード 991111 starts with 99, which is not a service type.")

    fs = unit_dltjsk(V, [P5["U4"]], P15, CM, "20250604090000", "202505")
    set_field(fs[0], 0, "サービス種類コード", "ZZ")
    inv("FLD011", "dltjsk-type-zz", fs,
        "実績削除 No.6 サービス種類コード is ZZ, which is not a service type.")

    fs = unit_dltjsk(V, [P5["U4"]], P15, CM, "20250604090000", "202505")
    set_field(fs[0], 0, "サービス種類コード", "33")
    inv("FLD009", "dltjsk-type-33", fs,
        "実績削除 No.6 サービス種類コード is 33 特定施設入居者生活介護, which is outside the exchange: it has no 実績 to delete.")

    # ---------------------------------------------------------------- versions
    def all_versions(files: list[F], value: str, only=None):
        for f in files:
            if f.kind and (only is None or f.kind in only):
                for r in f.recs:
                    r["CSVバージョン"] = value
                f._lines = f._data = None

    fs = base_jisseki()
    all_versions(fs, "202401")
    inv("VER001", "unknown-202401", fs, "CSVバージョン 202401 is not a version of the standard.")

    fs = base_jisseki()
    all_versions(fs, "202410")
    inv("VER002", "wrong-202410", fs,
        "CSVバージョン 202410 is the month the 4.1 edition was issued, not its version value 202407.")

    fs = base_jisseki()
    all_versions(fs, "202504")
    inv("VER003", "legacy-202504", fs,
        "The V4.1-named UPJSK carries the withdrawn V4.0 value 202504.")

    fs = base_jisseki()
    fs[0].recs[-1]["CSVバージョン"] = "202208"
    inv("VER004", "mixed-versions", fs,
        "The UPJSK file starts with 202407 records and ends with a 202208 record.")

    e3 = Era("202503")
    P3 = people(e3)
    fs = unit_jisseki(V, e3, [P3["U1"], P3["U2"]], P11, CM, "20250402120000")
    all_versions(fs, "202208")
    inv("VER005", "v3-value-v41-name", fs,
        "202208 records with all V4 columns stand in a V4.1-named UPJSK file (service month 202503).")

    fs = unit_jisseki(V, e3, [P3["U1"], P3["U2"]], P11, CM, "20250402120000")
    inv("VER006", "v41-for-202503", fs,
        "202407 is written for service month 202503, before V4.1 applies (202504).")

    e6 = Era("202506")
    P6 = people(e6)
    fs = unit_riyohyo(V3, e6, [P6["U4"]], CM, P15, "20250526090000")
    inv("VER007", "v3-for-202506", fs,
        "V3 files (202208) are sent for service month 202506, which falls under V4.1.")

    # ---------------------------------------------------------------- file content
    fs = base_jisseki()
    fs[0].recs.append(dict(fs[0].recs[-1], **{"対象年月": "202506", "サービス利用日": "20250602"}))
    inv("FILE001", "two-months", fs,
        "The UPJSK file holds records for 202505 and for 202506.",
        ["FILE001"])

    fs = base_jisseki(month="202505")
    rename(fs[0], "UPJSK_202505_", "UPJSK_202506_")
    inv("FILE002", "name-month-differs", fs,
        "UPJSK_202506_… holds records whose 対象年月 is 202505.")

    fs = base_riyohyo()
    set_field(pick(fs, "UPHOSOKU"), 0, "居宅サービス計画作成（変更）日", P5["U1"]["plan_date"])
    inv("FILE003", "hosoku-plan-date-in-month-unit", fs,
        "A 補足 record of the 6表 set (UPHOSOKU_202505) carries a plan date in No.4 instead of 00000000.")

    fs = base_kihon()
    img = next(f for f in fs if f.name.startswith("UPKIHON_IMAGE"))
    img.data = TINY_PNG
    inv("FILE004", "png-as-jpg", fs,
        "The family image UPKIHON_IMAGE_…_0001.jpg named by UPKIHON No.62 is a PNG file, not a JPEG.")

    # ---------------------------------------------------------------- equipment
    fs = base_jisseki(users=("U1",), sender=P17)
    set_field(fs[0], 0, "TAISコード", "")
    inv("EQP001", "no-tais-no-todoke", fs,
        "A 福祉用具貸与 row (171001) has neither TAISコード nor 福祉用具届出コード.")

    fs = base_jisseki(users=("U1",))
    set_field(fs[0], 0, "TAISコード", "00170-000012")
    inv("EQP002", "tais-on-homecare", fs, "A 訪問介護 row carries a TAISコード.")

    # ---------------------------------------------------------------- totals
    fs = base_riyohyo()
    s7 = pick(fs, "UPSIKYU")
    s7.recs = [r for r in s7.recs if r["サービスコード"] != "999999"]
    inv("TOT001", "no-grand-total", fs, "The 7表 rows of the user end without the 999999 grand total row.")

    fs = base_riyohyo()
    s7 = pick(fs, "UPSIKYU")
    s7.recs[-1]["サービス事業所コード"] = P11[0]
    inv("TOT002", "grand-total-office", fs,
        "The 999999 grand total row carries the provider's office number instead of 9999999999.")

    fs = base_riyohyo()
    s7 = pick(fs, "UPSIKYU")
    sub = next(r for r in s7.recs if r["サービスコード"] == "11AAAA")
    sub["単位数"] = sub["サービス単位金額"]
    inv("TOT003", "units-on-subtotal", fs, "The 11AAAA subtotal row carries 単位数 instead of 0.")

    fs = base_riyohyo()
    s7 = pick(fs, "UPSIKYU")
    s7.recs = [r for r in s7.recs if r["サービスコード"] != "11AAAA"]
    inv("TOT004", "missing-subtotal", fs,
        "Two 訪問介護 code rows (111211, 112111) have no 11AAAA subtotal row.")

    fs = base_riyohyo()
    s7 = pick(fs, "UPSIKYU")
    i = next(i for i, r in enumerate(s7.recs) if r["サービスコード"] == "999999")
    s7.recs.insert(i, dict(s7.recs[i], **{"サービス事業所コード": P15[0], "サービスコード": "78AAAA",
                                          "サービス事業所名": OFFICE_NAME[P15]}))
    inv("TOT005", "orphan-subtotal", fs,
        "A 78AAAA subtotal row stands in the 7表 of a user with no 78 service rows.")

    # ---------------------------------------------------------------- 2表 numbering
    fs = base_plan()
    t2 = pick(fs, "UP2KYO")
    t2.recs[1]["援助内容ＮＯ"] = 1
    inv("PLN001", "duplicate-numbers", fs,
        "Two 2表 rows of one plan are both numbered 課題1 / 援助目標1 / 援助内容1.")

    # ---------------------------------------------------------------- cross-file
    fs = base_plan()
    t2 = pick(fs, "UP2KYO")
    for r in t2.recs:
        r["居宅サービス計画作成（変更）日"] = add_months(P5["U1"]["plan_date"][:6], -1) + "20"
    inv("XRF001", "table2-without-table1", fs,
        "The 2表 rows carry a plan date that no 1表 record in the unit has.")

    fs = base_plan(users=("U1", "U3"))
    h = pick(fs, "UPHOSOKU")
    h.recs = h.recs[:1]
    inv("XRF002", "table1-without-hosoku", fs,
        "The second user's 1表 has no 利用者補足情報 record in UPHOSOKU_000000.")

    fs = base_riyohyo()
    s7 = pick(fs, "UPSIKYU")
    s7.recs += sikyu_rows(V, P5["U4"], E5.month, E5.d(E5.pm, 24), CM, P5["U4"]["services"])
    inv("XRF003", "table7-without-table6", fs,
        "The 7表 holds rows for a user that the 6表 of the unit does not have.")

    fs = base_riyohyo(users=("U1", "U3"))
    h = pick(fs, "UPHOSOKU")
    h.recs = h.recs[:1]
    inv("XRF004", "table6-without-hosoku", fs,
        "The second user of the 6表 has no 利用者補足情報 record in UPHOSOKU_202505.")

    fs = base_riyohyo(users=("U1", "U3"))
    s7 = pick(fs, "UPSIKYU")
    s7.recs = [r for r in s7.recs if r["被保険者番号"] == P5["U1"]["insured"]]
    inv("XRF005", "table6-without-table7", fs,
        "The second user of the 6表 has no 7表 rows.")

    fs = base_kihon()
    s1 = pick(fs, "UPKIHON_SUB1")
    for r in s1.recs:
        r["相談日"] = add_months(P5["Y1"]["consult"][:6], -1) + "10"
    inv("XRF006", "sub1-without-kihon", fs,
        "The UPKIHON_SUB1 rows carry a 相談日 that no UPKIHON record of the unit has.")

    fs = base_kihon()
    fs = [f for f in fs if not f.name.startswith("UPKIHON_IMAGE")]
    inv("XRF007", "image-missing", fs,
        "UPKIHON No.62 names a family image file that is not in the send unit.")

    fs = base_riyohyo()
    h = pick(fs, "UPHOSOKU")
    h.recs.append(hosoku(V, P5["U4"], CM, month=E5.month))
    inv("XRF008", "orphan-hosoku", fs,
        "UPHOSOKU_202505 holds a record for a user who is not in the 6表 of the unit.")

    # ---------------------------------------------------------------- send units
    fs = base_riyohyo()
    fs = [f for f in fs if not f.name.startswith("UPHOSOKU")]
    inv("UNIT001", "plan-without-hosoku", fs,
        "UPPLAN and UPSIKYU are sent with one serial but without their UPHOSOKU.")

    fs = base_riyohyo() + unit_riyohyo(V, Era("202506"), [people(Era("202506"))["U1"]], CM, P11,
                                       SER, made="20250424")
    inv("UNIT002", "two-upplan-one-serial", fs,
        "One serial carries two UPPLAN files (202505 and 202506) for the same partners.")

    fs = base_riyohyo(users=("U4",), receiver=P15)
    h = pick(fs, "UPHOSOKU")
    h.ver = V3
    h._lines = None
    for r in h.recs:
        r["CSVバージョン"] = CSV_VERSION[V3]
    h.name = fname("UPHOSOKU", V3, CM, P15, SER, month=E5.month)
    inv("UNIT003", "v3-and-v41-shapes", fs,
        "In one send unit UPPLAN and UPSIKYU have V4.1 names while UPHOSOKU has a V3 name.")

    fs = base_riyohyo()
    h = pick(fs, "UPHOSOKU")
    rename(h, "UPHOSOKU_202505_", "UPHOSOKU_202506_")
    inv("UNIT004", "hosoku-other-month", fs,
        "UPPLAN_202505 and UPSIKYU_202505 travel with UPHOSOKU_202506 under one serial.")

    fs = base_kihon()
    s1 = pick(fs, "UPKIHON_SUB1")
    rename(s1, "_0320000201_A1_", "_0320000201_A5_")
    inv("UNIT005", "sub1-other-type", fs,
        "UPKIHON_SUB1 names receiver type A5 while its UPKIHON (same serial and offices) names A1.")



def rec_where(f: F, **match) -> dict:
    """The first record of `f` whose columns have the given values (keys are column names)."""
    for r in f.recs:
        if all(str(r.get(k)) == str(v) for k, v in match.items()):
            return r
    raise KeyError((f.name, match))


def build_invalid_meaning():
    """The second pass of the spec core (issue #10): one case per rule on what the fields mean."""
    # ---------------------------------------------------------------- fields
    fs = base_riyohyo()
    set_field(pick(fs, "UPPLAN"), 0, "プラン担当者名", "")
    inv("FLD012", "plan-person-empty", fs,
        "プラン担当者名 is empty; the layout's packed required marks, counted, make it required.")

    fs = base_riyohyo()
    set_field(pick(fs, "UPSIKYU"), 0, "事業所コード", P11[0])
    inv("FLD013", "office-code-not-all9", fs,
        "第7表 No.34 事業所コード, fixed to 9999999999, holds the provider's number.")

    fs = base_riyohyo()
    set_field(pick(fs, "UPSIKYU"), 0, "事業所コード", "")
    inv("FLD013", "office-code-empty", fs,
        "第7表 事業所コード is empty on a service row; the layout fixes it to 9999999999.")

    # ---------------------------------------------------------------- versions
    fs = unit_riyohyo(V40, E5, [P5["U1"]], CM, P11, SER)
    inv("VER008", "202504-in-v40-shape", fs,
        "Files in the withdrawn V4.0 name shape carry its CSVバージョン 202504: accepted with a warning.")

    # ---------------------------------------------------------------- dates and times
    fs = base_riyohyo()
    set_field(pick(fs, "UPPLAN"), 0, "サービス利用日", "20250601")
    inv("DAT001", "day-outside-month", fs,
        "A 6表 row of the 202505 file has サービス利用日 20250601, a day of the next month.")

    e6 = Era("202506")
    fs = unit_riyohyo(V, e6, [people(e6)["U3"]], CM, P17, SER)
    p = pick(fs, "UPPLAN")
    rec_where(p, **{"サービスコード": "171007"})["日割対象日"] = "0" * 14 + "1" * 17
    p._lines = None
    inv("DAT002", "mask-day-31-in-june", fs,
        "日割対象日 of a June row marks days 15 to 31; June has 30 days.")

    fs = base_riyohyo(users=("U3",), receiver=P17)
    p = pick(fs, "UPPLAN")
    rec_where(p, **{"サービスコード": "171007"})["日割対象日"] = "0" * 31
    p._lines = None
    inv("DAT003", "mask-without-days", fs,
        "日割対象日 is 31 zeros: a mask that marks no day, where the layout says empty unless 日割.")

    fs = base_plan()
    t1 = pick(fs, "UP1KYO")
    start, end = t1.recs[0]["認定有効期間開始日"], t1.recs[0]["認定有効期間終了日"]
    set_field(t1, 0, "認定有効期間開始日", end)
    set_field(t1, 0, "認定有効期間終了日", start)
    inv("DAT004", "certification-period-reversed", fs,
        "認定有効期間開始日 is after 認定有効期間終了日 in 第1表.")

    fs = base_riyohyo()
    set_field(pick(fs, "UPPLAN"), 0, "サービス開始時刻", "9999")
    inv("TIM001", "no-time-on-one-side", fs,
        "サービス開始時刻 is 9999 (no time display) while サービス終了時刻 is a time.")

    # ---------------------------------------------------------------- 明細判別コード
    fs = base_riyohyo()
    set_field(pick(fs, "UPPLAN"), 0, "明細判別コード", "1")
    inv("EQP003", "detail-code-on-homecare", fs,
        "A 訪問介護 row carries 明細判別コード 1; it is set only on 福祉用具貸与 rows.")

    fs = base_riyohyo(users=("U3",), receiver=P17)
    p = pick(fs, "UPPLAN")
    for r in p.recs:
        if r["サービスコード"] == "171004":
            r["明細判別コード"] = ""
    p._lines = None
    inv("EQP004", "items-not-numbered", fs,
        "Two 171004 rows of 100 units for different items (サイドレール, ベッド用テーブル) carry no 明細判別コード.")

    fs = base_riyohyo(users=("U3",), receiver=P17)
    p = pick(fs, "UPPLAN")
    n = 2
    for r in p.recs:
        if r["サービスコード"] == "171004":
            r["明細判別コード"] = str(n)
            n += 1
    p._lines = None
    inv("EQP005", "items-numbered-from-2", fs,
        "The two 171004 items are numbered 2 and 3 instead of 1 and 2.")

    # ---------------------------------------------------------------- 補足 limit frames
    fs = base_riyohyo()
    h = pick(fs, "UPHOSOKU")
    h.recs[0].update({"２サービス種類コード": "15", "２支給限度基準額": 20000, "２合計単位数": 7335,
                      "２限度超単位数": 0})
    h._lines = None
    inv("HSK001", "frame-2-without-frame-1", fs,
        "サービス種類別限度額 枠2 is filled while 枠1 is empty; frames are filled from 枠1 in order.")

    fs = base_riyohyo()
    h = pick(fs, "UPHOSOKU")
    h.recs[0].update({"１支給限度基準額": 20000, "１合計単位数": 7335, "１限度超単位数": 0})
    h._lines = None
    inv("HSK002", "frame-without-type", fs, "枠1 holds units but no サービス種類コード.")

    fs = base_riyohyo()
    h = pick(fs, "UPHOSOKU")
    h.recs[0].update({"１サービス種類コード": "2A", "１支給限度基準額": 20000, "１合計単位数": 0,
                      "１限度超単位数": 0})
    h._lines = None
    inv("HSK003", "short-stay-as-2a", fs,
        "A 短期入所療養介護 frame is written as 2A; the layout says 22.")

    fs = base_riyohyo()
    h = pick(fs, "UPHOSOKU")
    h.recs[0].update({"１サービス種類コード": "2B", "１支給限度基準額": 5000, "１合計単位数": 0,
                      "１限度超単位数": 0})
    h._lines = None
    inv("HSK004", "yobo-short-stay-as-2b", fs,
        "A 介護予防短期入所療養介護 frame is written as 2B; by analogy with 22, the kit expects 25.")

    # ---------------------------------------------------------------- office numbers
    fs = base_riyohyo()
    set_field(pick(fs, "UPPLAN"), 0, "更新業者コード", P11[0])
    inv("OFC001", "updater-is-provider-in-plan", fs,
        "A 予定 row's 更新業者コード is the provider's number; in 予定 it is the sending care manager's.")

    fs = base_riyohyo()
    set_field(pick(fs, "UPPLAN"), 0, "プラン担当業者コード", "0310000999")
    inv("OFC002", "plan-office-not-sender", fs,
        "プラン担当業者コード names another care-manager office than the one sending the 予定.")

    fs = base_riyohyo()
    for r in pick(fs, "UPPLAN").recs:
        r["プラン担当業者コード"] = P11[0]
    pick(fs, "UPPLAN")._lines = None
    inv("OFC003", "plan-office-is-the-provider", fs,
        "プラン担当業者コード holds the receiving 訪問介護 office's number; its 書式 is 居宅支援事業者番号.")

    # ---------------------------------------------------------------- conditions
    fs = base_kihon()
    set_field(pick(fs, "UPKIHON"), 0, "相談方法", "03")
    inv("CND001", "consultation-other-without-text", fs,
        "相談方法 is 03 (その他) but 相談方法(その他の内容) is empty.")

    fs = base_plan(users=("U3",))
    set_field(pick(fs, "UP1KYO"), 0, "その他理由", "")
    inv("CND002", "other-reason-missing", fs,
        "生活援助中心型の算定理由 is 3 (その他) and その他理由 is empty.")

    # ---------------------------------------------------------------- roles and relevance
    fs = unit_riyohyo(V, E5, [P5["U4"]], P15A, P15, SER)
    inv("ROL001", "plan-from-service-office", fs,
        "A 予定 unit is sent by a 15 通所介護 office (0320000201) instead of the care manager.")

    fs = base_riyohyo(users=("U1", "U4"))
    inv("REL001", "user-unrelated-to-receiver", fs,
        "The 予定 for 訪問介護 office 0320000201 also holds user U4, who only uses another office.")

    # ---------------------------------------------------------------- 6表 ↔ 7表
    fs = base_riyohyo()
    p = pick(fs, "UPPLAN")
    p.recs = [r for r in p.recs if r["サービスコード"] != "112111"]
    inv("XRF009", "sikyu-service-without-plan-rows", fs,
        "7表 has the 112111 生活援助 row; the 6表 has no day of that service.")

    fs = base_riyohyo()
    s7 = pick(fs, "UPSIKYU")
    rec_where(s7, **{"サービスコード": "111211"})["回数／日数"] = 8
    s7._lines = None
    inv("XRF010", "sikyu-count-differs", fs,
        "7表 counts 8 of 111211 where the 6表 plans it on 9 days.")

    fs = base_riyohyo()
    s7 = pick(fs, "UPSIKYU")
    s7.recs = [r for r in s7.recs if r["サービスコード"] != "155051"]
    inv("XRF011", "plan-service-without-sikyu", fs,
        "The 6表 plans 155051 入浴介助加算; the 7表 has no row for it.")

    # ---------------------------------------------------------------- 7表 summary rows and arithmetic
    fs = base_riyohyo()
    s7 = pick(fs, "UPSIKYU")
    sub = rec_where(s7, **{"サービスコード": "11AAAA"})
    sub["割引後単位数"] = sub["サービス単位金額"]
    s7._lines = None
    inv("TOT006", "discounted-units-on-subtotal", fs,
        "The 11AAAA subtotal carries 割引後単位数; it is Null on subtotal and grand-total rows.")

    fs = base_riyohyo()
    s7 = pick(fs, "UPSIKYU")
    sub = rec_where(s7, **{"サービスコード": "11AAAA"})
    amounts = ("サービス単位金額", "給付管理単位数", "種類支給限度基準内単位数", "区分支給限度基準内単位数",
               "単位数単価", "費用総額保険／事業対象分", "給付率", "保険／事業費請求額",
               "利用者負担保険／事業対象分")
    eeee = dict(sub, **{k: "" for k in amounts})
    eeee.update({"サービスコード": "11EEEE", "給付管理単位数": 100})
    s7.recs.insert(s7.recs.index(sub) + 1, eeee)
    inv("TOT007", "managed-units-on-eeee", fs,
        "An 11EEEE (区分支給限度対象外) subtotal carries 給付管理単位数; it is Null there.")

    u = dict(P5["U4"])
    u["services"] = P5["U4"]["services"] + [svc(P31, "311111", 509, [10], "1400", "1430")]
    fs = unit_riyohyo(V, E5, [u], CM, P15, SER)
    inv("TOT008", "managed-units-outside-limit", fs,
        "A 31 居宅療養管理指導 row, a service outside the 区分支給限度, carries 給付管理単位数.")

    fs = base_riyohyo()
    s7 = pick(fs, "UPSIKYU")
    rec_where(s7, **{"サービスコード": "111211"})["サービス単位金額"] = 2000
    s7._lines = None
    inv("TOT009", "row-amount-not-units-times-count", fs,
        "111211: 258 units × 9 is 2322, the row says サービス単位金額 2000.")

    fs = base_riyohyo()
    s7 = pick(fs, "UPSIKYU")
    g = rec_where(s7, **{"サービスコード": "999999"})
    g["費用総額保険／事業対象分"] = int(g["費用総額保険／事業対象分"]) + 100
    s7._lines = None
    inv("TOT010", "grand-total-cost-off", fs,
        "The 999999 row's 費用総額 is 100 yen more than the subtotals add up to.")

    fs = base_riyohyo()
    s7 = pick(fs, "UPSIKYU")
    sub = rec_where(s7, **{"サービスコード": "15AAAA"})
    sub["保険／事業費請求額"] = int(sub["保険／事業費請求額"]) + 1
    sub["利用者負担保険／事業対象分"] = int(sub["利用者負担保険／事業対象分"]) - 1
    g = rec_where(s7, **{"サービスコード": "999999"})
    g["保険／事業費請求額"] = int(g["保険／事業費請求額"]) + 1
    g["利用者負担保険／事業対象分"] = int(g["利用者負担保険／事業対象分"]) - 1
    s7._lines = None
    inv("TOT011", "claim-not-rounded-down", fs,
        "15AAAA: 費用総額 79951 × 90 / 100 is 71955 (rounded down); the row claims 71956.")

    fs = base_riyohyo()
    s7 = pick(fs, "UPSIKYU")
    rec_where(s7, **{"サービスコード": "15AAAA"})["サービス単位金額"] = 7000
    s7._lines = None
    inv("TOT012", "subtotal-not-the-sum", fs,
        "15AAAA says サービス単位金額 7000; its rows (151325, 155051) add up to 7335.")

    # ---------------------------------------------------------------- units
    renamed = pick(base_riyohyo(serial="20250425130000"), "UPPLAN")
    fs = base_riyohyo() + base_riyohyo(serial="20250425140000", users=("U2",))
    fs.append(F("plan.csv", data=renamed.data))
    inv("UNIT006", "renamed-file-among-units", fs,
        "plan.csv (a renamed 6表) lies in a folder with two send units: it cannot be placed in either.",
        ["UNIT006", "NAME011"])

    fs = base_plan()
    t2 = pick(fs, "UP2KYO")
    inv("NAME011", "renamed-file-in-its-unit", fs[:1] + [F("table2.csv", data=t2.data)] + fs[2:],
        "The 2表 of a 計画書 unit arrived renamed to table2.csv: its name is an error, and it is still "
        "judged with the unit of its folder.", ["NAME011"])

    # ---------------------------------------------------------------- numbering
    fs = unit_yobo(V, E5, [P5["Y1"]], HOUKATSU, PA1, SER)
    sub = pick(fs, "UPYOBO_SUB")
    sub.recs[1]["支援計画ＮＯ"] = 1
    sub.recs[1]["利用サービスＮＯ"] = 1
    sub._lines = None
    inv("PLN002", "duplicate-yobo-numbers", fs,
        "Two 予防 別表 rows of one plan are both numbered 課題1 / 支援計画1 / 利用サービス1.")

# --------------------------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------------------------

def toml_str(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def write_all() -> int:
    for sub in ("valid", "invalid"):
        target = HERE / sub
        if target.exists():
            shutil.rmtree(target)
    n = 0
    for path, (files, expect) in sorted(CASES.items()):
        folder = HERE / path
        folder.mkdir(parents=True, exist_ok=True)
        for f in files:
            (folder / f.name).write_bytes(f.data)
            n += 1
        if expect:
            text = ("rules = [" + ", ".join(toml_str(r) for r in expect["rules"]) + "]\n"
                    + "why = " + toml_str(expect["why"]) + "\n")
            (folder / "expect.toml").write_bytes(text.encode("utf-8"))
    return n


def main() -> None:
    build_valid()
    build_invalid()
    build_invalid_meaning()
    n = write_all()
    print(f"{len(CASES)} cases, {n} data files written under {HERE}")


if __name__ == "__main__":
    main()
