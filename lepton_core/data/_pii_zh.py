"""Personal data: Lepton's own recognizers where Presidio has none.

Chinese mobile and landline numbers, 18-digit resident identity numbers (GB 11643,
checked with the ISO 7064 MOD 11-2 check character and a plausible birth date),
Chinese street addresses and person names, plus the IBAN (ISO 13616 mod-97) and UK
National Insurance number checks used on short column values, and header words in
Chinese, Japanese and several European languages for every kind.

Everything here is plain ``re`` and arithmetic, so a table of short values is
scanned without loading Presidio or spaCy; :mod:`._pii_nlp` wraps the same
functions as Presidio recognizers for free text.
"""

from __future__ import annotations

import datetime as _dt
import re

# ---- phones ---------------------------------------------------------------------------

# Mobile numbers: 1 + a network digit 3-9 + 9 digits, optionally +86 / 0086 and spaces or
# hyphens in the usual 3-4-4 grouping.
CN_MOBILE = re.compile(r"(?<![\d+])(?:(?:\+|00)86[\s-]?)?1[3-9]\d(?:[\s-]?\d{4}){2}(?!\d)")
# Landlines: area code 0 + 2-3 digits (or +86 without the 0), then 7-8 digits; the
# separator (or brackets) is required, a bare run of digits is as often an order number.
CN_LANDLINE = re.compile(
    r"(?<![\d+])(?:(?:\+|00)86[\s-]?[1-9]\d{1,2}|\(0[1-9]\d{1,2}\)|0[1-9]\d{1,2})[\s-]?"
    r"[2-9]\d{2,3}[\s-]?\d{4}(?!\d)"
)
# Network prefixes in use (MIIT numbering plan); 1[3-9] alone lets 140/141/144 through.
_MOBILE_PREFIXES = re.compile(r"1(?:3\d|4[5-9]|5[0-35-9]|6[2567]|7[0-8]|8\d|9[0-35-9])")


def _mobile_digits(value: str) -> str:
    digits = re.sub(r"\D", "", value)
    if digits.startswith("0086"):
        digits = digits[4:]
    elif digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    return digits


def is_cn_mobile(value: str) -> bool:
    """A Chinese mobile number (``13812345678``, ``+86 138 1234 5678``, ``138-1234-5678``)."""
    if not CN_MOBILE.fullmatch(value.strip()):
        return False
    digits = _mobile_digits(value)
    return len(digits) == 11 and bool(_MOBILE_PREFIXES.match(digits))


def is_cn_landline(value: str) -> bool:
    """A Chinese landline with its area code (``010-12345678``, ``(0755) 8765 4321``)."""
    value = value.strip()
    if not CN_LANDLINE.fullmatch(value):
        return False
    digits = re.sub(r"\D", "", value)
    if value.startswith(("+", "00")):
        digits = digits.removeprefix("00").removeprefix("86")
    # Area code without its 0 (2-3 digits) and a 7-8 digit subscriber number.
    return 9 <= len(digits.removeprefix("0")) <= 11


def cn_phone_spans(text: str) -> list[tuple[int, int]]:
    """Spans of Chinese mobile and landline numbers inside a text."""
    spans = [m.span() for m in CN_MOBILE.finditer(text) if is_cn_mobile(m.group())]
    spans += [
        m.span()
        for m in CN_LANDLINE.finditer(text)
        if is_cn_landline(m.group()) and not any(s <= m.start() < e for s, e in spans)
    ]
    return sorted(spans)


# ---- resident identity numbers -------------------------------------------------------

CN_RESIDENT_ID = re.compile(r"(?<![\dA-Za-z])[1-9]\d{16}[\dXx](?![\dA-Za-z])")
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
# Province-level codes of GB/T 2260 (the first two digits).
_PROVINCE_CODES_TEXT = """
11 12 13 14 15 21 22 23 31 32 33 34 35 36 37 41 42 43 44 45 46 50 51 52 53 54
61 62 63 64 65 71 81 82 83 91
"""
_PROVINCE_CODES = frozenset(_PROVINCE_CODES_TEXT.split())


def id_check_character(first17: str) -> str:
    """The ISO 7064 MOD 11-2 check character of a resident identity number's 17 digits."""
    total = sum(int(d) * w for d, w in zip(first17, _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11]


def is_cn_resident_id(value: str) -> bool:
    """An 18-character resident identity number with a valid region, birth date and check."""
    value = value.strip()
    if not CN_RESIDENT_ID.fullmatch(value) or value[:2] not in _PROVINCE_CODES:
        return False
    try:
        born = _dt.date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        return False
    if born.year < 1900 or born > _dt.date.today():
        return False
    return id_check_character(value[:17]) == value[17].upper()


# ---- IBAN and UK National Insurance numbers ------------------------------------------

# Lengths by country (ISO 13616 registry, the SEPA countries and a few more).
_IBAN_LENGTHS = {
    "AD": 24, "AE": 23, "AT": 20, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BR": 29, "CH": 21,
    "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "EE": 20, "ES": 24, "FI": 18, "FO": 18, "FR": 27,
    "GB": 22, "GI": 23, "GL": 18, "GR": 27, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IS": 26,
    "IT": 27, "KW": 30, "KZ": 20, "LB": 28, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "MC": 27,
    "ME": 22, "MT": 31, "NL": 18, "NO": 15, "PL": 28, "PT": 25, "QA": 29, "RO": 24, "RS": 22,
    "SA": 24, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "TR": 26, "UA": 29, "VA": 22,
}  # fmt: skip
IBAN = re.compile(
    r"(?<![A-Za-z\d])[A-Z]{2}\d{2}(?: ?[A-Z\d]{4}){2,7}(?: ?[A-Z\d]{1,3})?(?![A-Za-z\d])"
)


_IBAN_SHAPE = re.compile(r"[A-Z]{2}\d{2}[A-Z\d]+")


def is_iban(value: str) -> bool:
    """An IBAN with its country's length and a valid mod-97 check (ISO 13616)."""
    compact = re.sub(r"[\s-]", "", value).upper()
    if _IBAN_LENGTHS.get(compact[:2]) != len(compact) or not _IBAN_SHAPE.fullmatch(compact):
        return False
    moved = compact[4:] + compact[:4]
    return int("".join(str(int(ch, 36)) for ch in moved)) % 97 == 1


# Presidio's UK_NINO pattern (prefix letters D, F, I, Q, U, V never used, O not second,
# BG GB NK KN NT TN ZZ never issued), with the suffix A-D.
UK_NINO = re.compile(
    r"(?<![A-Za-z\d])(?!BG|GB|NK|KN|NT|TN|ZZ)[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z]"
    r" ?\d{2} ?\d{2} ?\d{2} ?[A-D](?![A-Za-z\d])",
    re.IGNORECASE,
)


def is_uk_nino(value: str) -> bool:
    """A UK National Insurance number (``QQ 12 34 56 C``)."""
    return bool(UK_NINO.fullmatch(value.strip()))


# ---- addresses, places and names ----------------------------------------------------

_HAN = r"\u4e00-\u9fff"
# A road with a house number (…路88号, …街道12号, …胡同3号), or two administrative levels
# followed by a building (…市…区…栋/室/单元).
CN_ADDRESS = re.compile(
    rf"[{_HAN}]{{1,12}}(?:路|街|大道|大街|道|巷|弄|胡同|里)\s*\d+(?:-\d+)?\s*[号號]"
    rf"|[{_HAN}]{{2,12}}(?:省|市|区|县|镇|乡)[{_HAN}\d]*(?:村|小区|苑|栋|幢|单元|室|楼)"
)
_ADMIN = re.compile(r"(?:省|自治区|市|区|县|州|盟|旗)$")
_PROVINCES_TEXT = """
北京 天津 河北 山西 内蒙古 辽宁 吉林 黑龙江 上海 江苏 浙江 安徽 福建 江西 山东 河南
湖北 湖南 广东 广西 海南 重庆 四川 贵州 云南 西藏 陕西 甘肃 青海 宁夏 新疆 台湾 香港 澳门
"""
CN_PROVINCES = frozenset(_PROVINCES_TEXT.split())
# Large cities, written without 市 as they usually are in a table.
_CITIES_TEXT = """
广州 深圳 成都 杭州 武汉 西安 南京 苏州 郑州 长沙 沈阳 青岛 宁波 东莞 无锡 济南 合肥 福州
厦门 大连 昆明 哈尔滨 长春 石家庄 南宁 贵阳 南昌 太原 兰州 乌鲁木齐 呼和浩特 海口 拉萨 银川
西宁 佛山 温州 珠海 烟台 徐州 常州 南通 泉州 汕头 洛阳 唐山 保定 桂林 三亚 扬州
"""
CN_CITIES = frozenset(_CITIES_TEXT.split())
_SENTENCE = re.compile(r"[，。！？；,.!?;]")


def is_cn_address(value: str) -> bool:
    """A Chinese street address (a road and house number, or district and building)."""
    value = value.strip()
    return len(value) <= 80 and not _SENTENCE.search(value) and bool(CN_ADDRESS.search(value))


def is_cn_place(value: str) -> bool:
    """A Chinese province, city or county name (``广东省``, ``深圳``, ``朝阳区``)."""
    value = value.strip()
    if not 2 <= len(value) <= 12 or not re.fullmatch(rf"[{_HAN}]+", value):
        return False
    return (
        value in CN_PROVINCES
        or value in CN_CITIES
        or value.removesuffix("省") in CN_PROVINCES
        or bool(_ADMIN.search(value))
    )


# The most common surnames (about 85% of the population) and the compound ones.
_SURNAMES_TEXT = """
王 李 张 刘 陈 杨 黄 赵 吴 周 徐 孙 马 朱 胡 郭 何 高 林 罗 郑 梁 谢 宋
唐 许 韩 冯 邓 曹 彭 曾 肖 田 董 袁 潘 于 蒋 蔡 余 杜 叶 程 苏 魏 吕 丁
任 沈 姚 卢 姜 崔 钟 谭 陆 汪 范 金 石 廖 贾 夏 韦 付 方 白 邹 孟 熊 秦
邱 江 尹 薛 闫 段 雷 侯 龙 史 陶 黎 贺 顾 毛 郝 龚 邵 万 钱 严 覃 武 戴
莫 孔 向 汤 常 温 康 施 文 牛 樊 葛 邢 安 齐 易 乔 伍 庞 颜 倪 庄 聂 章
鲁 岳 翟 殷 詹 申 欧 耿 关 兰 焦 俞 左 柳 甘 祝 包 宁 尚 符 舒 阮 柯 纪
梅 童 凌 毕 单 季 裴 霍 涂 成 苗 谷 盛 曲 翁 冉 骆 蓝 路 游 辛 靳 管 柴
蒙 鲍 华 喻 祁 蒲 房 滕 屈 饶 解 牟 艾 尤 阳 时 穆 农 司 卓 古 吉 缪 简
车 项 连 芦 麦 褚 娄 窦 戚 岑 景 党 宫 费 卜 冷 晏 席 卫 米 柏 宗 瞿 桂
全 佟 应 臧 闵 苟 邬 边 卞 姬 师 和 仇 栾 隋 商 刁 沙 荣 巫 寇 桑 郎 甄
丛 仲 虞 敖 巩 明 佘 池 查 麻 苑 迟 邝 欧阳 司马 上官 诸葛 东方 皇甫 尉迟 公孙 慕容 长孙 宇文
司徒 夏侯 令狐 端木
"""
CN_SURNAMES = frozenset(_SURNAMES_TEXT.split())
_COMPOUND = frozenset(s for s in CN_SURNAMES if len(s) == 2)
# Characters that end a Chinese word but rarely a given name (so 高级, 王府井 are not names).
_NOT_GIVEN = frozenset("级省市区县路街号店厂司部局院校楼层室元件个款色型码")
_TITLES = ("先生", "女士", "小姐", "经理", "老师", "医生", "同学", "总")


def is_cn_name(value: str) -> bool:
    """A Chinese full name: a known surname and a given name of one or two characters."""
    value = value.strip().replace("·", "")
    if not re.fullmatch(rf"[{_HAN}]{{2,4}}", value) or value in CN_CITIES:
        return False
    surname = value[:2] if value[:2] in _COMPOUND else value[0]
    if surname not in CN_SURNAMES:
        return False
    given = value[len(surname) :]
    if any(title in given for title in _TITLES):
        return False
    return 1 <= len(given) <= 2 and not (set(given) & _NOT_GIVEN)


# A name is only claimed inside text where the context says so: after a cue word
# ("我叫", "联系人", "姓名") or right before a title, or next to a phone number.
_NAME_CUES = r"(?:我叫|我是|姓名|名字|联系人|收件人|收货人|客户|患者)[:：\s]*"
_NAME_TITLES = r"(?=先生|女士|小姐|经理|老师|医生|同学)"


def cn_name_spans(text: str) -> list[tuple[int, int]]:
    """Spans of Chinese person names inside a text, only where the context marks them."""
    spans: list[tuple[int, int]] = []

    def add(start: int, candidate: str) -> None:
        for size in (4, 3, 2):  # longest plausible name first
            if len(candidate) >= size and is_cn_name(candidate[:size]):
                spans.append((start, start + size))
                return

    for m in re.finditer(_NAME_CUES + rf"([{_HAN}]{{2,4}})", text):
        add(m.start(1), m.group(1))
    for m in re.finditer(rf"([{_HAN}]{{1,3}}){_NAME_TITLES}", text):
        # A surname alone before a title (王先生) names someone too.
        name = m.group(1)
        for size in range(len(name), 0, -1):
            part = name[-size:]
            if part in CN_SURNAMES or (size > 1 and is_cn_name(part)):
                spans.append((m.end(1) - size, m.end(1)))
                break
    for start, _end in cn_phone_spans(text):
        before = re.search(rf"([{_HAN}]{{2,8}})[\s:：,，(（]*$", text[max(0, start - 12) : start])
        if before:
            run_end = max(0, start - 12) + before.end(1)
            for size in (4, 3, 2):  # the name ends right before the number
                if size <= len(before.group(1)) and is_cn_name(text[run_end - size : run_end]):
                    spans.append((run_end - size, run_end))
                    break
    return sorted(set(spans))


# ---- header words -------------------------------------------------------------------

# Matched as substrings (CJK headers have no spaces); the first kind that matches wins,
# so the more specific kinds come first (联系电话 is a phone, not a contact person).
CJK_HINTS: dict[str, tuple[str, ...]] = {
    "email": ("邮箱", "电子邮件", "电邮", "邮件地址", "メール", "이메일"),
    "ip_address": ("ip地址", "ip 地址", "ipアドレス"),
    "phone": ("手机", "电话", "联系方式", "座机", "固话", "電話", "携帯", "전화", "휴대폰"),
    "national_id": (
        "身份证", "证件号", "证件号码", "护照", "社保号", "社会保障号", "マイナンバー",
        "個人番号", "주민등록",
    ),
    "bank_account": ("银行账号", "银行账户", "账户号", "开户行账号", "口座番号", "계좌"),
    "payment_card": ("银行卡", "信用卡", "卡号", "储蓄卡", "クレジットカード", "카드번호"),
    "postcode": ("邮编", "邮政编码", "郵便番号", "우편번호"),
    "date_of_birth": ("出生日期", "出生年月", "生日", "出生", "生年月日", "誕生日", "생년월일"),
    "street_address": ("地址", "住址", "住所", "居住地", "주소"),
    "person_name": (
        "姓名", "名字", "联系人", "收件人", "收货人", "客户名", "患者", "员工", "氏名", "名前",
        "이름", "성명",
    ),
}  # fmt: skip
# Headers that make a CJK "name"/"card"/"address" hint impersonal.
CJK_NOT_PERSONAL = (
    "产品", "商品", "公司", "品牌", "文件", "用户名", "店铺", "门店", "城市", "网址", "域名",
    "服务器", "型号", "名称",
)  # fmt: skip
# Quasi-identifiers: geography first (城市, 省份, 邮编…), then the demographic columns.
CJK_QUASI_HINTS = (
    "城市", "省份", "省市", "地区", "区县", "县市", "所在地", "籍贯", "国家", "国籍", "户籍",
    "邮编", "邮政编码", "年龄", "性别", "民族", "婚姻", "出生", "生日", "都道府県", "市区町村",
    "年齢", "性別", "나이", "성별", "도시",
)  # fmt: skip
# Other languages' words, added to the scanner's English-led lists.
LATIN_HINTS: dict[str, tuple[str, ...]] = {
    "phone": ("numero de telephone", "portable", "rufnummer", "mobilnummer", "telefonnummer"),
    "national_id": (
        "national insurance", "ni number", "ni no", "insurance number", "steuer id",
        "steueridentifikationsnummer", "personalausweis", "ausweisnummer", "securite sociale",
        "numero de securite sociale", "nir", "resident id", "id card", "id card number",
    ),
    "bank_account": (
        "iban", "bank account", "kontonummer", "bankverbindung", "rib",
        "compte bancaire", "numero de compte", "cuenta bancaria",
    ),
    "street_address": ("anschrift", "wohnort adresse", "domicile", "adresse postale"),
    "postcode": ("postleitzahl", "cp", "codigo postal"),
}  # fmt: skip
GEO_HINTS = (
    "city", "town", "province", "state", "county", "region", "district", "country",
    "stadt", "ort", "wohnort", "bundesland", "landkreis", "ville", "commune", "departement",
    "ciudad", "provincia", "citta", "municipality", "prefecture", "suburb",
)  # fmt: skip


def has_cjk(text: str) -> bool:
    """Whether ``text`` holds Chinese, Japanese or Korean characters."""
    return bool(re.search(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]", text))


# Headers about a thing named after the kind (手机型号 is a phone model, not a number).
CJK_NOT_PHONE = ("型号", "品牌", "套餐", "配件", "壳")


def cjk_header_kind(name: str) -> str | None:
    """The personal-data kind a CJK header names, if any."""
    text = name.lower()
    for kind, hints in CJK_HINTS.items():
        if any(hint in text for hint in hints):
            if kind == "phone" and any(word in text for word in CJK_NOT_PHONE):
                return None
            if kind in ("person_name", "payment_card", "street_address") and any(
                word in text for word in CJK_NOT_PERSONAL
            ):
                continue
            return kind
    return None


def cjk_is_quasi(name: str) -> bool:
    """Whether a CJK header names a quasi-identifier (a place, age, sex, birth date…)."""
    return any(hint in name for hint in CJK_QUASI_HINTS)
