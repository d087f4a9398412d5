"""Who the customers are: company names, e-mail addresses, bank accounts, and their names as banks write them.

Cash application lives or dies on how a payer's name and account look on a bank line, so these
follow the real formats: IBANs with valid ISO 13616 check digits (and the national check digits
of FR, ES and IT), US ABA routing numbers with a valid checksum, Canadian routing numbers, and
names upper-cased, transliterated, abbreviated and cut to the field widths of each payment rail.
We write our own generators (a few lines each) rather than pull a faker: we need the exact
formats, the bank-side distortions and per-customer reproducibility, which fakers do not give.
"""

from __future__ import annotations

import re
import string

from simulator.rand import Draws

# --- company names ---------------------------------------------------------------------------------

_EN_CORES = (
    "Northwind",
    "Bluewater",
    "Summit",
    "Redwood",
    "Ironbridge",
    "Lakeside",
    "Harbor",
    "Pioneer",
    "Granite",
    "Silverline",
    "Keystone",
    "Evergreen",
    "Cobalt",
    "Meridian",
    "Falcon",
    "Oakridge",
    "Brightstone",
    "Crescent",
    "Atlas",
    "Beacon",
    "Cedar",
    "Clearwater",
    "Copperfield",
    "Eastgate",
    "Fairview",
    "Foxhill",
    "Glenwood",
    "Highland",
    "Kingsley",
    "Larkspur",
    "Maple Leaf",
    "Millbrook",
    "Newport",
    "Orchard",
    "Pinecrest",
    "Quarry Hill",
    "Riverbend",
    "Sandstone",
    "Stonebridge",
    "Sunrise",
    "Thornton",
    "Tristar",
    "Valley",
    "Westfield",
    "Whitmore",
    "Willow Creek",
    "Anderson",
    "Baker",
    "Carter",
    "Donnelly",
    "Fletcher",
    "Hughes",
    "Morgan",
    "Patterson",
    "Reynolds",
    "Sullivan",
    "Turner",
    "Walsh",
    "Bennett",
    "Crawford",
    "Harrison",
    "Mitchell",
    "Prescott",
    "Sterling",
    "Blackstone",
    "Bridgewater",
    "Canterbury",
    "Driftwood",
    "Emerald",
    "Frontier",
    "Goldcrest",
    "Hawthorne",
    "Ivory Coast",
    "Juniper",
    "Lighthouse",
    "Magnolia",
    "Northgate",
    "Old Mill",
    "Paragon",
    "Red Oak",
    "Sapphire",
    "Silver Birch",
    "Tidewater",
    "Union",
    "Vanguard",
    "Wexford",
    "Yellowstone",
    "Apex",
    "Cardinal",
    "Compass",
)
_EN_INDUSTRIES = (
    "Logistics",
    "Manufacturing",
    "Foods",
    "Electronics",
    "Supply",
    "Industries",
    "Packaging",
    "Distribution",
    "Health Systems",
    "Building Products",
    "Automotive",
    "Plastics",
    "Textiles",
    "Engineering",
    "Retail Group",
    "Hospitality",
    "Pharmaceuticals",
    "Components",
    "Machinery",
    "Energy Services",
    "Printing",
    "Chemicals",
    "Tools",
    "Medical Supplies",
    "Furniture",
    "Farms",
    "Technologies",
    "Systems",
    "Services",
    "International",
    "Trading",
    "Hardware",
    "Marine",
    "Aerospace",
    "Labs",
    "Brewing",
    "Outfitters",
    "Wholesale",
    "Construction",
    "Solutions",
)
_DE_CORES = (
    "Müller",
    "Schröder",
    "Bergmann",
    "Nordstern",
    "Rheinland",
    "Alpen",
    "Hansa",
    "Weiß",
    "Krüger",
    "Becker",
    "Hoffmann",
    "Schäfer",
    "Fischer",
    "Lindner",
    "Sonnenberg",
    "Elbtal",
    "Schwarzwald",
    "Wagner",
    "Zimmermann",
    "Braun",
    "Hartmann",
    "Lange",
    "Köhler",
    "Neumann",
    "Vogel",
    "Jäger",
    "Donau",
    "Isartal",
    "Weser",
    "Ostsee",
)
_DE_INDUSTRIES = (
    "Maschinenbau",
    "Logistik",
    "Elektrotechnik",
    "Verpackungen",
    "Lebensmittel",
    "Metallbau",
    "Handel",
    "Kunststofftechnik",
    "Antriebstechnik",
    "Medizintechnik",
    "Baustoffe",
    "Fahrzeugteile",
    "Haustechnik",
    "Werkzeugbau",
    "Druckerei",
    "Spedition",
    "Anlagenbau",
    "Chemie",
)
_FR_CORES = (
    "Dupont",
    "Lefèvre",
    "Moreau",
    "Garnier",
    "Rousseau",
    "Bélanger",
    "Côte d'Azur",
    "Provence",
    "Atlantique",
    "Lumière",
    "Étoile",
    "Fontaine",
    "Girard",
    "Mercier",
    "Blanchard",
    "Chevalier",
    "Laurent",
    "Marchand",
    "Normandie",
    "Bretagne",
    "Val de Loire",
    "Bonnet",
    "Faure",
    "Roux",
)
_FR_INDUSTRIES = (
    "Distribution",
    "Logistique",
    "Industries",
    "Emballages",
    "Alimentaire",
    "Services",
    "Électronique",
    "Mécanique",
    "Transports",
    "Matériaux",
    "Équipements",
    "Plastiques",
)
_NL_CORES = (
    "Van der Berg",
    "De Vries",
    "Jansen",
    "Visser",
    "Bakker",
    "Smit",
    "Hollandia",
    "Zeeland",
    "Oranje",
    "Van Dijk",
    "Meijer",
    "Mulder",
    "De Boer",
    "Dekker",
    "Brabant",
    "Friesland",
    "Kuipers",
    "Vermeulen",
)
_NL_INDUSTRIES = (
    "Logistiek",
    "Techniek",
    "Groothandel",
    "Verpakkingen",
    "Transport",
    "Installatietechniek",
    "Handelsonderneming",
    "Metaal",
    "Bouwmaterialen",
)
_ES_CORES = (
    "Ibérica",
    "Mediterráneo",
    "Castilla",
    "Navarro",
    "García",
    "Ruiz",
    "Levante",
    "Cantábrico",
    "Sierra",
)
_ES_INDUSTRIES = ("Logística", "Industrias", "Distribuciones", "Alimentación", "Envases", "Suministros")
_IT_CORES = ("Rossi", "Bianchi", "Lombarda", "Adriatica", "Toscana", "Ferrari", "Romano", "Colombo", "Ricci")
_IT_INDUSTRIES = (
    "Meccanica",
    "Logistica",
    "Imballaggi",
    "Alimentari",
    "Elettronica",
    "Forniture Industriali",
)

_SUFFIXES = {
    "US": (
        ("Inc.", 0.35),
        ("Corporation", 0.12),
        ("LLC", 0.25),
        ("Co.", 0.08),
        ("Corp.", 0.1),
        ("Incorporated", 0.04),
        ("Holdings, Inc.", 0.06),
    ),
    "CA": (("Inc.", 0.5), ("Ltd.", 0.3), ("Corp.", 0.2)),
    "GB": (("Ltd", 0.45), ("Limited", 0.35), ("PLC", 0.1), ("Ltd.", 0.1)),
    "IE": (("Limited", 0.5), ("Ltd", 0.35), ("DAC", 0.15)),
    "DE": (("GmbH", 0.6), ("AG", 0.12), ("GmbH & Co. KG", 0.2), ("KG", 0.08)),
    "FR": (("SAS", 0.55), ("SA", 0.25), ("SARL", 0.2)),
    "NL": (("B.V.", 0.85), ("N.V.", 0.15)),
    "ES": (("S.L.", 0.6), ("S.A.", 0.4)),
    "IT": (("S.r.l.", 0.6), ("S.p.A.", 0.4)),
}
_DIVISION_WORD = {
    "US": ("West", "Midwest", "Southeast", "Texas", "Pacific", "Northeast"),
    "CA": ("Canada",),
    "GB": ("UK", "Britain"),
    "IE": ("Ireland",),
    "DE": ("Deutschland", "Germany"),
    "FR": ("France",),
    "NL": ("Nederland", "Benelux"),
    "ES": ("Iberia", "España"),
    "IT": ("Italia",),
}


def company_name(d: Draws, country: str) -> tuple[str, str, str]:
    """(full legal name, core, industry). Core and industry let subsidiaries share the parent's name."""
    if country == "DE":
        core, ind = d.choice(_DE_CORES), d.choice(_DE_INDUSTRIES)
        name = f"{core} {ind}"
    elif country == "FR":
        core, ind = d.choice(_FR_CORES), d.choice(_FR_INDUSTRIES)
        name = f"{ind} {core}" if d.u() < 0.6 else f"{core} {ind}"
    elif country == "NL":
        core, ind = d.choice(_NL_CORES), d.choice(_NL_INDUSTRIES)
        name = f"{core} {ind}"
    elif country == "ES":
        core, ind = d.choice(_ES_CORES), d.choice(_ES_INDUSTRIES)
        name = f"{ind} {core}"
    elif country == "IT":
        core, ind = d.choice(_IT_CORES), d.choice(_IT_INDUSTRIES)
        name = f"{core} {ind}"
    else:
        core, ind = d.choice(_EN_CORES), d.choice(_EN_INDUSTRIES)
        r = d.u()
        if r < 0.08:
            name = f"{core} & Sons"
        elif r < 0.14:
            name = f"{core} Brothers {ind}"
        else:
            name = f"{core} {ind}"
    return f"{name} {d.weighted(_SUFFIXES[country])}", core, ind


def subsidiary_name(d: Draws, parent_core: str, parent_industry: str, country: str) -> str:
    return f"{parent_core} {parent_industry} {d.choice(_DIVISION_WORD[country])} {d.weighted(_SUFFIXES[country])}"


# --- people and e-mail -----------------------------------------------------------------------------

_FIRST = {
    "en": (
        "Maria",
        "James",
        "Linda",
        "Robert",
        "Patricia",
        "Michael",
        "Jennifer",
        "David",
        "Susan",
        "Kevin",
        "Karen",
        "Brian",
        "Emily",
        "Jason",
        "Laura",
        "Mark",
        "Rachel",
        "Steven",
        "Megan",
        "Paul",
        "Aisha",
        "Raj",
        "Chen",
        "Olga",
        "Diego",
        "Fatima",
        "Sean",
        "Niamh",
        "Oliver",
        "Charlotte",
    ),
    "de": (
        "Anna",
        "Thomas",
        "Sabine",
        "Michael",
        "Katrin",
        "Stefan",
        "Julia",
        "Andreas",
        "Petra",
        "Jürgen",
        "Monika",
        "Frank",
        "Claudia",
        "Markus",
        "Nicole",
    ),
    "fr": (
        "Marie",
        "Pierre",
        "Sophie",
        "Jean",
        "Isabelle",
        "Nicolas",
        "Camille",
        "François",
        "Nathalie",
        "Julien",
        "Céline",
        "Laurent",
    ),
}
_LAST = {
    "en": (
        "Smith",
        "Johnson",
        "Williams",
        "Brown",
        "Garcia",
        "Miller",
        "Davis",
        "Rodriguez",
        "Martinez",
        "Wilson",
        "Taylor",
        "Thomas",
        "Moore",
        "Jackson",
        "Lee",
        "Harris",
        "Clark",
        "Lewis",
        "Walker",
        "Young",
        "King",
        "Wright",
        "Scott",
        "Green",
        "Adams",
        "Nelson",
        "Hill",
        "Campbell",
        "Murphy",
        "O'Brien",
        "Kelly",
        "Singh",
    ),
    "de": (
        "Müller",
        "Schmidt",
        "Schneider",
        "Fischer",
        "Weber",
        "Meyer",
        "Wagner",
        "Becker",
        "Schulz",
        "Hoffmann",
        "Koch",
        "Richter",
        "Klein",
        "Wolf",
    ),
    "fr": (
        "Martin",
        "Bernard",
        "Dubois",
        "Thomas",
        "Robert",
        "Richard",
        "Petit",
        "Durand",
        "Leroy",
        "Moreau",
        "Simon",
        "Laurent",
        "Lefebvre",
        "Michel",
    ),
}
_MAILBOXES = {
    "en": ("ap", "accounts.payable", "accountspayable", "invoices", "finance", "ap.team", "payables"),
    "de": ("buchhaltung", "kreditoren", "rechnungen", "finanzen", "ap"),
    "fr": ("comptabilite", "fournisseurs", "factures", "compta", "ap"),
}
# Spanish, Italian and Dutch companies: local names and mailbox words, even when they write in English.
_FIRST.update(
    es=("Lucía", "Javier", "Carmen", "Alejandro", "Elena", "Pablo", "Marta", "Sergio"),
    it=("Giulia", "Marco", "Francesca", "Luca", "Chiara", "Alessandro", "Sara", "Matteo"),
    nl=("Sanne", "Daan", "Lotte", "Bram", "Eva", "Joost", "Femke", "Ruben"),
)
_LAST.update(
    es=("García", "Fernández", "González", "Rodríguez", "López", "Martínez", "Sánchez", "Pérez", "Gómez"),
    it=("Rossi", "Russo", "Ferrari", "Esposito", "Bianchi", "Romano", "Colombo", "Ricci", "Marino"),
    nl=("de Jong", "Jansen", "de Vries", "van den Berg", "Bakker", "Visser", "Smit", "Meijer", "de Boer"),
)
_MAILBOXES.update(
    es=("contabilidad", "facturas", "proveedores", "ap"),
    it=("amministrazione", "contabilita", "fornitori", "ap"),
    nl=("crediteuren", "administratie", "facturen", "ap"),
)
_NAME_LOCALE = {"DE": "de", "FR": "fr", "ES": "es", "IT": "it", "NL": "nl"}


def name_locale(country: str) -> str:
    """Which names and mailbox words a company in ``country`` uses (its e-mails may still be English)."""
    return _NAME_LOCALE.get(country, "en")


_ASCII = str.maketrans(
    {
        "ä": "ae",
        "ö": "oe",
        "ü": "ue",
        "ß": "ss",
        "é": "e",
        "è": "e",
        "ê": "e",
        "ç": "c",
        "à": "a",
        "ô": "o",
        "É": "e",
        "Ä": "ae",
        "Ö": "oe",
        "Ü": "ue",
        "í": "i",
        "á": "a",
        "ó": "o",
        "ñ": "n",
        "'": "",
    }
)


def person_name(d: Draws, language: str) -> tuple[str, str]:
    lang = language if language in _FIRST else "en"
    return d.choice(_FIRST[lang]), d.choice(_LAST[lang])


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "", text.lower().translate(_ASCII))


def company_domain(d: Draws, core: str, industry: str, tld: str) -> str:
    c, i = slug(core), slug(industry)
    r = d.u()
    if r < 0.4:
        host = f"{c}-{i}"
    elif r < 0.75:
        host = f"{c}{i}"
    elif r < 0.9:
        host = c
    else:
        host = f"{c}{i[:3]}"
    return f"{host}.{tld}"


def mailbox_address(d: Draws, domain: str, language: str) -> tuple[str, str]:
    """(address, the AP clerk who signs): a shared AP mailbox most of the time, the clerk's own otherwise."""
    first, last = person_name(d, language)
    if d.u() < 0.65:
        return f"{d.choice(_MAILBOXES.get(language, _MAILBOXES['en']))}@{domain}", f"{first} {last}"
    local = f"{slug(first)}.{slug(last)}" if d.u() < 0.6 else f"{slug(first)[0]}{slug(last)}"
    return f"{local}@{domain}", f"{first} {last}"


# --- bank accounts -----------------------------------------------------------------------------------

_IBAN_BANKS = {
    "GB": ("NWBK", "BARC", "HBUK", "LOYD", "MIDL", "SRLG"),
    "IE": ("AIBK", "BOFI", "IPBS", "ULSB"),
    "NL": ("ABNA", "INGB", "RABO", "TRIO", "SNSB", "KNAB"),
}


def _digits(d: Draws, n: int) -> str:
    return "".join(str(int(d.u() * 10)) for _ in range(n))


def _iban_numeric(text: str) -> int:
    return int("".join(str(int(ch, 36)) for ch in text))


def iban_check_digits(country: str, bban: str) -> str:
    """ISO 13616: move the country and '00' to the end, letters to 10..35, 98 - (n mod 97)."""
    return f"{98 - _iban_numeric(bban + country + '00') % 97:02d}"


def iban_is_valid(iban: str) -> bool:
    s = iban.replace(" ", "").upper()
    return len(s) > 4 and _iban_numeric(s[4:] + s[:4]) % 97 == 1


def _fr_rib_key(bank: str, branch: str, account: str) -> str:
    return f"{97 - (89 * int(bank) + 15 * int(branch) + 3 * int(account)) % 97:02d}"


def _es_check(digits: str) -> str:
    weights = (1, 2, 4, 8, 5, 10, 9, 7, 3, 6)
    v = 11 - sum(int(x) * w for x, w in zip(digits.rjust(10, "0"), weights, strict=True)) % 11
    return {10: "1", 11: "0"}.get(v, str(v))


_IT_ODD = (1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24, 23)


def _it_cin(abi: str, cab: str, account: str) -> str:
    """Italian CIN: odd positions through the 'dispari' table, even positions by value, mod 26."""
    total = 0
    for pos, ch in enumerate(abi + cab + account):
        v = int(ch, 36) - 10 if ch.isalpha() else int(ch)
        total += _IT_ODD[v] if pos % 2 == 0 else v
    return string.ascii_uppercase[total % 26]


def make_iban(d: Draws, country: str) -> str:
    if country == "DE":
        bban = _digits(d, 8) + _digits(d, 10)
    elif country == "FR":
        bank, branch, acct = _digits(d, 5), _digits(d, 5), _digits(d, 11)
        bban = bank + branch + acct + _fr_rib_key(bank, branch, acct)
    elif country == "ES":
        bank, branch, acct = _digits(d, 4), _digits(d, 4), _digits(d, 10)
        bban = bank + branch + _es_check("00" + bank + branch) + _es_check(acct) + acct
    elif country == "IT":
        abi, cab, acct = _digits(d, 5), _digits(d, 5), _digits(d, 12)
        bban = _it_cin(abi, cab, acct) + abi + cab + acct
    elif country in ("GB", "IE"):
        bban = d.choice(_IBAN_BANKS[country]) + _digits(d, 6) + _digits(d, 8)
    elif country == "NL":
        bban = d.choice(_IBAN_BANKS["NL"]) + _digits(d, 10)
    else:
        raise ValueError(f"no IBAN format for country {country!r}")
    return country + iban_check_digits(country, bban) + bban


def aba_is_valid(routing: str) -> bool:
    if len(routing) != 9 or not routing.isdigit():
        return False
    n = [int(c) for c in routing]
    return (3 * (n[0] + n[3] + n[6]) + 7 * (n[1] + n[4] + n[7]) + (n[2] + n[5] + n[8])) % 10 == 0


def make_aba(d: Draws) -> str:
    """US routing number: Federal Reserve district prefix 01-12, checksum digit per the ABA rule."""
    head = f"{1 + int(d.u() * 12):02d}" + _digits(d, 6)
    n = [int(c) for c in head]
    partial = 3 * (n[0] + n[3] + n[6]) + 7 * (n[1] + n[4] + n[7]) + (n[2] + n[5])
    return head + str((10 - partial % 10) % 10)


def make_bic(d: Draws, country: str) -> str:
    letters = "".join(string.ascii_uppercase[int(d.u() * 26)] for _ in range(4))
    return f"{letters}{country}{d.choice(('2L', '22', 'FF', 'MM', '2X', '33'))}"


def make_account(d: Draws, country: str) -> tuple[str, str]:
    """(account, bank id): IBAN + BIC in IBAN countries, account number + ABA/Canadian routing elsewhere."""
    if country == "US":
        return _digits(d, 8 + int(d.u() * 5)), make_aba(d)
    if country == "CA":
        # Canadian EFT routing: 0 + 3-digit institution + 5-digit transit.
        return _digits(d, 7), "0" + d.choice(("001", "002", "003", "004", "006", "010", "016")) + _digits(
            d, 5
        )
    return make_iban(d, country), make_bic(d, country)


# --- names as banks write them ---------------------------------------------------------------------

_BANK_TRANSLIT_AE = str.maketrans(
    {
        "Ä": "AE",
        "Ö": "OE",
        "Ü": "UE",
        "ß": "SS",
        "É": "E",
        "È": "E",
        "Ê": "E",
        "Ç": "C",
        "À": "A",
        "Ô": "O",
        "Í": "I",
        "Á": "A",
        "Ó": "O",
        "Ñ": "N",
    }
)
_BANK_TRANSLIT_PLAIN = str.maketrans(
    {
        "Ä": "A",
        "Ö": "O",
        "Ü": "U",
        "ß": "SS",
        "É": "E",
        "È": "E",
        "Ê": "E",
        "Ç": "C",
        "À": "A",
        "Ô": "O",
        "Í": "I",
        "Á": "A",
        "Ó": "O",
        "Ñ": "N",
    }
)
_LEGAL = (
    ("HOLDINGS, INC.", "HOLDINGS INC"),
    ("INCORPORATED", "INC"),
    ("INC.", "INC"),
    ("CORPORATION", "CORP"),
    ("CORP.", "CORP"),
    ("LIMITED", "LTD"),
    ("LTD.", "LTD"),
    ("GMBH & CO. KG", "GMBH + CO KG"),
    ("CO.", "CO"),
    ("S.P.A.", "SPA"),
    ("S.R.L.", "SRL"),
    ("B.V.", "BV"),
    ("N.V.", "NV"),
    ("S.A.", "SA"),
    ("S.L.", "SL"),
)
_LEGAL_WORDS = (
    "INC",
    "CORP",
    "LTD",
    "LLC",
    "PLC",
    "DAC",
    "GMBH",
    "AG",
    "KG",
    "SAS",
    "SA",
    "SARL",
    "BV",
    "NV",
    "SL",
    "SRL",
    "SPA",
    "CO",
    "HOLDINGS",
    "+",
    "&",
)
_WORD_ABBREV = {
    "MANUFACTURING": "MFG",
    "INTERNATIONAL": "INTL",
    "SERVICES": "SVCS",
    "DISTRIBUTION": "DISTR",
    "TECHNOLOGIES": "TECH",
    "SYSTEMS": "SYS",
    "INDUSTRIES": "IND",
    "ENGINEERING": "ENG",
    "BROTHERS": "BROS",
    "PHARMACEUTICALS": "PHARMA",
    "MASCHINENBAU": "MASCHBAU",
    "LOGISTICS": "LOGISTIC",
    "COMPONENTS": "COMP",
    "CONSTRUCTION": "CONSTR",
    "ELECTRONICS": "ELEC",
    "SOCIETE": "STE",
}


def bank_style_name(d: Draws, legal_name: str) -> str:
    """How this payer's bank renders its name, before the rail's field width: a stable habit per account."""
    s = legal_name.upper()
    s = s.translate(_BANK_TRANSLIT_AE if d.u() < 0.6 else _BANK_TRANSLIT_PLAIN)
    if d.u() < 0.8:
        for long, short in _LEGAL:
            s = s.replace(long, short)
    s = s.replace("&", d.choice(("&", "AND", "+", "&")))
    s = re.sub(r"[.,']", "" if d.u() < 0.7 else " ", s)
    if d.u() < 0.35:
        s = " ".join(_WORD_ABBREV.get(w, w) for w in s.split())
    if d.u() < 0.2:
        words = s.split()
        while len(words) > 1 and words[-1] in _LEGAL_WORDS:
            words.pop()
        s = " ".join(words)
    return re.sub(r"\s+", " ", s).strip()


def typo(d: Draws, text: str) -> str:
    """One keying error: a swapped, dropped or doubled character."""
    if len(text) < 4:
        return text
    i = 1 + int(d.u() * (len(text) - 2))
    if text[i] == " " or text[i - 1] == " ":
        return text  # keying errors hit letters; a doubled blank would just be normalised away by banks
    kind = d.u()
    if kind < 0.4:
        return text[: i - 1] + text[i] + text[i - 1] + text[i + 1 :]
    if kind < 0.75:
        return text[:i] + text[i + 1 :]
    return text[:i] + text[i] + text[i:]


# Field widths of the payer name on each rail: NACHA company/individual name, the SWIFT/Fedwire
# 35-character lines, lockbox OCR of the check's printed name, card acquirer descriptors.
NAME_WIDTH = {"ach": 22, "wire": 35, "check": 30, "card": 25}


def name_as_written(d: Draws, styled: str, channel: str) -> str:
    s = styled
    if d.u() < 0.03:
        s = typo(d, s)
    if channel == "ach" and d.u() < 0.5:
        s = s[:16]  # CCD originator company name is 16 characters
    return s[: NAME_WIDTH[channel]].rstrip()
